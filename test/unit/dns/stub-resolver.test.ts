import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsTestServer } from '../../helpers/dns-test-server.js';
import type { TestZone } from '../../helpers/dns-test-server.js';
import { StubResolver, classifyReply } from '../../../src/dns/stub-resolver.js';
import { resolverSchema } from '../../../src/config/schema.js';
import type { ResolverConfig } from '../../../src/config/schema.js';
import type { DnsExchange } from '../../../src/dns/types.js';

const TIMEOUT_MS = 150;

function config(servers: string[], extra: Partial<ResolverConfig> = {}): ResolverConfig {
  return resolverSchema.parse({ servers, timeoutMs: TIMEOUT_MS, tries: 1, ...extra });
}

const ZONE: TestZone = {
  records: {
    'host.test': [{ type: 'A', data: '192.0.2.1', ttl: 120 }],
    'ptr.test': [{ type: 'PTR', data: 'Weird Name<1>.Example.' }],
    'alias.test': [{ type: 'CNAME', data: 'HOST.test.', ttl: 30 }],
    'c1.test': [{ type: 'CNAME', data: 'c2.test' }],
    'c2.test': [{ type: 'CNAME', data: 'c3.test' }],
    'c3.test': [{ type: 'CNAME', data: 'host.test' }],
    'loop1.test': [{ type: 'CNAME', data: 'loop2.test' }],
    'loop2.test': [{ type: 'CNAME', data: 'loop1.test' }],
    'dangling.test': [{ type: 'CNAME', data: 'nowhere.test' }],
    'to-nodata.test': [{ type: 'CNAME', data: 'host.test' }],
    'servfail.test': [{ type: 'A', data: '192.0.2.9' }],
  },
  behaviours: {
    'servfail.test': { servfail: true },
    'refused.test': { refused: true },
    'formerr.test': { formerr: true },
    'notimp.test': { notimp: true },
    'referral.test': { referral: true },
    'norec.test': { noRecursion: true },
    'silent.test': { silent: true },
    'trunc.test': { truncate: true },
    'slow.test': { delayMs: 2_000 },
  },
  negativeSoa: { ttl: 900, minimum: 45 },
};

