/**
 * Wiring only: the Steps panel in the right sidebar follows the active notebook.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';

import { StepActions } from './actions';
import { NotebookFollower } from './follow';
import { StepsModel } from './model';
import { StepsPanel } from './panel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mirrorneuron-nb:steps-panel',
  description: 'A Steps panel for mirrorneuron_nb notebooks.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker): void => {
    const model = new StepsModel();
    const panel = new StepsPanel(model, new StepActions(model, () => follower.current));
    app.shell.add(panel, 'right', { rank: 600 });
    const follower = new NotebookFollower(model, tracker, app.serviceManager.contents);
  }
};

export default plugin;
