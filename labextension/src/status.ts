/**
 * How statuses and numbers read in the panel and the cell badges (pure functions).
 */
import { IMissingInputInfo, IStepRow, StatusName } from './api';
import type { KernelState, StateLoaded } from './tokens';

export const STATUS_ICON: Record<StatusName, string> = {
  pending: '○',
  running: '◔',
  checkpointing: '◕',
  succeeded: '✓',
  cached: '✓',
  failed: '✗',
  retrying: '↻',
  interrupted: '⚠',
  stale: '≠',
  awaiting_approval: '⚑',
  approved: '▷',
  rejected: '⊘',
  sleeping: '☾'
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

/** Names missing from the kernel and where they are defined ("from cells 3 and 5"). */
export interface IMissingGroup {
  names: string[];
  where: string;
}

/** The saved notebook's numbers (from 1) of the cells that define missing inputs. */
export function missingCells(origins: IMissingInputInfo[]): number[] {
  const numbers = origins.flatMap(o => (o.cell_index === null ? [] : [o.cell_index + 1]));
  return [...new Set(numbers)].sort((a, b) => a - b);
}

/** "cell 2", "cells 3 and 5", "cells 1, 3 and 5". */
export function cellsPhrase(numbers: number[]): string {
  if (numbers.length === 1) {
    return `cell ${numbers[0]}`;
  }
  return `cells ${numbers.slice(0, -1).join(', ')} and ${numbers[numbers.length - 1]}`;
}

/** The missing inputs grouped by where they come from: the notebook's cells first, then
 * steps whose cell is not in the saved notebook, then names defined in no saved cell. */
export function missingGroups(origins: IMissingInputInfo[]): IMissingGroup[] {
  const inCells = origins.filter(o => o.cell_index !== null);
  const groups: IMissingGroup[] =
    inCells.length > 0
      ? [{ names: inCells.map(o => o.name), where: `from ${cellsPhrase(missingCells(origins))}` }]
      : [];
  for (const o of origins.filter(o => o.cell_index === null)) {
    const where = o.step !== null ? `from step ${o.step}` : `(${o.label})`;
    groups.push({ names: [o.name], where });
  }
  return groups;
}

/** Whether the panel can find a cell for every missing input (by position or step name). */
export function canRunMissing(origins: IMissingInputInfo[]): boolean {
  return origins.length > 0 && origins.every(o => o.cell_index !== null || o.step !== null);
}

/** What runs before the step: "cells 3, 5"; "cell 2, step load". */
export function missingSources(origins: IMissingInputInfo[]): string {
  const cells = missingCells(origins);
  const items = cells.length > 0 ? [`cell${cells.length > 1 ? 's' : ''} ${cells.join(', ')}`] : [];
  const steps = origins.flatMap(o => (o.cell_index === null && o.step !== null ? [o.step] : []));
  items.push(...[...new Set(steps)].map(step => `step ${step}`));
  return items.join(', ');
}

/** "Run cells 3, 5, then this step". */
export function runMissingLabel(origins: IMissingInputInfo[]): string {
  return `Run ${missingSources(origins)}, then this step`;
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

/** "3 min 12 s", "1 h 4 min", "8.2 s": a saving, said as people say it. */
export function formatSpan(seconds: number): string {
  if (seconds < 60) {
    return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`;
  }
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h} h ${m} min` : `${m} min ${s} s`;
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

/** The kernel's state as the header says it ("kernel restarted — state not loaded"). */
export function kernelText(kernel: KernelState, loaded: StateLoaded, hasGood: boolean): string {
  switch (kernel) {
    case 'none':
      return 'no kernel';
    case 'dead':
      return 'kernel dead — state not loaded';
    case 'starting':
    case 'restarting':
      return 'kernel restarting';
  }
  const parts: string[] = [];
  if (loaded === 'not-loaded' && hasGood) {
    parts.push('kernel restarted — state not loaded');
  } else if (loaded === 'loaded') {
    parts.push('state loaded');
  }
  if (kernel === 'busy') {
    parts.push('kernel busy');
  }
  return parts.join('; ');
}