void describe('StubResolver against the test server', () => {
  let server: DnsTestServer;
  let resolver: StubResolver;
  before(async () => {
    server = await DnsTestServer.start(ZONE);
  });
  after(() => server.stop());
  beforeEach(() => {
    server.setZone(ZONE);
    server.resetQueries();
    resolver = new StubResolver(config([server.upstream], { cacheEntriesCount: 0 }));
  });

  void test('answer: records of the type, TTL, one exchange', async () => {
    const r = await resolver.lookup('HOST.Test.', 'A');
    assert.equal(r.outcome, 'answer');
    assert.equal(r.qname, 'host.test');
    assert.deepEqual(r.records, [{ name: 'host.test', type: 'A', ttl: 120, data: '192.0.2.1' }]);
    assert.equal(r.ttl, 120);
    assert.equal(r.exchanges.length, 1);
    assert.equal(r.fromCache, false);
    assert.equal(server.queries[0]?.rawName, 'host.test', 'the normalised name goes on the wire');
  });

  void test('nxdomain and nodata carry the RFC 2308 negative TTL min(SOA ttl, minimum)', async () => {
    const nx = await resolver.lookup('absent.test', 'A');
    assert.equal(nx.outcome, 'nxdomain');
    assert.equal(nx.ttl, 45);
    const nd = await resolver.lookup('host.test', 'AAAA');
    assert.equal(nd.outcome, 'nodata');
    assert.equal(nd.ttl, 45);
    assert.deepEqual(nd.records, []);
    server.setZone({ ...ZONE, negativeSoa: { ttl: 10, minimum: 45 } });
    assert.equal((await resolver.lookup('absent.test', 'A')).ttl, 10);
    server.setZone({ ...ZONE, negativeSoa: false });
    assert.equal((await resolver.lookup('absent.test', 'A')).ttl, 0, 'no SOA → 0');
  });

  const temps: Array<[string, string]> = [
    ['servfail.test', 'servfail'],
    ['refused.test', 'refused'],
    ['formerr.test', 'formerr'],
    ['notimp.test', 'notimp'],
    ['referral.test', 'referral'],
    ['norec.test', 'no-recursion'],
    ['silent.test', 'timeout'],
  ];
  for (const [name, reason] of temps) {
    void test(`${name} → temp/${reason}, ttl 0`, async () => {
      const r = await resolver.lookup(name, 'A');
      assert.equal(r.outcome, 'temp');
      assert.equal(r.tempReason, reason);
      assert.equal(r.ttl, 0);
      assert.deepEqual(r.records, []);
    });
  }

  void test('PTR data is kept as received (case, odd characters), one trailing dot stripped', async () => {
    const r = await resolver.lookup('ptr.test', 'PTR');
    assert.equal(r.outcome, 'answer');
    assert.deepEqual(r.records.map((x) => x.data), ['Weird Name<1>.Example']);
  });

  void test('TC → TCP inside a lookup', async () => {
    server.setZone({ ...ZONE, records: { ...ZONE.records, 'trunc.test': [{ type: 'A', data: '192.0.2.5' }] } });
    const r = await resolver.lookup('trunc.test', 'A');
    assert.equal(r.outcome, 'answer');
    assert.deepEqual(r.exchanges.map((e) => e.transport), ['udp', 'tcp']);
  });

  void test('silent server: `tries` timeouts, then the next upstream answers', async () => {
    const second = await DnsTestServer.start({ records: { 'silent.test': [{ type: 'A', data: '192.0.2.77' }] } });
    try {
      const r2 = new StubResolver(config([server.upstream, second.upstream], { tries: 2, cacheEntriesCount: 0 }));
      const r = await r2.lookup('silent.test', 'A');
      assert.equal(r.outcome, 'answer');
      assert.deepEqual(r.records.map((x) => x.data), ['192.0.2.77']);
      assert.equal(server.queryCount('silent.test'), 2, 'two tries on the first upstream');
      assert.equal(second.queryCount('silent.test'), 1);
      assert.deepEqual(r.exchanges.map((e) => e.error ?? e.rcode), ['timeout', 'timeout', 'NOERROR']);
    } finally {
      await second.stop();
    }
  });

  void test('SERVFAIL on the first upstream, answer on the second; all SERVFAIL → temp/servfail', async () => {
    const second = await DnsTestServer.start({ records: { 'servfail.test': [{ type: 'A', data: '192.0.2.9' }] } });
    try {
      const r2 = new StubResolver(config([server.upstream, second.upstream], { tries: 2, cacheEntriesCount: 0 }));
      const ok = await r2.lookup('servfail.test', 'A');
      assert.equal(ok.outcome, 'answer');
      assert.equal(server.queryCount('servfail.test'), 1, 'SERVFAIL is not retried on the same upstream');
      second.setZone({ behaviours: { 'servfail.test': { refused: true } } });
      const bad = await r2.lookup('servfail.test', 'A');
      assert.equal(bad.outcome, 'temp');
      assert.equal(bad.tempReason, 'refused', 'the last reason seen');
      const three = new StubResolver(config([server.upstream, server.upstream], { cacheEntriesCount: 0 }));
      assert.equal((await three.lookup('servfail.test', 'A')).tempReason, 'servfail');
    } finally {
      await second.stop();
    }
  });

  void test('NXDOMAIN from the first upstream is final (no failover)', async () => {
    const second = await DnsTestServer.start({ records: { 'absent.test': [{ type: 'A', data: '192.0.2.1' }] } });
    try {
      const r2 = new StubResolver(config([server.upstream, second.upstream], { cacheEntriesCount: 0 }));
      assert.equal((await r2.lookup('absent.test', 'A')).outcome, 'nxdomain');
      assert.equal(second.queries.length, 0);
    } finally {
      await second.stop();
    }
  });

  void test('CNAME chain inside one reply (server chases)', async () => {
    const r = await resolver.lookup('c1.test', 'A');
    assert.equal(r.outcome, 'answer');
    assert.deepEqual(r.cnameChain.map((c) => `${c.name}>${c.data}`), ['c1.test>c2.test', 'c2.test>c3.test', 'c3.test>host.test']);
    assert.equal(r.exchanges.length, 1);
    assert.equal(r.ttl, 120);
  });

  void test('CNAME chain across several queries (server does not chase); TTL is the minimum', async () => {
    server.setZone({ ...ZONE, chaseCname: false });
    const r = await resolver.lookup('alias.test', 'A');
    assert.equal(r.outcome, 'answer');
    assert.deepEqual(r.records.map((x) => x.name), ['host.test']);
    assert.equal(r.ttl, 30);
    const c = await resolver.lookup('c1.test', 'A');
    assert.equal(c.outcome, 'answer');
    assert.equal(c.cnameChain.length, 3);
    assert.deepEqual(c.exchanges.map((e) => e.qname), ['c1.test', 'c2.test', 'c3.test', 'host.test']);
  });

  void test('CNAME loop → nodata/cname-loop, with and without server chasing', async () => {
    for (const chaseCname of [true, false]) {
      server.setZone({ ...ZONE, chaseCname });
      const r = await resolver.lookup('loop1.test', 'A');
      assert.equal(r.outcome, 'nodata', `chase=${chaseCname}`);
      assert.equal(r.note, 'cname-loop');
      assert.equal(r.ttl, 0);
    }
  });

  void test('CNAME chain longer than maxCnameChainCount → nodata/cname-chain-too-long', async () => {
    for (const chaseCname of [true, false]) {
      server.setZone({ ...ZONE, chaseCname });
      const short = new StubResolver(config([server.upstream], { maxCnameChainCount: 2, cacheEntriesCount: 0 }));
      const r = await short.lookup('c1.test', 'A');
      assert.equal(r.outcome, 'nodata');
      assert.equal(r.note, 'cname-chain-too-long');
      const enough = new StubResolver(config([server.upstream], { maxCnameChainCount: 3, cacheEntriesCount: 0 }));
      assert.equal((await enough.lookup('c1.test', 'A')).outcome, 'answer');
    }
  });

  void test('dangling CNAME: nxdomain at the end of the chain; CNAME to a name without the type: nodata', async () => {
    for (const chaseCname of [true, false]) {
      server.setZone({ ...ZONE, chaseCname });
      const d = await resolver.lookup('dangling.test', 'A');
      assert.equal(d.outcome, 'nxdomain');
      assert.equal(d.cnameChain.length, 1);
      assert.equal(d.ttl, 45);
      const n = await resolver.lookup('to-nodata.test', 'AAAA');
      assert.equal(n.outcome, 'nodata');
      assert.equal(n.note, undefined);
      assert.equal(n.cnameChain.length, 1);
    }
  });

  void test('qtype CNAME returns the CNAME itself', async () => {
    const r = await resolver.lookup('alias.test', 'CNAME');
    assert.equal(r.outcome, 'answer');
    assert.deepEqual(r.records.map((x) => x.data), ['host.test']);
  });

  void test('names that cannot be encoded: nxdomain, no query, never answer/throw', async () => {
    for (const bad of ['a..b', `${'x'.repeat(64)}.test`, `${'abc.'.repeat(70)}test`, 'a\nb', '..']) {
      const r = await resolver.lookup(bad, 'A');
      assert.equal(r.outcome, 'nxdomain', JSON.stringify(bad));
      assert.equal(r.ttl, 0);
    }
    assert.equal(server.queries.length, 0);
  });

  void test('abort → temp/aborted; a waiter abort leaves the other waiters alone', async () => {
    const ac = new AbortController();
    const slowResolver = new StubResolver(config([server.upstream], { timeoutMs: 5_000, cacheEntriesCount: 0 }));
    server.setZone({ ...ZONE, records: { 'slow.test': [{ type: 'A', data: '192.0.2.3' }] }, behaviours: { 'slow.test': { delayMs: 300 } } });
    const a = slowResolver.lookup('slow.test', 'A', { signal: ac.signal });
    const b = slowResolver.lookup('slow.test', 'A');
    setTimeout(() => ac.abort(), 20);
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.outcome, 'temp');
    assert.equal(ra.tempReason, 'aborted');
    assert.equal(rb.outcome, 'answer');
    assert.equal(server.queryCount('slow.test'), 1);
    const alone = slowResolver.lookup('slow.test', 'A', { signal: AbortSignal.timeout(20) });
    assert.equal((await alone).tempReason, 'aborted');
  });

  void test('close(): in-flight lookups settle as temp, later ones are temp/network', async () => {
    const r2 = new StubResolver(config([server.upstream], { timeoutMs: 5_000 }));
    const pending = r2.lookup('slow.test', 'A');
    setTimeout(() => r2.close(), 20);
    assert.equal((await pending).outcome, 'temp');
    const later = await r2.lookup('host.test', 'A');
    assert.equal(later.outcome, 'temp');
    assert.equal(later.tempReason, 'network');
  });
});

