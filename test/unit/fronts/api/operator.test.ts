/**
 * The operator routes over a real Firewall: API keys (missing, wrong, right), listings,
 * allowlist, whitelist requests, statistics, audit, evidence. Each change is checked where it
 * lands: the store, the audit log with the actor `operator:<name>`, and the next decide().
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { IP, ZONE, useHarness } from '../../firewall/helpers.js';
import { newApiKey } from '../../../../src/fronts/api/auth.js';
import {
  allowEntrySchema,
  auditEntrySchema,
  evidenceSchema,
  listingSchema,
  pageOf,
  statsAnswerSchema,
  whitelistRequestSchema,
} from '../../../../src/fronts/api/schemas.js';
import { apiEnv, body, errorCode } from './helpers.js';

const OPERATOR_ROUTES: ReadonlyArray<readonly ['GET' | 'POST' | 'DELETE', string]> = [
  ['GET', '/api/v1/listings'],
  ['POST', '/api/v1/listings'],
  ['DELETE', `/api/v1/listings/${IP.noPtr}`],
  ['GET', '/api/v1/allowlist'],
  ['POST', '/api/v1/allowlist'],
  ['DELETE', '/api/v1/allowlist/0f0e0d0c-0000-4000-8000-000000000000'],
  ['GET', '/api/v1/whitelist-requests'],
  ['POST', '/api/v1/whitelist-requests/K7Q2M9PX/approve'],
  ['POST', '/api/v1/whitelist-requests/K7Q2M9PX/deny'],
  ['GET', '/api/v1/stats'],
  ['GET', '/api/v1/audit'],
  ['GET', '/api/v1/evidence/K7Q2M9PX'],
];

describe('operator API', () => {
  const harness = useHarness('sqlite');

  test('every operator route answers 401 without a key, with a wrong key and with a malformed header; nothing changes', async () => {
    const api = await apiEnv(harness);
    try {
      const wrong = newApiKey();
      for (const [method, url] of OPERATOR_ROUTES) {
        for (const headers of [{}, { authorization: `Bearer ${wrong}` }, { authorization: `Basic ${Buffer.from('ops:x').toString('base64')}` }, { authorization: 'Bearer' }, { authorization: api.key }]) {
          const res = await api.server.app.inject({ method, url, headers, payload: method === 'GET' ? undefined : { ip: IP.pass, note: 'x', range: IP.pass, reason: 'x' } });
          assert.equal(res.statusCode, 401, `${method} ${url} ${JSON.stringify(headers)}`);
          assert.equal(errorCode(res), 'BS_API_UNAUTHORIZED');
          assert.match(String(res.headers['www-authenticate']), /^Bearer/);
        }
      }
      assert.equal((await api.env.firewall.records.listing(IP.pass)), undefined, 'the POST did not list');
      assert.equal((await api.env.firewall.records.allows()).length, 0);
      assert.ok(api.metrics.events.includes('http:unauthorized'));
    } finally {
      await api.close();
    }
  });

  test('no configured keys: the operator API is closed to everyone', async () => {
    const api = await apiEnv(harness, { http: { apiKeys: [] } });
    try {
      const res = await api.server.app.inject({ url: '/api/v1/listings', headers: api.auth });
      assert.equal(res.statusCode, 401);
    } finally {
      await api.close();
    }
  });

  test('a clear through the API makes the next decide() accept (the cached verdict is forgotten)', async () => {
    const api = await apiEnv(harness);
    try {
      assert.equal((await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr })).action, 'reject');
      // The owner fixes DNS; the listing still refuses from memory until its re-check is due.
      harness.server.setZone({
        ...ZONE,
        records: { ...ZONE.records, '20.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'fixed.example.com', ttl: 300 }], 'fixed.example.com': [{ type: 'A', data: IP.noPtr, ttl: 300 }] },
      });
      assert.equal((await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr })).action, 'reject');
      await api.env.firewall.flush();

      const res = await api.server.app.inject({ method: 'DELETE', url: `/api/v1/listings/${IP.noPtr}`, headers: api.auth, payload: { note: 'fixed their PTR, ticket 42' } });
      assert.equal(res.statusCode, 200, res.body);
      const cleared = body(res, listingSchema);
      assert.equal(cleared.state, 'cleared');
      assert.equal(cleared.clearedBy, 'operator:ops');
      assert.equal(cleared.clearCause, 'operator');

      const next = await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      assert.equal(next.action, 'accept');
      assert.equal(next.source, 'check');
      const audit = await api.env.firewall.records.audit({ target: IP.noPtr, action: 'CLEAR' });
      assert.equal(audit.items[0]?.actor, 'operator:ops');
      assert.equal(audit.items[0]?.detail, 'fixed their PTR, ticket 42');

      const again = await api.server.app.inject({ method: 'DELETE', url: `/api/v1/listings/${IP.noPtr}?note=again`, headers: api.auth });
      assert.equal(again.statusCode, 404, 'no active listing any more');
      assert.equal(errorCode(again), 'BS_API_NOT_FOUND');
    } finally {
      await api.close();
    }
  });

  test('POST /api/v1/listings lists by hand (decide() rejects, no DNS); DELETE with ?note= clears; a note is required', async () => {
    const api = await apiEnv(harness);
    try {
      const listed = await api.server.app.inject({ method: 'POST', url: '/api/v1/listings', headers: api.auth, payload: { ip: IP.pass, note: 'spam run' } });
      assert.equal(listed.statusCode, 200, listed.body);
      const listing = body(listed, listingSchema);
      assert.equal(listing.verdict, 'manual');
      assert.equal(listing.listedBy, 'operator:ops');
      harness.server.resetQueries();
      const decision = await api.env.firewall.decide({ front: 'policy', ip: IP.pass });
      assert.equal(decision.action, 'reject');
      assert.equal(decision.source, 'listing');
      assert.equal(harness.server.queries.length, 0);

      const noNote = await api.server.app.inject({ method: 'DELETE', url: `/api/v1/listings/${IP.pass}`, headers: api.auth });
      assert.equal(noNote.statusCode, 400);
      assert.match(noNote.body, /note is required/);
      const blank = await api.server.app.inject({ method: 'POST', url: '/api/v1/listings', headers: api.auth, payload: { ip: IP.pass, note: '  ' } });
      assert.equal(blank.statusCode, 400);
      const cleared = await api.server.app.inject({ method: 'DELETE', url: `/api/v1/listings/${IP.pass}?note=${encodeURIComponent('mistake')}`, headers: api.auth });
      assert.equal(cleared.statusCode, 200);
      assert.equal(body(cleared, listingSchema).note, 'mistake');
      assert.equal((await api.env.firewall.decide({ front: 'policy', ip: IP.pass })).action, 'accept');
    } finally {
      await api.close();
    }
  });

  test('GET /api/v1/listings filters by state, reason and range, and pages with after', async () => {
    const api = await apiEnv(harness);
    try {
      await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      await api.env.firewall.decide({ front: 'policy', ip: IP.noMatch });
      await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr6 });
      await api.env.firewall.list('198.51.100.77', 'hand', 'operator:ops');
      await api.env.firewall.flush();
      const get = async (query: string): Promise<string[]> => {
        const res = await api.server.app.inject({ url: `/api/v1/listings${query}`, headers: api.auth });
        assert.equal(res.statusCode, 200, res.body);
        return body(res, pageOf(listingSchema)).items.map((l) => l.ip);
      };
      assert.deepEqual((await get('')).sort(), [IP.noPtr, IP.noMatch, IP.noPtr6, '198.51.100.77'].sort());
      assert.deepEqual(await get('?reason=no-ptr&within=192.0.2.0/24'), [IP.noPtr]);
      assert.deepEqual(await get('?reason=manual'), ['198.51.100.77']);
      assert.deepEqual(await get('?within=2001:db8::/32'), [IP.noPtr6]);
      assert.deepEqual(await get('?state=cleared'), []);
      const first = body(await api.server.app.inject({ url: '/api/v1/listings?limit=2', headers: api.auth }), pageOf(listingSchema));
      assert.equal(first.items.length, 2);
      assert.ok(first.next !== undefined);
      const rest = await get(`?limit=2&after=${encodeURIComponent(first.next)}`);
      assert.deepEqual([...first.items.map((l) => l.ip), ...rest].sort(), (await get('')).sort());
      for (const bad of ['?state=gone', '?limit=0', '?limit=1001', '?within=banana', '?reason=x', '?color=red']) {
        const res = await api.server.app.inject({ url: `/api/v1/listings${bad}`, headers: api.auth });
        assert.equal(res.statusCode, 400, bad);
        assert.equal(errorCode(res), 'BS_API_INVALID');
        assert.match(res.body, /query/);
      }
    } finally {
      await api.close();
    }
  });

  test('allowlist: add (decide() then accepts a failing address), list with expiry, remove, 404', async () => {
    const api = await apiEnv(harness);
    try {
      const expiresAt = new Date(api.env.clock.now() + 86_400_000).toISOString();
      const added = await api.server.app.inject({ method: 'POST', url: '/api/v1/allowlist', headers: api.auth, payload: { range: '192.0.2.16/28', note: 'partner relays', expiresAt } });
      assert.equal(added.statusCode, 201, added.body);
      const entry = body(added, allowEntrySchema);
      assert.equal(entry.expiresAt, Date.parse(expiresAt));
      assert.equal(entry.author, 'operator:ops');
      const decision = await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      assert.equal(decision.action, 'accept');
      assert.equal(decision.source, 'allowlist');

      const list = body(await api.server.app.inject({ url: '/api/v1/allowlist', headers: api.auth }), z.object({ items: z.array(allowEntrySchema) }));
      assert.deepEqual(list.items.map((e) => [e.id, e.expired]), [[entry.id, false]]);
      api.env.clock.advance(2 * 86_400_000);
      const later = body(await api.server.app.inject({ url: '/api/v1/allowlist', headers: api.auth }), z.object({ items: z.array(allowEntrySchema) }));
      assert.equal(later.items[0]?.expired, true);

      const past = await api.server.app.inject({ method: 'POST', url: '/api/v1/allowlist', headers: api.auth, payload: { range: IP.pass, note: 'x', expiresAt: 1 } });
      assert.equal(past.statusCode, 400);
      assert.match(past.body, /future/);
      const badRange = await api.server.app.inject({ method: 'POST', url: '/api/v1/allowlist', headers: api.auth, payload: { range: '192.0.2.0/40', note: 'x' } });
      assert.equal(badRange.statusCode, 400);

      const removed = await api.server.app.inject({ method: 'DELETE', url: `/api/v1/allowlist/${entry.id}`, headers: api.auth });
      assert.equal(removed.statusCode, 204);
      assert.equal(removed.body, '');
      assert.equal((await api.env.firewall.records.allows()).length, 0);
      const gone = await api.server.app.inject({ method: 'DELETE', url: `/api/v1/allowlist/${entry.id}`, headers: api.auth });
      assert.equal(gone.statusCode, 404);
      const audit = await api.env.firewall.records.audit({ actor: 'operator:ops' });
      assert.deepEqual(audit.items.map((a) => a.action).sort(), ['ALLOW-ADD', 'ALLOW-REMOVE']);
    } finally {
      await api.close();
    }
  });

  test('whitelist requests: list by state, approve (an allow entry), deny, 409 when decided, 404 when unknown', async () => {
    const api = await apiEnv(harness);
    try {
      const a = await api.env.firewall.requestWhitelist({ range: '198.51.100.0/29', domain: 'a.example', contact: 'x@a.example', why: 'relays' });
      const b = await api.env.firewall.requestWhitelist({ range: IP.noMatch, domain: 'b.example', contact: 'x@b.example', why: 'one host' });
      const pending = body(await api.server.app.inject({ url: '/api/v1/whitelist-requests?state=pending', headers: api.auth }), pageOf(whitelistRequestSchema));
      assert.deepEqual(pending.items.map((r) => r.ref).sort(), [a.ref, b.ref].sort());

      const approved = await api.server.app.inject({ method: 'POST', url: `/api/v1/whitelist-requests/${b.ref}/approve`, headers: api.auth });
      assert.equal(approved.statusCode, 200, approved.body);
      const outcome = approved.json<{ outcome: string; allow: { range: string; author: string } }>();
      assert.equal(outcome.outcome, 'approved');
      assert.equal(outcome.allow.range, IP.noMatch);
      assert.equal(outcome.allow.author, 'operator:ops');
      assert.equal((await api.env.firewall.decide({ front: 'policy', ip: IP.noMatch })).source, 'allowlist');

      const twice = await api.server.app.inject({ method: 'POST', url: `/api/v1/whitelist-requests/${b.ref}/deny`, headers: api.auth, payload: { reason: 'late' } });
      assert.equal(twice.statusCode, 409);
      assert.equal(errorCode(twice), 'BS_API_CONFLICT');
      const denied = await api.server.app.inject({ method: 'POST', url: `/api/v1/whitelist-requests/${a.ref}/deny`, headers: api.auth, payload: { reason: 'not your range' } });
      assert.equal(denied.statusCode, 200);
      assert.equal(denied.json<{ request: { state: string; decidedBy: string } }>().request.decidedBy, 'operator:ops');
      const noReason = await api.server.app.inject({ method: 'POST', url: `/api/v1/whitelist-requests/${a.ref}/deny`, headers: api.auth, payload: {} });
      assert.equal(noReason.statusCode, 400);
      const unknown = await api.server.app.inject({ method: 'POST', url: '/api/v1/whitelist-requests/ZZZZZZZZ/approve', headers: api.auth, payload: {} });
      assert.equal(unknown.statusCode, 404);
      const states = body(await api.server.app.inject({ url: '/api/v1/whitelist-requests', headers: api.auth }), pageOf(whitelistRequestSchema));
      assert.deepEqual(states.items.map((r) => r.state).sort(), ['approved', 'denied']);
    } finally {
      await api.close();
    }
  });

  test('GET /api/v1/stats sums the hours asked for; GET /api/v1/audit filters; GET /api/v1/evidence/:ref', async () => {
    const api = await apiEnv(harness);
    try {
      const decision = await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr, helo: 'helo.example' });
      await api.env.firewall.decide({ front: 'policy', ip: IP.pass });
      await api.env.firewall.flush();
      const stats = body(await api.server.app.inject({ url: '/api/v1/stats', headers: api.auth }), statsAnswerSchema);
      assert.equal(stats.totals['decision.policy.reject'], 1);
      assert.equal(stats.totals['decision.policy.accept'], 1);
      assert.equal(stats.to, Math.floor(api.env.clock.now() / 3_600_000) * 3_600_000);
      assert.equal(stats.from, stats.to - 23 * 3_600_000);
      const earlier = new Date(api.env.clock.now() - 48 * 3_600_000).toISOString();
      const old = body(await api.server.app.inject({ url: `/api/v1/stats?from=${earlier}&to=${earlier}`, headers: api.auth }), statsAnswerSchema);
      assert.deepEqual(old.totals, {});
      const reversed = await api.server.app.inject({ url: `/api/v1/stats?from=${api.env.clock.now()}&to=0`, headers: api.auth });
      assert.equal(reversed.statusCode, 400);
      const tooLong = await api.server.app.inject({ url: `/api/v1/stats?from=0&to=${api.env.clock.now()}`, headers: api.auth });
      assert.equal(tooLong.statusCode, 400);

      await api.server.app.inject({ method: 'POST', url: '/api/v1/listings', headers: api.auth, payload: { ip: IP.pass, note: 'n' } });
      const audit = body(await api.server.app.inject({ url: '/api/v1/audit?actor=operator:ops&action=list', headers: api.auth }), pageOf(auditEntrySchema));
      assert.deepEqual(audit.items.map((e) => [e.action, e.target]), [['LIST', IP.pass]]);
      const since = body(await api.server.app.inject({ url: `/api/v1/audit?since=${api.env.clock.now() + 1}`, headers: api.auth }), pageOf(auditEntrySchema));
      assert.deepEqual(since.items, []);

      const evidence = body(await api.server.app.inject({ url: `/api/v1/evidence/${String(decision.ref)}`, headers: api.auth }), evidenceSchema);
      assert.equal(evidence.ip, IP.noPtr);
      assert.equal(evidence.helo, 'helo.example', 'operators see the whole evidence');
      const none = await api.server.app.inject({ url: '/api/v1/evidence/ZZZZZZZZ', headers: api.auth });
      assert.equal(none.statusCode, 404);
      const bad = await api.server.app.inject({ url: '/api/v1/evidence/not-a-ref', headers: api.auth });
      assert.equal(bad.statusCode, 400);
    } finally {
      await api.close();
    }
  });

  test('a store that cannot take a write is a 503 BS_API_UNAVAILABLE and nothing is listed', async () => {
    const api = await apiEnv(harness);
    try {
      api.env.flaky.down = true;
      api.env.flaky.methods.add('putListing');
      const res = await api.server.app.inject({ method: 'POST', url: '/api/v1/listings', headers: api.auth, payload: { ip: IP.pass, note: 'x' } });
      assert.equal(res.statusCode, 503);
      assert.equal(errorCode(res), 'BS_API_UNAVAILABLE');
      assert.equal(res.json<{ error: { message: string } }>().error.message, 'the store cannot be reached or written; nothing was changed');
      assert.ok(res.headers['retry-after'] !== undefined);
      api.env.flaky.down = false;
      assert.equal(await api.env.firewall.records.listing(IP.pass), undefined);
      assert.equal(api.env.firewall.hotListing(IP.pass), undefined);
    } finally {
      await api.close();
    }
  });

  test('operator calls are rate-limited per client before the key is looked at', async () => {
    const api = await apiEnv(harness, { http: { operatorLimitCount: 3 } });
    try {
      const statuses: number[] = [];
      for (const headers of [{}, { authorization: 'Bearer nope' }, api.auth, api.auth]) {
        statuses.push((await api.server.app.inject({ url: '/api/v1/allowlist', headers, remoteAddress: '203.0.113.7' })).statusCode);
      }
      assert.deepEqual(statuses, [401, 401, 200, 429]);
    } finally {
      await api.close();
    }
  });
});
