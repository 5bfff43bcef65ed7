/**
 * The plan of the next run (GET /mirrorneuron/api/plan, mirrorneuron_nb/planning.py) and
 * how a step row's coordination fields (owner, waiting, wake_at) read.
 */
import { ILeaseOwnerInfo, ILeaseWaiterInfo, IStepRow, requestAPI } from './api';

export type PlanAction = 'restore' | 'run' | 'approval' | 'sleep' | 'blocked';

export interface IPlanStep {
  name: string;
  position: number;
  action: PlanAction;
  reason: string;
  detail: string | null;
}

export interface IPlanResponse {
  notebook: string;
  steps: IPlanStep[];
}

export function getPlan(path: string): Promise<IPlanResponse> {
  return requestAPI<IPlanResponse>('plan', { path });
}

/** Who holds a running step, and who waits for it (api.ts; epoch seconds). */
export type IOwner = ILeaseOwnerInfo;
export type IWaiter = ILeaseWaiterInfo;

/** A step row with its coordination fields (owner, waiting, wake_at). */
export type CoordinatedRow = IStepRow;

export const PLAN_ICON: Record<PlanAction, string> = {
  restore: '↺',
  run: '▶',
  approval: '⚑',
  sleep: '☾',
  blocked: '⊘'
};

export const PLAN_LABEL: Record<PlanAction, string> = {
  restore: 'restore',
  run: 'run',
  approval: 'needs approval',
  sleep: 'sleep',
  blocked: 'blocked'
};

/** "2 of 5 steps will run" (the CLI's summary, without the list). */
export function planHeadline(steps: IPlanStep[]): string {
  if (steps.length === 0) {
    return 'No steps yet.';
  }
  const runs = steps.filter(s => s.action === 'run').length;
  return `${runs} of ${steps.length} step${steps.length === 1 ? '' : 's'} will run`;
}

/** "2 min", "45 s", "3 h": how long since `ts` (epoch seconds). */
export function formatFor(ts: number, nowMs: number = Date.now()): string {
  const secs = Math.max(0, Math.round(nowMs / 1000 - ts));
  if (secs < 60) {
    return `${secs} s`;
  }
  if (secs < 3600) {
    return `${Math.round(secs / 60)} min`;
  }
  return `${Math.round(secs / 3600)} h`;
}

/** "running in kernel pid 4121 on host x for 2 min". */
export function ownerText(owner: IOwner, nowMs: number = Date.now()): string {
  const where = owner.kind === 'batch' ? 'a batch run' : owner.kind || 'kernel';
  return `running in ${where} pid ${owner.pid} on ${owner.host} for ${formatFor(owner.since, nowMs)}`;
}

/** "2 waiting" with a tooltip naming each claimant. */
export function waitingText(waiting: IWaiter[]): { text: string; title: string } | null {
  if (waiting.length === 0) {
    return null;
  }
  const title = waiting.map(w => `${w.kind || 'kernel'} pid ${w.pid} on ${w.host}`).join('\n');
  return { text: `${waiting.length} waiting for it`, title };
}

/** "sleeping until 14:05" (local time; the date too when not today). */
export function wakeText(wakeAt: number, now: Date = new Date()): string {
  const at = new Date(wakeAt * 1000);
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const sameDay = at.toDateString() === now.toDateString();
  return `sleeping until ${sameDay ? time : `${at.toLocaleDateString()} ${time}`}`;
}
