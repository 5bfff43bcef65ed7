/**
 * One step's row: an icon, the name (a click or Enter jumps to its cell), kind/once and
 * "unsaved" tags, a right-aligned duration; small icon buttons shown on hover or focus;
 * its gate, error line and missing inputs; and a details drawer.
 */
import { caretDownIcon, caretRightIcon, clearIcon, runIcon } from '@jupyterlab/ui-components';
import React, { useState } from 'react';

import { IStepRow } from '../api';
import { ILiveRow } from '../live';
import {
  STATUS_ICON,
  decisionText,
  formatAgo,
  formatBytes,
  formatDuration,
  statusLabel,
  stepTags
} from '../status';
import { IStepActions, IStepsState } from '../tokens';
import { ApprovalGate } from './ApprovalGate';
import { Coordination } from './Coordination';
import { IconButton } from './IconButton';
import { MissingInputs } from './MissingInputs';
import { StepDrawer } from './StepDrawer';

const GOOD = new Set(['succeeded', 'cached']);

/** A step that never ran: nothing recorded about it. */
export function neverRan(row: IStepRow): boolean {
  return row.status === 'pending' && row.last_run === null && row.attempts === 0;
}

export function StepRow(props: {
  row: IStepRow | ILiveRow;
  model: IStepsState;
  actions: IStepActions;
  deleted: boolean;
}): JSX.Element {
  const { row, model, actions, deleted } = props;
  const [open, setOpen] = useState(false);
  const live = 'isNew' in row ? row : null;
  const unsaved = live !== null && (live.isNew || live.edited);
  const busy = model.busyAction !== null;
  const approval = row.approval;
  const decision = decisionText(row);
  const fresh = neverRan(row);
  const tags = stepTags(row);
  const jump = (): void => {
    if (!deleted) {
      actions.jump(row.name);
    }
  };
  return (
    <li
      className={`mn-Step mn-status-${row.status}${open ? ' mn-mod-open' : ''}`}
      data-step={row.name}
      data-status={row.status}
      data-unsaved={unsaved ? (live?.isNew ? 'new' : 'edited') : undefined}
    >
      <div className="mn-Step-line">
        <div
          className="mn-Step-main"
          role={deleted ? undefined : 'button'}
          tabIndex={deleted ? undefined : 0}
          title={deleted ? `${row.name}: its cell was deleted` : `${row.name}: jump to its cell`}
          onClick={jump}
          onKeyDown={event => {
            if (event.key === 'Enter' || event.key === ' ') {
              event.preventDefault();
              jump();
            }
          }}
        >
          <span className="mn-Step-icon" title={statusLabel(row.status)} aria-hidden="true">
            {STATUS_ICON[row.status]}
          </span>
          <span className="mn-Step-name">{row.name}</span>
          {tags.map(tag => (
            <span key={tag} className="mn-Step-tag" data-tag={tag}>
              {tag}
            </span>
          ))}
          {unsaved && (
            <span
              className="mn-Step-tag mn-Step-unsaved"
              data-tag="unsaved"
              title={live?.isNew ? 'a new cell, not saved yet' : 'edited since the last save or run'}
            >
              unsaved
            </span>
          )}
        </div>
        <span className="mn-Step-duration" title="duration of its last run">
          {formatDuration(row.duration) ?? ''}
        </span>
        <div className="mn-Step-actions">
          <IconButton
            className="mn-Step-details"
            icon={open ? caretDownIcon : caretRightIcon}
            label={open ? `Hide the details of ${row.name}` : `Show the details of ${row.name}`}
            expanded={open}
            onClick={() => setOpen(!open)}
          />
          {!deleted && (
            <IconButton
              className={fresh ? 'mn-Step-run' : 'mn-Step-rerun'}
              icon={runIcon}
              label={fresh ? `Run ${row.name} (its cell)` : `Re-run ${row.name} (its cell)`}
              disabled={busy || model.kernel === 'none'}
              onClick={() => actions.rerun(row.name)}
            />
          )}
          {!fresh && (
            <IconButton
              className="mn-Step-reset"
              icon={clearIcon}
              label={`Reset ${row.name}: drop its checkpoints so it runs again`}
              disabled={busy}
              onClick={() => actions.reset(row.name)}
            />
          )}
        </div>
      </div>
      <StepMeta row={row} />
      <Coordination row={row} />
      {row.status === 'awaiting_approval' && approval?.status === 'pending' && (
        <ApprovalGate row={row} question={approval.question} busy={busy} actions={actions} />
      )}
      {decision && <div className="mn-Step-note mn-Step-decision">{decision}</div>}
      {row.error && !GOOD.has(row.status) && (
        <div
          className="mn-Step-error"
          role="button"
          tabIndex={0}
          title={open ? 'Hide the details' : 'Show the details and the traceback'}
          onClick={() => setOpen(!open)}
          onKeyDown={event => {
            if (event.key === 'Enter' || event.key === ' ') {
              event.preventDefault();
              setOpen(!open);
            }
          }}
        >
          {row.error}
        </div>
      )}
      {row.missing_inputs.length > 0 && !deleted && (
        <MissingInputs row={row} disabled={busy || model.kernel === 'none'} actions={actions} />
      )}
      {row.stale_reason && <div className="mn-Step-note mn-Step-stale">stale: {row.stale_reason}</div>}
      {row.unsaved.length > 0 && (
        <div className="mn-Step-note">not checkpointed: {row.unsaved.join('; ')}</div>
      )}
      {open && <StepDrawer row={row} model={model} />}
    </li>
  );
}

/** "failed · 2 attempts · 12 s ago · 3.4 KB" */
function StepMeta(props: { row: IStepRow }): JSX.Element {
  const { row } = props;
  const meta = [
    row.attempts > 1 ? `${row.attempts} attempts` : null,
    formatAgo(row.last_run),
    formatBytes(row.checkpoint_bytes)
  ].filter(Boolean);
  return (
    <div className="mn-Step-meta">
      <span className="mn-Step-status">{statusLabel(row.status)}</span>
      {meta.length > 0 && ` · ${meta.join(' · ')}`}
    </div>
  );
}
