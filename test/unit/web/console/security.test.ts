/**
 * The console's defences: no page without a session, the session cookie's flags, CSRF on the
 * login form and on every POST, login throttling shown as 429, no open redirect, sign-out,
 * the portal's CSP on every page, and hostile text (PTR names, HELO, notes, requests, contact
 * messages) rendered inert.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IP, useHarness } from '../../firewall/helpers.js';
import { ACCOUNT, consoleEnv, cookieOf, PASSWORD, THROTTLE_AFTER, visibleText } from './helpers.js';

const PAGES = ['/admin', '/admin/listings', `/admin/listings/${IP.noPtr}`, '/admin/allowlist', '/admin/requests', '/admin/messages', '/admin/audit'];
const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>';

describe('console security', () => {
  const harness = useHarness('sqlite');

  test('every page and every POST without a session goes to the login page (303) and does nothing', async () => {
    const c = await consoleEnv(harness);
    try {
      await c.env.firewall.list(IP.noPtr, 'test', 'cli:test');
      for (const url of [...PAGES, '/admin/no-such-page']) {
        const res = await c.get(url);
        assert.equal(res.statusCode, 303, url);
        const location = String(res.headers.location);
        assert.ok(location.startsWith('/admin/login'), `${url} -> ${location}`);
        if (url !== '/admin') assert.equal(location, `/admin/login?next=${encodeURIComponent(url)}`, url);
      }
      const post = await c.post(`/admin/listings/${IP.noPtr}/clear`, { note: 'x', csrf: 'whatever' });
      assert.equal(post.statusCode, 303);
      assert.equal(post.headers.location, '/admin/login');
      assert.equal((await c.env.firewall.records.listing(IP.noPtr))?.state, 'active', 'nothing was cleared');
      // A forged or unknown session id is no session either (and the cookie is cleared).
      const forged = await c.get('/admin', 'bs_session=AAAAAAAAAAAAAAAAAAAAAAAA');
      assert.equal(forged.statusCode, 303);
      assert.match(String(cookieOf(forged, 'bs_session')), /Max-Age=0/);
    } finally {
      await c.close();
    }
  });

  test('sign-in: the cookie is HttpOnly, SameSite=Strict, Path=/admin, Secure only over https; next is never another site', async () => {
    const c = await consoleEnv(harness, { http: { trustedProxies: ['127.0.0.1'] } });
    try {
      const { res, cookie, csrf } = await c.signIn();
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin');
      const set = String(cookieOf(res, 'bs_session'));
      assert.match(set, /; Path=\/admin;/);
      assert.match(set, /; HttpOnly/);
      assert.match(set, /; SameSite=Strict/);
      assert.match(set, /; Max-Age=3600/);
      assert.doesNotMatch(set, /Secure/);
      assert.ok(cookie.length > 20 && csrf.length > 20);
      const page = await c.get('/admin', cookie);
      assert.equal(page.statusCode, 200);
      assert.match(visibleText(page.body), new RegExp(`Signed in as ${ACCOUNT}`));

      // Behind a trusted proxy that says https: Secure.
      const form = await c.loginForm();
      const https = await c.post('/admin/login', { csrf: form.token, name: ACCOUNT, password: PASSWORD }, form.cookie, { 'x-forwarded-proto': 'https' });
      assert.match(String(cookieOf(https, 'bs_session')), /; Secure/);

      for (const next of ['//evil.example/', 'https://evil.example/admin', '/admin/../x', '/admin\\@evil', '/adminx', 'javascript:alert(1)']) {
        const f = await c.loginForm();
        const r = await c.post('/admin/login', { csrf: f.token, name: ACCOUNT, password: PASSWORD, next }, f.cookie);
        assert.equal(r.statusCode, 303, next);
        assert.equal(r.headers.location, '/admin', next);
      }
      const f = await c.loginForm();
      const kept = await c.post('/admin/login', { csrf: f.token, name: ACCOUNT, password: PASSWORD, next: '/admin/listings?state=any' }, f.cookie);
      assert.equal(kept.headers.location, '/admin/listings?state=any');
    } finally {
      await c.close();
    }
  });

  test('the login form needs its CSRF token; wrong passwords are refused, then throttled with 429 and Retry-After', async () => {
    const c = await consoleEnv(harness);
    try {
      const noToken = await c.post('/admin/login', { name: ACCOUNT, password: PASSWORD });
      assert.equal(noToken.statusCode, 403);
      assert.equal(cookieOf(noToken, 'bs_session'), undefined);
      assert.equal(c.accounts.logins.length, 0, 'accounts not even asked');

      for (let i = 0; i < THROTTLE_AFTER; i++) {
        const f = await c.loginForm();
        const res = await c.post('/admin/login', { csrf: f.token, name: ACCOUNT, password: `wrong ${i}` }, f.cookie);
        assert.equal(res.statusCode, 401, `attempt ${i + 1}`);
        assert.match(visibleText(res.body), /Wrong account name or password\./);
        assert.equal(cookieOf(res, 'bs_session'), undefined);
      }
      const f = await c.loginForm();
      const throttled = await c.post('/admin/login', { csrf: f.token, name: ACCOUNT, password: PASSWORD }, f.cookie);
      assert.equal(throttled.statusCode, 429);
      assert.equal(throttled.headers['retry-after'], '60');
      assert.match(visibleText(throttled.body), /Too many failed sign-ins .* Try again in 60 seconds\./);
      assert.equal(cookieOf(throttled, 'bs_session'), undefined, 'not even the right password gets in while throttled');
      assert.equal(c.accounts.logins.at(-1)?.fromIp, '127.0.0.1', 'the address is handed to the throttle');
    } finally {
      await c.close();
    }
  });

  test('a POST without the session\'s CSRF token (or with another one) is refused with 403 and changes nothing', async () => {
    const c = await consoleEnv(harness);
    try {
      await c.env.firewall.list(IP.noPtr, 'test', 'cli:test');
      const { cookie, csrf } = await c.signIn();
      const other = await c.signIn();
      assert.notEqual(other.csrf, csrf);
      const attempts: Record<string, string>[] = [{ note: 'no token' }, { note: 'empty', csrf: '' }, { note: 'other session', csrf: other.csrf }, { note: 'short', csrf: csrf.slice(1) }];
      for (const fields of attempts) {
        const res = await c.post(`/admin/listings/${IP.noPtr}/clear`, fields, cookie);
        assert.equal(res.statusCode, 403, fields.note);
        assert.match(visibleText(res.body), /security token is missing or wrong\. Nothing was changed\./);
      }
      assert.equal((await c.env.firewall.records.listing(IP.noPtr))?.state, 'active');
      const audit = await c.env.firewall.records.audit({ action: 'CLEAR' });
      assert.equal(audit.items.length, 0);
      const ok = await c.post(`/admin/listings/${IP.noPtr}/clear`, { note: 'token', csrf }, cookie);
      assert.equal(ok.statusCode, 303);
      assert.equal((await c.env.firewall.records.listing(IP.noPtr))?.state, 'cleared');
    } finally {
      await c.close();
    }
  });

  test('sign-out ends the session on the server and in the browser; an expired session is no session', async () => {
    const c = await consoleEnv(harness);
    try {
      const { cookie, csrf } = await c.signIn();
      const refused = await c.post('/admin/logout', {}, cookie);
      assert.equal(refused.statusCode, 403, 'sign-out needs the token too');
      const out = await c.post('/admin/logout', { csrf }, cookie);
      assert.equal(out.statusCode, 303);
      assert.equal(out.headers.location, '/admin/login?done=signed-out');
      assert.match(String(cookieOf(out, 'bs_session')), /^bs_session=; Path=\/admin; Max-Age=0/);
      assert.equal((await c.get('/admin', cookie)).statusCode, 303);

      const again = await c.signIn();
      assert.equal((await c.get('/admin', again.cookie)).statusCode, 200);
      c.env.clock.advance(3_600_001);
      assert.equal((await c.get('/admin', again.cookie)).statusCode, 303);
    } finally {
      await c.close();
    }
  });

  test('every page: the portal\'s CSP, no inline script or style, no-store; hostile text is inert everywhere', async () => {
    const c = await consoleEnv(harness);
    try {
      const fw = c.env.firewall;
      const decision = await fw.decide({ front: 'policy', ip: IP.noPtr, helo: HOSTILE, sender: `"${HOSTILE}"@x.example` });
      assert.equal(decision.action === 'reject' || decision.action === 'defer', true);
      await fw.flush();
      await fw.list(IP.noMatch, HOSTILE, 'cli:test');
      await fw.allow('198.51.100.0/24', HOSTILE, 'cli:test');
      await fw.requestWhitelist({ range: '203.0.113.7', domain: 'example.com', contact: 'a@example.com', why: HOSTILE });
      await fw.contact({ email: 'x@example.com', subject: HOSTILE, body: `${HOSTILE}\n\u202e reversed`, name: HOSTILE });
      const { cookie } = await c.signIn();
      const ref = (await fw.records.requests('pending', 10)).items[0]?.ref ?? '';
      const allowId = (await fw.records.allows())[0]?.id ?? '';
      const urls = [...PAGES, `/admin/listings/${IP.noMatch}`, `/admin/requests/${ref}`, `/admin/allowlist/${allowId}`, '/admin/listings?state=any', '/admin/audit?q=alert', '/admin/login'];
      for (const url of urls) {
        const res = await c.get(url, url === '/admin/login' ? undefined : cookie);
        assert.equal(res.statusCode, 200, url);
        const csp = String(res.headers['content-security-policy']);
        assert.match(csp, /default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'/, url);
        assert.equal(res.headers['cache-control'], 'no-store', url);
        assert.equal(res.headers['x-frame-options'], 'DENY', url);
        assert.ok(!/<script/i.test(res.body), `${url}: no script element at all`);
        assert.ok(!/<img src=x/i.test(res.body), `${url}: no element from data`);
        assert.ok(!/<[^>]*\son[a-z]+=/i.test(res.body), `${url}: no inline event handler in any tag`);
        assert.ok(!/<[^>]*\sstyle=/i.test(res.body) && !/<style/i.test(res.body), `${url}: no inline style`);
        assert.ok(!res.body.includes('\u202e'), `${url}: no bidi override reaches the page`);
      }
      const listing = await c.get(`/admin/listings/${IP.noPtr}`, cookie);
      assert.match(listing.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'the HELO, escaped');
      const messages = await c.get('/admin/messages', cookie);
      assert.match(messages.body, /\\u\{202e\} reversed/, 'the override is shown as a visible escape');
    } finally {
      await c.close();
    }
  });

  test('with the firewall\'s own accounts (in the store): sign in, the fifth wrong password throttles, sign-out ends the session', async () => {
    const c = await consoleEnv(harness, { realAccounts: true });
    try {
      await c.env.firewall.accounts.add(ACCOUNT, PASSWORD, 'cli:test');
      const { cookie, csrf } = await c.signIn();
      assert.equal((await c.get('/admin', cookie)).statusCode, 200);
      assert.ok(csrf.length > 20);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const f = await c.loginForm();
        statuses.push((await c.post('/admin/login', { csrf: f.token, name: ACCOUNT, password: `wrong password ${i}` }, f.cookie)).statusCode);
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
      const f = await c.loginForm();
      const right = await c.post('/admin/login', { csrf: f.token, name: ACCOUNT, password: PASSWORD }, f.cookie);
      assert.equal(right.statusCode, 429, 'throttled: the password is not even looked at');
      assert.ok(Number(right.headers['retry-after']) > 0);
      const log = await c.env.firewall.records.audit({ target: ACCOUNT });
      assert.ok(log.items.some((a) => a.action === 'LOGIN' && a.actor === `operator:${ACCOUNT}`), 'the sign-in is audited with the account');
      await c.post('/admin/logout', { csrf }, cookie);
      assert.equal((await c.get('/admin', cookie)).statusCode, 303);
    } finally {
      await c.close();
    }
  });
});
