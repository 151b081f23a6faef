/**
 * NAME
 *   web/console/buckets - hourly counters summed into the dashboard's bars (hours or days)
 *
 * SYNOPSIS
 *   bucketStats(hours, from, count, sizeMs): Bucket[]
 *
 * DESCRIPTION
 *   Per bucket: the decisions by action (decision.<front>.<action>, every front) and the
 *   refusals by category, split exactly as the portal's statistics page splits them
 *   (web/stats.ts dailyStats: its rules are reused, not copied: the counters are handed over
 *   with each bucket renumbered as a "day", which is all dailyStats looks at).
 */
import type { HourlyStats } from '../../store/types.js';
import { DAY_MS, dailyStats, type DayStats } from '../stats.js';

export const ACTIONS = ['accept', 'reject', 'defer', 'tag'] as const;
export type ActionName = (typeof ACTIONS)[number];

export interface Bucket extends DayStats {
  /** Start of the bucket, ms (DayStats.day is renumbered: use this). */
  readonly start: number;
  readonly decisions: Readonly<Record<ActionName, number>>;
}

export function bucketStats(hours: readonly HourlyStats[], from: number, count: number, sizeMs: number): Bucket[] {
  const inRange = hours.filter((h) => h.hour >= from && h.hour < from + count * sizeMs);
  const renumbered = inRange.map((h) => ({ hour: Math.floor((h.hour - from) / sizeMs) * DAY_MS, counters: h.counters }));
  const base = dailyStats(renumbered, 0, count);
  const decisions = base.map(() => ({ accept: 0, reject: 0, defer: 0, tag: 0 }));
  for (const h of inRange) {
    const d = decisions[Math.floor((h.hour - from) / sizeMs)];
    if (d === undefined) continue;
    for (const [name, n] of Object.entries(h.counters)) {
      if (!name.startsWith('decision.') || !Number.isFinite(n) || n <= 0) continue;
      const action = name.slice(name.lastIndexOf('.') + 1);
      if (action === 'accept' || action === 'reject' || action === 'defer' || action === 'tag') d[action] += n;
    }
  }
  return base.map((b, i) => ({ ...b, start: from + i * sizeMs, decisions: decisions[i] ?? { accept: 0, reject: 0, defer: 0, tag: 0 } }));
}
