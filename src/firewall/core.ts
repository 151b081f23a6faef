/**
 * NAME
 *   firewall/core - what the firewall's parts share, and the small helpers they all use
 *
 * SYNOPSIS
 *   interface Core { config, checker, store, hot, writer, stats, episodes, own, now, log, alwaysAccept }
 *   nextRecheckAt(core, result): number
 *   await nextTurn()                         the next turn of the event loop (setImmediate)
 *   rejectionAudit / evidenceLimits / refused helpers
 *
 * DESCRIPTION
 *   Built once by Firewall (firewall.ts) and handed to decide.ts, lifecycle.ts and operator.ts,
 *   so each stays a small module of functions over the same state.
 *
 *   nextRecheckAt: a listing is re-checked no sooner than `recheckIntervalMs` after now, and
 *   never before the check's verdict TTL ends (PRODUCT.md §4: "never before the negative TTL
 *   ends"), so the re-check is never answered from a cached verdict.
 */
import type { FcrdnsChecker } from '../check/checker.js';
import type { CheckResult } from '../check/types.js';
import type { FirewallConfig } from '../config/schema.js';
import type { Store } from '../store/types.js';
import type { RefusalEpisodes } from './episodes.js';
import type { EvidenceLimits } from './evidence.js';
import type { HotCache } from './hot-cache.js';
import type { OwnWrites } from './own-writes.js';
import type { Stats } from './stats.js';
import type { FirewallLogger } from './types.js';
import type { Writer } from './writer.js';

export interface Core {
  readonly config: FirewallConfig;
  readonly checker: FcrdnsChecker;
  readonly store: Store;
  readonly hot: HotCache;
  readonly writer: Writer;
  readonly stats: Stats;
  /** Repeated identical refusals of a listed IP: one reference (episodes.ts). */
  readonly episodes: RefusalEpisodes;
  /** Listing writes made here, whose store events need no read-back (own-writes.ts). */
  readonly own: OwnWrites;
  readonly now: () => number;
  readonly log: FirewallLogger;
  /** firewall.alwaysAcceptLocalParts, lower-cased. */
  readonly alwaysAccept: ReadonlySet<string>;
}

const MS_PER_S = 1000;

/** nextRecheckAt - now + recheckIntervalMs, and not before the result's TTL ends. */
export function nextRecheckAt(core: Core, result: CheckResult | undefined): number {
  const interval = core.now() + core.config.recheckIntervalMs;
  if (result === undefined) return interval;
  return Math.max(interval, result.checkedAt + result.ttl * MS_PER_S);
}

export function evidenceLimits(config: FirewallConfig): EvidenceLimits {
  return { traceMaxBytes: config.evidenceTraceMaxBytes, namesMaxCount: config.evidenceNamesMaxCount };
}

/**
 * nextTurn - resolves on the next turn of the event loop (setImmediate), after the I/O ready now.
 * Background work over many items (expiry's scan, the writer's flushes) waits here between
 * slices: a promise chain alone (microtasks) never lets a socket be served, so a slice of a
 * few thousand items would hold every connection for its whole length.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Manual listings are never re-checked: their due time is "never". */
export const NEVER = Number.MAX_SAFE_INTEGER;
