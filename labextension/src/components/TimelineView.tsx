/**
 * The last run(s) on a time axis: one lane per step, its bars coloured by outcome
 * (plain CSS boxes placed in percent, so the picture fits any sidebar width).
 */
import React from 'react';

import { formatAgo, formatSpan } from '../status';
import { ITimelineRun, OUTCOMES, layoutRun, savedText } from '../timeline';
import { IStepsState } from '../tokens';

export function TimelineView(props: { model: IStepsState }): JSX.Element {
  const { model } = props;
  const timeline = model.timeline;
  if (model.timelineError) {
    return (
      <div className="mn-Steps-error" role="alert">
        {model.timelineError.message}
      </div>
    );
  }
  if (timeline === null) {
    return <p className="mn-Steps-note">Loading the timeline…</p>;
  }
  if (timeline.runs.length === 0) {
    return <p className="mn-Steps-note">No run yet: run a step to see its timeline.</p>;
  }
  return (
    <div className="mn-Timeline">
      {timeline.runs.map(run => (
        <TimelineRun key={run.run_id} run={run} />
      ))}
      <ul className="mn-Timeline-legend" aria-label="outcomes">
        {OUTCOMES.map(outcome => (
          <li key={outcome}>
            <span className={`mn-Bar-swatch mn-bar-${outcome}`} aria-hidden="true" />
            {outcome}
          </li>
        ))}
      </ul>
    </div>
  );
}

function TimelineRun(props: { run: ITimelineRun }): JSX.Element {
  const { run } = props;
  const now = Date.now() / 1000;
  const { lanes, span } = layoutRun(run, now);
  const saved = savedText(run);
  return (
    <section className="mn-Timeline-run" data-run={run.run_id} data-status={run.status}>
      <div className="mn-Timeline-head" title={`run ${run.run_id}`}>
        <span className="mn-Timeline-kind">{run.kind}</span> · {run.status} ·{' '}
        {formatAgo(run.started_at)} · {formatSpan(span)}
      </div>
      {saved && <div className="mn-Timeline-saved">{saved}</div>}
      <ul className="mn-Timeline-lanes">
        {lanes.map(lane => (
          <li key={lane.step} className="mn-Timeline-lane" data-step={lane.step}>
            <span className="mn-Timeline-step" title={lane.step}>
              {lane.step}
            </span>
            <span className="mn-Timeline-track">
              {lane.bars.map((bar, i) => {
                const took = bar.end === null ? 'still going' : formatSpan(bar.end - bar.start);
                const attempt = bar.attempt !== null ? ` (attempt ${bar.attempt})` : '';
                const label = `${bar.step}: ${bar.outcome}${attempt}, ${took}${bar.detail ? ` — ${bar.detail}` : ''}`;
                return (
                  <span
                    key={i}
                    className={`mn-Bar mn-bar-${bar.outcome}`}
                    data-outcome={bar.outcome}
                    style={{ left: `${bar.left}%`, width: `${bar.width}%` }}
                    title={label}
                    aria-label={label}
                    role="img"
                  />
                );
              })}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
