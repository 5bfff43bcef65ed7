/**
 * The panel's content: the header, the notebook's steps, and the steps whose cell was
 * deleted. It re-renders whenever the state changes.
 */
import { UseSignal } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { IStepActions, IStepsState, PanelView } from '../tokens';
import { Header } from './Header';
import { PlanView } from './PlanView';
import { StepList } from './StepList';
import { TimelineView } from './TimelineView';

/** Relative times ("12 s ago") age without any change on the server. */
const CLOCK_MS = 15_000;

export function StepsView(props: { model: IStepsState; actions: IStepActions }): JSX.Element {
  const { model, actions } = props;
  return (
    <UseSignal signal={model.changed}>
      {() => <StepsBody model={model} actions={actions} />}
    </UseSignal>
  );
}

function StepsBody(props: { model: IStepsState; actions: IStepActions }): JSX.Element {
  const { model, actions } = props;
  const [, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), CLOCK_MS);
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
  return (
    <div className="mn-Steps" data-path={model.path}>
      <Title />
      <Header model={model} actions={actions} />
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
      <ViewTabs model={model} />
      {model.view === 'plan' && (
        <div role="tabpanel" id="mn-panel-plan" aria-labelledby="mn-tab-plan">
          <PlanView model={model} />
        </div>
      )}
      {model.view === 'timeline' && (
        <div role="tabpanel" id="mn-panel-timeline" aria-labelledby="mn-tab-timeline">
          <TimelineView model={model} />
        </div>
      )}
      {model.view === 'steps' && (
        <div role="tabpanel" id="mn-panel-steps" aria-labelledby="mn-tab-steps">
          <StepList rows={model.steps} model={model} actions={actions} />
          {model.invalid.length > 0 && (
            <>
              <div className="mn-Steps-sectionTitle">Not steps (invalid name)</div>
              <ul className="mn-Steps-invalid">
                {model.invalid.map(cell => (
                  <li key={cell.index} className="mn-Steps-invalidCell" data-name={cell.name}>
                    cell {cell.index + 1}: {cell.message}
                  </li>
                ))}
              </ul>
            </>
          )}
          {model.deleted.length > 0 && (
            <>
              <div className="mn-Steps-sectionTitle">In the sidecar, cell deleted</div>
              <StepList rows={model.deleted} model={model} actions={actions} deleted />
            </>
          )}
        </div>
      )}
    </div>
  );
}

const VIEWS: [PanelView, string][] = [
  ['steps', 'Steps'],
  ['plan', 'Next run'],
  ['timeline', 'Timeline']
];

/** The view tabs (arrow keys move between them, as the ARIA tabs pattern has it). */
function ViewTabs(props: { model: IStepsState }): JSX.Element {
  const { model } = props;
  const onKey = (event: React.KeyboardEvent<HTMLButtonElement>): void => {
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') {
      return;
    }
    event.preventDefault();
    const at = VIEWS.findIndex(([view]) => view === model.view);
    const step = event.key === 'ArrowRight' ? 1 : VIEWS.length - 1;
    const next = VIEWS[(at + step) % VIEWS.length][0];
    model.setView(next);
    const tab = event.currentTarget.parentElement?.querySelector<HTMLElement>(`#mn-tab-${next}`);
    tab?.focus();
  };
  return (
    <div className="mn-Steps-tabs" role="tablist" aria-label="Steps panel views">
      {VIEWS.map(([view, label]) => (
        <button
          key={view}
          id={`mn-tab-${view}`}
          role="tab"
          type="button"
          className={`mn-Steps-tab${model.view === view ? ' mn-mod-selected' : ''}`}
          aria-selected={model.view === view}
          aria-controls={`mn-panel-${view}`}
          tabIndex={model.view === view ? 0 : -1}
          data-view={view}
          title={label}
          onClick={() => model.setView(view)}
          onKeyDown={onKey}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

function Title(): JSX.Element {
  return <h2 className="mn-Steps-title">Steps</h2>;
}
