/**
 * NAME
 *   firewall/stats - hourly counters, kept in memory and flushed to the store in batches
 *
 * SYNOPSIS
 *   const stats = new Stats({ store, now, pendingHoursCount, log })
 *   stats.count(name, n?)             add to this hour's counter
 *   await stats.flush()               one store.addStats per hour with counts; false if any failed
 *   stats.pending(): HourlyStats[]    what has not reached the store yet
 *
 * DESCRIPTION
 *   Counter names (PRODUCT.md §6), all from closed sets, so an hour holds a few dozen:
 *     decision.<front>.<action>        connections decided, per front and action
 *     verdict.<verdict>.<reason>       verdicts of checks the firewall acted on
 *     source.<bypass|allowlist|postmaster|listing|check>
 *     would-reject                     report-only acceptances of a refusing verdict
 *     listing.created.<fail|permerror|manual>, listing.cleared.<cause>
 *     unblock.tried, unblock.granted, unblock.rate-limited
 *
 *   A flush swaps each hour's counts out before writing; a write that fails (store unavailable)
 *   adds them back, so nothing is counted twice or lost while the store is away. At most
 *   `pendingHoursCount` hours are kept: past that the oldest hour is dropped with a
 *   STATS-DROP log line.
 *
 * LIMITS
 *   firewall.statsPendingHoursCount.
 */
import type { HourlyStats, Store } from '../store/types.js';
import type { FirewallLogger } from './types.js';

export const HOUR_MS = 3_600_000;

export interface StatsOptions {
  readonly store: Pick<Store, 'addStats'>;
  readonly now: () => number;
  readonly pendingHoursCount: number;
  readonly log: FirewallLogger;
}

export class Stats {
  private readonly options: StatsOptions;
  /** hour start → counter name → count; Map order is insertion order, oldest hour first. */
  private readonly hours = new Map<number, Map<string, number>>();
  /** The counters of the hour [currentHour, currentHour + HOUR_MS), if that hour has any. */
  private currentHour = Number.NaN;
  private current: Map<string, number> | undefined;

  constructor(options: StatsOptions) {
    this.options = options;
  }

  /** count - add `n` (default 1) to this hour's counter `name`. */
  count(name: string, n = 1): void {
    // Two or three counts per decision: the current hour's Map is kept at hand.
    const now = this.options.now();
    const current = this.current;
    if (current !== undefined && now >= this.currentHour && now < this.currentHour + HOUR_MS) {
      current.set(name, (current.get(name) ?? 0) + n);
      return;
    }
    const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
    this.add(hour, name, n);
    this.currentHour = hour;
    this.current = this.hours.get(hour);
  }

  /** pending - counts not yet written, oldest hour first. */
  pending(): HourlyStats[] {
    return [...this.hours.entries()]
      .sort(([a], [b]) => a - b)
      .map(([hour, counters]) => ({ hour, counters: Object.fromEntries(counters) }));
  }

  /** flush - write every hour's counts; true when all were written. */
  async flush(): Promise<boolean> {
    const batches = [...this.hours.entries()];
    this.hours.clear();
    this.current = undefined;
    let ok = true;
    for (const [hour, counters] of batches) {
      if (counters.size === 0) continue;
      try {
        await this.options.store.addStats(hour, Object.fromEntries(counters));
      } catch (err) {
        ok = false;
        for (const [name, n] of counters) this.add(hour, name, n);
        this.options.log({ event: 'STATS-RETRY', detail: err instanceof Error ? err.message : String(err) });
      }
    }
    return ok;
  }

  private add(hour: number, name: string, n: number): void {
    let counters = this.hours.get(hour);
    if (counters === undefined) {
      counters = new Map();
      this.hours.set(hour, counters);
      this.bound();
    }
    counters.set(name, (counters.get(name) ?? 0) + n);
  }

  private bound(): void {
    while (this.hours.size > this.options.pendingHoursCount) {
      const oldest = Math.min(...this.hours.keys());
      this.hours.delete(oldest);
      if (oldest === this.currentHour) this.current = undefined;
      this.options.log({ event: 'STATS-DROP', detail: `counters of hour ${new Date(oldest).toISOString()} dropped` });
    }
  }
}

/** Counter names memoised by counterName; the parts come from closed sets, the bound is a guard. */
const NAMES_MAX = 4_096;
/** `<a>.<b>` by a, then b; `<a>.<b>.<c>` by a, then b, then c: no key string is built to look one up. */
const names2 = new Map<string, Map<string, string>>();
const names3 = new Map<string, Map<string, Map<string, string>>>();
let namesCount = 0;

/** inner - the map under `key` in `outer`, made when missing. */
function inner<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let map = outer.get(key);
  if (map === undefined) outer.set(key, (map = new Map<string, V>()));
  return map;
}

/**
 * counterName - `<a>.<b>` (or `<a>.<b>.<c>`), the same string every time: a decision counts two
 * or three of them, and building each with a template string was a tenth of a warm decision.
 */
export function counterName(a: string, b: string, c?: string): string {
  const byLast = c === undefined ? names2.get(a) : names3.get(a)?.get(b);
  const last = c === undefined ? b : c;
  const known = byLast?.get(last);
  if (known !== undefined) return known;
  const name = c === undefined ? `${a}.${b}` : `${a}.${b}.${c}`;
  if (namesCount >= NAMES_MAX) return name;
  (c === undefined ? inner(names2, a) : inner(inner(names3, a), b)).set(last, name);
  namesCount++;
  return name;
}
