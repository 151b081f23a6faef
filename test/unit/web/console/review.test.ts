/**
 * The security review's checks of the operator's console (docs/SECURITY-REVIEW.md, "The
 * console"), where security.test.ts and pages.test.ts do not already prove them:
 *   - every route the console registers (enumerated from the server, not listed by hand) answers
 *     a request without a session, or with a forged one, by the login page (303) and does
 *     nothing; every POST route with a session but without its CSRF token is 403 and does
 *     nothing; the session cookie opens nothing outside /admin (the operator API);
 *   - the session id: 32 random bytes (256 bits), a new one at every login, never one the browser
 *     brought (no fixation); a new password ends every session of the account;
 *   - the login page tells a wrong password from an unknown account in nothing but the audit log;
 *   - the security headers (CSP, nosniff, DENY, no-referrer, no-store) on every console answer:
 *     pages, errors (400, 401, 403, 404, 429), redirects (303) and the stylesheet;
 *   - every console action is in the audit log with the account as actor;
 *   - PTR names from DNS (markup, attribute breakouts) are inert on the console's listing pages;
 *   - parallel sign-ins from one address cannot run more password checks than the address's
 *     limit (the scrypt work an unauthenticated client can cause is bounded).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { IP, ZONE, useHarness } from '../../firewall/helpers.js';
import { ACCOUNT, consoleEnv, cookieOf, PASSWORD, visibleText } from './helpers.js';

const ACTOR = `operator:${ACCOUNT}`;
/** Routes a browser without a session may reach: the login form, sign-out, the stylesheet. */
const PUBLIC_ROUTES = new Set(['GET /admin/login', 'HEAD /admin/login', 'POST /admin/login', 'POST /admin/logout', 'GET /admin/static/console.css', 'HEAD /admin/static/console.css']);
const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function fill(url: string): string {
  return url.replace(':ip', IP.noPtr).replace(':id', 'x1').replace(':ref', 'ABCDEFGH');
}

function sessionValue(res: LightMyRequestResponse): string | undefined {
  return cookieOf(res, 'bs_session')?.split(';')[0]?.slice('bs_session='.length);
}

