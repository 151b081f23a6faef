/**
 * The listing lifecycle (PRODUCT.md §4) and the allowlist (§5), on a real SqliteStore: unblock
 * (pass clears, fail names the step, rate limits), the background re-check (dns-fixed, still
 * failing, temperror untouched, lease), expiry, operator list/clear, allow entries (v4, v6,
 * CIDR, expiry) beating a listing, and a second node following through store events.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnsTestServer } from '../../helpers/dns-test-server.js';
import { IP, ZONE, eventually, makeEnv, ptrOf, startServer, type Env } from './helpers.js';

let server: DnsTestServer;
const envs: Env[] = [];

before(async () => {
  server = await startServer();
});
after(async () => {
  for (const env of envs.splice(0)) await env.close();
  await server.stop();
});
beforeEach(() => {
  server.setZone(ZONE);
  server.resetQueries();
});

async function env(options: Parameters<typeof makeEnv>[1] = {}): Promise<Env> {
  const e = await makeEnv(server, options);
  envs.push(e);
  return e;
}

const ctx = (ip: string) => ({ front: 'gate' as const, ip });

function fixDns(ip: string): void {
  server.setZone({
    ...ZONE,
    records: { ...ZONE.records, [ptrOf(ip)]: [{ type: 'PTR', data: 'fixed.example.com' }], 'fixed.example.com': [{ type: 'A', data: ip }] },
  });
}

describe('self-service unblock', () => {
  test('still failing: not cleared, the failing step named', async () => {
    const e = await env();
    await e.firewall.decide(ctx(IP.noMatch));
    const r = await e.firewall.unblock(IP.noMatch, { actor: 'self-service', fromIp: '198.51.100.77' });
    assert.equal(r.outcome, 'still-failing');
    assert.ok(r.outcome === 'still-failing' && /other\.example\.com does not resolve back/.test(r.step));
    assert.ok(e.firewall.hotListing(IP.noMatch));
  });

  test('pass: a fresh check past every cache clears at once (cause unblock, audited)', async () => {
    const e = await env();
    await e.firewall.decide(ctx(IP.noPtr));
    await e.firewall.flush();
    fixDns(IP.noPtr);
    server.resetQueries();
    const r = await e.firewall.unblock(IP.noPtr, { actor: 'self-service', fromIp: '198.51.100.77' });
    assert.equal(r.outcome, 'cleared');
    assert.equal(server.queryCount(ptrOf(IP.noPtr), 'PTR'), 1, 'the cached permerror was not used');
    assert.equal(e.firewall.hotListing(IP.noPtr), undefined);
    const stored = await e.store.getListing(IP.noPtr);
    assert.equal(stored?.state, 'cleared');
    assert.equal(stored?.clearCause, 'unblock');
    const audit = await e.store.listAudit({ target: IP.noPtr, action: 'CLEAR' });
    assert.equal(audit.items[0]?.actor, 'self-service');
    assert.equal((await e.firewall.decide(ctx(IP.noPtr))).action, 'accept');
  });

  test('not listed, and an operator listing is not self-service business', async () => {
    const e = await env();
    assert.equal((await e.firewall.unblock(IP.pass, { actor: 'self-service', fromIp: '198.51.100.1' })).outcome, 'not-listed');
    await e.firewall.list(IP.pass, 'spam run', 'operator:alice');
    assert.equal((await e.firewall.unblock(IP.pass, { actor: 'self-service', fromIp: '198.51.100.1' })).outcome, 'operator-listed');
    assert.ok(e.firewall.hotListing(IP.pass));
  });

  test('rate-limited per target IP and per requester, with no DNS work past the limit', async () => {
    const e = await env({ firewall: { unblockPerIpCount: 3, unblockPerRequesterCount: 4, unblockWindowMs: 600_000 } });
    await e.firewall.decide(ctx(IP.noMatch));
    for (let i = 0; i < 3; i++) {
      assert.equal((await e.firewall.unblock(IP.noMatch, { actor: 'self-service', fromIp: `198.51.100.${i}` })).outcome, 'still-failing');
    }
    server.resetQueries();
    const limited = await e.firewall.unblock(IP.noMatch, { actor: 'self-service', fromIp: '198.51.100.9' });
    assert.equal(limited.outcome, 'rate-limited');
    assert.ok(limited.outcome === 'rate-limited' && limited.retryAfterMs > 0 && limited.retryAfterMs <= 600_000);
    assert.equal(server.queries.length, 0);
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
});

describe('background re-check and expiry', () => {
  test('due listings: fixed DNS clears (dns-fixed), still failing moves the due time, temperror changes nothing', async () => {
    const e = await env({ firewall: { recheckIntervalMs: 15 * 60_000 } });
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
  });

  test('only the lease holder runs maintenance', async () => {
    const e = await env();
    assert.equal(await e.store.lease('recheck', 'another-node', 60_000), true);
    const report = await e.firewall.maintenance();
    assert.equal(report.ran, false);
  });

  test('a listing with no rejection for listingExpiryMs expires; a recent one does not', async () => {
    const e = await env({ firewall: { listingExpiryMs: 86_400_000 } });
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
    const a = await env();
    const b = await env({ dir: a.dir, clock: a.clock });
    await a.firewall.list(IP.pass, 'abuse report 123', 'operator:alice');
    const d = await a.firewall.decide(ctx(IP.pass));
    assert.equal(d.action, 'reject');
    assert.equal(d.reason, 'manual');
    assert.match(d.reply?.lines.join(' ') ?? '', /blocked by the operator/);
    await eventually(() => b.firewall.hotListing(IP.pass) !== undefined);
    assert.equal((await b.firewall.decide(ctx(IP.pass))).action, 'reject');
    const cleared = await a.firewall.clear(IP.pass, 'resolved', 'operator:alice');
    assert.equal(cleared?.clearCause, 'operator');
    assert.equal((await a.firewall.decide(ctx(IP.pass))).action, 'accept');
    await eventually(() => b.firewall.hotListing(IP.pass) === undefined);
    assert.equal((await b.firewall.decide(ctx(IP.pass))).action, 'accept');
    const audit = await a.store.listAudit({ target: IP.pass });
    assert.deepEqual(audit.items.map((x) => x.action).sort(), ['CLEAR', 'LIST']);
    assert.equal(await a.firewall.clear(IP.pass, 'again', 'operator:alice'), undefined);
  });

  test('allow entries (v4 host, v4 CIDR, v6 CIDR) beat a listing, with no DNS work', async () => {
    const e = await env();
    for (const ip of [IP.noPtr, IP.noMatch, IP.noPtr6]) assert.equal((await e.firewall.decide(ctx(ip))).action, 'reject');
    await e.firewall.allow(IP.noPtr, 'partner', 'operator:alice');
    await e.firewall.allow('192.0.2.0/27', 'partner net', 'operator:alice');
    await e.firewall.allow('2001:db8::/64', 'v6 partner', 'operator:alice');
    server.resetQueries();
    for (const ip of [IP.noPtr, IP.noMatch, IP.noPtr6]) {
      const d = await e.firewall.decide(ctx(ip));
      assert.equal(d.action, 'accept', ip);
      assert.equal(d.source, 'allowlist', ip);
    }
    assert.equal((await e.firewall.decide(ctx(IP.noPtr))).range, IP.noPtr);
    assert.equal((await e.firewall.decide(ctx(IP.noMatch))).range, '192.0.2.0/27');
    assert.equal(server.queries.length, 0);
    await assert.rejects(e.firewall.allow('192.0.2.0/33', 'bad', 'operator:alice'), { code: 'BS_ERR_CIDR_INVALID' });
  });

  test('an expired allow entry no longer matches; removal takes effect at once', async () => {
    const e = await env();
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
  });

  test('whitelist request: pending with a reference, approved into an allow entry atomically, or denied', async () => {
    const e = await env();
    const request = await e.firewall.requestWhitelist({ range: IP.noMatch, domain: 'example.net', contact: 'it@example.net', why: 'ISP controls PTR', fromIp: '198.51.100.3' });
    assert.equal(request.state, 'pending');
    assert.equal((await e.store.getRequest(request.ref))?.state, 'pending');
    const approved = await e.firewall.approveRequest(request.ref, 'operator:alice', e.clock.t + 86_400_000);
    assert.equal(approved.outcome, 'approved');
    assert.equal((await e.store.getRequest(request.ref))?.state, 'approved');
    assert.equal((await e.firewall.decide(ctx(IP.noMatch))).source, 'allowlist');
    assert.equal((await e.firewall.approveRequest(request.ref, 'operator:alice')).outcome, 'already-decided');
    assert.equal((await e.firewall.approveRequest('ZZZZZZZZ', 'operator:alice')).outcome, 'not-found');
    const other = await e.firewall.requestWhitelist({ range: '192.0.2.0/24', domain: 'example.com', contact: 'a@example.com', why: 'no' });
    const denied = await e.firewall.denyRequest(other.ref, 'operator:bob', 'too broad');
    assert.equal(denied.outcome, 'denied');
    assert.equal((await e.store.getRequest(other.ref))?.decisionReason, 'too broad');
    await assert.rejects(e.firewall.requestWhitelist({ range: 'not-a-range', domain: 'x', contact: 'y', why: 'z' }), { code: 'BS_ERR_CIDR_INVALID' });
  });

  test('contact messages are stored with an audit entry', async () => {
    const e = await env();
    const m = await e.firewall.contact({ email: 'someone@example.net', subject: 'Blocked', body: 'Hello', ref: 'K7Q2M9PX' });
    const page = await e.store.listContacts(10);
    assert.equal(page.items[0]?.id, m.id);
    assert.equal((await e.store.listAudit({ action: 'CONTACT' })).items.length, 1);
  });
});
