/**
 * Firewall.decide end to end, as a suite run on each store (decide.test.ts: SQLite;
 * test/e2e/firewall/redis.test.ts: Redis): real checker and resolver against the in-process DNS
 * server. Every row of PRODUCT.md §3 × mode, the order (bypass/allowlist → listing → cached
 * verdict → live check), postmaster/abuse, the listing served from memory with no DNS until due,
 * temperror never listing, report-only listing nobody, evidence retrievable by its reference.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IP, ZONE, ptrOf, useHarness, type StoreKind } from './helpers.js';
import { REPLY_LINE_MAX_OCTETS, renderReply } from '../../../src/firewall/reply.js';
import type { Decision } from '../../../src/firewall/types.js';

export function decideSuite(kind: StoreKind): void {
  describe(`decide() (${kind} store)`, () => {
    const h = useHarness(kind);

    const ctx = (ip: string, extra: Record<string, string> = {}) => ({ front: 'policy' as const, ip, stage: 'rcpt' as const, ...extra });

    function assertReply(d: Decision, code: number, enhanced: string): void {
      assert.ok(d.reply, 'a reply');
      assert.equal(d.reply.code, code);
      assert.equal(d.reply.enhanced, enhanced);
      const wire = renderReply(d.reply);
      for (const line of wire.split('\r\n').slice(0, -1)) {
        assert.ok(line.length + 2 <= REPLY_LINE_MAX_OCTETS);
        assert.match(line, /^[\x20-\x7e]+$/);
      }
      assert.ok(d.ref && d.url?.endsWith(`?r=${d.ref}`));
      assert.ok(wire.includes(`[${d.ip}]`));
      assert.ok(wire.includes(d.url ?? '?'));
    }

    describe('PRODUCT.md §3 table through decide(), every mode', () => {
      const rows: Array<{ ip: string; verdict: string; reason: string; refusing: 'list' | 'temp' | 'no' }> = [
        { ip: IP.pass, verdict: 'pass', reason: 'confirmed', refusing: 'no' },
        { ip: IP.pass6, verdict: 'pass', reason: 'confirmed', refusing: 'no' },
        { ip: '10.9.9.9', verdict: 'skipped', reason: 'bypass', refusing: 'no' },
        { ip: IP.noPtr, verdict: 'permerror', reason: 'no-ptr', refusing: 'list' },
        { ip: IP.noPtr6, verdict: 'permerror', reason: 'no-ptr', refusing: 'list' },
        { ip: IP.noValidPtr, verdict: 'permerror', reason: 'no-valid-ptr', refusing: 'list' },
        { ip: IP.noMatch, verdict: 'fail', reason: 'no-forward-match', refusing: 'list' },
        { ip: IP.noAddress, verdict: 'fail', reason: 'forward-nodata', refusing: 'list' },
        { ip: IP.servfail, verdict: 'temperror', reason: 'dns-temp-ptr', refusing: 'temp' },
        { ip: IP.timeout, verdict: 'temperror', reason: 'dns-temp-ptr', refusing: 'temp' },
        { ip: IP.tempForward, verdict: 'temperror', reason: 'dns-temp-forward', refusing: 'temp' },
      ];
      for (const mode of ['soft', 'hard', 'report-only'] as const) {
        test(`${mode} mode`, async () => {
          const e = await h.env({ firewall: { mode } });
          for (const row of rows) {
            const d = await e.firewall.decide(ctx(row.ip, { helo: 'helo.example', sender: 's@example.net', recipient: 'user@example.org' }));
            const label = `${mode} ${row.ip}`;
            assert.equal(d.verdict, row.verdict, label);
            assert.equal(d.reason, row.reason, label);
            assert.equal(d.source, row.verdict === 'skipped' ? 'bypass' : 'check', label);
            const listed = e.firewall.hotListing(d.ip);
            if (row.refusing === 'no') {
              assert.equal(d.action, 'accept', label);
              assert.equal(d.reply, undefined, label);
              assert.equal(listed, undefined, label);
            } else if (mode === 'report-only') {
              assert.equal(d.action, 'accept', label);
              assert.equal(d.wouldReject, row.refusing === 'list' ? true : undefined, label);
              assert.equal(d.ref, undefined, label);
              assert.equal(listed, undefined, `${label}: report-only lists nobody`);
            } else if (row.refusing === 'temp') {
              assert.equal(d.action, 'defer', label);
              assertReply(d, 451, '4.4.3');
              assert.equal(listed, undefined, `${label}: temperror never lists`);
            } else {
              assert.equal(d.action, 'reject', label);
              assertReply(d, mode === 'soft' ? 450 : 550, mode === 'soft' ? '4.7.25' : '5.7.25');
              assert.ok(listed, `${label}: listed`);
            }
          }
          await e.firewall.flush();
          const stored = await e.store.listListings({ state: 'active', limit: 100 });
          const expected = mode === 'report-only' ? [] : rows.filter((r) => r.refusing === 'list').map((r) => r.ip).sort();
          assert.deepEqual(stored.items.map((l) => l.ip).sort(), expected);
        });
      }
    });

    describe('order and special cases', () => {
      test('postmaster@ and abuse@ (any case, with or without domain) are accepted; others refused; not without a recipient', async () => {
        const e = await h.env();
        for (const recipient of ['<postmaster@example.org>', 'Abuse@example.org', '<Postmaster>', '"postmaster"@example.org']) {
          const d = await e.firewall.decide(ctx(IP.noPtr, { recipient }));
          assert.equal(d.action, 'accept', recipient);
          assert.equal(d.source, 'postmaster', recipient);
        }
        assert.equal(h.server.queries.length, 0, 'no DNS work for postmaster');
        assert.equal((await e.firewall.decide(ctx(IP.noPtr, { recipient: 'postmaster.x@example.org' }))).action, 'reject');
        assert.equal((await e.firewall.decide(ctx(IP.noPtr))).action, 'reject');
      });

      test('alwaysAcceptLocalParts is configurable', async () => {
        const e = await h.env({ firewall: { alwaysAcceptLocalParts: ['Hostmaster'] } });
        assert.equal((await e.firewall.decide(ctx(IP.noPtr, { recipient: 'hostmaster@x.example' }))).source, 'postmaster');
        assert.equal((await e.firewall.decide(ctx(IP.noPtr, { recipient: 'postmaster@x.example' }))).action, 'reject');
      });

      test('a listed IP is refused from memory with zero DNS queries until due, then re-checked', async () => {
        const e = await h.env({ firewall: { recheckIntervalMs: 15 * 60_000 } });
        const first = await e.firewall.decide(ctx(IP.noMatch));
        assert.equal(first.action, 'reject');
        assert.equal(first.source, 'check');
        const due = e.firewall.hotListing(IP.noMatch)?.recheckDueAt ?? 0;
        assert.equal(due, e.clock.t + 15 * 60_000);
        h.server.resetQueries();
        for (let i = 0; i < 20; i++) {
          const d = await e.firewall.decide(ctx(IP.noMatch));
          assert.equal(d.action, 'reject');
          assert.equal(d.source, 'listing');
          assert.equal(d.reply?.code, 450);
        }
        e.clock.advance(15 * 60_000 - 1);
        assert.equal((await e.firewall.decide(ctx(IP.noMatch))).source, 'listing');
        assert.equal(h.server.queries.length, 0, 'no DNS work while listed');
        await e.firewall.flush();
        const stored = await e.store.getListing(IP.noMatch);
        assert.equal(stored?.rejectCount, 22);
        assert.equal(stored?.firstEvidence.ref, first.ref);

        e.clock.advance(1);
        const again = await e.firewall.decide(ctx(IP.noMatch));
        assert.equal(again.source, 'check');
        assert.equal(again.action, 'reject');
        assert.ok(h.server.queryCount(ptrOf(IP.noMatch), 'PTR') >= 1, 'a due listing gets a live check');
        assert.ok((e.firewall.hotListing(IP.noMatch)?.recheckDueAt ?? 0) > e.clock.t, 'next re-check moved');
      });

      test('the re-check is never before the verdict TTL ends', async () => {
        const e = await h.env({ firewall: { recheckIntervalMs: 10_000 }, check: { verdictCacheMinTtlS: 600 } });
        await e.firewall.decide(ctx(IP.noPtr));
        assert.equal(e.firewall.hotListing(IP.noPtr)?.recheckDueAt, e.clock.t + 600_000);
      });

      test('a due listing whose DNS was fixed is cleared (dns-fixed) and accepted', async () => {
        const e = await h.env();
        await e.firewall.decide(ctx(IP.noMatch));
        await e.firewall.flush();
        h.server.setZone({
          records: {
            [ptrOf(IP.noMatch)]: [{ type: 'PTR', data: 'fixed.example.com' }],
            'fixed.example.com': [{ type: 'A', data: IP.noMatch }],
          },
        });
        try {
          e.clock.advance(60 * 60_000);
          const d = await e.firewall.decide(ctx(IP.noMatch));
          assert.equal(d.action, 'accept');
          assert.equal(e.firewall.hotListing(IP.noMatch), undefined);
          await e.firewall.flush();
          const stored = await e.store.getListing(IP.noMatch);
          assert.equal(stored?.state, 'cleared');
          assert.equal(stored?.clearCause, 'dns-fixed');
          assert.equal(stored?.clearedBy, 're-check');
        } finally {
          h.server.setZone(ZONE);
        }
      });

      test('evidence is retrievable by reference, cleaned and bounded', async () => {
        const e = await h.env({ firewall: { evidenceTraceMaxBytes: 1_024 } });
        const d = await e.firewall.decide(ctx(IP.noMatch, { helo: 'bad\r\nhelo', sender: '<s@example.net>', recipient: '<u@example.org>' }));
        await e.firewall.flush();
        const ev = await e.firewall.evidence(d.ref ?? '');
        assert.ok(ev);
        assert.equal(ev.ip, IP.noMatch);
        assert.equal(ev.front, 'policy');
        assert.equal(ev.verdict, 'fail');
        assert.equal(ev.reason, 'no-forward-match');
        assert.equal(ev.helo, 'bad\\x0d\\x0ahelo');
        assert.equal(ev.sender, '<s@example.net>');
        assert.equal(ev.recipient, '<u@example.org>');
        assert.deepEqual(ev.names, ['other.example.com']);
        assert.ok(ev.reply?.startsWith('450-4.7.25 [192.0.2.30] '));
        assert.ok(Buffer.byteLength(JSON.stringify(ev.trace)) <= 1_024);

        const deferred = await e.firewall.decide(ctx(IP.servfail));
        await e.firewall.flush();
        const tev = await e.firewall.evidence(deferred.ref ?? '');
        assert.equal(tev?.verdict, 'temperror');
        assert.ok(tev?.reply?.startsWith('451-4.4.3 '));
      });

      test('a temperror from a check that never ran (overload) is a defer, never a listing', async () => {
        const e = await h.env({ check: { maxRunningCount: 1, maxWaitingCount: 0 } });
        h.server.setZone({ ...ZONE, behaviours: { [ptrOf(IP.noPtr)]: { delayMs: 100 } } });
        try {
          const [slow, overloaded] = await Promise.all([e.firewall.decide(ctx(IP.noPtr)), e.firewall.decide(ctx(IP.noMatch))]);
          assert.equal(slow.action, 'reject');
          assert.equal(overloaded.action, 'defer');
          assert.equal(overloaded.reason, 'overload');
          assert.equal(overloaded.reply?.code, 451);
          assert.equal(e.firewall.hotListing(IP.noMatch), undefined);
        } finally {
          h.server.setZone(ZONE);
        }
      });

      test('order: bypass and allowlist → listing → cached verdict → live check', async () => {
        const e = await h.env();
        // Live check, then the cached verdict: no DNS the second time.
        const live = await e.firewall.decide(ctx(IP.pass));
        assert.equal(live.source, 'check');
        assert.ok(h.server.queries.length > 0, 'the first decision asked DNS');
        h.server.resetQueries();
        assert.equal((await e.firewall.decide(ctx(IP.pass))).action, 'accept');
        assert.equal(h.server.queries.length, 0, 'the cached verdict was used');
        // A listing beats the cached verdict.
        await e.firewall.list(IP.pass, 'spam run', 'operator:alice');
        const listed = await e.firewall.decide(ctx(IP.pass));
        assert.equal(listed.action, 'reject');
        assert.equal(listed.source, 'listing');
        // The allowlist beats the listing; bypass ranges come first of all (no DNS, no listing).
        await e.firewall.allow(IP.pass, 'partner', 'operator:alice');
        assert.equal((await e.firewall.decide(ctx(IP.pass))).source, 'allowlist');
        await e.firewall.allow('10.0.0.0/8', 'inside', 'operator:alice');
        const bypassed = await e.firewall.decide(ctx('10.9.9.9'));
        assert.equal(bypassed.source, 'bypass');
        assert.equal(bypassed.verdict, 'skipped');
        assert.equal(h.server.queries.length, 0);
      });

      test('first and latest evidence of a listing; a rejection from the listing has its own reference and evidence', async () => {
        const e = await h.env();
        const first = await e.firewall.decide(ctx(IP.noPtr, { helo: 'first.example' }));
        await e.firewall.flush();
        e.clock.advance(1_000);
        const later = await e.firewall.decide(ctx(IP.noPtr, { helo: 'later.example', recipient: 'u@example.org' }));
        assert.equal(later.source, 'listing');
        assert.ok(later.ref && later.ref !== first.ref);
        await e.firewall.flush();
        const stored = await e.store.getListing(IP.noPtr);
        assert.equal(stored?.firstEvidence.ref, first.ref);
        assert.equal(stored?.firstEvidence.helo, 'first.example');
        assert.equal(stored?.latestEvidence.ref, later.ref);
        assert.equal(stored?.lastRejectAt, e.clock.t);
        assert.equal(stored?.rejectCount, 2);
        assert.equal(stored?.listedBy, 'check');
        const ev = await e.firewall.evidence(later.ref);
        assert.equal(ev?.ip, IP.noPtr);
        assert.equal(ev?.reason, 'listed');
        assert.equal(ev?.recipient, 'u@example.org');
        assert.equal(ev?.at, e.clock.t);
        const audit = await e.store.listAudit({ target: IP.noPtr, action: 'LIST' });
        assert.equal(audit.items.length, 1, 'one LIST audit entry (touches are LIST-UPDATE)');
        assert.equal(audit.items[0]?.actor, 'check');
        assert.equal(audit.items[0]?.at, e.clock.t - 1_000);
        assert.equal(await e.firewall.evidence('ZZZZZZZZ'), undefined);
      });

      test('connect-time stage and every front get the same decision', async () => {
        const e = await h.env();
        for (const front of ['policy', 'dnsbl', 'gate', 'api'] as const) {
          const d = await e.firewall.decide({ front, ip: IP.noMatch, stage: 'connect' });
          assert.equal(d.action, 'reject', front);
          assert.equal(d.reply?.code, 450, front);
        }
      });

      test('a malformed address is a typed error, not a decision', async () => {
        const e = await h.env();
        await assert.rejects(e.firewall.decide(ctx('192.0.2.010')), { code: 'BS_ERR_ADDRESS_INVALID' });
      });

      test('an IPv4-mapped client is decided (and listed) as IPv4', async () => {
        const e = await h.env();
        const d = await e.firewall.decide(ctx(`::ffff:${IP.noPtr}`));
        assert.equal(d.ip, IP.noPtr);
        assert.ok(e.firewall.hotListing(IP.noPtr));
      });

      test('report-only never refuses a listed IP either', async () => {
        const dirEnv = await h.env();
        await dirEnv.firewall.list(IP.pass, 'test', 'operator:alice');
        const ro = await h.env({ share: dirEnv, firewall: { mode: 'report-only' } });
        const d = await ro.firewall.decide(ctx(IP.pass));
        assert.equal(d.action, 'accept');
        assert.equal(d.source, 'listing');
        assert.equal(d.wouldReject, true);
      });
    });
  });
}
