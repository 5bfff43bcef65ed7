/**
 * Wiring only: the Steps panel in the right sidebar follows the active notebook.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { StepActions } from './actions';
import { clearBadges, updateBadges } from './badges';
import { KernelWatcher } from './kernel';
import { StepsModel } from './model';
import { StepsPanel } from './panel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mirrorneuron-nb:steps-panel',
  description: 'A Steps panel for mirrorneuron_nb notebooks.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker
  ): void => {
    const model = new StepsModel();
    let current: NotebookPanel | null = null;
    let watcher: KernelWatcher | null = null;

    const panel = new StepsPanel(
      model,
      new StepActions(model, () => current)
    );
    app.shell.add(panel, 'right', { rank: 600 });

    const badges = (): void => {
      if (current) {
        updateBadges(current.content, model.steps, model.summary !== null);
      }
    };
    model.changed.connect(badges);

    // The server resolves paths against its root: drop a drive prefix ("RTC:a.ipynb").
    const serverPath = (nb: NotebookPanel): string =>
      app.serviceManager.contents.localPath(nb.context.path);

    const follow = (next: NotebookPanel | null): void => {
      if (next === current) {
        return;
      }
      watcher?.dispose();
      watcher = null;
      if (current) {
        clearBadges(current.content);
        current.context.pathChanged.disconnect(onPath);
        current.context.fileChanged.disconnect(onSaved);
        current.content.model?.cells.changed.disconnect(badges);
        current.content.model?.contentChanged.disconnect(badges);
      }
      current = next;
      model.setLoaded('unknown');
      if (next) {
        next.context.pathChanged.connect(onPath);
        next.context.fileChanged.connect(onSaved);
        next.content.model?.cells.changed.connect(badges);
        next.content.model?.contentChanged.connect(badges);
        void next.sessionContext.ready.then(() => {
          if (current === next && watcher === null) {
            watcher = new KernelWatcher(next, model);
          }
        });
      }
      model.setNotebook(next ? serverPath(next) : null);
    };
    const onPath = (): void => {
      if (current) {
        model.setNotebook(serverPath(current));
      }
    };
    // A save can add or remove steps (the server reads the saved notebook).
    const onSaved = (): void => void model.refresh();

    // Follow the notebook the user works in; keep it while another kind of tab is active.
    tracker.currentChanged.connect((_, nb) => {
      if (nb) {
        follow(nb);
      }
    });
    tracker.widgetAdded.connect((_, nb) => {
      nb.disposed.connect(() => {
        if (current === nb) {
          const other = tracker.currentWidget;
          follow(other !== nb ? other : null);
        }
      });
    });
    follow(tracker.currentWidget);

    document.addEventListener('visibilitychange', () =>
      model.setPageVisible(!document.hidden)
    );
  }
};

export default plugin;
