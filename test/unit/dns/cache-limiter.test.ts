import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { DnsTestServer } from '../../helpers/dns-test-server.js';
import type { TestZone } from '../../helpers/dns-test-server.js';
import { StubResolver } from '../../../src/dns/stub-resolver.js';
import { InFlightLimiter } from '../../../src/dns/limiter.js';
import { LookupCache, negativeTtl } from '../../../src/dns/cache.js';
import { resolverSchema } from '../../../src/config/schema.js';
import type { ResolverConfig } from '../../../src/config/schema.js';

function config(servers: string[], extra: Partial<ResolverConfig> = {}): ResolverConfig {
  return resolverSchema.parse({ servers, timeoutMs: 200, tries: 1, ...extra });
}

const ZONE: TestZone = {
  records: {
    'host.test': [{ type: 'A', data: '192.0.2.1', ttl: 120 }],
    'alias.test': [{ type: 'CNAME', data: 'host.test', ttl: 30 }],
    'zero.test': [{ type: 'A', data: '192.0.2.2', ttl: 0 }],
    'long.test': [{ type: 'A', data: '192.0.2.3', ttl: 1_000_000 }],
    ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`d${i}.test`, [{ type: 'A' as const, data: `192.0.2.${i + 10}` }]])),
  },
  behaviours: {
    'servfail.test': { servfail: true },
    ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`d${i}.test`, { delayMs: 80 }])),
  },
  negativeSoa: { ttl: 900, minimum: 45 },
};

void describe('cache, coalescing and the in-flight cap', () => {
  let server: DnsTestServer;
  let clock = 1_000_000;
  const now = (): number => clock;
  before(async () => {
    server = await DnsTestServer.start(ZONE);
  });
  after(() => server.stop());
  beforeEach(() => {
    server.setZone(ZONE);
    server.resetQueries();
    clock = 1_000_000;
  });

  void test('positive cache: no query on a hit, TTL decremented, expires with the TTL', async () => {
    const r = new StubResolver(config([server.upstream]), { now });
    const first = await r.lookup('host.test', 'A');
    assert.equal(first.fromCache, false);
    clock += 30_500;
    const hit = await r.lookup('HOST.test.', 'A');
    assert.equal(server.queries.length, 1, 'zero queries for the hit');
    assert.equal(hit.fromCache, true);
    assert.equal(hit.ttl, 90);
    assert.equal(hit.records[0]?.ttl, 90);
    assert.deepEqual(hit.exchanges.map((e) => [e.transport, e.server, e.rcode]), [['cache', 'cache', 'NOERROR']]);
    clock += 89_000;
    assert.equal((await r.lookup('host.test', 'A')).fromCache, true);
    clock += 1_000;
    const expired = await r.lookup('host.test', 'A');
    assert.equal(expired.fromCache, false);
    assert.equal(server.queries.length, 2);
  });

  void test('a CNAME chain is cached for the smallest TTL along it', async () => {
    const r = new StubResolver(config([server.upstream]), { now });
    assert.equal((await r.lookup('alias.test', 'A')).ttl, 30);
    clock += 29_999;
    assert.equal((await r.lookup('alias.test', 'A')).fromCache, true);
    clock += 1;
    assert.equal((await r.lookup('alias.test', 'A')).fromCache, false);
  });

  void test('negative cache lives min(SOA ttl, SOA minimum), capped by negativeCacheMaxTtlS', async () => {
    const r = new StubResolver(config([server.upstream]), { now });
    assert.equal((await r.lookup('absent.test', 'A')).outcome, 'nxdomain');
    clock += 44_000;
    const hit = await r.lookup('absent.test', 'A');
    assert.equal(hit.fromCache, true);
    assert.equal(hit.outcome, 'nxdomain');
    assert.equal(hit.ttl, 1);
    clock += 1_000;
    assert.equal((await r.lookup('absent.test', 'A')).fromCache, false);
    assert.equal(server.queries.length, 2);

    const capped = new StubResolver(config([server.upstream], { negativeCacheMaxTtlS: 10 }), { now });
    await capped.lookup('host.test', 'AAAA');
    clock += 9_000;
    assert.equal((await capped.lookup('host.test', 'AAAA')).fromCache, true);
    clock += 1_000;
    assert.equal((await capped.lookup('host.test', 'AAAA')).fromCache, false);
  });

  void test('cacheMaxTtlS caps positive entries; TTL 0 is not cached', async () => {
    const r = new StubResolver(config([server.upstream], { cacheMaxTtlS: 5 }), { now });
    await r.lookup('long.test', 'A');
    clock += 4_000;
    assert.equal((await r.lookup('long.test', 'A')).fromCache, true);
    clock += 1_000;
    assert.equal((await r.lookup('long.test', 'A')).fromCache, false);
    await r.lookup('zero.test', 'A');
    await r.lookup('zero.test', 'A');
    assert.equal(server.queryCount('zero.test'), 2);
  });

  void test('temp results are never cached', async () => {
    const r = new StubResolver(config([server.upstream]), { now });
    assert.equal((await r.lookup('servfail.test', 'A')).outcome, 'temp');
    assert.equal((await r.lookup('servfail.test', 'A')).outcome, 'temp');
    assert.equal(server.queryCount('servfail.test'), 2);
  });

  void test('noCache bypasses the cache and refreshes it; cacheEntriesCount 0 disables it', async () => {
    const r = new StubResolver(config([server.upstream]), { now });
    await r.lookup('host.test', 'A');
    const fresh = await r.lookup('host.test', 'A', { noCache: true });
    assert.equal(fresh.fromCache, false);
    assert.equal(server.queries.length, 2);
    clock += 100_000; // 100 s after the refresh, 100 s after the first: still cached thanks to the refresh
    assert.equal((await r.lookup('host.test', 'A')).fromCache, true);
    const off = new StubResolver(config([server.upstream], { cacheEntriesCount: 0 }), { now });
    await off.lookup('host.test', 'A');
    await off.lookup('host.test', 'A');
    assert.equal(server.queries.length, 4);
  });

  void test('100 concurrent identical lookups → 1 query on the wire', async () => {
    const r = new StubResolver(config([server.upstream], { cacheEntriesCount: 0 }), { now });
    const results = await Promise.all(Array.from({ length: 100 }, () => r.lookup('d1.test', 'A')));
    assert.equal(server.queries.length, 1);
    assert.ok(results.every((x) => x.outcome === 'answer' && x.records[0]?.data === '192.0.2.11'));
    await Promise.all([r.lookup('d1.test', 'A', { noCache: true }), r.lookup('d1.test', 'A', { noCache: true }), r.lookup('d1.test', 'A')]);
    assert.equal(server.queries.length, 3, 'noCache lookups share one query but not the normal one');
  });

  void test('in-flight cap 2: never more than 2 outstanding at the server', async () => {
    const r = new StubResolver(config([server.upstream], { maxInFlightCount: 2, cacheEntriesCount: 0 }), { now });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => r.lookup(`d${i}.test`, 'A')));
    assert.ok(results.every((x) => x.outcome === 'answer'));
    assert.equal(server.queries.length, 10);
    assert.equal(server.maxOutstanding, 2);
    assert.equal(r.stats.inFlight, 0);
  });

  void test('queue full → temp/network with an explaining exchange', async () => {
    const r = new StubResolver(config([server.upstream], { maxInFlightCount: 1, maxQueuedCount: 2, cacheEntriesCount: 0 }), { now });
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => r.lookup(`d${i}.test`, 'A')));
    assert.deepEqual(results.map((x) => x.outcome), ['answer', 'answer', 'answer', 'temp', 'temp']);
    assert.equal(results[4]?.tempReason, 'network');
    assert.match(results[4]?.exchanges[0]?.errorDetail ?? '', /maxQueuedCount/);
    assert.equal(server.queries.length, 3);
  });
});

