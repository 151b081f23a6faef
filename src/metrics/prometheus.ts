/**
 * NAME
 *   metrics/prometheus - the node's metrics in the Prometheus text format (prom-client)
 *
 * SYNOPSIS
 *   const metrics = new PrometheusMetrics()          // its own Registry, default process metrics
 *   startApp(config, { metrics })                     // app.ts feeds decisions, events, readings
 *   await metrics.render()                            // the exposition (GET /metrics)
 *
 * DESCRIPTION
 *   Every metric is named `blocksmith_…` and lives in a Registry of this instance's own, never
 *   prom-client's global one: several nodes in one test process do not collide.
 *
 *   Counted as it happens (the decision hook, log events, fronts):
 *     blocksmith_decisions_total{front,action,verdict,source}
 *     blocksmith_decision_duration_seconds{front,source}        histogram, decide() from call to answer
 *     blocksmith_check_duration_seconds{verdict}                histogram, live checks only (not cached ones)
 *     blocksmith_events_total{event}                            the parts' log events (LIST, CLEAR, RETRY-QUEUE, …)
 *     blocksmith_store_errors_total                             STORE-ERROR events (a write dropped, a background error)
 *     blocksmith_front_events_total{front,event}
 *     blocksmith_config_reloads_total{outcome}                  applied | failed
 *   Read at scrape time (collect callbacks over NodeReadings; nothing on the hot path):
 *     blocksmith_dns_queries_total, blocksmith_dns_cache_hits_total,
 *     blocksmith_dns_in_flight, blocksmith_dns_queued, blocksmith_dns_cache_entries,
 *     blocksmith_verdict_cache_hits_total, blocksmith_verdict_cache_entries,
 *     blocksmith_listings, blocksmith_allow_entries, blocksmith_queued_writes, blocksmith_pending_touches
 *   and prom-client's default process metrics with the prefix (blocksmith_process_cpu_seconds_total,
 *   blocksmith_nodejs_eventloop_lag_seconds, …).
 *
 *   The decision hook is on every decision, so it adds to plain numbers (metrics/tally.ts), found
 *   through one Map per label keyed by the label values themselves (constant strings: their hashes
 *   are cached, no key string is built), then an increment and a bucket search; prom-client's own
 *   inc() and observe() (a label hash per call) run only when /metrics is read.
 *
 * LIMITS
 *   Label values that come from code (fronts' event words, log event words) are still checked:
 *   anything but [A-Za-z0-9_-]{1,40} is counted as `invalid`, and past FREE_LABEL_SETS_MAX
 *   distinct sets per metric new ones count as `other` (a bug must not blow up the exposition).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { CheckResult } from '../check/types.js';
import type { DecisionListener } from '../firewall/firewall.js';
import type { ClientContext, Decision } from '../firewall/types.js';
import { exportCounts, TallyHistogram, type CountSeries, type HistogramSeries } from './tally.js';
import type { NodeMetrics, NodeReadings, ReloadOutcome } from './types.js';

export const METRIC_PREFIX = 'blocksmith_';

/** Decision latency (seconds): a warm decision is tens of microseconds, a cold one a DNS round trip or a deadline. */
const DECISION_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Live check latency (seconds): one PTR plus forward look-ups, up to check.deadlineMs (≤ 120 s). */
const CHECK_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];

/** Distinct label sets kept per free-form metric (events); more are folded into `other`. */
export const FREE_LABEL_SETS_MAX = 256;
const LABEL_WORD = /^[A-Za-z0-9_-]{1,40}$/;
const MS_PER_S = 1000;
/** The key of the series that takes new label sets past FREE_LABEL_SETS_MAX. */
const OVERFLOW_KEY = '\u0000overflow';

export interface PrometheusMetricsOptions {
  /** prom-client's default process metrics (CPU, memory, event loop, GC); default true. */
  readonly defaultMetrics?: boolean;
}

type DecisionLabel = 'front' | 'action' | 'verdict' | 'source';

