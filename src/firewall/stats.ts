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

  constructor(options: StatsOptions) {
    this.options = options;
  }

  /** count - add `n` (default 1) to this hour's counter `name`. */
  count(name: string, n = 1): void {
    const hour = Math.floor(this.options.now() / HOUR_MS) * HOUR_MS;
    this.add(hour, name, n);
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
      this.options.log({ event: 'STATS-DROP', detail: `counters of hour ${new Date(oldest).toISOString()} dropped` });
    }
  }
}