void describe('classifyReply (table)', () => {
  const ex = (over: Partial<DnsExchange>): DnsExchange => ({
    qname: 'x.test',
    qtype: 'A',
    server: 's',
    transport: 'udp',
    startedAt: 0,
    durationMs: 0,
    rcode: 'NOERROR',
    flags: { aa: false, tc: false, rd: true, ra: true, ad: false },
    answers: [],
    authority: [],
    ...over,
  });
  const soa = { name: 'test', type: 'SOA', ttl: 60, data: 'ns.test h.test 1 2 3 4 30' };
  const ns = { name: 'test', type: 'NS', ttl: 60, data: 'ns.test' };
  const flags = (aa: boolean, ra: boolean) => ({ aa, tc: false, rd: true, ra, ad: false });
  const cases: Array<[string, Partial<DnsExchange>, string]> = [
    ['YXDOMAIN → other-rcode', { rcode: 'YXDOMAIN' }, 'temp:other-rcode'],
    ['RCODE_11 → other-rcode', { rcode: 'RCODE_11' }, 'temp:other-rcode'],
    ['no AA, NS, no SOA → referral', { authority: [ns] }, 'temp:referral'],
    ['no AA, NS and SOA → nodata', { authority: [ns, soa] }, 'nodata'],
    ['no AA, no RA, empty → no-recursion', { flags: flags(false, false) }, 'temp:no-recursion'],
    ['no AA, RA, empty → nodata', { flags: flags(false, true) }, 'nodata'],
    ['AA, no RA, empty → nodata (authoritative is final)', { flags: flags(true, false) }, 'nodata'],
    ['AA, no RA, NXDOMAIN → nxdomain', { flags: flags(true, false), rcode: 'NXDOMAIN' }, 'nxdomain'],
    ['AA, NS without SOA → nodata', { flags: flags(true, false), authority: [ns] }, 'nodata'],
    ['unrelated A record ignored', { answers: [{ name: 'evil.test', type: 'A', ttl: 1, data: '6.6.6.6' }], authority: [soa] }, 'nodata'],
    ['CNAME for another owner ignored', { answers: [{ name: 'evil.test', type: 'CNAME', ttl: 1, data: 'x.test' }], authority: [soa] }, 'nodata'],
    ['owner compared on the normalised name', { answers: [{ name: 'x.test', type: 'A', ttl: 1, data: '192.0.2.1' }] }, 'answer'],
    ['CNAME without data → follow', { answers: [{ name: 'x.test', type: 'CNAME', ttl: 1, data: 'y.test' }] }, 'cname'],
  ];
  for (const [label, over, expected] of cases) {
    void test(label, () => {
      const v = classifyReply(ex(over), 'x.test', 'A');
      assert.equal(v.kind === 'temp' ? `temp:${v.reason}` : v.kind, expected);
    });
  }
  void test('negative TTL from the SOA of a nodata', () => {
    const v = classifyReply(ex({ authority: [soa] }), 'x.test', 'A');
    assert.ok(v.kind === 'nodata' && v.negTtl === 30);
  });
});

