/**
 * The panel follows the notebook the user works in: the model reads that notebook's
 * steps, its kernel is watched, and its step cells carry badges.
 */
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Contents } from '@jupyterlab/services';

import { clearBadges, updateBadges } from './badges';
import { KernelWatcher } from './kernel';
import { StepsModel } from './model';

export class NotebookFollower {
  constructor(
    private readonly model: StepsModel,
    tracker: INotebookTracker,
    private readonly contents: Contents.IManager
  ) {
    model.changed.connect(this._badges, this);
    // Follow the notebook the user works in; keep it while another kind of tab is active.
    tracker.currentChanged.connect((_, nb) => {
      if (nb) {
        this._follow(nb);
      }
    });
    tracker.widgetAdded.connect((_, nb) => {
      nb.disposed.connect(() => {
        if (this._current === nb) {
          const other = tracker.currentWidget;
          this._follow(other !== nb ? other : null);
        }
      });
    });
    this._follow(tracker.currentWidget);
  }

  /** The notebook the panel follows, if any. */
  get current(): NotebookPanel | null {
    return this._current;
  }

  private _follow(next: NotebookPanel | null): void {
    const model = this.model;
    const previous = this._current;
    if (next === previous) {
      return;
    }
    this._watcher?.dispose();
    this._watcher = null;
    if (previous) {
      clearBadges(previous.content);
      previous.context.pathChanged.disconnect(this._onPath, this);
      previous.context.fileChanged.disconnect(this._onSaved, this);
      previous.content.model?.cells.changed.disconnect(this._badges, this);
      previous.content.model?.contentChanged.disconnect(this._badges, this);
    }
    this._current = next;
    model.setLoaded('unknown');
    if (next) {
      next.context.pathChanged.connect(this._onPath, this);
      next.context.fileChanged.connect(this._onSaved, this);
      next.content.model?.cells.changed.connect(this._badges, this);
      next.content.model?.contentChanged.connect(this._badges, this);
      void next.sessionContext.ready.then(() => {
        if (this._current === next && this._watcher === null) {
          this._watcher = new KernelWatcher(next, model);
        }
      });
    }
    model.setNotebook(next ? this._serverPath(next) : null);
  }

  private _onPath(): void {
    if (this._current) {
      this.model.setNotebook(this._serverPath(this._current));
    }
  }

  /** A save can add or remove steps (the server reads the saved notebook). */
  private _onSaved(): void {
    void this.model.refresh();
  }

  private _badges(): void {
    const model = this.model;
    if (this._current) {
      updateBadges(this._current.content, model.steps, model.summary !== null);
    }
  }

  /** The server resolves paths against its root: drop a drive prefix ("RTC:a.ipynb"). */
  private _serverPath(nb: NotebookPanel): string {
    return this.contents.localPath(nb.context.path);
  }

  private _current: NotebookPanel | null = null;
  private _watcher: KernelWatcher | null = null;
}
