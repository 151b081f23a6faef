/**
 * The public routes over a real Firewall (SQLite, the real checker, the in-process DNS server):
 * status, live check, self-service unblock, whitelist requests, contact. Every answer is parsed
 * with the schema the API documents for it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IP, ZONE, useHarness } from '../../firewall/helpers.js';
import { checkAnswerSchema, errorSchema, ipStatusSchema, requestStatusSchema, unblockAnswerSchema } from '../../../../src/fronts/api/schemas.js';
import { buildHttpServer } from '../../../../src/fronts/api/server.js';
import { apiEnv, body, errorCode } from './helpers.js';

describe('public API', () => {
  const harness = useHarness('sqlite');

  test('GET /api/v1/ip/:ip: not listed, then listed after a refusal (verdict, reason, step, since, ref, last rejection)', async () => {
    const api = await apiEnv(harness);
    try {
      const before = await api.server.app.inject({ method: 'GET', url: `/api/v1/ip/${IP.noPtr}` });
      assert.equal(before.statusCode, 200);
      const none = body(before, ipStatusSchema);
      assert.deepEqual(
        { listed: none.listed, state: none.state, unblock: none.unblock, allowlisted: none.allowlisted, bypassed: none.bypassed },
        { listed: false, state: 'none', unblock: 'not-listed', allowlisted: false, bypassed: false },
      );

      const decision = await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr, helo: 'secret-helo.example', recipient: 'someone@example.org' });
      assert.equal(decision.action, 'reject');
      await api.env.firewall.flush();
      const after = body(await api.server.app.inject({ method: 'GET', url: `/api/v1/ip/${IP.noPtr}` }), ipStatusSchema);
      assert.equal(after.listed, true);
      assert.equal(after.state, 'active');
      assert.equal(after.verdict, 'permerror');
      assert.equal(after.reason, 'no-ptr');
      assert.match(after.step ?? '', /no reverse DNS \(PTR\) record/);
      assert.equal(after.since, api.env.clock.now());
      assert.equal(after.ref, decision.ref);
      assert.equal(after.lastRejection?.ref, decision.ref);
      assert.match(after.lastRejection?.reply ?? '', /^450/);
      assert.equal(after.unblock, 'available');
      assert.ok((after.recheckDueAt ?? 0) > api.env.clock.now());
      // The public view never carries what the client sent (evidence tiers).
      const raw = JSON.stringify(after);
      assert.ok(!raw.includes('secret-helo') && !raw.includes('someone@example.org'), raw);
    } finally {
      await api.close();
    }
  });

  test('GET /api/v1/ip/:ip: a hand listing is operator-only with no re-check; allowlisted and bypassed addresses say so', async () => {
    const api = await apiEnv(harness);
    try {
      await api.env.firewall.list(IP.pass, 'abuse report', 'operator:ops');
      const manual = body(await api.server.app.inject({ url: `/api/v1/ip/${IP.pass}` }), ipStatusSchema);
      assert.equal(manual.verdict, 'manual');
      assert.equal(manual.unblock, 'operator-only');
      assert.equal(manual.recheckDueAt, null);
      assert.equal(manual.lastRejection, undefined, 'never rejected yet');

      await api.env.firewall.allow('192.0.2.0/27', 'partner', 'operator:ops');
      const allowed = body(await api.server.app.inject({ url: `/api/v1/ip/${IP.noPtr}` }), ipStatusSchema);
      assert.equal(allowed.allowlisted, true);
      assert.equal(allowed.allowRange, '192.0.2.0/27');

      const bypassed = body(await api.server.app.inject({ url: '/api/v1/ip/10.1.2.3' }), ipStatusSchema);
      assert.equal(bypassed.bypassed, true);
      assert.equal(bypassed.bypassRange, '10.0.0.0/8');

      const mapped = body(await api.server.app.inject({ url: `/api/v1/ip/::ffff:${IP.pass}` }), ipStatusSchema);
      assert.equal(mapped.ip, IP.pass, 'an IPv4-mapped address is the IPv4 address');
    } finally {
      await api.close();
    }
  });

  test('GET /api/v1/ip/:ip refuses what is not an address with 400 BS_API_INVALID', async () => {
    const api = await apiEnv(harness);
    try {
      for (const bad of ['not-an-ip', '192.0.2.256', '1.2.3', '%3Cscript%3E']) {
        const res = await api.server.app.inject({ url: `/api/v1/ip/${bad}` });
        assert.equal(res.statusCode, 400, bad);
        assert.equal(errorCode(res), 'BS_API_INVALID');
        assert.match(res.json<{ error: { message: string } }>().error.message, /params\.ip/);
        assert.ok(!res.body.includes('<'), 'no markup reflected, even escaped JSON');
      }
    } finally {
      await api.close();
    }
  });

  test('GET /api/v1/check/:ip: a passing address (trace, accept) and a failing one (the reply the firewall would give)', async () => {
    const api = await apiEnv(harness);
    try {
      const pass = body(await api.server.app.inject({ url: `/api/v1/check/${IP.pass}` }), checkAnswerSchema);
      assert.equal(pass.verdict, 'pass');
      assert.equal(pass.action, 'accept');
      assert.deepEqual(pass.confirmed, ['mail.example.com']);
      assert.equal(pass.reply, undefined);
      const steps = pass.trace.map((s) => s.step);
      assert.ok(steps.includes('ptr') && steps.includes('forward') && steps.at(-1) === 'verdict', steps.join());
      const ptrStep = pass.trace.find((s) => s.step === 'ptr') as { exchanges?: unknown[] } | undefined;
      assert.ok((ptrStep?.exchanges?.length ?? 0) > 0, 'the raw DNS exchanges are kept');

      const fail = body(await api.server.app.inject({ url: `/api/v1/check/${IP.noMatch}` }), checkAnswerSchema);
      assert.equal(fail.verdict, 'fail');
      assert.equal(fail.reason, 'no-forward-match');
      assert.equal(fail.action, 'reject');
      assert.equal(fail.reply?.code, 450);
      assert.match(fail.reply?.text ?? '', /^450 4\.7\.25 \[192\.0\.2\.30\] Rejected by BlockSmith mail gateway: the reverse DNS \(PTR\) name other\.example\.com does not resolve back/);
      assert.match(fail.reply?.text ?? '', /https:\/\/portal\.example\.test\/ip\/192\.0\.2\.30$/);

      const temp = body(await api.server.app.inject({ url: `/api/v1/check/${IP.servfail}` }), checkAnswerSchema);
      assert.equal(temp.verdict, 'temperror');
      assert.equal(temp.action, 'defer');
      assert.equal(temp.reply?.code, 451);
      // A check changes nothing: nobody is listed by it.
      assert.equal(await api.env.firewall.records.listing(IP.noMatch), undefined);
      assert.equal(api.env.firewall.hotListing(IP.noMatch), undefined);
    } finally {
      await api.close();
    }
  });

  test('GET /api/v1/check/:ip: hard mode gives the 550; an allowlisted address is accepted whatever DNS says', async () => {
    const api = await apiEnv(harness, { firewall: { mode: 'hard' } });
    try {
      const hard = body(await api.server.app.inject({ url: `/api/v1/check/${IP.noPtr}` }), checkAnswerSchema);
      assert.equal(hard.reply?.code, 550);
      assert.equal(hard.reply?.enhanced, '5.7.25');
      await api.env.firewall.allow(IP.noPtr, 'known sender', 'operator:ops');
      const allowed = body(await api.server.app.inject({ url: `/api/v1/check/${IP.noPtr}` }), checkAnswerSchema);
      assert.equal(allowed.verdict, 'permerror');
      assert.equal(allowed.action, 'accept');
      assert.equal(allowed.allowlisted, IP.noPtr);
    } finally {
      await api.close();
    }
  });

  test('GET /api/v1/check/:ip refuses reserved, internal and bypassed targets without any DNS query', async () => {
    const api = await apiEnv(harness);
    try {
      harness.server.resetQueries();
      for (const [ip, code] of [
        ['127.0.0.1', 'BS_API_TARGET_RESERVED'],
        ['192.168.1.1', 'BS_API_TARGET_RESERVED'],
        ['::1', 'BS_API_TARGET_RESERVED'],
        ['fe80::1', 'BS_API_TARGET_RESERVED'],
        ['::ffff:10.0.0.1', 'BS_API_TARGET_RESERVED'],
        ['224.0.0.1', 'BS_API_TARGET_RESERVED'],
      ] as const) {
        const res = await api.server.app.inject({ url: `/api/v1/check/${ip}` });
        assert.equal(res.statusCode, 422, ip);
        assert.equal(errorCode(res), code, ip);
      }
      assert.equal(harness.server.queries.length, 0, 'no DNS work for a refused target');
    } finally {
      await api.close();
    }
  });

  test('GET /api/v1/check/:ip: BS_API_TARGET_BYPASSED for a bypass range that is not reserved', async () => {
    const api = await apiEnv(harness);
    try {
      // The node's check.bypass comes from the same config; add a public range to it by a second server.
      const config = { ...api.config, check: { ...api.config.check, bypass: [...api.config.check.bypass, '198.51.100.0/24'] } };
      const server = await buildHttpServer({ ...api.ctx, config }, { now: api.env.clock.now });
      try {
        const res = await server.app.inject({ url: '/api/v1/check/198.51.100.7' });
        assert.equal(res.statusCode, 422);
        assert.equal(errorCode(res), 'BS_API_TARGET_BYPASSED');
        assert.match(res.json<{ error: { message: string } }>().error.message, /198\.51\.100\.0\/24/);
      } finally {
        await server.app.close();
      }
    } finally {
      await api.close();
    }
  });

  test('POST /api/v1/ip/:ip/unblock: not listed, still failing, operator-listed, then cleared once DNS is fixed', async () => {
    const api = await apiEnv(harness);
    try {
      const post = (ip: string, remoteAddress = '203.0.113.9') => api.server.app.inject({ method: 'POST', url: `/api/v1/ip/${ip}/unblock`, remoteAddress });
      const notListed = body(await post(IP.pass), unblockAnswerSchema);
      assert.equal(notListed.outcome, 'not-listed');

      assert.equal((await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr })).action, 'reject');
      const failing = body(await post(IP.noPtr), unblockAnswerSchema);
      assert.equal(failing.outcome, 'still-failing');
      assert.equal(failing.reason, 'no-ptr');
      assert.match(failing.step ?? '', /no reverse DNS/);
      assert.equal(failing.check?.verdict, 'permerror');

      await api.env.firewall.list(IP.noMatch, 'by hand', 'operator:ops');
      assert.equal(body(await post(IP.noMatch), unblockAnswerSchema).outcome, 'operator-listed');

      // The owner fixes the PTR: the next unblock clears at once, and decide() accepts.
      harness.server.setZone({
        ...ZONE,
        records: { ...ZONE.records, '20.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'fixed.example.com', ttl: 300 }], 'fixed.example.com': [{ type: 'A', data: IP.noPtr, ttl: 300 }] },
      });
      const cleared = await post(IP.noPtr, '203.0.113.10');
      assert.equal(cleared.statusCode, 200);
      assert.equal(body(cleared, unblockAnswerSchema).outcome, 'cleared');
      assert.equal((await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr })).action, 'accept');
      const audit = await api.env.firewall.records.audit({ target: IP.noPtr, action: 'CLEAR' });
      assert.equal(audit.items[0]?.actor, 'self-service');
    } finally {
      await api.close();
    }
  });

  test('POST /api/v1/ip/:ip/unblock: the firewall limit per target is a 429 with Retry-After', async () => {
    const api = await apiEnv(harness, { firewall: { unblockPerIpCount: 2 }, http: { checkLimitCount: 100 } });
    try {
      await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 3; i++) {
        // Different requesters: it is the target's own limit that stops the third.
        last = await api.server.app.inject({ method: 'POST', url: `/api/v1/ip/${IP.noPtr}/unblock`, remoteAddress: `203.0.113.${20 + i}` });
        statuses.push(last.statusCode);
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      assert.ok(last !== undefined);
      assert.equal(errorCode(last), 'BS_API_RATE_LIMITED');
      const retryAfter = Number(last.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 600, String(retryAfter));
      assert.equal(errorSchema.safeParse(last.json()).success, true);
    } finally {
      await api.close();
    }
  });

  test('the check class is rate-limited per client: 429 with Retry-After, other clients unaffected, refilled in time', async () => {
    const api = await apiEnv(harness, { http: { checkLimitCount: 2, rateWindowMs: 60_000 } });
    try {
      const check = (remoteAddress: string) => api.server.app.inject({ url: `/api/v1/check/${IP.pass}`, remoteAddress });
      assert.equal((await check('203.0.113.1')).statusCode, 200);
      assert.equal((await check('203.0.113.1')).statusCode, 200);
      const limited = await check('203.0.113.1');
      assert.equal(limited.statusCode, 429);
      assert.equal(errorCode(limited), 'BS_API_RATE_LIMITED');
      assert.equal(limited.headers['retry-after'], '30');
      assert.equal((await check('203.0.113.2')).statusCode, 200, 'another client has its own bucket');
      // IPv6 clients are keyed by /64: another address in the same /64 shares the bucket.
      assert.equal((await check('2001:db8:1:2::1')).statusCode, 200);
      assert.equal((await check('2001:db8:1:2::2')).statusCode, 200);
      assert.equal((await check('2001:db8:1:2::3')).statusCode, 429);
      assert.equal((await check('2001:db8:1:3::1')).statusCode, 200);
      api.env.clock.advance(30_000);
      assert.equal((await check('203.0.113.1')).statusCode, 200, 'one token back after windowMs / count');
      assert.ok(api.metrics.events.includes('http:rate-limited'));
    } finally {
      await api.close();
    }
  });

  test('POST /api/v1/whitelist-requests and GET its status; denied shows the reason, never the contact', async () => {
    const api = await apiEnv(harness);
    try {
      const created = await api.server.app.inject({
        method: 'POST',
        url: '/api/v1/whitelist-requests',
        remoteAddress: '203.0.113.50',
        payload: { range: '198.51.100.0/28', domain: 'example.net', contact: 'postmaster@example.net', why: 'our outbound relays', rejectionRef: 'k7q2m9px' },
      });
      assert.equal(created.statusCode, 201, created.body);
      const { ref, statusUrl } = created.json<{ ref: string; statusUrl: string }>();
      const stored = await api.env.firewall.records.request(ref);
      assert.equal(stored?.fromIp, '203.0.113.50');
      assert.equal(stored?.rejectionRef, 'K7Q2M9PX', 'reference upper-cased');

      const pending = body(await api.server.app.inject({ url: statusUrl }), requestStatusSchema);
      assert.equal(pending.state, 'pending');
      await api.env.firewall.denyRequest(ref, 'operator:ops', 'not your range');
      const denied = await api.server.app.inject({ url: `/api/v1/whitelist-requests/${ref.toLowerCase()}` });
      const status = body(denied, requestStatusSchema);
      assert.equal(status.state, 'denied');
      assert.equal(status.decisionReason, 'not your range');
      assert.ok(!denied.body.includes('postmaster@example.net') && !denied.body.includes('203.0.113.50'));

      const missing = await api.server.app.inject({ url: '/api/v1/whitelist-requests/ZZZZZZZZ' });
      assert.equal(missing.statusCode, 404);
      assert.equal(errorCode(missing), 'BS_API_NOT_FOUND');
    } finally {
      await api.close();
    }
  });

  test('public forms are validated at the edge: missing, malformed, unknown and oversize fields are 400 naming the field', async () => {
    const api = await apiEnv(harness, { http: { formLimitCount: 100 } });
    try {
      const good = { range: '198.51.100.0/28', domain: 'example.net', contact: 'a@example.net', why: 'x' };
      for (const [payload, field] of [
        [{ ...good, range: '198.51.100.0/33' }, 'body.range'],
        [{ ...good, range: '0x7f.1' }, 'body.range'],
        [{ ...good, contact: 'not an email' }, 'body.contact'],
        [{ ...good, domain: 'bad domain!' }, 'body.domain'],
        [{ ...good, why: '   ' }, 'body.why'],
        [{ ...good, why: 'x'.repeat(4_001) }, 'body.why'],
        [{ ...good, rejectionRef: 'ILOU1234' }, 'body.rejectionRef'],
        [{ ...good, admin: true }, 'body'],
        [{ range: good.range }, 'body.domain'],
      ] as const) {
        const res = await api.server.app.inject({ method: 'POST', url: '/api/v1/whitelist-requests', payload });
        assert.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 80));
        assert.equal(errorCode(res), 'BS_API_INVALID');
        assert.ok(res.json<{ error: { message: string } }>().error.message.includes(field), res.body);
      }
      assert.equal((await api.env.firewall.records.requests(undefined, 10)).items.length, 0, 'nothing stored');
    } finally {
      await api.close();
    }
  });

  test('POST /api/v1/contact stores the message for the operator; the form class is rate-limited', async () => {
    const api = await apiEnv(harness, { http: { formLimitCount: 2 } });
    try {
      const payload = { email: 'admin@example.net', subject: 'blocked', body: 'Our relay <b>192.0.2.20</b> is blocked', ip: IP.noPtr };
      const first = await api.server.app.inject({ method: 'POST', url: '/api/v1/contact', payload });
      assert.equal(first.statusCode, 201, first.body);
      const page = await api.env.firewall.records.contacts(10);
      assert.equal(page.items[0]?.body, payload.body);
      assert.equal(page.items[0]?.ip, IP.noPtr);
      const bad = await api.server.app.inject({ method: 'POST', url: '/api/v1/contact', payload: { ...payload, ip: 'nowhere' } });
      assert.equal(bad.statusCode, 400);
      const limited = await api.server.app.inject({ method: 'POST', url: '/api/v1/contact', payload });
      assert.equal(limited.statusCode, 429, 'the invalid post counted too: 2 per window');
    } finally {
      await api.close();
    }
  });
});
