/**
 * The timeline of the last run(s): the client of GET /mirrorneuron/api/timeline (types
 * follow the contract of mirrorneuron_nb/timeline.py) and the pure layout of its bars.
 */
import { requestAPI } from './api';
import { formatSpan } from './status';

export type BarOutcome =
  | 'ran'
  | 'restored'
  | 'failed'
  | 'retried'
  | 'waiting'
  | 'running'
  | 'checkpointing';

export const OUTCOMES: BarOutcome[] = [
  'ran',
  'restored',
  'failed',
  'retried',
  'waiting',
  'running',
  'checkpointing'
];

export interface ITimelineBar {
  step: string;
  outcome: BarOutcome;
  start: number;
  end: number | null;
  attempt: number | null;
  detail: string;
}

export interface ITimelineRun {
  run_id: string;
  kind: string;
  status: string;
  started_at: number;
  ended_at: number | null;
  restored: number;
  saved_seconds: number;
  bars: ITimelineBar[];
}

export interface ITimeline {
  runs: ITimelineRun[];
}

export function getTimeline(path: string, runs = 3): Promise<ITimeline> {
  return requestAPI<ITimeline>('timeline', { path, runs });
}

/** "restored 4 steps: saved 3 min 12 s"; null when the run restored nothing. */
export function savedText(run: ITimelineRun): string | null {
  if (run.restored <= 0) {
    return null;
  }
  const steps = `${run.restored} step${run.restored === 1 ? '' : 's'}`;
  return `restored ${steps}: saved ${formatSpan(run.saved_seconds)}`;
}

/** One lane per step (in the order steps first appear), its bars placed in percent. */
export interface ILane {
  step: string;
  bars: (ITimelineBar & { left: number; width: number })[];
}

/**
 * The run's bars laid out on its time axis, in percent of its span. A bar still open
 * (end null) reaches `now`; a very short one keeps a visible sliver.
 */
export function layoutRun(run: ITimelineRun, now: number): { lanes: ILane[]; span: number } {
  const start = Math.min(run.started_at, ...run.bars.map(b => b.start));
  const ends = run.bars.map(b => b.end ?? now);
  const end = Math.max(run.ended_at ?? now, ...ends, start);
  const span = Math.max(end - start, 1e-3);
  const lanes = new Map<string, ILane>();
  for (const bar of run.bars) {
    let lane = lanes.get(bar.step);
    if (!lane) {
      lane = { step: bar.step, bars: [] };
      lanes.set(bar.step, lane);
    }
    const left = ((bar.start - start) / span) * 100;
    const width = Math.max((((bar.end ?? now) - bar.start) / span) * 100, 0.8);
    lane.bars.push({ ...bar, left: Math.min(left, 99.2), width: Math.min(width, 100 - left) });
  }
  return { lanes: [...lanes.values()], span };
}
