/**
 * Statistics (counted, flushed, kept across a failed flush) and store outages, as a suite run on
 * each store (outage.test.ts: SQLite; test/e2e/firewall/redis.test.ts: Redis): decisions go on
 * from the hot cache, listing writes are queued (bounded) and retried, operator actions reject
 * with BS_ERR_STORE_UNAVAILABLE. The store is the real one behind a switchable wrapper
 * (helpers.ts flakyStore); real Redis outages are in test/e2e/store/redis.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IP, useHarness, type StoreKind } from './helpers.js';
import { HOUR_MS } from '../../../src/firewall/stats.js';

export function outageSuite(kind: StoreKind): void {
  describe(`statistics and store outages (${kind} store)`, () => {
    const h = useHarness(kind);

    const ctx = (ip: string, front: 'policy' | 'dnsbl' = 'policy') => ({ front, ip });

    describe('statistics', () => {
      test('decisions, verdicts, sources, listings and unblocks are counted per hour and flushed', async () => {
        const e = await h.env();
        await e.firewall.decide(ctx(IP.pass));
        await e.firewall.decide(ctx(IP.noPtr));
        await e.firewall.decide(ctx(IP.noPtr, 'dnsbl'));
        await e.firewall.decide(ctx('10.1.1.1'));
        await e.firewall.decide(ctx(IP.servfail));
        await e.firewall.unblock(IP.noPtr, { actor: 'self-service', fromIp: '198.51.100.1' });
        await e.firewall.flush();
        const hour = Math.floor(e.clock.t / HOUR_MS) * HOUR_MS;
        const [stats] = await e.store.stats(hour, hour + HOUR_MS);
        assert.ok(stats);
        assert.deepEqual(
          Object.fromEntries(Object.entries(stats.counters).sort()),
          Object.fromEntries(
            Object.entries({
              'decision.policy.accept': 2,
              'decision.policy.reject': 1,
              'decision.policy.defer': 1,
              'decision.dnsbl.reject': 1,
              'source.check': 3,
              'source.bypass': 1,
              'source.listing': 1,
              'verdict.pass.confirmed': 1,
              'verdict.permerror.no-ptr': 1,
              'verdict.temperror.dns-temp-ptr': 1,
              'listing.created.permerror': 1,
              'unblock.tried': 1,
            }).sort(),
          ),
        );
      });

      test('a failed flush keeps the counts for the next one', async () => {
        const e = await h.env();
        await e.firewall.decide(ctx(IP.pass));
        e.flaky.down = true;
        e.flaky.methods.add('addStats');
        await e.firewall.flush();
        e.flaky.down = false;
        await e.firewall.decide(ctx(IP.pass));
        await e.firewall.flush();
        const hour = Math.floor(e.clock.t / HOUR_MS) * HOUR_MS;
        const [stats] = await e.store.stats(hour, hour + HOUR_MS);
        assert.equal(stats?.counters['decision.policy.accept'], 2);
        assert.ok(e.logs.some((l) => l.event === 'STATS-RETRY'));
      });
    });

    describe('store outage', () => {
      test('listing writes fail: decisions stand from the hot cache, the listing is retried and lands', async () => {
        const e = await h.env();
        e.flaky.down = true;
        const first = await e.firewall.decide(ctx(IP.noPtr));
        assert.equal(first.action, 'reject');
        await e.firewall.flush();
        assert.ok(e.firewall.status().queuedWrites >= 1, 'kept for retry');
        h.server.resetQueries();
        const second = await e.firewall.decide(ctx(IP.noPtr));
        assert.equal(second.source, 'listing');
        assert.equal(h.server.queries.length, 0);
        e.flaky.down = false;
        assert.equal(await e.store.getListing(IP.noPtr), undefined);
        await e.firewall.flush();
        const stored = await e.store.getListing(IP.noPtr);
        assert.equal(stored?.state, 'active');
        assert.equal(stored?.rejectCount, 2, 'the rejection made during the outage is in');
        assert.ok(await e.store.getEvidence(first.ref ?? ''), 'evidence retried too');
        assert.equal(e.firewall.status().queuedWrites, 0);
      });

      test('the retry queue is bounded: past retryQueueCount the oldest write is dropped with a log line', async () => {
        const e = await h.env({ firewall: { retryQueueCount: 2 } });
        e.flaky.down = true;
        for (const ip of [IP.noPtr, IP.noMatch, IP.noAddress]) await e.firewall.decide(ctx(ip));
        await e.firewall.flush();
        assert.equal(e.firewall.status().queuedWrites, 2);
        assert.ok(e.logs.some((l) => l.event === 'RETRY-DROP'));
      });

      test('operator actions on a failing store reject with BS_ERR_STORE_UNAVAILABLE and change nothing', async () => {
        const e = await h.env();
        await e.firewall.decide(ctx(IP.noPtr));
        await e.firewall.flush();
        e.flaky.down = true;
        const code = { code: 'BS_ERR_STORE_UNAVAILABLE' };
        await assert.rejects(e.firewall.clear(IP.noPtr, 'x', 'operator:a'), code);
        await assert.rejects(e.firewall.list(IP.pass, 'x', 'operator:a'), code);
        await assert.rejects(e.firewall.allow('192.0.2.0/24', 'x', 'operator:a'), code);
        await assert.rejects(e.firewall.approveRequest('ABCDEFGH', 'operator:a'), code);
        await assert.rejects(e.firewall.requestWhitelist({ range: IP.noPtr, domain: 'd', contact: 'c', why: 'w' }), code);
        await assert.rejects(e.firewall.unblock(IP.noPtr, { actor: 'self-service', fromIp: '198.51.100.1' }), code);
        assert.ok(e.firewall.hotListing(IP.noPtr), 'the failed clear left the listing');
        assert.equal((await e.firewall.decide(ctx(IP.pass))).action, 'accept', 'the failed list listed nobody');
        assert.equal((await e.firewall.decide(ctx(IP.noPtr))).action, 'reject');
      });

      test('start() rejects when the store cannot be read', async () => {
        const e = await h.env({ start: false });
        e.flaky.down = true;
        await assert.rejects(e.firewall.start(), { code: 'BS_ERR_STORE_UNAVAILABLE' });
      });
    });
  });
}