void describe('InFlightLimiter', () => {
  void test('FIFO order, idempotent release', async () => {
    const l = new InFlightLimiter(1, 10);
    const first = await l.acquire();
    assert.ok(first.ok);
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => l.acquire().then((s) => { order.push(n); return s; }));
    assert.equal(l.queued, 3);
    first.release();
    first.release();
    const s1 = await waits[0];
    assert.equal(l.inFlight, 1, 'a double release frees one slot only');
    assert.ok(s1?.ok);
    s1.release();
    const s2 = await waits[1];
    assert.ok(s2?.ok);
    s2.release();
    const s3 = await waits[2];
    assert.ok(s3?.ok);
    s3.release();
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(l.inFlight, 0);
  });
  void test('abort while queued removes the waiter', async () => {
    const l = new InFlightLimiter(1, 10);
    const held = await l.acquire();
    const ac = new AbortController();
    const waiting = l.acquire(ac.signal);
    const next = l.acquire();
    ac.abort();
    assert.deepEqual(await waiting, { ok: false, reason: 'aborted' });
    assert.equal(l.queued, 1);
    assert.ok(held.ok);
    held.release();
    const n = await next;
    assert.ok(n.ok);
    assert.equal(l.inFlight, 1);
  });
  void test('queue bound; 0 means no waiting at all', async () => {
    const l = new InFlightLimiter(1, 0);
    assert.ok((await l.acquire()).ok);
    assert.deepEqual(await l.acquire(), { ok: false, reason: 'queue-full' });
  });
});

void describe('LookupCache', () => {
  void test('negativeTtl is min(SOA ttl, minimum), 0 without SOA', () => {
    assert.equal(negativeTtl([{ name: 't', type: 'SOA', ttl: 100, data: 'a b 1 2 3 4 50' }]), 50);
    assert.equal(negativeTtl([{ name: 't', type: 'SOA', ttl: 20, data: 'a b 1 2 3 4 50' }]), 20);
    assert.equal(negativeTtl([{ name: 't', type: 'NS', ttl: 20, data: 'a' }]), 0);
  });
  void test('LRU bound evicts the least recently used', () => {
    const c = new LookupCache({ entriesCount: 2, maxTtlS: 100, negativeMaxTtlS: 100, now: () => 0 });
    const res = (qname: string) => ({ qname, qtype: 'A' as const, outcome: 'answer' as const, records: [], cnameChain: [], ttl: 10, fromCache: false, exchanges: [] });
    c.set(res('a'));
    c.set(res('b'));
    c.get('a', 'A');
    c.set(res('c'));
    assert.ok(c.get('a', 'A'));
    assert.equal(c.get('b', 'A'), undefined);
    assert.equal(c.size, 2);
  });
});
