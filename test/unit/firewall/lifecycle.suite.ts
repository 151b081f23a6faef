/**
 * The listing lifecycle (PRODUCT.md §4) and the allowlist and whitelist requests (§5), as a
 * suite run on each store (lifecycle.test.ts: SQLite; test/e2e/firewall/redis.test.ts: Redis):
 * unblock (pass clears, fail names the step, rate limits), the background re-check (dns-fixed,
 * still failing, temperror untouched, lease), expiry, operator list/clear, allow entries (v4,
 * v6, CIDR, expiry) beating a listing, and a second node on the same store following through
 * store events (SQLite: polling; Redis: pub/sub) within a second.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IP, ZONE, eventually, ptrOf, useHarness, type StoreKind } from './helpers.js';

export function lifecycleSuite(kind: StoreKind): void {
  describe(`listing lifecycle and allowlist (${kind} store)`, () => {
    const h = useHarness(kind);

    const ctx = (ip: string) => ({ front: 'gate' as const, ip });

    function fixDns(ip: string): void {
      h.server.setZone({
        ...ZONE,
        records: { ...ZONE.records, [ptrOf(ip)]: [{ type: 'PTR', data: 'fixed.example.com' }], 'fixed.example.com': [{ type: 'A', data: ip }] },
      });
    }

    describe('self-service unblock', () => {
      test('still failing: not cleared, the failing step named', async () => {
        const e = await h.env();
        await e.firewall.decide(ctx(IP.noMatch));
        const r = await e.firewall.unblock(IP.noMatch, { actor: 'self-service', fromIp: '198.51.100.77' });
        assert.equal(r.outcome, 'still-failing');
        assert.ok(r.outcome === 'still-failing' && /other\.example\.com does not resolve back/.test(r.step));
        assert.ok(e.firewall.hotListing(IP.noMatch));
      });

      test('pass: a fresh check past every cache clears at once (cause unblock, audited)', async () => {
        const e = await h.env();
        await e.firewall.decide(ctx(IP.noPtr));
        await e.firewall.flush();
        fixDns(IP.noPtr);
        h.server.resetQueries();
        const r = await e.firewall.unblock(IP.noPtr, { actor: 'self-service', fromIp: '198.51.100.77' });
        assert.equal(r.outcome, 'cleared');
        assert.equal(h.server.queryCount(ptrOf(IP.noPtr), 'PTR'), 1, 'the cached permerror was not used');
        assert.equal(e.firewall.hotListing(IP.noPtr), undefined);
        const stored = await e.store.getListing(IP.noPtr);
        assert.equal(stored?.state, 'cleared');
        assert.equal(stored?.clearCause, 'unblock');
        const audit = await e.store.listAudit({ target: IP.noPtr, action: 'CLEAR' });
        assert.equal(audit.items[0]?.actor, 'self-service');
        assert.equal((await e.firewall.decide(ctx(IP.noPtr))).action, 'accept');
      });

      test('not listed, and an operator listing is not self-service business', async () => {
        const e = await h.env();
        assert.equal((await e.firewall.unblock(IP.pass, { actor: 'self-service', fromIp: '198.51.100.1' })).outcome, 'not-listed');
        await e.firewall.list(IP.pass, 'spam run', 'operator:alice');
        assert.equal((await e.firewall.unblock(IP.pass, { actor: 'self-service', fromIp: '198.51.100.1' })).outcome, 'operator-listed');
        assert.ok(e.firewall.hotListing(IP.pass));
      });

      test('rate-limited per target IP and per requester, with no DNS work past the limit', async () => {
        const e = await h.env({ firewall: { unblockPerIpCount: 3, unblockPerRequesterCount: 4, unblockWindowMs: 600_000 } });
        await e.firewall.decide(ctx(IP.noMatch));
        for (let i = 0; i < 3; i++) {
          assert.equal((await e.firewall.unblock(IP.noMatch, { actor: 'self-service', fromIp: `198.51.100.${i}` })).outcome, 'still-failing');
        }
        h.server.resetQueries();
        const limited = await e.firewall.unblock(IP.noMatch, { actor: 'self-service', fromIp: '198.51.100.9' });
        assert.equal(limited.outcome, 'rate-limited');
        assert.ok(limited.outcome === 'rate-limited' && limited.retryAfterMs > 0 && limited.retryAfterMs <= 600_000);
        assert.equal(h.server.queries.length, 0);
        // Per requester: one address trying many targets.
        for (const ip of [IP.noPtr, IP.noAddress, IP.noValidPtr]) await e.firewall.decide(ctx(ip));
        const from = '203.0.113.200';
        const outcomes = [];
        for (const ip of [IP.noPtr, IP.noAddress, IP.noValidPtr, IP.noPtr, IP.noAddress]) {
          outcomes.push((await e.firewall.unblock(ip, { actor: 'self-service', fromIp: from })).outcome);
        }
        assert.deepEqual(outcomes, ['still-failing', 'still-failing', 'still-failing', 'still-failing', 'rate-limited']);
        e.clock.advance(600_000);
        assert.equal((await e.firewall.unblock(IP.noMatch, { actor: 'self-service', fromIp: from })).outcome, 'still-failing');
      });

      test('an operator unblock follows the same rules without the rate limits, and is audited with its actor', async () => {
        const e = await h.env({ firewall: { unblockPerIpCount: 1, unblockWindowMs: 600_000 } });
        await e.firewall.decide(ctx(IP.noMatch));
        for (let i = 0; i < 3; i++) {
          assert.equal((await e.firewall.unblock(IP.noMatch, { actor: 'cli:alice' })).outcome, 'still-failing');
        }
        await e.firewall.list(IP.pass, 'by hand', 'operator:bob');
        assert.equal((await e.firewall.unblock(IP.pass, { actor: 'cli:alice' })).outcome, 'operator-listed');
      });
    });

    describe('background re-check and expiry', () => {
      test('due listings: fixed DNS clears (dns-fixed), still failing moves the due time, temperror changes nothing', async () => {
        const e = await h.env({ firewall: { recheckIntervalMs: 15 * 60_000 } });
        for (const ip of [IP.noPtr, IP.noMatch, IP.tempForward]) await e.firewall.list(ip, 'seed', 'operator:t');
        // Make them check listings (not manual) that are due now.
        for (const ip of [IP.noPtr, IP.noMatch, IP.tempForward]) {
          const l = await e.store.getListing(ip);
          assert.ok(l);
          await e.store.putListing({ ...l, verdict: 'fail', reason: 'no-forward-match', recheckDueAt: e.clock.t - 1 }, { at: e.clock.t, actor: 'test', action: 'LIST', target: ip });
        }
        fixDns(IP.noPtr);
        const before = await e.store.getListing(IP.tempForward);
        const report = await e.firewall.recheckDue();
        assert.deepEqual(report, { ran: true, checked: 3, cleared: 1, stillFailing: 1, temperror: 1, expired: 0 });
        assert.equal((await e.store.getListing(IP.noPtr))?.clearCause, 'dns-fixed');
        assert.equal((await e.store.getListing(IP.noPtr))?.clearedBy, 're-check');
        assert.ok(((await e.store.getListing(IP.noMatch))?.recheckDueAt ?? 0) >= e.clock.t + 15 * 60_000);
        assert.deepEqual(await e.store.getListing(IP.tempForward), before, 'temperror never changes a listing');
        await eventually(() => e.firewall.hotListing(IP.noPtr) === undefined);
        const audit = await e.store.listAudit({ target: IP.noPtr, action: 'CLEAR' });
        assert.equal(audit.items[0]?.actor, 're-check');
        assert.equal(audit.items[0]?.at, e.clock.t);
        assert.equal((await e.firewall.decide(ctx(IP.noPtr))).action, 'accept');
      });

      test('only the lease holder runs maintenance', async () => {
        const e = await h.env();
        assert.equal(await e.store.lease('recheck', 'another-node', 60_000), true);
        const report = await e.firewall.maintenance();
        assert.equal(report.ran, false);
      });

      test('a listing with no rejection for listingExpiryMs expires; a recent one does not', async () => {
        const e = await h.env({ firewall: { listingExpiryMs: 86_400_000 } });
        await e.firewall.decide(ctx(IP.noPtr));
        e.clock.advance(43_200_000);
        await e.firewall.decide(ctx(IP.noMatch));
        await e.firewall.flush();
        e.clock.advance(43_200_001);
        const report = await e.firewall.expire();
        assert.equal(report.expired, 1);
        const expired = await e.store.getListing(IP.noPtr);
        assert.equal(expired?.state, 'expired');
        assert.equal(expired?.clearCause, 'expired');
        assert.equal((await e.store.getListing(IP.noMatch))?.state, 'active');
        assert.equal(e.firewall.hotListing(IP.noPtr), undefined);
        assert.equal((await e.store.listAudit({ target: IP.noPtr, action: 'EXPIRE' })).items[0]?.actor, 'expiry');
      });
    });

    describe('operator and allowlist', () => {
      test('list and clear by hand: effective at once here, audited, and on another node via events', async () => {
        const a = await h.env();
        const b = await h.env({ share: a, clock: a.clock });
        await a.firewall.list(IP.pass, 'abuse report 123', 'operator:alice');
        const d = await a.firewall.decide(ctx(IP.pass));
        assert.equal(d.action, 'reject');
        assert.equal(d.reason, 'manual');
        assert.match(d.reply?.lines.join(' ') ?? '', /blocked by the operator/);
        await eventually(() => b.firewall.hotListing(IP.pass) !== undefined);
        assert.equal((await b.firewall.decide(ctx(IP.pass))).action, 'reject');
        const stored = await a.store.getListing(IP.pass);
        assert.equal(stored?.note, 'abuse report 123');
        assert.equal(stored?.listedBy, 'operator:alice');
        assert.equal(stored?.verdict, 'manual');
        const cleared = await a.firewall.clear(IP.pass, 'resolved', 'operator:alice');
        assert.equal(cleared?.clearCause, 'operator');
        assert.equal((await a.firewall.decide(ctx(IP.pass))).action, 'accept');
        await eventually(() => b.firewall.hotListing(IP.pass) === undefined);
        assert.equal((await b.firewall.decide(ctx(IP.pass))).action, 'accept');
        const audit = await a.store.listAudit({ target: IP.pass });
        assert.deepEqual(audit.items.map((x) => x.action).sort(), ['CLEAR', 'LIST']);
        for (const x of audit.items) {
          assert.equal(x.actor, 'operator:alice');
          assert.equal(x.at, a.clock.t);
        }
        assert.equal(await a.firewall.clear(IP.pass, 'again', 'operator:alice'), undefined);
      });

      test('allow entries (v4 host, v4 CIDR, v6 CIDR) beat a listing, with no DNS work', async () => {
        const e = await h.env();
        for (const ip of [IP.noPtr, IP.noMatch, IP.noPtr6]) assert.equal((await e.firewall.decide(ctx(ip))).action, 'reject');
        await e.firewall.allow(IP.noPtr, 'partner', 'operator:alice');
        await e.firewall.allow('192.0.2.0/27', 'partner net', 'operator:alice');
        await e.firewall.allow('2001:db8::/64', 'v6 partner', 'operator:alice');
        h.server.resetQueries();
        for (const ip of [IP.noPtr, IP.noMatch, IP.noPtr6]) {
          const d = await e.firewall.decide(ctx(ip));
          assert.equal(d.action, 'accept', ip);
          assert.equal(d.source, 'allowlist', ip);
        }
        assert.equal((await e.firewall.decide(ctx(IP.noPtr))).range, IP.noPtr);
        assert.equal((await e.firewall.decide(ctx(IP.noMatch))).range, '192.0.2.0/27');
        assert.equal(h.server.queries.length, 0);
        for (const front of ['dnsbl', 'gate', 'api', 'policy'] as const) {
          assert.equal((await e.firewall.decide({ front, ip: IP.noMatch })).source, 'allowlist', `every front: ${front}`);
        }
        const entries = await e.store.allAllows();
        assert.deepEqual(
          entries.map((x) => [x.range, x.note, x.author, x.expiresAt]).sort(),
          [
            ['192.0.2.0/27', 'partner net', 'operator:alice', undefined],
            [IP.noPtr, 'partner', 'operator:alice', undefined],
            ['2001:db8::/64', 'v6 partner', 'operator:alice', undefined],
          ],
        );
        assert.equal((await e.store.listAudit({ action: 'ALLOW-ADD' })).items.length, 3);
        await assert.rejects(e.firewall.allow('192.0.2.0/33', 'bad', 'operator:alice'), { code: 'BS_ERR_CIDR_INVALID' });
      });

      test('an expired allow entry no longer matches; removal takes effect at once', async () => {
        const e = await h.env();
        const entry = await e.firewall.allow('192.0.2.16/28', 'temporary', 'operator:alice', e.clock.t + 60_000);
        assert.equal((await e.firewall.decide(ctx(IP.noPtr))).source, 'allowlist');
        e.clock.advance(60_000);
        assert.equal((await e.firewall.decide(ctx(IP.noPtr))).action, 'reject');
        const v6 = await e.firewall.allow('2001:db8::26', 'host', 'operator:alice');
        assert.equal((await e.firewall.decide(ctx(IP.noPtr6))).source, 'allowlist');
        assert.equal(await e.firewall.removeAllow(v6.id, 'operator:alice'), true);
        assert.equal((await e.firewall.decide(ctx(IP.noPtr6))).action, 'reject');
        assert.equal(await e.firewall.removeAllow(entry.id, 'operator:alice'), true);
        assert.equal(await e.firewall.removeAllow('no-such-id', 'operator:alice'), false);
        assert.equal((await e.store.getAllow(entry.id)), undefined);
        assert.equal(entry.expiresAt, e.clock.t);
        assert.equal((await e.store.listAudit({ action: 'ALLOW-REMOVE' })).items.length, 2);
      });

      test('whitelist request: pending with a reference, approved into an allow entry atomically, or denied', async () => {
        const e = await h.env();
        const rejected = await e.firewall.decide(ctx(IP.noMatch));
        const request = await e.firewall.requestWhitelist({
          range: IP.noMatch,
          domain: 'example.net',
          contact: 'it@example.net',
          why: 'ISP controls PTR',
          rejectionRef: rejected.ref,
          fromIp: '198.51.100.3',
        });
        assert.equal(request.state, 'pending');
        const pending = await e.store.getRequest(request.ref);
        assert.deepEqual(
          [pending?.state, pending?.range, pending?.domain, pending?.contact, pending?.why, pending?.rejectionRef],
          ['pending', IP.noMatch, 'example.net', 'it@example.net', 'ISP controls PTR', rejected.ref],
        );
        const expiresAt = e.clock.t + 86_400_000;
        const approved = await e.firewall.approveRequest(request.ref, 'operator:alice', expiresAt);
        assert.equal(approved.outcome, 'approved');
        const decided = await e.store.getRequest(request.ref);
        assert.equal(decided?.state, 'approved');
        assert.equal(decided?.decidedBy, 'operator:alice');
        const allow = await e.store.getAllow(decided?.allowId ?? '');
        assert.equal(allow?.range, IP.noMatch);
        assert.equal(allow?.expiresAt, expiresAt);
        assert.equal(allow?.requestRef, request.ref);
        assert.equal((await e.firewall.decide(ctx(IP.noMatch))).source, 'allowlist');
        e.clock.advance(86_400_000);
        assert.equal((await e.firewall.decide(ctx(IP.noMatch))).action, 'reject', 'the approved entry expires');
        assert.equal((await e.firewall.approveRequest(request.ref, 'operator:alice')).outcome, 'already-decided');
        assert.equal((await e.firewall.approveRequest('ZZZZZZZZ', 'operator:alice')).outcome, 'not-found');
        const other = await e.firewall.requestWhitelist({ range: '192.0.2.0/24', domain: 'example.com', contact: 'a@example.com', why: 'no' });
        const denied = await e.firewall.denyRequest(other.ref, 'operator:bob', 'too broad');
        assert.equal(denied.outcome, 'denied');
        assert.equal((await e.store.getRequest(other.ref))?.decisionReason, 'too broad');
        assert.equal((await e.store.getRequest(other.ref))?.state, 'denied');
        assert.equal((await e.firewall.denyRequest(other.ref, 'operator:bob', 'again')).outcome, 'already-decided');
        assert.deepEqual(
          (await e.store.listAudit({ action: 'REQUEST-CREATE' })).items.map((x) => x.actor),
          ['self-service', 'self-service'],
        );
        await assert.rejects(e.firewall.requestWhitelist({ range: 'not-a-range', domain: 'x', contact: 'y', why: 'z' }), { code: 'BS_ERR_CIDR_INVALID' });
      });

      test('contact messages are stored with an audit entry', async () => {
        const e = await h.env();
        const m = await e.firewall.contact({ email: 'someone@example.net', subject: 'Blocked', body: 'Hello', ref: 'K7Q2M9PX' });
        const page = await e.store.listContacts(10);
        assert.equal(page.items[0]?.id, m.id);
        assert.equal((await e.store.listAudit({ action: 'CONTACT' })).items.length, 1);
      });
    });

    describe('two nodes on one store (PRODUCT.md §2 and §7: a change on one node takes effect on all)', () => {
      /** Cross-node deadline: an operator's or a self-service change reaches the other node's decisions within this. */
      const CROSS_NODE_MS = 1_000;

      /** Poll `probe` until it holds; fail naming `what` when CROSS_NODE_MS passes first. Returns the ms taken. */
      async function within(what: string, probe: () => Promise<boolean>, took?: Record<string, number>): Promise<number> {
        const start = Date.now();
        for (;;) {
          if (await probe()) {
            const ms = Date.now() - start;
            if (took) took[what] = ms;
            return ms;
          }
          if (Date.now() - start > CROSS_NODE_MS) assert.fail(`${what}: not honoured by the other node within ${CROSS_NODE_MS} ms`);
          await new Promise((r) => setTimeout(r, 5));
        }
      }

      test('list, clear, allow, remove, approve and unblock on A are honoured by B.decide() within 1 s', async (t) => {
        const a = await h.env();
        const b = await h.env({ share: a, clock: a.clock });
        const took: Record<string, number> = {};
        // B has checked IP.pass itself: its cached `pass` must not outlive A's listing, nor A's clear.
        assert.equal((await b.firewall.decide(ctx(IP.pass))).action, 'accept');

        await a.firewall.list(IP.pass, 'abuse report 7', 'operator:alice');
        await within(
          'operator list',
          async () => {
            const d = await b.firewall.decide(ctx(IP.pass));
            return d.action === 'reject' && d.source === 'listing' && d.reason === 'manual';
          },
          took,
        );
        await a.firewall.clear(IP.pass, 'resolved', 'operator:alice');
        await within('operator clear', async () => (await b.firewall.decide(ctx(IP.pass))).action === 'accept', took);

        // A listing B made itself from its own check, then allowlisted on A.
        assert.equal((await b.firewall.decide(ctx(IP.noMatch))).action, 'reject');
        const entry = await a.firewall.allow(IP.noMatch, 'partner', 'operator:alice');
        await within('allow entry', async () => (await b.firewall.decide(ctx(IP.noMatch))).source === 'allowlist', took);
        assert.equal(await a.firewall.removeAllow(entry.id, 'operator:alice'), true);
        await within('allow entry removed', async () => (await b.firewall.decide(ctx(IP.noMatch))).action === 'reject', took);

        const request = await a.firewall.requestWhitelist({ range: IP.noAddress, domain: 'example.com', contact: 'it@example.com', why: 'ISP' });
        assert.equal((await b.firewall.decide(ctx(IP.noAddress))).action, 'reject');
        assert.equal((await a.firewall.approveRequest(request.ref, 'operator:bob')).outcome, 'approved');
        await within('approved whitelist request', async () => (await b.firewall.decide(ctx(IP.noAddress))).source === 'allowlist', took);

        // Self-service unblock on A clears at once on B too (B's cached permerror is forgotten).
        await a.firewall.decide(ctx(IP.noPtr));
        await a.firewall.flush();
        await eventually(() => b.firewall.hotListing(IP.noPtr) !== undefined);
        assert.equal((await b.firewall.decide(ctx(IP.noPtr))).source, 'listing');
        fixDns(IP.noPtr);
        assert.equal((await a.firewall.unblock(IP.noPtr, { actor: 'self-service', fromIp: '198.51.100.77' })).outcome, 'cleared');
        await within('self-service unblock', async () => (await b.firewall.decide(ctx(IP.noPtr))).action === 'accept', took);

        await Promise.all([a.firewall.flush(), b.firewall.flush()]);
        assert.equal((await a.store.getListing(IP.pass))?.state, 'cleared');
        assert.equal((await a.store.getListing(IP.noPtr))?.clearCause, 'unblock');
        assert.equal((await a.store.getListing(IP.noMatch))?.state, 'active', "B's own listing was written to the shared store");
        assert.deepEqual(b.logs.filter((l) => l.event === 'EVENT-ERROR'), []);
        t.diagnostic(`ms until B honoured: ${JSON.stringify(took)}`);
      });

      test('a node started after the changes loads the listings and allow entries from the store', async () => {
        const a = await h.env();
        await a.firewall.decide(ctx(IP.noPtr));
        await a.firewall.list(IP.pass, 'manual', 'operator:alice');
        await a.firewall.allow('2001:db8::/64', 'v6 partner', 'operator:alice');
        await a.firewall.flush();
        const b = await h.env({ share: a, clock: a.clock });
        h.server.resetQueries();
        assert.equal((await b.firewall.decide(ctx(IP.noPtr))).source, 'listing');
        assert.equal((await b.firewall.decide(ctx(IP.pass))).reason, 'manual');
        assert.equal((await b.firewall.decide(ctx(IP.noPtr6))).source, 'allowlist');
        assert.equal(h.server.queries.length, 0, 'all from the loaded hot cache');
        assert.deepEqual(b.firewall.status().listings, 2);
      });
    });
  });
}
