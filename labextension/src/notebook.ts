/**
 * The notebook's step cells: which cell is a step and under what name, and how the panel
 * reaches one (jump to it, run it, run from it).
 */
import { Cell } from '@jupyterlab/cells';
import { Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { IMissingInputInfo } from './api';
import { stepNameOf } from './live';

export { STEP_NAME_RE, stepNameOf } from './live';

/** The step name of a code cell, else null. */
export function cellStepName(cell: Cell): string | null {
  return cell.model.type === 'code' ? stepNameOf(cell.model.sharedModel.getSource()) : null;
}

export function findStepCell(notebook: Notebook, name: string): number {
  return notebook.widgets.findIndex(cell => cellStepName(cell) === name);
}

/** Make the step's cell active and scroll to it; false if no cell carries that name. */
export async function jumpToStep(panel: NotebookPanel, name: string): Promise<boolean> {
  const notebook = panel.content;
  const index = findStepCell(notebook, name);
  if (index < 0) {
    return false;
  }
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  await notebook.scrollToCell(notebook.widgets[index], 'center');
  return true;
}

/** Execute exactly the step's cell, as Shift+Enter would (its output lands in the cell). */
export function rerunStep(panel: NotebookPanel, name: string): Promise<boolean> {
  return runAtStep(panel, name, NotebookActions.run);
}

/** Execute the step's cell and every cell below it. */
export function runFromStep(panel: NotebookPanel, name: string): Promise<boolean> {
  return runAtStep(panel, name, NotebookActions.runAllBelow);
}

async function runAtStep(
  panel: NotebookPanel,
  name: string,
  run: typeof NotebookActions.run
): Promise<boolean> {
  if (!(await jumpToStep(panel, name))) {
    return false;
  }
  return run(panel.content, panel.sessionContext);
}

/**
 * Execute the cells that define a step's missing inputs, in notebook order, then the step's
 * cell (as if each were run with Shift+Enter; their outputs land in the cells). A failing
 * cell stops the rest. Resolves to whether every cell ran without error; throws a one-line
 * Error, running nothing, when a cell cannot be found.
 */
export async function runMissingThenStep(
  panel: NotebookPanel,
  name: string,
  origins: IMissingInputInfo[]
): Promise<boolean> {
  const notebook = panel.content;
  const step = findStepCell(notebook, name);
  if (step < 0) {
    throw new Error(`no cell runs step ${name}`);
  }
  const defining = new Set(origins.map(origin => definingCell(notebook, origin)));
  defining.delete(step);
  const order = [...defining].sort((a, b) => a - b);
  const cells = [...order, step].map(index => notebook.widgets[index]);
  await jumpToStep(panel, name);
  return NotebookActions.runCells(notebook, cells, panel.sessionContext);
}

/**
 * The index of the cell that defines a missing input: a step's cell by its name, else the
 * cell with the saved id, else the cell at the saved position if it is still a code cell
 * of the same kind (that step's cell, or a plain cell).
 */
function definingCell(notebook: Notebook, origin: IMissingInputInfo): number {
  const cells = notebook.widgets;
  let index = origin.step !== null ? findStepCell(notebook, origin.step) : -1;
  if (index < 0 && origin.cell_id !== null) {
    index = cells.findIndex(cell => cell.model.id === origin.cell_id);
  }
  if (index < 0 && origin.cell_index !== null) {
    const cell = cells[origin.cell_index];
    if (cell && cell.model.type === 'code' && cellStepName(cell) === origin.step) {
      index = origin.cell_index;
    }
  }
  if (index < 0) {
    throw new Error(`the cell defining ${origin.name} (${origin.label}) is not in the notebook`);
  }
  return index;
}
