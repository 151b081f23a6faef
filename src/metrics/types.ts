/**
 * NAME
 *   metrics/types - what the rest of BlockSmith may tell the metrics, and how they are read
 *
 * DESCRIPTION
 *   Fronts and the composition root record through this interface only; the Prometheus
 *   implementation (metrics/prometheus.ts) is chosen in app.ts. `noMetrics` records nothing
 *   (tests and one-shot CLI commands).
 *
 *   `NodeMetrics` is what the composition root (app.ts) feeds besides: every decision (the
 *   firewall's onDecision hook), the parts' log events, reloads, and `watch()`, which hands over
 *   readings of the parts that gauges take at scrape time (the hot path pays nothing for them).
 *   Fronts see only `Metrics`.
 */
import type { CheckerStats } from '../check/checker.js';
import type { ResolverStats } from '../dns/stub-resolver.js';
import type { DecisionListener } from '../firewall/firewall.js';

export interface Metrics {
  /** The Content-Type of render()'s text. */
  readonly contentType: string;
  /** The text exposition of every metric (served at /metrics). */
  render(): Promise<string>;
  /** A front's event: a connection, a protocol error, a rate-limited client… (blocksmith_front_events_total). */
  frontEvent(front: string, event: string): void;
}

/** What the firewall's status() says (hot cache and write queues). */
export interface FirewallReading {
  readonly listings: number;
  readonly allows: number;
  readonly queuedWrites: number;
  readonly pendingTouches: number;
}

/** Readings of a node's parts, taken when /metrics is scraped. Counters must never go down. */
export interface NodeReadings {
  firewall(): FirewallReading;
  resolver(): Pick<ResolverStats, 'queriesSent' | 'cacheHits' | 'inFlight' | 'queued' | 'cacheEntries'>;
  checker(): CheckerStats;
}

export type ReloadOutcome = 'applied' | 'failed';

export interface NodeMetrics extends Metrics {
  /** Counts one decision and its latency; cheap (no allocation once a label set was seen). */
  readonly decision: DecisionListener;
  /** A log event of the node's parts (LIST, CLEAR, STORE-ERROR, RETRY-QUEUE, …). */
  logEvent(event: string): void;
  reload(outcome: ReloadOutcome): void;
  /** Where the scrape-time gauges read from (app.ts calls it once the parts exist). */
  watch(node: NodeReadings): void;
}

export function isNodeMetrics(metrics: Metrics): metrics is NodeMetrics {
  const m = metrics as Partial<NodeMetrics>;
  return typeof m.decision === 'function' && typeof m.logEvent === 'function' && typeof m.watch === 'function' && typeof m.reload === 'function';
}

export const noMetrics: Metrics = Object.freeze({
  contentType: 'text/plain; version=0.0.4; charset=utf-8',
  render: () => Promise.resolve(''),
  frontEvent: () => undefined,
});
