/**
 * NAME
 *   metrics/types - what the rest of BlockSmith may tell the metrics, and how they are read
 *
 * DESCRIPTION
 *   Fronts and the composition root record through this interface only; the Prometheus
 *   implementation (metrics/prometheus.ts) is chosen in app.ts. `noMetrics` records nothing
 *   (tests and one-shot CLI commands).
 */
export interface Metrics {
  /** The Content-Type of render()'s text. */
  readonly contentType: string;
  /** The text exposition of every metric (served at /metrics). */
  render(): Promise<string>;
  /** A front's event: a connection, a protocol error, a rate-limited client… (blocksmith_front_events_total). */
  frontEvent(front: string, event: string): void;
}

export const noMetrics: Metrics = Object.freeze({
  contentType: 'text/plain; version=0.0.4; charset=utf-8',
  render: () => Promise.resolve(''),
  frontEvent: () => undefined,
});
