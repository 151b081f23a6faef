/**
 * NAME
 *   web/stats - the firewall's hourly counters summed into the statistics page's days
 *
 * SYNOPSIS
 *   dailyStats(hours, fromDay, days): DayStats[]
 *   brokenShare(days): { broken, total }
 *
 * DESCRIPTION
 *   Counters (firewall/stats.ts): decision.<front>.<reject|defer> are the refusals (the
 *   denominator); source.listing the refusals of already listed addresses (no DNS work);
 *   verdict.<verdict>.<reason> the verdicts of checks. A refusal after a live check is split
 *   by that day's verdict counts of fail (PTR does not confirm), permerror (no usable PTR) and
 *   temperror (451): the verdict counters also count background re-checks, so the split of
 *   check refusals is proportional, and the day's total is always exact. listing.created.* and
 *   listing.cleared.* give the listings chart.
 *
 *   Broken DNS (the share's numerator) = no usable PTR + PTR does not confirm + already listed
 *   (a listing exists only after one of those). Temporary failures never count as broken.
 */
import type { HourlyStats } from '../store/types.js';

export const DAY_MS = 86_400_000;

export type Category = 'no-ptr' | 'no-match' | 'listed' | 'temp' | 'other';
export const CATEGORIES: readonly Category[] = ['no-ptr', 'no-match', 'listed', 'temp', 'other'];

export interface DayStats {
  /** Start of the UTC day, ms. */
  readonly day: number;
  readonly refusals: number;
  readonly byCategory: Readonly<Record<Category, number>>;
  readonly created: number;
  readonly cleared: number;
}

interface Raw {
  refusals: number;
  listed: number;
  permerror: number;
  fail: number;
  temperror: number;
  created: number;
  cleared: number;
}

function add(raw: Raw, name: string, n: number): void {
  if (!Number.isFinite(n) || n <= 0) return;
  const parts = name.split('.');
  if (parts[0] === 'decision' && (parts[2] === 'reject' || parts[2] === 'defer')) raw.refusals += n;
  else if (name === 'source.listing') raw.listed += n;
  else if (parts[0] === 'verdict' && parts[1] === 'permerror') raw.permerror += n;
  else if (parts[0] === 'verdict' && parts[1] === 'fail') raw.fail += n;
  else if (parts[0] === 'verdict' && parts[1] === 'temperror') raw.temperror += n;
  else if (parts[0] === 'listing' && parts[1] === 'created') raw.created += n;
  else if (parts[0] === 'listing' && parts[1] === 'cleared') raw.cleared += n;
}

/** split - `total` shared out in proportion to `weights`, in whole numbers that sum to total. */
function split(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0 || total === 0) return weights.map(() => 0);
  const exact = weights.map((w) => (w / sum) * total);
  const out = exact.map(Math.floor);
  let rest = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (rest <= 0) break;
    out[i] = (out[i] ?? 0) + 1;
    rest--;
  }
  return out;
}

export function dailyStats(hours: readonly HourlyStats[], fromDay: number, days: number): DayStats[] {
  const raws: Raw[] = Array.from({ length: days }, () => ({ refusals: 0, listed: 0, permerror: 0, fail: 0, temperror: 0, created: 0, cleared: 0 }));
  for (const h of hours) {
    const index = Math.floor((h.hour - fromDay) / DAY_MS);
    const raw = raws[index];
    if (raw === undefined) continue;
    for (const [name, n] of Object.entries(h.counters)) add(raw, name, n);
  }
  return raws.map((raw, i) => {
    const listed = Math.min(raw.listed, raw.refusals);
    const checked = raw.refusals - listed;
    const [noPtr = 0, noMatch = 0, temp = 0] = split(checked, [raw.permerror, raw.fail, raw.temperror]);
    const other = checked - noPtr - noMatch - temp;
    return {
      day: fromDay + i * DAY_MS,
      refusals: raw.refusals,
      byCategory: { 'no-ptr': noPtr, 'no-match': noMatch, listed, temp, other },
      created: raw.created,
      cleared: raw.cleared,
    };
  });
}

export function brokenShare(days: readonly DayStats[]): { readonly broken: number; readonly total: number } {
  let broken = 0;
  let total = 0;
  for (const d of days) {
    broken += d.byCategory['no-ptr'] + d.byCategory['no-match'] + d.byCategory.listed;
    total += d.refusals;
  }
  return { broken, total };
}