describe('console security review', () => {
  const harness = useHarness('sqlite');

  test('every console route (from the server\'s own list) refuses a request without a session or with a forged one, and does nothing', async () => {
    const c = await consoleEnv(harness);
    try {
      await c.env.firewall.list(IP.noPtr, 'test', 'cli:test');
      const routes = c.server.registered.filter((r) => r.url.startsWith('/admin') && !PUBLIC_ROUTES.has(`${r.method} ${r.url}`));
      const urls = new Set(routes.map((r) => r.url));
      // The enumeration found the pages and the actions (a guard against an empty list).
      for (const u of ['/admin/', '/admin/listings/:ip/clear', '/admin/allowlist/:id/remove', '/admin/requests/:ref/approve', '/admin/audit']) assert.ok(urls.has(u), `${u} in ${[...urls].join(' ')}`);
      assert.ok(routes.length >= 20, `${routes.length} routes`);
      const wrong: string[] = [];
      for (const { method, url } of routes) {
        for (const cookie of [undefined, 'bs_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'bs_session=../../etc/passwd']) {
          const res = await c.server.app.inject({
            method: method as 'GET',
            url: fill(url),
            headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie === undefined ? {} : { cookie }) },
            ...(method === 'POST' ? { payload: 'csrf=x&note=x&ip=203.0.113.9&range=203.0.113.0/24&expires=never&reason=x' } : {}),
          });
          if (res.statusCode !== 303 || !String(res.headers.location).startsWith('/admin/login')) wrong.push(`${method} ${url} (${cookie ?? 'no cookie'}): ${res.statusCode} ${String(res.headers.location)}`);
        }
      }
      assert.deepEqual(wrong, []);
      console.log(`console routes checked without a session: ${routes.length} (x3 cookies), all 303 to the login page`);
      assert.equal((await c.env.firewall.records.listing(IP.noPtr))?.state, 'active', 'nothing cleared');
      assert.equal((await c.env.firewall.records.listing('203.0.113.9')), undefined, 'nothing listed');
      assert.equal((await c.env.firewall.records.allows()).length, 0, 'nothing allowed');
      const audit = await c.env.firewall.records.audit({});
      assert.deepEqual(audit.items.map((a) => a.action), ['LIST'], 'only the test\'s own listing');

      // The session cookie is no key to the operator API (Bearer keys only), and Path=/admin keeps it from the portal.
      const { cookie } = await c.signIn();
      const api = await c.server.app.inject({ method: 'DELETE', url: `/api/v1/listings/${IP.noPtr}`, headers: { cookie, 'content-type': 'application/json' }, payload: '{"note":"x"}' });
      assert.equal(api.statusCode, 401);
      assert.equal((await c.env.firewall.records.listing(IP.noPtr))?.state, 'active');
    } finally {
      await c.close();
    }
  });

  test('every console POST route with a session but without its CSRF token (none, empty, another session\'s) is 403 and does nothing', async () => {
    const c = await consoleEnv(harness);
    try {
      const fw = c.env.firewall;
      await fw.list(IP.noPtr, 'test', 'cli:test');
      await fw.allow('198.51.100.0/24', 'keep', 'cli:test');
      const req = await fw.requestWhitelist({ range: IP.noMatch, domain: 'a.example', contact: 'a@a.example', why: 'x' });
      const allowId = (await fw.records.allows())[0]?.id ?? '';
      const { cookie } = await c.signIn();
      const other = await c.signIn();
      const posts = c.server.registered.filter((r) => r.method === 'POST' && r.url.startsWith('/admin') && r.url !== '/admin/login');
      assert.ok(posts.length >= 9, posts.map((r) => r.url).join(' '));
      const wrong: string[] = [];
      for (const { url } of posts) {
        const path = url.replace(':ip', IP.noPtr).replace(':id', allowId).replace(':ref', req.ref);
        for (const token of [undefined, '', other.csrf]) {
          const fields: Record<string, string> = { note: 'x', ip: '203.0.113.9', range: '203.0.113.0/24', expires: 'never', reason: 'x' };
          if (token !== undefined) fields.csrf = token;
          const res = await c.post(path, fields, cookie);
          if (res.statusCode !== 403) wrong.push(`POST ${path} (token ${token === undefined ? 'none' : token === '' ? 'empty' : 'other'}): ${res.statusCode}`);
        }
      }
      assert.deepEqual(wrong, []);
      assert.equal((await fw.records.listing(IP.noPtr))?.state, 'active', 'nothing cleared');
      assert.equal(await fw.records.listing('203.0.113.9'), undefined, 'nothing listed');
      assert.deepEqual((await fw.records.allows()).map((e) => `${e.range} ${e.note}`), ['198.51.100.0/24 keep'], 'allowlist unchanged');
      assert.equal((await fw.records.request(req.ref))?.state, 'pending', 'request undecided');
      assert.equal((await c.get('/admin', cookie)).statusCode, 200, 'not even signed out');
    } finally {
      await c.close();
    }
  });

  test('PTR names from DNS (markup, a quote that would leave an attribute) are inert on the console\'s listing pages', async () => {
    const c = await consoleEnv(harness);
    try {
      const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>.evil.example';
      harness.server.setZone({
        ...ZONE,
        records: {
          ...ZONE.records,
          '20.2.0.192.in-addr.arpa': [{ type: 'PTR', data: hostile, ttl: 300 }],
          '30.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'ok.example.com', ttl: 300 }, { type: 'PTR', data: '"onmouseover="x.example', ttl: 300 }],
        },
      });
      for (const ip of [IP.noPtr, IP.noMatch]) await c.env.firewall.decide({ front: 'policy', ip });
      await c.env.firewall.flush();
      const { cookie } = await c.signIn();
      for (const url of ['/admin/listings', `/admin/listings/${IP.noPtr}`, `/admin/listings/${IP.noMatch}`, '/admin/audit', '/admin']) {
        const res = await c.get(url, cookie);
        assert.equal(res.statusCode, 200, url);
        assert.ok(!res.body.includes('<script>alert') && !res.body.includes('<img src=x'), `${url}: no element from DNS`);
        assert.ok(!res.body.includes('"onmouseover="'), `${url}: no attribute from DNS`);
      }
      // The check drops names a host name may not hold (check/names.ts): the evidence shows the
      // usable ones; whatever of the rest reaches a page is escaped.
      const one = await c.get(`/admin/listings/${IP.noPtr}`, cookie);
      assert.match(visibleText(one.body), /PTR names none/);
      const two = await c.get(`/admin/listings/${IP.noMatch}`, cookie);
      assert.match(visibleText(two.body), /PTR names ok\.example\.com/);
      for (const body of [one.body, two.body]) {
        if (body.includes('alert(1)')) assert.match(body, /&lt;script&gt;alert\(1\)/);
        if (body.includes('onmouseover')) assert.match(body, /&quot;onmouseover=&quot;/);
      }
    } finally {
      await c.close();
    }
  });

  test('session ids: 256 random bits, a new one at every login, never the one the browser brought (no fixation); a new password ends the sessions', async () => {
    const c = await consoleEnv(harness, { realAccounts: true });
    try {
      await c.env.firewall.accounts.add(ACCOUNT, PASSWORD, 'cli:test');
      const planted = 'AttackerChosenSessionId0123456789abcdefghij';
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const form = await c.loginForm();
        // The browser brings a session cookie (an attacker's planted one, or its own old one).
        const brought = i === 0 ? planted : (ids.at(-1) ?? planted);
        const res = await c.post('/admin/login', { csrf: form.token, name: ACCOUNT, password: PASSWORD }, `${form.cookie}; bs_session=${brought}`);
        assert.equal(res.statusCode, 303);
        const id = sessionValue(res);
        assert.ok(id !== undefined);
        assert.notEqual(id, brought, 'the id is the server\'s, not the browser\'s');
        assert.equal(Buffer.from(id, 'base64url').length, 32, '32 bytes of randomBytes');
        ids.push(id);
      }
      assert.equal(new Set(ids).size, ids.length, 'every login its own id');
      assert.equal((await c.get('/admin', `bs_session=${planted}`)).statusCode, 303, 'the planted id opens nothing');
      const live = `bs_session=${ids.at(-1) ?? ''}`;
      assert.equal((await c.get('/admin', live)).statusCode, 200);
      // The store keeps no id that could be replayed: only hashes.
      assert.equal(await c.env.store.getSession(ids.at(-1) ?? ''), undefined);

      c.env.clock.advance(1);
      await c.env.firewall.accounts.setPassword(ACCOUNT, 'an entirely new secret', 'cli:test');
      for (const id of ids) assert.equal((await c.get('/admin/listings', `bs_session=${id}`)).statusCode, 303, 'every session of the account ended');
    } finally {
      await c.close();
    }
  });

  test('login messages do not tell an unknown account from a wrong password (status, page, headers)', async () => {
    const c = await consoleEnv(harness, { realAccounts: true });
    try {
      await c.env.firewall.accounts.add(ACCOUNT, PASSWORD, 'cli:test');
      const attempt = async (name: string): Promise<LightMyRequestResponse> => {
        const f = await c.loginForm();
        return c.post('/admin/login', { csrf: f.token, name, password: 'not the password' }, f.cookie);
      };
      const known = await attempt(ACCOUNT);
      const unknown = await attempt('nobody-here');
      const malformed = await attempt('not a name!');
      const strip = (r: LightMyRequestResponse): string => r.body.replace(/name="csrf" value="[^"]+"/, '').replace(/name="name"[^>]*value="[^"]*"/, '');
      for (const r of [unknown, malformed]) {
        assert.equal(r.statusCode, known.statusCode);
        assert.equal(strip(r), strip(known), 'the same page but for the name typed');
        assert.deepEqual(Object.keys(r.headers).sort(), Object.keys(known.headers).sort());
      }
      assert.equal(known.statusCode, 401);
      assert.match(visibleText(known.body), /Wrong account name or password\./);
    } finally {
      await c.close();
    }
  });

  test('security headers on every console answer: pages, errors (400, 401, 403, 404, 429), redirects (303), the stylesheet', async () => {
    const c = await consoleEnv(harness);
    try {
      const { cookie, csrf } = await c.signIn();
      const form = await c.loginForm();
      const answers: [string, LightMyRequestResponse, number][] = [
        ['login page', await c.get('/admin/login'), 200],
        ['login without token', await c.post('/admin/login', { name: ACCOUNT, password: PASSWORD }), 403],
        ['login empty', await c.post('/admin/login', { csrf: form.token, name: '', password: '' }, form.cookie), 400],
        ['dashboard', await c.get('/admin', cookie), 200],
        ['no session', await c.get('/admin/listings'), 303],
        ['no such page', await c.get('/admin/no-such-page', cookie), 404],
        ['no such page, no session', await c.get('/admin/no-such-page'), 303],
        ['bad query', await c.get('/admin/listings?q=not-an-ip', cookie), 400],
        ['csrf refused', await c.post(`/admin/listings/${IP.noPtr}/clear`, { note: 'x' }, cookie), 403],
        ['action done', await c.post('/admin/listings', { csrf, ip: '203.0.113.5', note: 'x' }, cookie), 303],
        ['unknown request', await c.get('/admin/requests/ZZZZZZZZ', cookie), 404],
        ['signed-in login page', await c.get('/admin/login', cookie), 303],
      ];
      for (let i = 0; i < 5; i++) {
        const f = await c.loginForm();
        answers.push([`wrong password ${i}`, await c.post('/admin/login', { csrf: f.token, name: ACCOUNT, password: 'wrong' }, f.cookie), 401]);
      }
      const f = await c.loginForm();
      answers.push(['throttled', await c.post('/admin/login', { csrf: f.token, name: ACCOUNT, password: PASSWORD }, f.cookie), 429]);
      answers.push(['sign-out', await c.post('/admin/logout', { csrf }, cookie), 303]);
      const css = await c.get('/admin/static/console.css');
      answers.push(['stylesheet', css, 200], ['stylesheet, unchanged', await c.get('/admin/static/console.css', undefined, { 'if-none-match': String(css.headers.etag) }), 304]);
      const wrong: string[] = [];
      for (const [what, res, status] of answers) {
        const h = res.headers;
        const problems = [
          res.statusCode !== status && `status ${res.statusCode}, not ${status}`,
          h['content-security-policy'] !== CONSOLE_CSP && `CSP ${String(h['content-security-policy'])}`,
          h['x-content-type-options'] !== 'nosniff' && 'no nosniff',
          h['x-frame-options'] !== 'DENY' && 'no X-Frame-Options DENY',
          h['referrer-policy'] !== 'no-referrer' && 'no Referrer-Policy',
          h['x-powered-by'] !== undefined && 'X-Powered-By',
          !what.startsWith('stylesheet') && h['cache-control'] !== 'no-store' && `Cache-Control ${String(h['cache-control'])}`,
        ].filter((p) => p !== false);
        if (problems.length > 0) wrong.push(`${what}: ${problems.join(', ')}`);
      }
      assert.deepEqual(wrong, []);
      assert.match(String(css.headers['cache-control']), /^public, max-age=\d+$/, 'the stylesheet (no data in it) may be cached');
    } finally {
      await c.close();
    }
  });

  test('every console action is in the audit log with the account as actor', async () => {
    const c = await consoleEnv(harness, { realAccounts: true });
    try {
      const fw = c.env.firewall;
      await fw.accounts.add(ACCOUNT, PASSWORD, 'cli:test');
      await fw.list(IP.noPtr, 'by the cli', 'cli:test');
      const one = await fw.requestWhitelist({ range: IP.noMatch, domain: 'a.example', contact: 'a@a.example', why: 'x' });
      const two = await fw.requestWhitelist({ range: '203.0.113.0/28', domain: 'b.example', contact: 'b@b.example', why: 'y' });
      const start = c.env.clock.now();
      const { cookie, csrf } = await c.signIn();
      const done = async (url: string, fields: Record<string, string>): Promise<void> => {
        const res = await c.post(url, { csrf, ...fields }, cookie);
        assert.equal(res.statusCode, 303, `${url}: ${visibleText(res.body).slice(0, 200)}`);
      };
      await done(`/admin/listings/${IP.noPtr}/clear`, { note: 'n1' });
      await done('/admin/listings', { ip: '203.0.113.50', note: 'n2' });
      await done('/admin/allowlist', { range: '198.51.100.0/24', note: 'n3', expires: 'never' });
      const id = (await fw.records.allows()).find((e) => e.range === '198.51.100.0/24')?.id ?? '';
      await done(`/admin/allowlist/${id}`, { range: '198.51.100.0/25', note: 'n4', expires: 'keep' });
      await done(`/admin/allowlist/${id}/remove`, {});
      await done(`/admin/requests/${one.ref}/approve`, { expires: '30' });
      await done(`/admin/requests/${two.ref}/deny`, { reason: 'no' });
      await done('/admin/logout', {});
      const mine = (await fw.records.audit({ limit: 100 })).items.filter((a) => a.at >= start && a.actor !== 'cli:test' && a.action !== 'REQUEST-CREATE');
      const actions = mine.map((a) => a.action).sort();
      for (const a of ['LOGIN', 'CLEAR', 'LIST', 'ALLOW-ADD', 'ALLOW-EDIT', 'ALLOW-REMOVE', 'LOGOUT']) assert.ok(actions.includes(a), `${a} in ${actions.join(' ')}`);
      assert.ok(actions.some((a) => /APPROVE/.test(a)) && actions.some((a) => /DENY/.test(a)), actions.join(' '));
      assert.deepEqual(mine.filter((a) => a.actor !== ACTOR).map((a) => `${a.actor} ${a.action}`), [], 'every entry names the account');
    } finally {
      await c.close();
    }
  });

  test('parallel sign-ins from one address run no more password checks than the address limit', async () => {
    const c = await consoleEnv(harness, { realAccounts: true });
    try {
      await c.env.firewall.accounts.add(ACCOUNT, PASSWORD, 'cli:test');
      const limit = c.config.console.loginFailuresPerAddressCount;
      const forms = await Promise.all(Array.from({ length: limit + 20 }, () => c.loginForm()));
      // Every attempt a different, unknown name: the account throttle never applies, only the address's.
      const results = await Promise.all(forms.map((f, i) => c.post('/admin/login', { csrf: f.token, name: `guess${i}`, password: 'not the password' }, f.cookie)));
      const statuses = results.map((r) => r.statusCode);
      assert.equal(statuses.filter((s) => s === 401).length, limit, statuses.join(' '));
      assert.equal(statuses.filter((s) => s === 429).length, 20);
    } finally {
      await c.close();
    }
  });
});