/** One level of an index by label value: the next level, made on first use. */
function level<T>(index: Map<string, Map<string, T>>, value: string): Map<string, T> {
  let next = index.get(value);
  if (next === undefined) {
    next = new Map<string, T>();
    index.set(value, next);
  }
  return next;
}

function word(value: string): string {
  return LABEL_WORD.test(value) ? value : 'invalid';
}

export class PrometheusMetrics implements NodeMetrics {
  readonly registry: Registry;
  private node: NodeReadings | undefined;

  private readonly decisions = new Map<string, CountSeries<DecisionLabel>>();
  /** front → action → verdict → source → the series in `decisions`. */
  private readonly decisionIndex = new Map<string, Map<string, Map<string, Map<string, CountSeries<DecisionLabel>>>>>();
  /** front → source → the decision latency series. */
  private readonly timingIndex = new Map<string, Map<string, HistogramSeries>>();
  private readonly events = new Map<string, CountSeries<'event'>>();
  private readonly frontEvents = new Map<string, CountSeries<'front' | 'event'>>();
  private readonly reloads = new Map<string, CountSeries<'outcome'>>();
  private storeErrors = 0;
  private readonly decisionSeconds: TallyHistogram;
  private readonly checkSeconds: TallyHistogram;
  /** A coalesced check is shared by every decision that waited for it: its latency counts once. */
  private readonly checksSeen = new WeakSet<CheckResult>();

  constructor(options: PrometheusMetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];
    const name = (n: string): string => `${METRIC_PREFIX}${n}`;

    const tallied = <L extends string>(n: string, help: string, labelNames: readonly L[], series: Map<string, CountSeries<L>>): void => {
      new Counter<L>({
        name: name(n),
        help,
        labelNames,
        registers,
        collect() {
          exportCounts(this, series.values());
        },
      });
    };
    tallied('decisions_total', 'Decisions made, by front, action, verdict and who decided (source).', ['front', 'action', 'verdict', 'source'], this.decisions);
    tallied('events_total', 'Log events of the firewall and the store (LIST, CLEAR, EXPIRE, RETRY-QUEUE, RETRY-DROP, STORE-ERROR, ...).', ['event'], this.events);
    tallied('front_events_total', "Fronts' events (connections, protocol errors, rate limits, ...).", ['front', 'event'], this.frontEvents);
    tallied('config_reloads_total', 'Configuration reloads (SIGHUP), by outcome.', ['outcome'], this.reloads);
    this.decisionSeconds = new TallyHistogram(name('decision_duration_seconds'), 'Time from a front asking to the decision, by front and source.', DECISION_BUCKETS_S);
    this.checkSeconds = new TallyHistogram(name('check_duration_seconds'), 'Duration of live FCrDNS checks (cached verdicts not counted), by verdict.', CHECK_BUCKETS_S);
    registry.registerMetric(this.decisionSeconds.asMetric());
    registry.registerMetric(this.checkSeconds.asMetric());

