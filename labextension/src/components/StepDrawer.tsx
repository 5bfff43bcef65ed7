/**
 * A step's details drawer: its error and wrapped traceback (only while its last run is
 * not good), attempts, variables with sizes, durable-call counts, owner and events.
 */
import React, { useEffect, useState } from 'react';

import { IEventInfo, IStepDetail, IStepRow } from '../api';
import { durableSummary, formatAgo, formatBytes, formatDuration } from '../status';
import { IStepsState } from '../tokens';

const GOOD = new Set(['succeeded', 'cached']);
/** The drawer shows a step's latest events only. */
const EVENTS_SHOWN = 8;

type Loaded<T> = T | string | null;

export function StepDrawer(props: { row: IStepRow; model: IStepsState }): JSX.Element {
  const { row, model } = props;
  const [detail, setDetail] = useState<Loaded<IStepDetail>>(null);
  const [events, setEvents] = useState<Loaded<IEventInfo[]>>(null);
  // A new run of the step makes what was fetched obsolete.
  useEffect(() => {
    let live = true;
    model.detail(row.name).then(
      d => live && setDetail(d),
      (e: Error) => live && setDetail(e.message)
    );
    model.events(row.name).then(
      e => live && setEvents(e.slice(-EVENTS_SHOWN).reverse()),
      (e: Error) => live && setEvents(e.message)
    );
    return () => {
      live = false;
    };
  }, [row.name, row.last_run, row.status, row.attempts]);

  const calls = durableSummary(row);
  return (
    <div className="mn-Step-drawer" role="region" aria-label={`details of ${row.name}`}>
      {detail === null && <div className="mn-Step-note">Loading the details…</div>}
      {typeof detail === 'string' && <div className="mn-Steps-error">{detail}</div>}
      {detail !== null && typeof detail !== 'string' && <Detail row={row} detail={detail} />}
      <Section title="Durable calls">
        <div className="mn-Step-durable" title="durable calls (mn.durable)">
          {calls ?? 'none'}
        </div>
      </Section>
      <Section title="Events">
        {events === null && <div className="mn-Step-note">Loading…</div>}
        {typeof events === 'string' && <div className="mn-Steps-error">{events}</div>}
        {Array.isArray(events) && events.length === 0 && <div className="mn-Step-note">none</div>}
        {Array.isArray(events) && events.length > 0 && (
          <ul className="mn-Drawer-events">
            {events.map(e => (
              <li key={e.id} title={JSON.stringify(e.detail)}>
                <span className="mn-Drawer-eventKind">{e.kind}</span> {formatAgo(e.ts)}
              </li>
            ))}
          </ul>
        )}
      </Section>
    </div>
  );
}

function Detail(props: { row: IStepRow; detail: IStepDetail }): JSX.Element {
  const { row, detail } = props;
  // The traceback belongs to the last run only while that run is not good: a step that
  // failed and then succeeded has nothing to show here.
  const failing = !GOOD.has(row.status) && row.error !== null;
  const owner = row.owner;
  return (
    <>
      {failing && (
        <Section title="Traceback">
          {/* The error line itself is the row's, just above the drawer. */}
          <pre className="mn-Step-traceback">{detail.traceback ?? 'no traceback recorded'}</pre>
        </Section>
      )}
      {detail.attempts.length > 0 && (
        <Section title="Attempts">
          <ul className="mn-Drawer-attempts">
            {detail.attempts.map(a => (
              <li key={`${a.run_id}-${a.number}`} title={a.error ?? `run ${a.run_id}`}>
                #{a.number} {a.status}
                {a.ended_at !== null && ` · ${formatDuration(a.ended_at - a.started_at)}`}
                {a.error && <div className="mn-Drawer-attemptError">{a.error}</div>}
              </li>
            ))}
          </ul>
        </Section>
      )}
      {detail.variables.length > 0 && (
        <Section title="Variables">
          <dl className="mn-Drawer-vars">
            {detail.variables.map(v => (
              <React.Fragment key={v.name}>
                <dt title={`${v.name}: ${v.type_name}${v.error ? ` (${v.error})` : ''}`}>
                  {v.name}
                </dt>
                <dd>{v.saved ? formatBytes(v.size) : 'not saved'}</dd>
              </React.Fragment>
            ))}
          </dl>
        </Section>
      )}
      {owner && (
        <Section title="Owner">
          <div className="mn-Drawer-owner">
            {owner.kind} on {owner.host} (pid {owner.pid}) since {formatAgo(owner.since)}
          </div>
        </Section>
      )}
    </>
  );
}

function Section(props: { title: string; children: React.ReactNode }): JSX.Element {
  return (
    <div className="mn-Drawer-section">
      <div className="mn-Drawer-title">{props.title}</div>
      {props.children}
    </div>
  );
}
