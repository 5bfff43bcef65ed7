/**
 * The panel's header: a progress bar ("3 of 5 good"), the kernel's state, ONE primary
 * action that follows it (Resume while the state is not loaded, Run from the first
 * unfinished step once it is), and what the last action did.
 */
import React from 'react';

import { IActionResult, IStepActions, IStepsState } from '../tokens';
import { ResumeSummary } from './ResumeSummary';

/** Which action is primary: resume while there is state to load and it is not loaded. */
export function primaryAction(model: IStepsState): 'resume' | 'runFrom' {
  const good = model.summary?.good ?? 0;
  return model.loaded !== 'loaded' && good > 0 ? 'resume' : 'runFrom';
}

export function Header(props: { model: IStepsState; actions: IStepActions }): JSX.Element {
  const { model, actions } = props;
  const summary = model.summary;
  const busy = model.busyAction !== null;
  const noKernel = model.kernel === 'none';
  const primary = primaryAction(model);
  const first = summary?.first_unfinished ?? null;
  const resume = (
    <button
      key="resume"
      className={`jp-mod-styled mn-Steps-resume ${primary === 'resume' ? 'jp-mod-accept mn-mod-primary' : 'mn-mod-secondary'}`}
      disabled={busy || noKernel || !summary || summary.good === 0}
      title="Run %mn_resume in this notebook's kernel: restore the variables of every good step"
      onClick={() => actions.resume()}
    >
      Resume
    </button>
  );
  const runFrom = (
    <button
      key="runFrom"
      className={`jp-mod-styled mn-Steps-runFrom ${primary === 'runFrom' ? 'jp-mod-accept mn-mod-primary' : 'mn-mod-secondary'}`}
      disabled={busy || noKernel || !first}
      title={
        first
          ? `Resume, then run the cells from ${first}, the first step that is not good`
          : 'Every step is good: nothing to run'
      }
      onClick={() => actions.runFrom()}
    >
      {first ? `Run from ${first}` : 'All steps good'}
    </button>
  );
  const total = summary?.total ?? 0;
  const good = summary?.good ?? 0;
  return (
    <div className="mn-Steps-header" data-primary={primary}>
      <div className="mn-Steps-progressRow">
        <div
          className="mn-Steps-bar"
          role="progressbar"
          aria-label="steps good"
          aria-valuemin={0}
          aria-valuemax={total}
          aria-valuenow={good}
        >
          <div className="mn-Steps-barFill" style={{ width: total ? `${(100 * good) / total}%` : '0%' }} />
        </div>
        <div className="mn-Steps-headline" title={model.headline()}>
          {summary?.text ?? 'Loading steps…'}
        </div>
      </div>
      <div className="mn-Steps-kernel" data-kernel={model.kernel} data-loaded={model.loaded}>
        {model.kernelText()}
      </div>
      <div className="mn-Steps-actions">{primary === 'resume' ? [resume, runFrom] : [runFrom, resume]}</div>
      {model.busyAction && <div className="mn-Steps-progress">{model.busyAction}…</div>}
      {model.lastAction && !model.lastAction.resume && <ActionOutput result={model.lastAction} />}
      {model.resumed && <ResumeSummary result={model.resumed} />}
    </div>
  );
}

/** What the last action (reset, approve, run) answered or printed. */
function ActionOutput(props: { result: IActionResult }): JSX.Element {
  const { result } = props;
  return (
    <div className={`mn-Steps-output ${result.ok ? '' : 'mn-mod-error'}`}>
      <div className="mn-Steps-outputTitle">{result.title}</div>
      {result.text && <pre>{result.text}</pre>}
    </div>
  );
}
