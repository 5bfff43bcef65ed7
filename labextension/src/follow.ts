/**
 * The panel follows the notebook the user works in: the model reads that notebook's
 * steps, its kernel is watched, and its step cells carry badges.
 */
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Contents } from '@jupyterlab/services';

import { Cell } from '@jupyterlab/cells';
import { Notebook, NotebookActions } from '@jupyterlab/notebook';

import { clearBadges, updateBadges } from './badges';
import { KernelWatcher } from './kernel';
import { ILiveCell } from './live';
import { StepsModel } from './model';

export class NotebookFollower {
  constructor(
    private readonly model: StepsModel,
    tracker: INotebookTracker,
    private readonly contents: Contents.IManager
  ) {
    model.changed.connect(this._badges, this);
    NotebookActions.executed.connect(this._onExecuted, this);
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
      previous.content.model?.contentChanged.disconnect(this._onContent, this);
    }
    this._current = next;
    this._base.clear();
    model.setLoaded('unknown');
    model.setLiveCells(null);
    if (next) {
      next.context.pathChanged.connect(this._onPath, this);
      next.context.fileChanged.connect(this._onSaved, this);
      void next.context.ready.then(() => {
        if (this._current === next) {
          next.content.model?.contentChanged.connect(this._onContent, this);
          this._snapshot();
        }
      });
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
    this._snapshot();
    void this.model.refresh();
  }

  /** The notebook as loaded or just saved: the base "edited" is measured against. */
  private _snapshot(): void {
    this._base.clear();
    for (const cell of this._current?.content.model?.cells ?? []) {
      this._base.set(cell.id, cell.sharedModel.getSource());
    }
    this._onContent();
  }

  /** A cell that ran was checkpointed as it is now: not "edited" any more. */
  private _onExecuted(_: unknown, args: { notebook: Notebook; cell: Cell }): void {
    if (this._current && args.notebook === this._current.content) {
      this._base.set(args.cell.model.id, args.cell.model.sharedModel.getSource());
      this._onContent();
    }
  }

  /** Every edit, added or deleted cell: the live cells go to the model. */
  private _onContent(): void {
    const cells = this._current?.content.model?.cells;
    if (!cells) {
      return;
    }
    const live: ILiveCell[] = [];
    let index = 0;
    for (const cell of cells) {
      if (cell.type === 'code') {
        const source = cell.sharedModel.getSource();
        live.push({ index, source, savedSource: this._base.get(cell.id) ?? null });
      }
      index += 1;
    }
    this.model.setLiveCells(live);
  }

  private _badges(): void {
    const model = this.model;
    if (this._current) {
      updateBadges(this._current.content, model, model.summary !== null);
    }
  }

  /** The server resolves paths against its root: drop a drive prefix ("RTC:a.ipynb"). */
  private _serverPath(nb: NotebookPanel): string {
    return this.contents.localPath(nb.context.path);
  }

  private _current: NotebookPanel | null = null;
  /** Each cell's source when last loaded, saved or run, by cell id. */
  private _base = new Map<string, string>();
  private _watcher: KernelWatcher | null = null;
}
