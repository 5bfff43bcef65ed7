/**
 * The panel's header: the headline, the resume buttons, and the outcome of the last
 * action.
 */
import React from 'react';

import { IActionResult, IStepActions, IStepsState } from '../tokens';

export function Header(props: { model: IStepsState; actions: IStepActions }): JSX.Element {
  const { model, actions } = props;
  const summary = model.summary;
  const busy = model.busyAction !== null;
  const noKernel = model.kernel === 'none';
  return (
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
      {model.lastAction && <ActionOutput result={model.lastAction} />}
    </div>
  );
}

/** What the last action (resume, reset, approve) answered or printed. */
function ActionOutput(props: { result: IActionResult }): JSX.Element {
  const { result } = props;
  return (
    <div className={`mn-Steps-output ${result.ok ? '' : 'mn-mod-error'}`}>
      <div className="mn-Steps-outputTitle">{result.title}</div>
      {result.text && <pre>{result.text}</pre>}
    </div>
  );
}
