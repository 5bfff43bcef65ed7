/**
 * Wiring only: the Steps panel in the right sidebar follows the active notebook; a
 * command ("Show Steps panel", in the palette) and a notebook toolbar button open it, in
 * JupyterLab and in Jupyter Notebook 7 alike.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { listIcon } from '@jupyterlab/ui-components';

import { StepActions } from './actions';
import { NotebookFollower } from './follow';
import { StepsModel } from './model';
import { PANEL_ID, StepsPanel } from './panel';

export const SHOW_COMMAND = 'mirrorneuron-nb:show-steps';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mirrorneuron-nb:steps-panel',
  description: 'A Steps panel for mirrorneuron_nb notebooks.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null
  ): void => {
    const model = new StepsModel();
    const panel = new StepsPanel(model, new StepActions(model, () => follower.current));
    app.shell.add(panel, 'right', { rank: 600 });
    const follower = new NotebookFollower(model, tracker, app.serviceManager.contents);

    app.commands.addCommand(SHOW_COMMAND, {
      label: 'Show Steps panel',
      caption: 'Open the Steps panel (mirrorneuron_nb) in the right sidebar',
      icon: listIcon,
      execute: () => app.shell.activateById(PANEL_ID)
    });
    palette?.addItem({ command: SHOW_COMMAND, category: 'mirrorneuron_nb' });
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (nb: NotebookPanel) => {
        const button = new ToolbarButton({
          icon: listIcon,
          className: 'mn-ShowSteps',
          tooltip: 'Show the Steps panel (mirrorneuron_nb)',
          onClick: () => void app.commands.execute(SHOW_COMMAND)
        });
        nb.toolbar.insertItem(10, 'mn-show-steps', button);
        return button;
      }
    });
  }
};

export default plugin;
