/**
 * The Steps panel: a SidePanel that renders the model. It decides nothing; clicks go to
 * the IStepActions it is given.
 */
import { ReactWidget, SidePanel, UseSignal, listIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import React, { useEffect, useState } from 'react';

import { IStepDetail, IStepRow } from './api';
import { StepsModel } from './model';
import {
  STATUS_ICON,
  decisionText,
  durableSummary,
  formatAgo,
  formatBytes,
  formatDuration,
  statusLabel,
  stepTags
} from './status';

export const PANEL_ID = 'mirrorneuron-nb-steps';

export interface IStepActions {
  jump(name: string): void;
  rerun(name: string): void;
  reset(name: string): void;
  decide(name: string, approve: boolean, note: string): void;
  resume(): void;
  runFrom(): void;
}

export class StepsPanel extends SidePanel {
  constructor(
    private readonly model: StepsModel,
    actions: IStepActions
  ) {
    super();
    this.id = PANEL_ID;
    this.title.icon = listIcon;
    this.title.caption = 'Steps (mirrorneuron_nb)';
    this.addClass('mn-StepsPanel');
    this.addWidget(ReactWidget.create(<StepsView model={model} actions={actions} />));
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }
}

function StepsView(props: { model: StepsModel; actions: IStepActions }): JSX.Element {
  const { model, actions } = props;
  return (
    <UseSignal signal={model.changed}>
      {() => <StepsBody model={model} actions={actions} />}
    </UseSignal>
  );
}

function StepsBody(props: { model: StepsModel; actions: IStepActions }): JSX.Element {
  const { model, actions } = props;
  // Relative times ("12 s ago") age without any change on the server.
  const [, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 15_000);
    return () => window.clearInterval(timer);
  }, []);

  if (model.path === null) {
    return (
      <div className="mn-Steps">
        <Title />
        <p className="mn-Steps-note">Open a notebook to see its steps.</p>
      </div>
    );
  }
  const summary = model.summary;
  const busy = model.busyAction !== null;
  const noKernel = model.kernel === 'none';
  return (
    <div className="mn-Steps" data-path={model.path}>
      <Title />
      <div className="mn-Steps-header">
        <div className="mn-Steps-headline">{model.headline() || 'Loading steps…'}</div>
        <div className="mn-Steps-actions">
          <button
            className="jp-mod-styled jp-mod-accept mn-Steps-resume"
            disabled={busy || noKernel || !summary || summary.good === 0}
            title="Run %mn_resume in this notebook's kernel: restore the variables of every good step"
            onClick={() => actions.resume()}
          >
            Resume kernel from last good step
          </button>
          <button
            className="jp-mod-styled mn-Steps-runFrom"
            disabled={busy || noKernel || !summary?.first_unfinished}
            title="Resume, then run the cells from the first step that is not good"
            onClick={() => actions.runFrom()}
          >
            Run from first unfinished step
          </button>
        </div>
        {model.busyAction && <div className="mn-Steps-progress">{model.busyAction}…</div>}
        {model.lastAction && (
          <div className={`mn-Steps-output ${model.lastAction.ok ? '' : 'mn-mod-error'}`}>
            <div className="mn-Steps-outputTitle">{model.lastAction.title}</div>
            {model.lastAction.text && <pre>{model.lastAction.text}</pre>}
          </div>
        )}
      </div>
      {model.error && (
        <div className="mn-Steps-error" role="alert">
          {model.error.message}
          <span className="mn-Steps-errorCode"> ({model.error.code})</span>
        </div>
      )}
      {summary && summary.total === 0 && model.deleted.length === 0 && (
        <p className="mn-Steps-note">
          No steps yet: mark a cell with <code>%%mn_step NAME</code> and run it.
        </p>
      )}
      <StepList rows={model.steps} model={model} actions={actions} />
      {model.deleted.length > 0 && (
        <>
          <div className="mn-Steps-sectionTitle">In the sidecar, cell deleted</div>
          <StepList rows={model.deleted} model={model} actions={actions} deleted />
        </>
      )}
    </div>
  );
}

function Title(): JSX.Element {
  return <h2 className="mn-Steps-title">Steps</h2>;
}

function StepList(props: {
  rows: IStepRow[];
  model: StepsModel;
  actions: IStepActions;
  deleted?: boolean;
}): JSX.Element {
  return (
    <ul className="mn-StepList">
      {props.rows.map(row => (
        <StepItem
          key={row.name}
          row={row}
          model={props.model}
          actions={props.actions}
          deleted={props.deleted ?? false}
        />
      ))}
    </ul>
  );
}

function StepItem(props: {
  row: IStepRow;
  model: StepsModel;
  actions: IStepActions;
  deleted: boolean;
}): JSX.Element {
  const { row, model, actions, deleted } = props;
  const [open, setOpen] = useState(false);
  const [detail, setDetail] = useState<IStepDetail | string | null>(null);
  // A new run of the step makes any fetched traceback obsolete.
  useEffect(() => setDetail(null), [row.last_run, row.status]);
  useEffect(() => {
    if (open && detail === null) {
      model.detail(row.name).then(setDetail, (e: Error) => setDetail(e.message));
    }
  }, [open, detail]);

  const meta = [
    formatDuration(row.duration),
    row.attempts > 1 ? `${row.attempts} attempts` : row.attempts === 1 ? '1 attempt' : null,
    formatAgo(row.last_run),
    formatBytes(row.checkpoint_bytes)
  ].filter(Boolean);
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
      {meta.length > 0 && <div className="mn-Step-meta">{meta.join(' · ')}</div>}
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

/** The question of a step waiting at its gate, with the cell widget's two buttons. */
function ApprovalGate(props: {
  row: IStepRow;
  question: string;
  busy: boolean;
  actions: IStepActions;
}): JSX.Element {
  const { row, question, busy, actions } = props;
  const [note, setNote] = useState('');
  return (
    <div className="mn-Step-approval">
      <div className="mn-Step-question">{question}</div>
      <div className="mn-Step-actions">
        <button
          className="jp-mod-styled jp-mod-accept mn-Step-approve"
          disabled={busy}
          title="Approve: the step runs when its cell runs again"
          onClick={() => actions.decide(row.name, true, note)}
        >
          Approve
        </button>
        <button
          className="jp-mod-styled jp-mod-warn mn-Step-reject"
          disabled={busy}
          title="Reject: this step and every later one stop until it is reset"
          onClick={() => actions.decide(row.name, false, note)}
        >
          Reject
        </button>
        <input
          className="jp-mod-styled mn-Step-approvalNote"
          type="text"
          placeholder="note (optional)"
          aria-label={`note on the decision for ${row.name}`}
          value={note}
          disabled={busy}
          onChange={event => setNote(event.target.value)}
        />
      </div>
    </div>
  );
}

function Traceback(props: { detail: IStepDetail | string | null }): JSX.Element {
  const { detail } = props;
  if (detail === null) {
    return <div className="mn-Step-note">Loading the traceback…</div>;
  }
  if (typeof detail === 'string') {
    return <div className="mn-Steps-error">{detail}</div>;
  }
  return <pre className="mn-Step-traceback">{detail.traceback ?? 'no traceback recorded'}</pre>;
}
