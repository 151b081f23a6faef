/**
 * NAME
 *   metrics/tally - counts and histograms kept as plain numbers, exported at scrape time
 *
 * SYNOPSIS
 *   const counts = new Map<string, CountSeries<'front'>>()       key → { labels, value }
 *   exportCounts(counter, counts.values())                        in a prom-client Counter's collect()
 *   const h = new TallyHistogram('x_seconds', 'help', [0.001, 0.01]); registry.registerMetric(asMetric(h))
 *   (h.find(key) ?? h.add(key, labels)).observe(0.004)
 *
 * DESCRIPTION
 *   prom-client's own inc() and observe() hash the label object on every call (about a
 *   microsecond each): too much for the decision path, whose goal is 300,000 decisions a second
 *   (bench/RESULTS.md). Here the caller finds its series once by a string key and then adds to
 *   numbers; the exposition is built from them only when /metrics is read.
 *
 *   A TallyHistogram is a metric object prom-client's Registry can print: name, help, type, and
 *   get() returning the `_bucket` (cumulative, `le` label, `+Inf` last), `_sum` and `_count`
 *   samples in prom-client's metric-object shape.
 */
import type { Counter, Metric } from 'prom-client';

export interface CountSeries<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  value: number;
}

/** exportCounts - set a prom-client counter (in its collect callback) to the tallied values. */
export function exportCounts<L extends string>(counter: Counter<L>, series: Iterable<CountSeries<L>>): void {
  counter.reset();
  for (const s of series) counter.inc(s.labels as Partial<Record<L, string>>, s.value);
}

export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  private readonly bounds: readonly number[];

  constructor(labels: Readonly<Record<string, string>>, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] ?? Infinity)) i += 1;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count += 1;
  }
}

interface Sample {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName: string;
}

export class TallyHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: readonly number[];
  private readonly all = new Map<string, HistogramSeries>();

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.bounds = [...bounds].sort((a, b) => a - b);
  }

  /** The series of `key`, if it has one yet. */
  find(key: string): HistogramSeries | undefined {
    return this.all.get(key);
  }

  /** A new series for `key` with these labels (callers bound their keys). */
  add(key: string, labels: Readonly<Record<string, string>>): HistogramSeries {
    const s = new HistogramSeries(labels, this.bounds);
    this.all.set(key, s);
    return s;
  }

  /** What prom-client's Registry prints (its metric-object shape). */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const s of this.all.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += s.counts[i] ?? 0;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: bound }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** This histogram as prom-client's Registry.registerMetric() takes it (it reads name and get()). */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
