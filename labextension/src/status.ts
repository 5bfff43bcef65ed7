/**
 * How statuses and numbers read in the panel and the cell badges (pure functions).
 */
import { IStepRow, StatusName } from './api';

export const STATUS_ICON: Record<StatusName, string> = {
  pending: '○',
  running: '◔',
  succeeded: '✓',
  cached: '✓',
  failed: '✗',
  retrying: '↻',
  interrupted: '⚠',
  stale: '≠',
  awaiting_approval: '⚑',
  approved: '▷',
  rejected: '⊘'
};

export function statusLabel(status: StatusName): string {
  return status === 'awaiting_approval' ? 'awaiting approval' : status;
}

/** "700 calls recorded, 2 failed"; null when the step made no durable call. */
export function durableSummary(row: IStepRow): string | null {
  const counts: [number, string][] = [
    [row.durable_recorded, 'recorded'],
    [row.durable_failed, 'failed'],
    [row.durable_unsaved, 'not recorded']
  ];
  const parts = counts
    .filter(([n]) => n > 0)
    .map(([n, what], i) => (i === 0 ? `${n} call${n === 1 ? '' : 's'} ${what}` : `${n} ${what}`));
  return parts.length > 0 ? parts.join(', ') : null;
}

/** What was decided at the step's gate (null while nobody has). A rejection's who and why
 * are in the row's error line; this adds the question that was asked. */
export function decisionText(row: IStepRow): string | null {
  const approval = row.approval;
  if (approval === null || approval.status === 'pending') {
    return null;
  }
  if (approval.status === 'rejected') {
    return `asked: ${approval.question}`;
  }
  const note = approval.note ? `: ${approval.note}` : '';
  const next = row.status === 'approved' ? ' — re-run the step to continue' : '';
  return `approved by ${approval.decided_by ?? '?'}${note}${next}`;
}

/** Small tags after a step's name: its kind (unless compute) and "once". */
export function stepTags(row: IStepRow): string[] {
  const tags = row.kind && row.kind !== 'compute' ? [row.kind] : [];
  return row.once ? [...tags, 'once'] : tags;
}

export function formatDuration(seconds: number | null): string | null {
  if (seconds === null) {
    return null;
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 120) {
    return `${seconds.toFixed(1)} s`;
  }
  return `${(seconds / 60).toFixed(1)} min`;
}

export function formatBytes(n: number | null): string | null {
  if (n === null) {
    return null;
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let size = n;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${size} B` : `${size.toFixed(1)} ${units[unit]}`;
}

/** "12 s ago", "5 min ago", "3 h ago", else the date. `ts` is unix seconds. */
export function formatAgo(ts: number | null, nowMs: number = Date.now()): string | null {
  if (ts === null) {
    return null;
  }
  const ago = Math.max(0, nowMs / 1000 - ts);
  if (ago < 60) {
    return `${Math.round(ago)} s ago`;
  }
  if (ago < 3600) {
    return `${Math.round(ago / 60)} min ago`;
  }
  if (ago < 86400) {
    return `${Math.round(ago / 3600)} h ago`;
  }
  return new Date(ts * 1000).toLocaleString();
}
