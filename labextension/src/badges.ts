/**
 * A small status badge on every `%%mn_step` cell, matching the panel's row (both read the
 * same merged rows), and a warning badge on a cell whose step name the magic rejects.
 */
import { Notebook } from '@jupyterlab/notebook';

import { IInvalidCell, ILiveRow, writtenStepName } from './live';
import { STATUS_ICON, statusLabel } from './status';

const BADGE_CLASS = 'mn-CellBadge';
const STEP_CELL_CLASS = 'mn-StepCell';

/** Put (or refresh, or remove) the badge of each cell of `notebook`. */
export function updateBadges(
  notebook: Notebook,
  state: { steps: ILiveRow[]; invalid: IInvalidCell[] },
  known: boolean
): void {
  const byName = new Map(state.steps.map(row => [row.name, row]));
  const invalid = new Map(state.invalid.map(cell => [cell.index, cell]));
  notebook.widgets.forEach((cell, index) => {
    // On the cell's own node (JupyterLab rewrites the prompt's content), placed under the
    // prompt by CSS.
    const host = cell.node;
    const existing = Array.from(host.querySelectorAll<HTMLElement>(`.${BADGE_CLASS}`));
    const written =
      cell.model.type === 'code' ? writtenStepName(cell.model.sharedModel.getSource()) : null;
    const bad = invalid.get(index);
    const row = written !== null ? byName.get(written) : undefined;
    if (!known || (bad === undefined && row === undefined)) {
      existing.forEach(el => el.remove());
      host.classList.remove(STEP_CELL_CLASS);
      return;
    }
    host.classList.add(STEP_CELL_CLASS);
    const [badge = document.createElement('div'), ...extra] = existing;
    extra.forEach(el => el.remove());
    if (badge.parentElement !== host) {
      host.appendChild(badge);
    }
    if (bad !== undefined) {
      badge.className = `${BADGE_CLASS} mn-mod-invalid`;
      badge.dataset.status = 'invalid';
      badge.textContent = `⚠ ${bad.message}`;
      badge.title = `not a step: ${bad.message}`;
      return;
    }
    const status = row!.status;
    const unsaved = row!.isNew || row!.edited;
    badge.className = `${BADGE_CLASS} mn-status-${status}`;
    badge.dataset.status = status;
    badge.textContent = `${STATUS_ICON[status]} ${statusLabel(status)}${unsaved ? ' · unsaved' : ''}`;
    badge.title = `step ${row!.name}: ${statusLabel(status)}`;
  });
}

/** Remove every badge (the panel stopped following this notebook). */
export function clearBadges(notebook: Notebook): void {
  notebook.node.querySelectorAll(`.${BADGE_CLASS}`).forEach(el => el.remove());
  notebook.node
    .querySelectorAll(`.${STEP_CELL_CLASS}`)
    .forEach(el => el.classList.remove(STEP_CELL_CLASS));
}
