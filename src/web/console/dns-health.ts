/**
 * NAME
 *   web/console/dns-health - the dashboard's DNS health: temperror rate and check latency
 *
 * SYNOPSIS
 *   temperrorRate(hours): { temperror, checks }           from the firewall's hourly counters
 *   readDnsHealth(metricsText): DnsHealth                 from the node's /metrics exposition
 *
 * DESCRIPTION
 *   Temporary DNS failures are counted by the firewall as verdict.temperror.<reason> among all
 *   verdict.<verdict>.<reason> counters (firewall/stats.ts): their share is the temperror rate,
 *   for every node of the store.
 *
 *   The resolver's latency is this node's: the histogram blocksmith_check_duration_seconds (live
 *   checks: one PTR query and its forward look-ups, cached verdicts not counted) since the
 *   process started, read from the text the node's Metrics render for /metrics (the console
 *   is a front: it sees Metrics, not the resolver). The median and the 90th percentile are the
 *   upper bounds of the buckets they fall in ("under 25 ms"). The gauges blocksmith_dns_in_flight
 *   and blocksmith_dns_queued and the counter blocksmith_dns_queries_total come with it. A node
 *   without metrics (tests, noMetrics) gives `undefined` for each.
 *
 *   The text is parsed for these few names only; any other line is skipped.
 */
import type { HourlyStats } from '../../store/types.js';

export interface DnsHealth {
  /** Live checks measured since the process started. */
  readonly checks?: number;
  /** Upper bound of the median's bucket, seconds (Infinity: above the last bucket). */
  readonly medianS?: number;
  readonly p90S?: number;
  readonly queriesSent?: number;
  readonly inFlight?: number;
  readonly queued?: number;
}

export function temperrorRate(hours: readonly HourlyStats[]): { readonly temperror: number; readonly checks: number } {
  let temperror = 0;
  let checks = 0;
  for (const h of hours) {
    for (const [name, n] of Object.entries(h.counters)) {
      if (!name.startsWith('verdict.') || !Number.isFinite(n) || n <= 0) continue;
      checks += n;
      if (name.startsWith('verdict.temperror.')) temperror += n;
    }
  }
  return { temperror, checks };
}

const LINE = /^(blocksmith_[a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+|\+Inf|NaN)\s*$/;
const LE = /le="([^"]+)"/;

function quantile(buckets: ReadonlyMap<number, number>, count: number, q: number): number | undefined {
  if (count <= 0) return undefined;
  for (const [le, cumulative] of [...buckets.entries()].sort((a, b) => a[0] - b[0])) if (cumulative >= q * count) return le;
  return Number.POSITIVE_INFINITY;
}

export function readDnsHealth(text: string): DnsHealth {
  const buckets = new Map<number, number>();
  let count: number | undefined;
  const out: { -readonly [K in keyof DnsHealth]: DnsHealth[K] } = {};
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const [, name, labels = '', raw = ''] = m;
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    switch (name) {
      case 'blocksmith_check_duration_seconds_bucket': {
        const le = LE.exec(labels)?.[1];
        if (le === undefined) break;
        const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
        buckets.set(bound, (buckets.get(bound) ?? 0) + value);
        break;
      }
      case 'blocksmith_check_duration_seconds_count':
        count = (count ?? 0) + value;
        break;
      case 'blocksmith_dns_queries_total':
        out.queriesSent = value;
        break;
      case 'blocksmith_dns_in_flight':
        out.inFlight = value;
        break;
      case 'blocksmith_dns_queued':
        out.queued = value;
        break;
      default:
        break;
    }
  }
  if (count !== undefined) {
    out.checks = count;
    const median = quantile(buckets, count, 0.5);
    const p90 = quantile(buckets, count, 0.9);
    if (median !== undefined) out.medianS = median;
    if (p90 !== undefined) out.p90S = p90;
  }
  return out;
}
