/**
 * The warm path's store writes, batched (episodes.ts, writer.ts), as a suite run on each store
 * (batching.test.ts: the store of BLOCKSMITH_TEST_STORE, SQLite by default): identical refusals
 * of a listed IP share one reference whose evidence is found from the moment the reply was
 * given, anything different (or later) gets its own reference and evidence, buffered evidence
 * survives a store outage, and operator actions stay durable before they are acknowledged.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IP, useHarness, type StoreKind } from './helpers.js';
import { firewallSchema } from '../../../src/config/schema.js';
import { REFERENCE_REUSE_MS } from '../../../src/firewall/firewall.js';

export function batchingSuite(kind: StoreKind): void {
  describe(`batched evidence and refusal episodes (${kind} store)`, () => {
    const h = useHarness(kind);
    const ctx = (ip: string, extra: Record<string, string> = {}) => ({ front: 'policy' as const, ip, stage: 'rcpt' as const, recipient: 'u@example.org', ...extra });

    test('identical refusals of a listed IP share one reference; its evidence is found before and after the flush', async () => {
      const e = await h.env();
      const first = await e.firewall.decide(ctx(IP.noMatch));
      assert.equal(first.source, 'check');
      await e.firewall.flush();
      const repeats = [];
      for (let i = 0; i < 5; i++) {
        e.clock.advance(1_000);
        repeats.push(await e.firewall.decide(ctx(IP.noMatch)));
      }
      const refs = new Set(repeats.map((d) => d.ref));
      assert.equal(refs.size, 1, 'one reference for the repeats');
      const ref = repeats[0]?.ref ?? '';
      assert.notEqual(ref, first.ref);
      for (const d of repeats) {
        assert.equal(d.source, 'listing');
        assert.equal(d.action, 'reject');
        assert.ok(d.url?.endsWith(`?r=${ref}`));
      }
      // Not in the store yet (buffered), yet answered by reference.
      assert.equal(await e.store.getEvidence(ref), undefined, 'buffered, not written per refusal');
      const early = await e.firewall.evidence(ref);
      assert.equal(early?.ref, ref);
      assert.equal(early?.reason, 'listed');
      assert.equal(early?.recipient, 'u@example.org');
      assert.equal((await e.firewall.records.evidence(ref))?.ref, ref);
      await e.firewall.flush();
      const stored = await e.store.getEvidence(ref);
      assert.equal(stored?.ip, IP.noMatch);
      assert.equal(stored?.at, e.clock.t - 4_000, 'the time of the first refusal of the episode');
      const listing = await e.store.getListing(IP.noMatch);
      assert.equal(listing?.rejectCount, 6, 'every refusal counted');
      assert.equal(listing?.lastRejectAt, e.clock.t);
      assert.equal(listing?.latestEvidence.ref, ref);
      assert.equal(e.logs.filter((l) => l.event === 'REJECT' && l.ref === ref).length, 5, 'each refusal logged with its reference');
    });

    test('a different recipient, HELO or front, or the window passing, gets its own reference and evidence', async () => {
      const e = await h.env();
      await e.firewall.decide(ctx(IP.noPtr));
      const a = await e.firewall.decide(ctx(IP.noPtr));
      const b = await e.firewall.decide(ctx(IP.noPtr, { recipient: 'other@example.org' }));
      const c = await e.firewall.decide(ctx(IP.noPtr, { recipient: 'other@example.org', helo: 'h.example' }));
      const d = await e.firewall.decide({ ...ctx(IP.noPtr, { recipient: 'other@example.org', helo: 'h.example' }), front: 'dnsbl' as const });
      const d2 = await e.firewall.decide({ ...ctx(IP.noPtr, { recipient: 'other@example.org', helo: 'h.example' }), front: 'dnsbl' as const });
      e.clock.advance(REFERENCE_REUSE_MS);
      const later = await e.firewall.decide({ ...ctx(IP.noPtr, { recipient: 'other@example.org', helo: 'h.example' }), front: 'dnsbl' as const });
      const refs = [a.ref, b.ref, c.ref, d.ref, later.ref];
      assert.equal(new Set(refs).size, refs.length, 'all distinct');
      assert.equal(d2.ref, d.ref);
      await e.firewall.flush();
      const evB = await e.store.getEvidence(b.ref ?? '');
      assert.equal(evB?.recipient, 'other@example.org');
      assert.equal(evB?.helo, undefined);
      assert.equal((await e.store.getEvidence(c.ref ?? ''))?.helo, 'h.example');
      assert.equal((await e.store.getEvidence(d.ref ?? ''))?.front, 'dnsbl');
      assert.equal((await e.store.getEvidence(later.ref ?? ''))?.at, e.clock.t);
      assert.equal((await e.store.getListing(IP.noPtr))?.rejectCount, 7);
    });

    test('a listing cleared and made again starts a new reference', async () => {
      const e = await h.env();
      await e.firewall.list(IP.pass, 'spam run', 'operator:alice');
      const before = await e.firewall.decide(ctx(IP.pass));
      assert.equal(before.source, 'listing');
      await e.firewall.clear(IP.pass, 'sorry', 'operator:alice');
      await e.firewall.list(IP.pass, 'again', 'operator:alice');
      const after = await e.firewall.decide(ctx(IP.pass));
      assert.equal(after.source, 'listing');
      assert.notEqual(after.ref, before.ref);
    });

    test('a configuration reload ends the episodes: the next refusal has a new reference and the new URL', async () => {
      const e = await h.env();
      await e.firewall.decide(ctx(IP.noMatch));
      const before = await e.firewall.decide(ctx(IP.noMatch));
      assert.equal((await e.firewall.decide(ctx(IP.noMatch))).ref, before.ref);
      e.firewall.reconfigure(firewallSchema.parse({ portalUrl: 'https://portal.example.org' }));
      const after = await e.firewall.decide(ctx(IP.noMatch));
      assert.notEqual(after.ref, before.ref);
      assert.ok(after.url?.startsWith('https://portal.example.org/'), after.url);
    });

    test('evidence the store cannot take is kept for retry, readable by reference meanwhile, and lands', async () => {
      const e = await h.env();
      e.flaky.down = true;
      e.flaky.methods.add('putEvidence');
      const d = await e.firewall.decide(ctx(IP.noPtr));
      await e.firewall.flush();
      assert.ok(e.firewall.status().queuedWrites >= 1, 'queued for retry');
      assert.equal(await e.store.getEvidence(d.ref ?? ''), undefined);
      assert.equal((await e.firewall.evidence(d.ref ?? ''))?.ref, d.ref, 'answered from the retry queue');
      e.flaky.down = false;
      await e.firewall.flush();
      assert.equal((await e.store.getEvidence(d.ref ?? ''))?.ref, d.ref);
      assert.equal(e.firewall.status().queuedWrites, 0);
    });

    test('many refusals with distinct evidence: every reference maps to its own record after one flush', async () => {
      const e = await h.env();
      await e.firewall.decide(ctx(IP.noMatch));
      const decisions = [];
      for (let i = 0; i < 300; i++) decisions.push(await e.firewall.decide(ctx(IP.noMatch, { recipient: `u${i}@example.org` })));
      await e.firewall.flush();
      const refs = new Set(decisions.map((d) => d.ref));
      assert.equal(refs.size, 300);
      for (const [i, d] of decisions.entries()) {
        const ev = await e.store.getEvidence(d.ref ?? '');
        assert.equal(ev?.recipient, `u${i}@example.org`, `evidence of ${d.ref}`);
      }
      assert.equal((await e.store.getListing(IP.noMatch))?.rejectCount, 301);
    });

    test('operator actions are durable before they are acknowledged, also when many run at once', async () => {
      const e = await h.env();
      const ips = Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`);
      await Promise.all(
        ips.map(async (ip) => {
          await e.firewall.list(ip, 'by hand', 'operator:alice');
          // Acknowledged: the store has it now, with its audit entry, before any flush.
          assert.equal((await e.store.getListing(ip))?.state, 'active', ip);
          assert.equal((await e.store.listAudit({ target: ip, action: 'LIST' })).items.length, 1, ip);
        }),
      );
      const allow = await e.firewall.allow('203.0.113.0/24', 'partner', 'operator:alice');
      assert.equal((await e.store.getAllow(allow.id))?.range, '203.0.113.0/24');
    });
  });
}
