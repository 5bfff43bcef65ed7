/**
 * The notebook's step cells: which cell is a step and under what name, and how the panel
 * reaches one (jump to it, run it, run from it).
 */
import { Cell } from '@jupyterlab/cells';
import { Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

/**
 * The step-cell rule. Mirrors mirrorneuron_nb/notebook.py (STEP_MAGIC, NAME_RE,
 * split_cell, step_cells): keep the two in step.
 */
const STEP_MAGIC = '%%mn_step';
export const STEP_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$/;

/**
 * The step name of a cell's source, else null: after leading whitespace the source starts
 * with `%%mn_step`, then whitespace, and the first word of that line is a valid name.
 */
export function stepNameOf(source: string): string | null {
  const stripped = source.trimStart();
  if (!stripped.startsWith(STEP_MAGIC)) {
    return null;
  }
  const rest = stripped.split('\n', 1)[0].slice(STEP_MAGIC.length);
  if (rest !== '' && !/^\s/.test(rest)) {
    return null; // another magic, e.g. `%%mn_steps`
  }
  const name = rest.trim().split(/\s+/)[0];
  return STEP_NAME_RE.test(name) ? name : null;
}

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
