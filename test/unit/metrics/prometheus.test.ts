/**
 * metrics/prometheus: the exposition of a real node (startApp on SQLite, the resolver against the
 * in-process DNS test server) after known decisions; scrape-time gauges; the store's error and
 * retry events through a real firewall; two instances in one process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../../src/app.js';
import { FcrdnsChecker } from '../../../src/check/checker.js';
import { checkSchema, configSchema, firewallSchema, resolverSchema } from '../../../src/config/schema.js';
import { StubResolver } from '../../../src/dns/stub-resolver.js';
import { Firewall } from '../../../src/firewall/firewall.js';
import type { FirewallLogEvent } from '../../../src/firewall/types.js';
import { FREE_LABEL_SETS_MAX, PrometheusMetrics } from '../../../src/metrics/prometheus.js';
import { isNodeMetrics, noMetrics } from '../../../src/metrics/types.js';
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import type { Store } from '../../../src/store/types.js';
import { DnsTestServer, type TestZone } from '../../helpers/dns-test-server.js';
import { flakyStore, type Flaky } from '../firewall/helpers.js';
import { parseExposition, samplesOf, valueOf } from './exposition.js';

const ZONE: TestZone = {
  records: {
    '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com', ttl: 300 }],
    // Same name, other address: the forward look-up is answered from the resolver's cache.
    '11.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com', ttl: 300 }],
    'mail.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 300 }],
  },
  negativeSoa: { ttl: 300, minimum: 300 },
};

const PASS = '192.0.2.10';
const NO_MATCH = '192.0.2.11';
const NO_PTR = '192.0.2.20';

let server: DnsTestServer;
const dirs: string[] = [];

before(async () => {
  server = await DnsTestServer.start(ZONE);
});
after(async () => {
  await server.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bs-metrics-'));
  dirs.push(d);
  return d;
}

async function node(metrics: PrometheusMetrics): Promise<App> {
  const config = configSchema.parse({
    resolver: { servers: [server.upstream], timeoutMs: 500, tries: 1 },
    store: { path: join(tempDir(), 'store.db') },
    policy: { listen: [] },
    http: { listen: [] },
  });
  return startApp(config, { metrics, timers: false });
}

describe('PrometheusMetrics on a node', () => {
  test('the exposition after known decisions: counters with their labels, histograms, scrape-time gauges', async () => {
    server.resetQueries();
    const metrics = new PrometheusMetrics();
    const app = await node(metrics);
    try {
      const decide = (ip: string, recipient?: string) =>
        app.firewall.decide({ front: 'policy', ip, helo: 'client.example', sender: 'a@example.org', ...(recipient === undefined ? {} : { recipient }) });
      assert.equal((await decide(PASS)).action, 'accept'); // live check
      assert.equal((await decide(PASS)).action, 'accept'); // verdict cache
      assert.equal((await decide(NO_PTR)).action, 'reject'); // live check, listed
      assert.equal((await decide(NO_PTR)).action, 'reject'); // from the listing, no DNS
      assert.equal((await decide(NO_MATCH)).action, 'reject'); // forward look-up from the DNS cache
      assert.equal((await decide('127.0.0.1')).source, 'bypass');
      assert.equal((await decide(NO_PTR, '<postmaster@example.net>')).source, 'postmaster');
      await app.firewall.decide({ front: 'dnsbl', ip: PASS });
      metrics.frontEvent('policy', 'connection');
      metrics.frontEvent('policy', 'connection');

      const s = parseExposition(await metrics.render());
      const decisions = (front: string, action: string, verdict: string, source: string) =>
        valueOf(s, 'blocksmith_decisions_total', { front, action, verdict, source });
      assert.equal(decisions('policy', 'accept', 'pass', 'check'), 2);
      assert.equal(decisions('policy', 'reject', 'permerror', 'check'), 1);
      assert.equal(decisions('policy', 'reject', 'permerror', 'listing'), 1);
      assert.equal(decisions('policy', 'reject', 'fail', 'check'), 1);
      assert.equal(decisions('policy', 'accept', 'skipped', 'bypass'), 1);
      assert.equal(decisions('policy', 'accept', 'skipped', 'postmaster'), 1);
      assert.equal(decisions('dnsbl', 'accept', 'pass', 'check'), 1);
      assert.equal(samplesOf(s, 'blocksmith_decisions_total').reduce((n, x) => n + x.value, 0), 8);

      assert.equal(valueOf(s, 'blocksmith_decision_duration_seconds_count', { front: 'policy', source: 'check' }), 4);
      assert.equal(valueOf(s, 'blocksmith_decision_duration_seconds_count', { front: 'policy', source: 'listing' }), 1);
      assert.equal(valueOf(s, 'blocksmith_decision_duration_seconds_bucket', { front: 'policy', source: 'check', le: '+Inf' }), 4);
      // Live checks only: one pass, one permerror, one fail; the cached ones are not timed.
      assert.equal(valueOf(s, 'blocksmith_check_duration_seconds_count', { verdict: 'pass' }), 1);
      assert.equal(valueOf(s, 'blocksmith_check_duration_seconds_count', { verdict: 'permerror' }), 1);
      assert.equal(valueOf(s, 'blocksmith_check_duration_seconds_count', { verdict: 'fail' }), 1);

      // Read from the parts at scrape time.
      assert.equal(valueOf(s, 'blocksmith_dns_queries_total'), server.queries.length);
      assert.ok(server.queries.length >= 4, `queries seen: ${server.queries.length}`);
      assert.equal(valueOf(s, 'blocksmith_dns_cache_hits_total'), 1);
      assert.equal(valueOf(s, 'blocksmith_verdict_cache_hits_total'), 2); // policy then dnsbl asking about PASS
      assert.equal(valueOf(s, 'blocksmith_verdict_cache_entries'), 3);
      assert.equal(valueOf(s, 'blocksmith_listings'), 2);
      assert.equal(valueOf(s, 'blocksmith_listings'), app.firewall.status().listings);
      assert.equal(valueOf(s, 'blocksmith_queued_writes'), 0);
      assert.equal(valueOf(s, 'blocksmith_dns_in_flight'), 0);

      assert.equal(valueOf(s, 'blocksmith_events_total', { event: 'LIST' }), 2);
      assert.equal(valueOf(s, 'blocksmith_front_events_total', { front: 'policy', event: 'connection' }), 2);
      assert.equal(valueOf(s, 'blocksmith_store_errors_total'), 0);
      // prom-client's process metrics, under our prefix.
      assert.ok(samplesOf(s, 'blocksmith_process_cpu_user_seconds_total').length === 1);
      assert.match(metrics.contentType, /^text\/plain/);
    } finally {
      await app.stop();
    }
  });

  test('gauges follow the parts between scrapes; counters never go down', async () => {
    const metrics = new PrometheusMetrics({ defaultMetrics: false });
    const app = await node(metrics);
    try {
      let s = parseExposition(await metrics.render());
      assert.equal(valueOf(s, 'blocksmith_listings'), 0);
      await app.firewall.decide({ front: 'policy', ip: NO_PTR });
      s = parseExposition(await metrics.render());
      assert.equal(valueOf(s, 'blocksmith_listings'), 1);
      const queries = valueOf(s, 'blocksmith_dns_queries_total') ?? -1;
      await app.firewall.flush(); // the listing reaches the store (timers are off)
      await app.firewall.clear(NO_PTR, 'test', 'cli:test');
      s = parseExposition(await metrics.render());
      assert.equal(valueOf(s, 'blocksmith_listings'), 0);
      assert.equal(valueOf(s, 'blocksmith_dns_queries_total'), queries);
      assert.equal(valueOf(s, 'blocksmith_events_total', { event: 'CLEAR' }), 1);
    } finally {
      await app.stop();
    }
  });
});

describe('PrometheusMetrics and the store', () => {
  test('queued writes while the store is down, STORE-ERROR events: gauges and counters', async () => {
    const dir = tempDir();
    const real = new SqliteStore({ path: join(dir, 'store.db') });
    await real.open();
    const flaky: Flaky = { down: false, methods: new Set() };
    let broken = false;
    const wrapped = flakyStore(real, flaky);
    // A store whose listing writes fail with an error that is not an outage: a bug, dropped and logged.
    const store: Store = new Proxy(wrapped, {
      get(target, prop, receiver): unknown {
        if (prop === 'putListing' && broken) return () => Promise.reject(new Error('disk full'));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const resolver = new StubResolver(resolverSchema.parse({ servers: [server.upstream], timeoutMs: 500, tries: 1 }));
    const checker = new FcrdnsChecker({ resolver, config: checkSchema.parse({}) });
    const metrics = new PrometheusMetrics({ defaultMetrics: false });
    const events: FirewallLogEvent[] = [];
    const firewall = new Firewall({
      config: firewallSchema.parse({}),
      checker,
      store,
      timers: false,
      log: (e) => {
        events.push(e);
        metrics.logEvent(e.event);
      },
      onDecision: metrics.decision,
    });
    metrics.watch({ firewall: () => firewall.status(), resolver: () => resolver.stats, checker: () => checker.stats });
    try {
      await firewall.start();
      flaky.down = true;
      assert.equal((await firewall.decide({ front: 'policy', ip: NO_PTR })).action, 'reject');
      await firewall.flush();
      let s = parseExposition(await metrics.render());
      const queued = firewall.status().queuedWrites;
      assert.ok(queued > 0, 'a listing write is queued while the store is down');
      assert.equal(valueOf(s, 'blocksmith_queued_writes'), queued);
      const retryQueue = events.filter((e) => e.event === 'RETRY-QUEUE').length;
      assert.ok(retryQueue > 0);
      assert.equal(valueOf(s, 'blocksmith_events_total', { event: 'RETRY-QUEUE' }), retryQueue);

      flaky.down = false;
      broken = true;
      await firewall.flush();
      s = parseExposition(await metrics.render());
      const storeErrors = events.filter((e) => e.event === 'STORE-ERROR').length;
      assert.ok(storeErrors > 0, `events: ${events.map((e) => e.event).join(' ')}`);
      assert.equal(valueOf(s, 'blocksmith_store_errors_total'), storeErrors);
      assert.equal(valueOf(s, 'blocksmith_events_total', { event: 'STORE-ERROR' }), storeErrors);
      assert.equal(valueOf(s, 'blocksmith_queued_writes'), firewall.status().queuedWrites);
    } finally {
      broken = false;
      flaky.down = false;
      await firewall.stop();
      resolver.close();
      await real.close();
    }
  });
});

describe('PrometheusMetrics instances', () => {
  test('two instances in one process keep their own registries', async () => {
    const a = new PrometheusMetrics();
    const b = new PrometheusMetrics();
    a.frontEvent('policy', 'connection');
    a.reload('applied');
    b.reload('failed');
    const sa = parseExposition(await a.render());
    const sb = parseExposition(await b.render());
    assert.equal(valueOf(sa, 'blocksmith_front_events_total', { front: 'policy', event: 'connection' }), 1);
    assert.equal(samplesOf(sb, 'blocksmith_front_events_total').length, 0);
    assert.equal(valueOf(sa, 'blocksmith_config_reloads_total', { outcome: 'applied' }), 1);
    assert.equal(valueOf(sa, 'blocksmith_config_reloads_total', { outcome: 'failed' }), undefined);
    assert.equal(valueOf(sb, 'blocksmith_config_reloads_total', { outcome: 'failed' }), 1);
    // Both expose the process metrics: neither took the other's (or the global registry's) names.
    assert.equal(samplesOf(sa, 'blocksmith_process_cpu_user_seconds_total').length, 1);
    assert.equal(samplesOf(sb, 'blocksmith_process_cpu_user_seconds_total').length, 1);
    // Gauges with nothing to watch are 0, not an error.
    assert.equal(valueOf(sb, 'blocksmith_listings'), 0);
  });

  test('label values are checked and their number bounded', async () => {
    const m = new PrometheusMetrics({ defaultMetrics: false });
    m.frontEvent('policy', 'bad\nevent"}');
    for (let i = 0; i < FREE_LABEL_SETS_MAX + 50; i += 1) m.logEvent(`EVENT-${i}`);
    const s = parseExposition(await m.render());
    assert.equal(valueOf(s, 'blocksmith_front_events_total', { front: 'policy', event: 'invalid' }), 1);
    const events = samplesOf(s, 'blocksmith_events_total');
    assert.equal(events.length, FREE_LABEL_SETS_MAX + 1);
    assert.equal(valueOf(s, 'blocksmith_events_total', { event: 'other' }), 50);
  });

  test('isNodeMetrics tells the node metrics from the plain interface', () => {
    assert.equal(isNodeMetrics(new PrometheusMetrics({ defaultMetrics: false })), true);
    assert.equal(isNodeMetrics(noMetrics), false);
  });
});