void describe('StubResolver construction', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bs-stub-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  void test('servers from config', () => {
    const r = StubResolver.fromConfig(config(['192.0.2.1', '[2001:db8::1]:5353']));
    assert.deepEqual(r.upstreamInfo.servers, ['192.0.2.1:53', '[2001:db8::1]:5353']);
    assert.equal(r.upstreamInfo.source, 'config');
  });
  void test('a bad server string throws BS_ERR_UPSTREAM_INVALID at construction', () => {
    assert.throws(() => new StubResolver(config(['resolver.example'])), { code: 'BS_ERR_UPSTREAM_INVALID' });
  });
  void test('empty servers: resolv.conf (sync and async), else the fallback', async () => {
    const path = join(dir, 'resolv.conf');
    writeFileSync(path, 'nameserver 192.0.2.53\nnameserver fe80::1%eth0\n');
    const cfg = resolverSchema.parse({ resolvConfPath: path });
    for (const r of [StubResolver.fromConfig(cfg), await StubResolver.fromConfigAsync(cfg)]) {
      assert.equal(r.upstreamInfo.source, 'resolv.conf');
      assert.deepEqual(r.upstreamInfo.servers, ['192.0.2.53:53']);
      assert.equal(r.upstreamInfo.skipped.length, 1);
    }
    const none = StubResolver.fromConfig(resolverSchema.parse({ resolvConfPath: join(dir, 'missing') }));
    assert.equal(none.upstreamInfo.source, 'fallback');
    assert.deepEqual(none.upstreamInfo.servers, ['127.0.0.1:53']);
    assert.match(none.upstreamInfo.detail ?? '', /cannot read/);
  });
});