    const read = <T>(pick: (node: NodeReadings) => T): T | undefined => (this.node === undefined ? undefined : pick(this.node));
    const total = (n: string, help: string, value: (node: NodeReadings) => number): void => {
      new Counter({
        name: name(n),
        help,
        registers,
        collect() {
          const v = read(value);
          if (v === undefined) return;
          // The part keeps the running total; a counter has no set(), so reset and add it.
          this.reset();
          this.inc(v);
        },
      });
    };
    const gauge = (n: string, help: string, value: (node: NodeReadings) => number): void => {
      new Gauge({
        name: name(n),
        help,
        registers,
        collect() {
          const v = read(value);
          if (v !== undefined) this.set(v);
        },
      });
    };
    const storeErrors = (): number => this.storeErrors;
    new Counter({
      name: name('store_errors_total'),
      help: 'Store errors that are not an outage: a write dropped, a background error (STORE-ERROR).',
      registers,
      collect() {
        this.reset();
        this.inc(storeErrors());
      },
    });
    total('dns_queries_total', 'DNS questions sent to the upstreams (every try, TCP retries included).', (n) => n.resolver().queriesSent);
    total('dns_cache_hits_total', "Look-ups answered from the resolver's cache.", (n) => n.resolver().cacheHits);
    gauge('dns_in_flight', 'DNS questions on the wire now.', (n) => n.resolver().inFlight);
    gauge('dns_queued', 'DNS look-ups waiting for a slot now.', (n) => n.resolver().queued);
    gauge('dns_cache_entries', "Entries in the resolver's cache.", (n) => n.resolver().cacheEntries);
    total('verdict_cache_hits_total', 'Checks answered from the verdict cache.', (n) => n.checker().cacheHits);
    gauge('verdict_cache_entries', 'Verdicts in the verdict cache.', (n) => n.checker().cacheEntries);
    gauge('listings', 'Active listings in the hot cache.', (n) => n.firewall().listings);
    gauge('allow_entries', 'Allow entries in the hot cache.', (n) => n.firewall().allows);
    gauge('queued_writes', 'Listing and evidence writes queued for retry while the store is unavailable.', (n) => n.firewall().queuedWrites);
    gauge('pending_touches', 'Listed IPs whose batched rejections are not yet written.', (n) => n.firewall().pendingTouches);

    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  watch(node: NodeReadings): void {
    this.node = node;
  }

  readonly decision: DecisionListener = (ctx: ClientContext, decision: Decision, elapsedMs: number): void => {
    const front = ctx.front;
    const { action, verdict, source } = decision;
    const bySource = level(level(level(this.decisionIndex, front), action), verdict);
    const counted = bySource.get(source);
    if (counted !== undefined) counted.value += 1;
    else {
      const series = { labels: { front, action, verdict, source }, value: 1 };
      bySource.set(source, series);
      this.decisions.set(`${front} ${action} ${verdict} ${source}`, series);
    }
    const timings = level(this.timingIndex, front);
    let timing = timings.get(source);
    if (timing === undefined) {
      timing = this.decisionSeconds.add(`${front} ${source}`, { front, source });
      timings.set(source, timing);
    }
    timing.observe(elapsedMs / MS_PER_S);
    const check = decision.check;
    if (check !== undefined && !check.fromCache && !this.checksSeen.has(check)) {
      this.checksSeen.add(check);
      const verdict = check.verdict;
      (this.checkSeconds.find(verdict) ?? this.checkSeconds.add(verdict, { verdict })).observe(check.durationMs / MS_PER_S);
    }
  };

  logEvent(event: string): void {
    const s = this.events.get(event);
    if (s !== undefined) s.value += 1;
    else addSeries(this.events, event, { event: word(event) }, { event: 'other' });
    if (event === 'STORE-ERROR') this.storeErrors += 1;
  }

  frontEvent(front: string, event: string): void {
    const key = `${front} ${event}`;
    const s = this.frontEvents.get(key);
    if (s !== undefined) s.value += 1;
    else addSeries(this.frontEvents, key, { front: word(front), event: word(event) }, { front: 'other', event: 'other' });
  }

  reload(outcome: ReloadOutcome): void {
    const s = this.reloads.get(outcome);
    if (s !== undefined) s.value += 1;
    else addSeries(this.reloads, outcome, { outcome }, { outcome });
  }

}

/**
 * addSeries - a first count for `key`; past FREE_LABEL_SETS_MAX series, one more for the
 * `overflow` labels instead (a bug sending ever new words must not grow the exposition).
 */
function addSeries<L extends string>(series: Map<string, CountSeries<L>>, key: string, labels: Record<L, string>, overflow: Record<L, string>): void {
  if (series.size < FREE_LABEL_SETS_MAX) {
    series.set(key, { labels, value: 1 });
    return;
  }
  const other = series.get(OVERFLOW_KEY);
  if (other !== undefined) other.value += 1;
  else series.set(OVERFLOW_KEY, { labels: overflow, value: 1 });
}
