/**
 * A small status badge on every `%%mn_step` cell, matching the panel's row.
 */
import { Notebook } from '@jupyterlab/notebook';

import { IStepRow } from './api';
import { cellStepName } from './notebook';
import { STATUS_ICON, statusLabel } from './status';

const BADGE_CLASS = 'mn-CellBadge';
const STEP_CELL_CLASS = 'mn-StepCell';

/** Put (or refresh, or remove) the badge of each cell of `notebook`. */
export function updateBadges(notebook: Notebook, rows: IStepRow[], known: boolean): void {
  const byName = new Map(rows.map(row => [row.name, row]));
  for (const cell of notebook.widgets) {
    // On the cell's own node (JupyterLab rewrites the prompt's content), placed under the
    // prompt by CSS.
    const host = cell.node;
    const existing = Array.from(cell.node.querySelectorAll<HTMLElement>(`.${BADGE_CLASS}`));
    const name = cellStepName(cell);
    if (name === null || !known) {
      existing.forEach(el => el.remove());
      host.classList.remove(STEP_CELL_CLASS);
      continue;
    }
    host.classList.add(STEP_CELL_CLASS);
    const [badge = document.createElement('div'), ...extra] = existing;
    extra.forEach(el => el.remove());
    if (badge.parentElement !== host) {
      host.appendChild(badge);
    }
    // A cell not in the last answer was added since the notebook was saved: pending.
    const status = byName.get(name)?.status ?? 'pending';
    badge.className = `${BADGE_CLASS} mn-status-${status}`;
    badge.dataset.status = status;
    badge.textContent = `${STATUS_ICON[status]} ${statusLabel(status)}`;
    badge.title = `step ${name}: ${statusLabel(status)}`;
  }
}

/** Remove every badge (the panel stopped following this notebook). */
export function clearBadges(notebook: Notebook): void {
  notebook.node.querySelectorAll(`.${BADGE_CLASS}`).forEach(el => el.remove());
  notebook.node
    .querySelectorAll(`.${STEP_CELL_CLASS}`)
    .forEach(el => el.classList.remove(STEP_CELL_CLASS));
}
