/**
 * Labels from the live notebook model, not only the saved file: which cells are steps
 * now (saved or not, edited or not), which carry a name the magic would reject, and which
 * sidecar steps really lost their cell. Pure functions, no DOM.
 */
import { IInvalidCellInfo, IStepRow, ISummary } from './api';

/**
 * The step-name rule of the magic: mirrors NAME_RE and validate_name in
 * mirrorneuron_nb/notebook.py (kernel/magics.py calls validate_name); keep them in step.
 */
export const STEP_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$/;
const STEP_MAGIC = '%%mn_step';

/** The magic's own one-line error for a name it rejects (notebook.validate_name). */
export function invalidNameMessage(name: string): string {
  return `invalid step name ${pyRepr(name)}: use letters, digits, '_' and '-' (at most 128)`;
}

/** Python's repr of a plain string, as the magic's message quotes the name. */
function pyRepr(text: string): string {
  return text.includes("'") && !text.includes('"') ? `"${text}"` : `'${text.replace(/'/g, "\\'")}'`;
}

/**
 * The NAME of a `%%mn_step NAME ...` cell as written (not validated), else null. Mirrors
 * split_cell and step_name in mirrorneuron_nb/notebook.py.
 */
export function writtenStepName(source: string): string | null {
  const stripped = source.trimStart();
  if (!stripped.startsWith(STEP_MAGIC)) {
    return null;
  }
  const rest = stripped.split('\n', 1)[0].slice(STEP_MAGIC.length);
  if (rest !== '' && !/^\s/.test(rest)) {
    return null; // another magic, e.g. `%%mn_steps`
  }
  const name = rest.trim().split(/\s+/)[0];
  return name === '' ? null : name;
}

/** The step name of a cell's source if the magic would accept it, else null. */
export function stepNameOf(source: string): string | null {
  const name = writtenStepName(source);
  return name !== null && STEP_NAME_RE.test(name) ? name : null;
}

/** A code cell of the live model, as the merge needs it. */
export interface ILiveCell {
  /** Its position among all the notebook's cells (from 0). */
  index: number;
  source: string;
  /** Its source when the notebook was last loaded or saved, or the cell last ran (null: a
   * cell added since). */
  savedSource: string | null;
}

/** A step row as the panel shows it: the server's row plus what the live model says. */
export interface ILiveRow extends IStepRow {
  /** The cell is not in the saved file (added since the last save). */
  isNew: boolean;
  /** The cell's source changed since the last save. */
  edited: boolean;
}

/** A cell whose `%%mn_step` name the magic rejects. */
export interface IInvalidCell {
  index: number;
  name: string;
  message: string;
}

export interface ILiveSteps {
  steps: ILiveRow[];
  /** Sidecar steps whose cell is gone from the live model. */
  deleted: IStepRow[];
  invalid: IInvalidCell[];
  /** Counted over `steps` only (invalid names never count). */
  summary: ISummary | null;
}

const GOOD = new Set(['succeeded', 'cached']);

/** A step the sidecar does not know yet: pending, nothing recorded. */
function pendingRow(name: string, position: number): IStepRow {
  return {
    name,
    status: 'pending',
    kind: 'compute',
    once: false,
    position,
    duration: null,
    attempts: 0,
    checkpoint_bytes: null,
    last_run: null,
    error: null,
    stale_reason: null,
    in_notebook: true,
    unsaved: [],
    approval: null,
    durable_recorded: 0,
    durable_failed: 0,
    durable_unsaved: 0,
    missing_inputs: [],
    wake_at: null,
    owner: null,
    waiting: []
  };
}

/** The server's answer about one notebook, as the merge needs it. */
export interface IServerAnswer {
  steps: IStepRow[];
  deleted: IStepRow[];
  summary: ISummary | null;
  /** Step cells of the saved file whose name the magic refuses, with its error. */
  invalid: IInvalidCellInfo[];
}

/**
 * Merge the server's answer (read from the saved file and the sidecar) with the live
 * cells. `cells` null: no live model (not loaded yet), the server's answer as it is, its
 * invalid names included, so they show as warnings, never as steps.
 */
export function mergeLive(server: IServerAnswer, cells: ILiveCell[] | null): ILiveSteps {
  if (cells === null) {
    const steps = server.steps.map(r => ({ ...r, isNew: false, edited: false }));
    const invalid = server.invalid.map(c => ({ index: c.cell, name: c.name, message: c.error }));
    // Counted again as the live path counts, so the headline keeps its words once loaded.
    const summary = server.summary ? summarize(steps, server.summary) : null;
    return { steps, deleted: server.deleted, invalid, summary };
  }
  const known = new Map<string, IStepRow>();
  for (const row of [...server.deleted, ...server.steps]) {
    known.set(row.name, row);
  }
  const saved = new Set(server.steps.map(r => r.name));
  const steps: ILiveRow[] = [];
  const invalid: IInvalidCell[] = [];
  const seen = new Set<string>();
  cells.forEach(cell => {
    const index = cell.index;
    const written = writtenStepName(cell.source);
    if (written === null) {
      return;
    }
    if (!STEP_NAME_RE.test(written)) {
      invalid.push({ index, name: written, message: invalidNameMessage(written) });
      return;
    }
    if (seen.has(written)) {
      return; // a duplicate name: the first cell is the step (as the server reads it)
    }
    seen.add(written);
    const row = known.get(written) ?? pendingRow(written, steps.length);
    const isNew = cell.savedSource === null || !saved.has(written);
    const edited = !isNew && cell.savedSource !== cell.source;
    const live: ILiveRow = { ...row, in_notebook: true, position: steps.length, isNew, edited };
    if (edited && GOOD.has(row.status)) {
      // Its checkpoint is of the code before the edit: stale now, not only once saved.
      live.status = 'stale';
      live.stale_reason = 'the cell was edited since its last run or save';
    }
    steps.push(live);
  });
  // A name the magic rejects never ran: the server lists it only from the saved file.
  const deleted = [...server.deleted, ...server.steps].filter(
    r => !seen.has(r.name) && STEP_NAME_RE.test(r.name)
  );
  return { steps, deleted, invalid, summary: server.summary ? summarize(steps, server.summary) : null };
}

/** The server's summary, counted again over the live steps. */
function summarize(steps: ILiveRow[], server: ISummary): ISummary {
  const total = steps.length;
  const good = steps.filter(r => GOOD.has(r.status)).length;
  const first = steps.find(r => !GOOD.has(r.status))?.name ?? null;
  const extra: string[] = [];
  const waiting = steps.filter(r => r.status === 'awaiting_approval').length;
  if (waiting) {
    extra.push(`${waiting} awaiting approval`);
  }
  const sleeping = steps.filter(r => r.status === 'sleeping').length;
  if (sleeping) {
    extra.push(`${sleeping} sleeping`);
  }
  const text = total ? [`${good} of ${total} good`, ...extra].join('; ') : server.text;
  return { total, good, first_unfinished: first, text };
}
