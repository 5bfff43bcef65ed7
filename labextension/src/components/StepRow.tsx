/**
 * One step's row: its status, name and tags (a click jumps to its cell), what is known of
 * its last run, its gate or error, and its buttons.
 */
import React, { useEffect, useState } from 'react';

import { IStepRow } from '../api';
import {
  STATUS_ICON,
  decisionText,
  durableSummary,
  formatAgo,
  formatBytes,
  formatDuration,
  statusLabel,
  stepTags
} from '../status';
import { IStepActions, IStepsState } from '../tokens';
import { ApprovalGate } from './ApprovalGate';
import { Coordination } from './Coordination';
import { MissingInputs } from './MissingInputs';
import { Traceback, TracebackDetail } from './Traceback';

export function StepRow(props: {
  row: IStepRow;
  model: IStepsState;
  actions: IStepActions;
  deleted: boolean;
}): JSX.Element {
  const { row, model, actions, deleted } = props;
  const [open, setOpen] = useState(false);
  const [detail, setDetail] = useState<TracebackDetail>(null);
  // A new run of the step makes any fetched traceback obsolete.
  useEffect(() => setDetail(null), [row.last_run, row.status]);
  useEffect(() => {
    if (open && detail === null) {
      model.detail(row.name).then(setDetail, (e: Error) => setDetail(e.message));
    }
  }, [open, detail]);

  const busy = model.busyAction !== null;
  const calls = durableSummary(row);
  const approval = row.approval;
  const decision = decisionText(row);
  // A rejection has no traceback: its line says who rejected it and why.
  const expandable = row.status !== 'rejected';
  return (
    <li className={`mn-Step mn-status-${row.status}`} data-step={row.name} data-status={row.status}>
      <div
        className="mn-Step-main"
        title={deleted ? 'its cell was deleted' : 'Jump to the cell'}
        onClick={() => !deleted && actions.jump(row.name)}
      >
        <span className="mn-Step-icon">{STATUS_ICON[row.status]}</span>
        <span className="mn-Step-name">{row.name}</span>
        {stepTags(row).map(tag => (
          <span key={tag} className="mn-Step-tag" data-tag={tag}>
            {tag}
          </span>
        ))}
        <span className="mn-Step-status">{statusLabel(row.status)}</span>
      </div>
      <StepMeta row={row} />
      <Coordination row={row} />
      {row.status === 'awaiting_approval' && approval?.status === 'pending' && (
        <ApprovalGate row={row} question={approval.question} busy={busy} actions={actions} />
      )}
      {decision && <div className="mn-Step-note mn-Step-decision">{decision}</div>}
      {row.error && row.status !== 'succeeded' && row.status !== 'cached' && (
        <div
          className={`mn-Step-error${expandable ? '' : ' mn-mod-plain'}`}
          title={expandable ? (open ? 'Hide the traceback' : 'Show the traceback') : undefined}
          onClick={() => expandable && setOpen(!open)}
        >
          {expandable && (open ? '▾ ' : '▸ ')}
          {row.error}
        </div>
      )}
      {open && <Traceback detail={detail} />}
      {row.missing_inputs.length > 0 && !deleted && (
        <MissingInputs row={row} disabled={busy || model.kernel === 'none'} actions={actions} />
      )}
      {row.stale_reason && <div className="mn-Step-note">stale: {row.stale_reason}</div>}
      {row.unsaved.length > 0 && (
        <div className="mn-Step-note">not checkpointed: {row.unsaved.join('; ')}</div>
      )}
      {calls && (
        <div className="mn-Step-note mn-Step-durable" title="durable calls (mn.durable)">
          {calls}
        </div>
      )}
      <div className="mn-Step-actions">
        {!deleted && (
          <button
            className="jp-mod-styled mn-Step-rerun"
            disabled={busy || model.kernel === 'none'}
            title="Execute this step's cell"
            onClick={() => actions.rerun(row.name)}
          >
            Re-run
          </button>
        )}
        {(row.checkpoint_bytes !== null || row.status !== 'pending') && (
          <button
            className="jp-mod-styled mn-Step-reset"
            disabled={busy}
            title="Drop this step's checkpoints so it runs again"
            onClick={() => actions.reset(row.name)}
          >
            Reset
          </button>
        )}
      </div>
    </li>
  );
}

/** "1.2 s · 2 attempts · 12 s ago · 3.4 KB"; nothing when none is known. */
function StepMeta(props: { row: IStepRow }): JSX.Element | null {
  const { row } = props;
  const meta = [
    formatDuration(row.duration),
    row.attempts > 1 ? `${row.attempts} attempts` : row.attempts === 1 ? '1 attempt' : null,
    formatAgo(row.last_run),
    formatBytes(row.checkpoint_bytes)
  ].filter(Boolean);
  return meta.length > 0 ? <div className="mn-Step-meta">{meta.join(' · ')}</div> : null;
}
