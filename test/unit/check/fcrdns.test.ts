/**
 * Every step and ruling of ../shared/design/FCRDNS.md, through the real stub resolver against the
 * in-process test DNS server on loopback. Cases are labelled by the step they prove.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsTestServer, type TestZone } from '../../helpers/dns-test-server.js';
import { StubResolver } from '../../../src/dns/stub-resolver.js';
import { FcrdnsChecker } from '../../../src/check/checker.js';
import { checkSchema, resolverSchema } from '../../../src/config/schema.js';
import type { CheckResult } from '../../../src/check/types.js';
import type { FcrdnsOptions } from '../../../src/check/fcrdns.js';

let server: DnsTestServer;

before(async () => {
  server = await DnsTestServer.start({});
});
after(async () => {
  await server.stop();
});
beforeEach(() => {
  server.resetQueries();
});

type Overrides = { resolver?: Record<string, unknown>; check?: Record<string, unknown> };

function makeChecker(overrides: Overrides = {}, now?: () => number): { checker: FcrdnsChecker; resolver: StubResolver } {
  const resolver = new StubResolver(
    resolverSchema.parse({ servers: [server.upstream], timeoutMs: 200, tries: 1, ...overrides.resolver }),
    now ? { now } : {},
  );
  const checker = new FcrdnsChecker({ resolver, config: checkSchema.parse({ ...overrides.check }), ...(now ? { now } : {}) });
  return { checker, resolver };
}

async function check(zone: TestZone, ip: string, overrides: Overrides = {}, options: FcrdnsOptions = {}): Promise<CheckResult> {
  server.setZone(zone);
  const { checker, resolver } = makeChecker(overrides);
  try {
    return await checker.check(ip, options);
  } finally {
    resolver.close();
  }
}

const PASS_V4: TestZone = {
  records: {
    '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com.', ttl: 900 }],
    'mail.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 600 }],
  },
};

describe('step 1: normalise', () => {
  test('an IPv4-mapped client is checked as IPv4 (in-addr.arpa, A)', async () => {
    const r = await check(PASS_V4, '::ffff:192.0.2.10');
    assert.equal(r.ip, '192.0.2.10');
    assert.equal(r.family, 4);
    assert.equal(r.verdict, 'pass');
    assert.equal(server.queryCount('10.2.0.192.in-addr.arpa', 'PTR'), 1);
    assert.equal(server.queries.filter((q) => q.type === 'AAAA').length, 0);
  });

  test('a malformed address throws before any query', async () => {
    server.setZone(PASS_V4);
    const { checker, resolver } = makeChecker();
    for (const bad of ['192.0.2.010', '192.0.2', 'mail.example.com', ' 192.0.2.10', '192.0.2.10/32', '']) {
      await assert.rejects(checker.check(bad), { code: 'BS_ERR_ADDRESS_INVALID' }, bad);
    }
    resolver.close();
    assert.equal(server.queries.length, 0);
  });
});

describe('step 2: bypass', () => {
  test('private, loopback, CGNAT, ULA and link-local addresses are skipped with no query', async () => {
    for (const ip of ['10.1.2.3', '127.0.0.1', '192.168.1.1', '172.16.5.5', '100.64.0.1', 'fd00::1', 'fe80::1', '169.254.1.1', '::1']) {
      const r = await check(PASS_V4, ip);
      assert.equal(r.verdict, 'skipped', ip);
      assert.equal(r.reason, 'bypass', ip);
      assert.ok(r.bypassRange, ip);
    }
    assert.equal(server.queries.length, 0);
  });

  test('documentation ranges are not bypassed by default', async () => {
    const r = await check({}, '203.0.113.7');
    assert.notEqual(r.verdict, 'skipped');
    assert.equal(server.queryCount('7.113.0.203.in-addr.arpa', 'PTR'), 1);
  });

  test('an empty bypass list checks everything; a custom one bypasses what it names', async () => {
    assert.equal((await check({}, '10.1.2.3', { check: { bypass: [] } })).verdict, 'permerror');
    const custom = await check({}, '192.0.2.99', { check: { bypass: ['192.0.2.0/25'] } });
    assert.equal(custom.verdict, 'skipped');
    assert.equal(custom.bypassRange, '192.0.2.0/25');
  });
});

describe('step 3: cache and coalesce', () => {
  test('a warm check makes no query; the verdict is served from the cache', async () => {
    server.setZone(PASS_V4);
    const { checker, resolver } = makeChecker({ resolver: { cacheEntriesCount: 0 } });
    const cold = await checker.check('192.0.2.10');
    assert.equal(server.queries.length, 2);
    const warm = await checker.check('192.0.2.10');
    assert.equal(server.queries.length, 2);
    assert.equal(warm.fromCache, true);
    assert.equal(warm.verdict, cold.verdict);
    assert.equal(checker.cached('::ffff:192.0.2.10')?.verdict, 'pass');
    resolver.close();
  });

  test('1,000 concurrent checks of one address cost the queries of one check', async () => {
    server.setZone({ ...PASS_V4, behaviours: { 'mail.example.com/A': { delayMs: 30 } } });
    const { checker, resolver } = makeChecker({ resolver: { cacheEntriesCount: 0 } });
    const results = await Promise.all(Array.from({ length: 1000 }, () => checker.check('192.0.2.10')));
    assert.ok(results.every((r) => r.verdict === 'pass'));
    assert.equal(server.queries.length, 2);
    resolver.close();
  });

  test('noCache runs a fresh check past both caches, and its result replaces the cached verdict', async () => {
    server.setZone({});
    const { checker, resolver } = makeChecker();
    assert.equal((await checker.check('192.0.2.10')).verdict, 'permerror');
    server.setZone(PASS_V4);
    assert.equal((await checker.check('192.0.2.10')).verdict, 'permerror', 'still cached');
    const fresh = await checker.check('192.0.2.10', { noCache: true });
    assert.equal(fresh.verdict, 'pass');
    assert.equal(fresh.fromCache, false);
    assert.equal((await checker.check('192.0.2.10')).verdict, 'pass', 'the fresh result is now cached');
    resolver.close();
  });

  test('verdict TTL: the smallest DNS TTL, clamped to [60 s, 1 h]; temperror at most 60 s', async () => {
    assert.equal((await check(PASS_V4, '192.0.2.10')).ttl, 600);
    const shortTtl: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com', ttl: 5 }],
        'mail.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 5 }],
      },
    };
    assert.equal((await check(shortTtl, '192.0.2.10')).ttl, 60);
    const longTtl: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com', ttl: 86_400 }],
        'mail.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 86_400 }],
      },
    };
    assert.equal((await check(longTtl, '192.0.2.10')).ttl, 3600);
    const temp = await check({ behaviours: { '10.2.0.192.in-addr.arpa': { servfail: true } } }, '192.0.2.10');
    assert.equal(temp.verdict, 'temperror');
    assert.equal(temp.ttl, 60);
  });

  test('a cached verdict expires after its TTL', async () => {
    let clock = 1_000_000;
    const now = (): number => clock;
    server.setZone(PASS_V4);
    const { checker, resolver } = makeChecker({ resolver: { cacheEntriesCount: 0 } }, now);
    await checker.check('192.0.2.10');
    clock += 599_000;
    assert.equal((await checker.check('192.0.2.10')).fromCache, true);
    clock += 2_000;
    assert.equal((await checker.check('192.0.2.10')).fromCache, false);
    assert.equal(server.queries.length, 4);
    resolver.close();
  });
});

describe('step 4: the PTR query', () => {
  test('NXDOMAIN → permerror / no-ptr, with the reverse name we built', async () => {
    const r = await check({}, '192.0.2.10');
    assert.equal(r.verdict, 'permerror');
    assert.equal(r.reason, 'no-ptr');
    assert.equal(r.ptrName, '10.2.0.192.in-addr.arpa');
  });

  test('NODATA (the name exists without a PTR) → permerror / no-ptr', async () => {
    const r = await check({ records: { '10.2.0.192.in-addr.arpa': [{ type: 'TXT', data: 'hello' }] } }, '192.0.2.10');
    assert.equal(r.verdict, 'permerror');
    assert.equal(r.reason, 'no-ptr');
  });

  test('a PTR CNAME that leads nowhere, or loops → permerror / no-ptr', async () => {
    const dangling = await check({ records: { '10.2.0.192.in-addr.arpa': [{ type: 'CNAME', data: '10.0-25.2.0.192.in-addr.arpa' }] } }, '192.0.2.10');
    assert.equal(dangling.verdict, 'permerror');
    assert.equal(dangling.reason, 'no-ptr');
    const loop = await check(
      {
        chaseCname: false,
        records: {
          '10.2.0.192.in-addr.arpa': [{ type: 'CNAME', data: 'a.loop.example' }],
          'a.loop.example': [{ type: 'CNAME', data: 'b.loop.example' }],
          'b.loop.example': [{ type: 'CNAME', data: 'a.loop.example' }],
        },
      },
      '192.0.2.10',
    );
    assert.equal(loop.verdict, 'permerror');
    assert.equal(loop.reason, 'no-ptr');
  });

  test('RFC 2317 classless delegation: the CNAME is followed and flagged', async () => {
    const zone: TestZone = {
      chaseCname: false,
      records: {
        '10.2.0.192.in-addr.arpa': [{ type: 'CNAME', data: '10.0-25.2.0.192.in-addr.arpa' }],
        '10.0-25.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com' }],
        'mail.example.com': [{ type: 'A', data: '192.0.2.10' }],
      },
    };
    const r = await check(zone, '192.0.2.10');
    assert.equal(r.verdict, 'pass');
    assert.equal(r.flags.ptrViaCname, true);
    const ptrStep = r.trace.find((s) => s.step === 'ptr');
    assert.ok(ptrStep && ptrStep.step === 'ptr');
    assert.equal(ptrStep.cnameChain[0]?.data, '10.0-25.2.0.192.in-addr.arpa');
  });

  for (const [label, behaviour] of [
    ['SERVFAIL', { servfail: true }],
    ['REFUSED', { refused: true }],
    ['FORMERR', { formerr: true }],
    ['NOTIMP', { notimp: true }],
    ['timeout', { silent: true }],
    ['a referral', { referral: true }],
    ['no recursion, not authoritative', { noRecursion: true }],
  ] as const) {
    test(`${label} on the PTR query → temperror / dns-temp-ptr, never a permanent verdict`, async () => {
      const r = await check({ ...PASS_V4, behaviours: { '10.2.0.192.in-addr.arpa': behaviour } }, '192.0.2.10');
      assert.equal(r.verdict, 'temperror');
      assert.equal(r.reason, 'dns-temp-ptr');
      assert.deepEqual(r.names, []);
    });
  }

  test('a network error (nothing listening) → temperror', async () => {
    server.setZone(PASS_V4);
    const resolver = new StubResolver(resolverSchema.parse({ servers: ['127.0.0.1:9'], timeoutMs: 200, tries: 1 }));
    const checker = new FcrdnsChecker({ resolver, config: checkSchema.parse({}) });
    const r = await checker.check('192.0.2.10');
    resolver.close();
    assert.equal(r.verdict, 'temperror');
    assert.equal(r.reason, 'dns-temp-ptr');
  });
});

describe('step 5: clean the names', () => {
  test('invalid names are dropped with the reason; nothing left → permerror / no-valid-ptr', async () => {
    const zone: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': [
          { type: 'PTR', data: '192.0.2.9' },
          { type: 'PTR', data: 'localhost' },
          { type: 'PTR', data: 'mailhost' },
          { type: 'PTR', data: '<script>.example.com' },
          { type: 'PTR', data: '' },
          { type: 'PTR', data: '4.3.2.1.in-addr.arpa' },
        ],
      },
    };
    const r = await check(zone, '192.0.2.10');
    assert.equal(r.verdict, 'permerror');
    assert.equal(r.reason, 'no-valid-ptr');
    const whys = Object.fromEntries(r.invalidNames.map((n) => [n.name, n.why]));
    assert.equal(whys['192.0.2.9'], 'ip-literal');
    assert.equal(whys.localhost, 'localhost');
    assert.equal(whys.mailhost, 'single-label');
    assert.equal(whys['<script>.example.com'], 'bad-characters');
    assert.equal(whys['4.3.2.1.in-addr.arpa'], 'arpa');
    assert.equal(server.queries.filter((q) => q.type === 'A').length, 0, 'no forward query for invalid names');
  });

  test('names are lower-cased, stripped of the trailing dot, de-duplicated; underscores flagged', async () => {
    const zone: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': [
          { type: 'PTR', data: 'Mail.Example.COM.' },
          { type: 'PTR', data: 'mail.example.com' },
          { type: 'PTR', data: 'out_1.example.com' },
        ],
        'mail.example.com': [{ type: 'A', data: '192.0.2.10' }],
        'out_1.example.com': [{ type: 'A', data: '192.0.2.10' }],
      },
    };
    const r = await check(zone, '192.0.2.10', {}, { complete: true });
    assert.deepEqual(r.names, ['mail.example.com', 'out_1.example.com']);
    assert.equal(r.flags.underscore, true);
    assert.deepEqual(r.confirmed, ['mail.example.com', 'out_1.example.com']);
  });
});

describe('step 6: the cap', () => {
  test('more than 10 valid names: the first 10 (sorted) are evaluated, the rest reported', async () => {
    const names = Array.from({ length: 14 }, (_, i) => `h${String(i).padStart(2, '0')}.example.com`);
    const zone: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': names.map((data) => ({ type: 'PTR' as const, data })),
        'h13.example.com': [{ type: 'A', data: '192.0.2.10' }],
      },
    };
    const r = await check(zone, '192.0.2.10');
    assert.equal(r.flags.truncated, true);
    assert.deepEqual(r.notEvaluated, ['h10.example.com', 'h11.example.com', 'h12.example.com', 'h13.example.com']);
    assert.equal(server.queries.filter((q) => q.type === 'A').length, 10);
    assert.equal(r.verdict, 'fail', 'the confirming name was past the cap');
  });
});

describe('step 7: forward look-ups', () => {
  test('IPv6 client: nibble PTR, AAAA only, binary comparison', async () => {
    const zone: TestZone = {
      records: {
        '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa': [{ type: 'PTR', data: 'mail6.example.com' }],
        'mail6.example.com': [
          { type: 'AAAA', data: '2001:db8:0:0:0:0:0:5' },
          { type: 'A', data: '192.0.2.5' },
        ],
      },
    };
    const r = await check(zone, '2001:DB8::5');
    assert.equal(r.ip, '2001:db8::5');
    assert.equal(r.verdict, 'pass');
    assert.equal(server.queries.filter((q) => q.type === 'A').length, 0, 'no A query for an IPv6 client');
    assert.equal(server.queryCount('mail6.example.com', 'AAAA'), 1);
  });

  test('an IPv4 client: A only; a name with only AAAA (even ::ffff:a.b.c.d) → fail / forward-nodata', async () => {
    const zone: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'v6only.example.com' }],
        'v6only.example.com': [{ type: 'AAAA', data: '::ffff:192.0.2.10' }],
      },
    };
    const r = await check(zone, '192.0.2.10');
    assert.equal(r.verdict, 'fail');
    assert.equal(r.reason, 'forward-nodata');
    assert.equal(server.queryCount('v6only.example.com', 'AAAA'), 0);
  });

  test('no "same /24" leniency: a neighbour address is no match → fail / no-forward-match with the addresses', async () => {
    const zone: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com' }],
        'mail.example.com': [
          { type: 'A', data: '192.0.2.11' },
          { type: 'A', data: '198.51.100.10' },
        ],
      },
    };
    const r = await check(zone, '192.0.2.10');
    assert.equal(r.verdict, 'fail');
    assert.equal(r.reason, 'no-forward-match');
    assert.deepEqual([...r.otherAddresses].sort(), ['192.0.2.11', '198.51.100.10']);
  });

  test('a CNAME in the forward answer is followed and flagged aliasTarget', async () => {
    const zone: TestZone = {
      chaseCname: false,
      records: {
        '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com' }],
        'mail.example.com': [{ type: 'CNAME', data: 'real.example.net' }],
        'real.example.net': [{ type: 'A', data: '192.0.2.10' }],
      },
    };
    const r = await check(zone, '192.0.2.10');
    assert.equal(r.verdict, 'pass');
    assert.equal(r.flags.aliasTarget, true);
  });

  test('a forward CNAME with no address at its end is "no address"', async () => {
    const zone: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com' }],
        'mail.example.com': [{ type: 'CNAME', data: 'nowhere.example.net' }],
      },
    };
    const r = await check(zone, '192.0.2.10');
    assert.equal(r.verdict, 'fail');
    assert.equal(r.reason, 'forward-nodata');
  });
});

describe('step 8: aggregate', () => {
  const twoNames = (behaviours: TestZone['behaviours']): TestZone => ({
    records: {
      '10.2.0.192.in-addr.arpa': [
        { type: 'PTR', data: 'a.example.com' },
        { type: 'PTR', data: 'b.example.com' },
      ],
      'a.example.com': [{ type: 'A', data: '198.51.100.1' }],
      'b.example.com': [{ type: 'A', data: '192.0.2.10' }],
    },
    ...(behaviours ? { behaviours } : {}),
  });

  test('a match is not undone by another name\'s failure (Exim would defer; we pass)', async () => {
    const r = await check(twoNames({ 'a.example.com/A': { servfail: true } }), '192.0.2.10', {}, { complete: true });
    assert.equal(r.verdict, 'pass');
    assert.deepEqual(r.confirmed, ['b.example.com']);
  });

  for (const [label, behaviour] of [
    ['SERVFAIL', { servfail: true }],
    ['REFUSED', { refused: true }],
    ['timeout', { silent: true }],
    ['a referral', { referral: true }],
  ] as const) {
    test(`no match and ${label} on a forward query → temperror / dns-temp-forward, never fail`, async () => {
      const zone = twoNames({ 'b.example.com/A': behaviour });
      const r = await check(zone, '192.0.2.10');
      assert.equal(r.verdict, 'temperror');
      assert.equal(r.reason, 'dns-temp-forward');
    });
  }

  test('the whole-check deadline → temperror / deadline', async () => {
    const zone = { ...PASS_V4, behaviours: { 'mail.example.com/A': { delayMs: 1_000 } } };
    const r = await check(zone, '192.0.2.10', { resolver: { timeoutMs: 5_000 }, check: { deadlineMs: 150 } });
    assert.equal(r.verdict, 'temperror');
    assert.equal(r.reason, 'deadline');
    assert.ok(r.durationMs < 900, `took ${r.durationMs} ms`);
  });

  test('the first match stops the look-ups by default; complete evaluates every name', async () => {
    const many: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': ['a', 'b', 'c', 'd', 'e', 'f'].map((l) => ({ type: 'PTR' as const, data: `${l}.example.com` })),
        'a.example.com': [{ type: 'A', data: '192.0.2.10' }],
      },
    };
    const fast = await check(many, '192.0.2.10', { check: { forwardConcurrencyCount: 1 } });
    assert.equal(fast.verdict, 'pass');
    assert.equal(server.queries.filter((q) => q.type === 'A').length, 1);
    server.resetQueries();
    const full = await check(many, '192.0.2.10', { check: { forwardConcurrencyCount: 1 } }, { complete: true });
    assert.equal(full.verdict, 'pass');
    assert.equal(server.queries.filter((q) => q.type === 'A').length, 6);
  });
});

describe('step 9: annotate', () => {
  test('a generic name that confirms passes, flagged strong with evidence', async () => {
    const zone: TestZone = {
      records: {
        '7.100.51.198.in-addr.arpa': [{ type: 'PTR', data: 'host-198-51-100-7.example.net' }],
        'host-198-51-100-7.example.net': [{ type: 'A', data: '198.51.100.7' }],
      },
    };
    const r = await check(zone, '198.51.100.7');
    assert.equal(r.verdict, 'pass');
    assert.equal(r.flags.generic, 'strong');
    assert.ok(r.genericEvidence.evidence.length > 0);
  });

  test('otherFamily explains "only AAAA" in the trace without changing the verdict', async () => {
    const zone: TestZone = {
      records: {
        '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'v6only.example.com' }],
        'v6only.example.com': [{ type: 'AAAA', data: '2001:db8::10' }],
      },
    };
    const r = await check(zone, '192.0.2.10', {}, { otherFamily: true });
    assert.equal(r.verdict, 'fail');
    const other = r.trace.find((s) => s.step === 'other-family');
    assert.ok(other && other.step === 'other-family');
    assert.deepEqual(other.addresses, ['2001:db8::10']);
  });

  test('the trace records every step with the exchanges (keepExchanges)', async () => {
    const r = await check(PASS_V4, '192.0.2.10', {}, { keepExchanges: true });
    assert.deepEqual(
      r.trace.map((s) => s.step),
      ['normalise', 'ptr', 'names', 'forward', 'verdict'],
    );
    const ptr = r.trace[1];
    assert.ok(ptr && ptr.step === 'ptr');
    assert.equal(ptr.exchanges[0]?.server, server.upstream);
    assert.equal(ptr.exchanges[0]?.rcode, 'NOERROR');
    assert.equal(ptr.records[0]?.ttl, 900);
  });
});

describe('exchanges in the trace', () => {
  test('a pass drops the raw exchanges unless asked; any other verdict keeps them as evidence', async () => {
    const pass = await check(PASS_V4, '192.0.2.10');
    const ptr = pass.trace.find((s) => s.step === 'ptr');
    assert.ok(ptr && ptr.step === 'ptr');
    assert.deepEqual(ptr.exchanges, []);
    assert.equal(ptr.records[0]?.data, 'mail.example.com', 'the answers stay');
    const fail = await check({ records: { '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'other.example.com' }], 'other.example.com': [{ type: 'A', data: '192.0.2.99' }] } }, '192.0.2.10');
    const failPtr = fail.trace.find((s) => s.step === 'ptr');
    assert.ok(failPtr && failPtr.step === 'ptr');
    assert.equal(failPtr.exchanges.length, 1);
    const forward = fail.trace.find((s) => s.step === 'forward');
    assert.ok(forward && forward.step === 'forward' && forward.exchanges.length === 1);
  });
});

describe('shared results report each caller\'s input', () => {
  test('a cached or coalesced verdict carries the input of the caller that asked', async () => {
    server.setZone(PASS_V4);
    const { checker, resolver } = makeChecker();
    const [mapped, plain] = await Promise.all([checker.check('::ffff:192.0.2.10'), checker.check('192.0.2.10')]);
    assert.equal(mapped.input, '::ffff:192.0.2.10');
    assert.equal(plain.input, '192.0.2.10');
    assert.equal((await checker.check('192.0.2.10')).input, '192.0.2.10');
    assert.equal((await checker.check('::FFFF:192.0.2.10')).input, '::FFFF:192.0.2.10');
    const step = (await checker.check('::ffff:c000:20a')).trace.find((s) => s.step === 'normalise');
    assert.ok(step && step.step === 'normalise' && step.input === '::ffff:c000:20a');
    resolver.close();
  });
});

describe('admission: a flood of new addresses', () => {
  test('checks not admitted before their deadline are temperror / deadline, cost no query, and are not cached', async () => {
    server.setZone({ ...PASS_V4, behaviours: { '10.2.0.192.in-addr.arpa': { delayMs: 300 } } });
    const { checker, resolver } = makeChecker({ check: { maxRunningCount: 1, deadlineMs: 150 } });
    const [first, ...rest] = await Promise.all(['192.0.2.10', '192.0.2.11', '192.0.2.12'].map((ip) => checker.check(ip)));
    assert.equal(first?.reason, 'deadline', 'the running one hits its own deadline');
    for (const r of rest) {
      assert.equal(r.verdict, 'temperror');
      assert.equal(r.reason, 'deadline');
      assert.equal(r.ttl, 0);
    }
    assert.equal(server.queryCount('11.2.0.192.in-addr.arpa', 'PTR'), 0);
    assert.equal(server.queryCount('12.2.0.192.in-addr.arpa', 'PTR'), 0);
    assert.equal(checker.cached('192.0.2.11'), undefined);
    resolver.close();
  });

  test('a waiting check whose caller aborts ends at once as temperror, sends nothing, and the queue goes on', async () => {
    server.setZone({ ...PASS_V4, behaviours: { '10.2.0.192.in-addr.arpa': { delayMs: 100 } } });
    const { checker, resolver } = makeChecker({ check: { maxRunningCount: 1 } });
    const controller = new AbortController();
    const first = checker.check('192.0.2.10');
    const aborted = checker.check('192.0.2.11', { signal: controller.signal });
    const third = checker.check('192.0.2.12');
    controller.abort();
    const gone = await aborted;
    assert.equal(`${gone.verdict}/${gone.reason}/${gone.ttl}`, 'temperror/deadline/0');
    assert.equal((await first).verdict, 'pass');
    assert.equal((await third).reason, 'no-ptr');
    assert.equal(server.queryCount('11.2.0.192.in-addr.arpa', 'PTR'), 0);
    assert.equal(checker.cached('192.0.2.11'), undefined);
    resolver.close();
  });

  test('callers of an address that is still waiting join its check, each with its own input', async () => {
    server.setZone({ ...PASS_V4, behaviours: { '1.2.0.192.in-addr.arpa': { delayMs: 50 } } });
    const { checker, resolver } = makeChecker({ check: { maxRunningCount: 1 }, resolver: { cacheEntriesCount: 0 } });
    const blocker = checker.check('192.0.2.1');
    const waiting = [checker.check('192.0.2.10'), checker.check('::ffff:192.0.2.10'), checker.check('::FFFF:c000:20a')];
    const results = await Promise.all(waiting);
    assert.deepEqual(
      results.map((r) => `${r.input} ${r.verdict}`),
      ['192.0.2.10 pass', '::ffff:192.0.2.10 pass', '::FFFF:c000:20a pass'],
    );
    const step = results[2]?.trace.find((t) => t.step === 'normalise');
    assert.ok(step && step.step === 'normalise' && step.input === '::FFFF:c000:20a');
    assert.equal(server.queryCount('10.2.0.192.in-addr.arpa', 'PTR'), 1);
    assert.equal(server.queryCount('mail.example.com', 'A'), 1);
    await blocker;
    resolver.close();
  });

  test('past maxWaitingCount a check is temperror / overload at once', async () => {
    server.setZone({ ...PASS_V4, behaviours: { 'mail.example.com/A': { delayMs: 100 } } });
    const { checker, resolver } = makeChecker({ check: { maxRunningCount: 1, maxWaitingCount: 1 } });
    const results = await Promise.all(['192.0.2.10', '192.0.2.11', '192.0.2.12'].map((ip) => checker.check(ip)));
    assert.deepEqual(
      results.map((r) => `${r.verdict}/${r.reason}`),
      ['pass/confirmed', 'permerror/no-ptr', 'temperror/overload'],
    );
    resolver.close();
  });
});

describe('forget: after a listing ends, the next check asks DNS afresh', () => {
  const NO_PTR: TestZone = { records: {}, negativeSoa: { ttl: 3600, minimum: 3600 } };

  test('the negative answer cached before the DNS was fixed is not used after forget()', async () => {
    server.setZone(NO_PTR);
    const { checker, resolver } = makeChecker({ resolver: { timeoutMs: 2_000, tries: 2 } });
    try {
      assert.equal((await checker.check('192.0.2.10')).reason, 'no-ptr');
      server.setZone(PASS_V4); // the sender fixes their DNS
      checker.forget('192.0.2.10');
      server.resetQueries();
      // Without forget's fresh check, the resolver's NXDOMAIN (cached for an hour) answers.
      const after = await checker.check('192.0.2.10');
      assert.equal(after.verdict, 'pass');
      assert.equal(server.queryCount('10.2.0.192.in-addr.arpa', 'PTR'), 1);
      // Only the next check is fresh: the one after it is the cached pass, no query.
      server.resetQueries();
      assert.equal((await checker.check('192.0.2.10')).verdict, 'pass');
      assert.equal(server.queries.length, 0);
    } finally {
      resolver.close();
    }
  });

  test('without forget the resolver cache answers (the case forget exists for)', async () => {
    server.setZone(NO_PTR);
    const { checker, resolver } = makeChecker({ resolver: { timeoutMs: 2_000, tries: 2 }, check: { verdictCacheEntriesCount: 0 } });
    try {
      assert.equal((await checker.check('192.0.2.10')).reason, 'no-ptr');
      server.setZone(PASS_V4);
      server.resetQueries();
      assert.equal((await checker.check('192.0.2.10')).reason, 'no-ptr');
      assert.equal(server.queries.length, 0);
    } finally {
      resolver.close();
    }
  });
});
