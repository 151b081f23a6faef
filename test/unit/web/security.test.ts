/**
 * The portal's defences: hostile DNS data rendered inert, CSRF on every POST, the CSP and the
 * other headers on every page, per-visitor limits explained when hit; and the forms (whitelist
 * request with its status by reference, contact) with their validation.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IP, ZONE, useHarness } from '../firewall/helpers.js';
import { portalEnv, visibleText } from './helpers.js';

const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>.evil.example';
const PAGES = ['/', `/ip/${IP.noPtr}`, `/test/${IP.pass}`, '/whitelist', '/contact', '/stats', '/policy'];

describe('portal security', () => {
  const harness = useHarness('sqlite');

  test('a PTR record such as <script>… and a hostile HELO are rendered inert on the test and address pages', async () => {
    const p = await portalEnv(harness);
    try {
      harness.server.setZone({
        ...ZONE,
        records: {
          ...ZONE.records,
          '20.2.0.192.in-addr.arpa': [{ type: 'PTR', data: HOSTILE, ttl: 300 }],
          '30.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'ok.example.com', ttl: 300 }, { type: 'PTR', data: '"onmouseover="x.example', ttl: 300 }],
        },
      });
      const res = await p.get(`/test/${IP.noPtr}`);
      assert.equal(res.statusCode, 200);
      assert.ok(!res.body.includes('<script>alert'), 'no script element from DNS');
      assert.ok(!res.body.includes('<img src=x'), 'no element from DNS');
      assert.match(res.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;&lt;img src=x onerror=alert\(2\)&gt;/);
      assert.match(visibleText(res.body), /characters a host name may not hold/);
      const quoted = await p.get(`/test/${IP.noMatch}`);
      assert.ok(!quoted.body.includes('"onmouseover="'), 'quotes from DNS cannot leave an attribute or text');
      assert.match(quoted.body, /&quot;onmouseover=&quot;x\.example/);

      const decision = await p.env.firewall.decide({ front: 'policy', ip: IP.noPtr, helo: '<svg onload=alert(3)>' });
      await p.env.firewall.flush();
      const page = await p.get(`/ip/${IP.noPtr}?r=${decision.ref ?? ''}`);
      assert.ok(!page.body.includes('<svg onload'), 'the HELO is escaped');
      assert.match(page.body, /&lt;svg onload=alert\(3\)&gt;/);
      assert.ok(!page.body.includes('<script>alert'));
    } finally {
      await p.close();
    }
  });

  test('every page: CSP with script-src \'self\' and no inline script or style; nosniff, frame denial, no referrer; no-store', async () => {
    const p = await portalEnv(harness, { portal: { logoUrl: 'https://cdn.example.test/logo.svg' } });
    try {
      for (const url of PAGES) {
        const res = await p.get(url);
        assert.equal(res.statusCode, 200, url);
        const csp = String(res.headers['content-security-policy']);
        assert.match(csp, /default-src 'none'/, url);
        assert.match(csp, /script-src 'self'(;|$)/, url);
        assert.match(csp, /style-src 'self'(;|$)/, url);
        assert.match(csp, /img-src 'self' https:\/\/cdn\.example\.test(;|$)/, url);
        assert.match(csp, /frame-ancestors 'none'/, url);
        assert.match(csp, /form-action 'self'/, url);
        assert.ok(!csp.includes('unsafe'), url);
        assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
        assert.equal(res.headers['x-frame-options'], 'DENY', url);
        assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
        assert.equal(res.headers['cache-control'], 'no-store', url);
        // Every script element loads a file; no inline handlers, no style attributes or elements.
        for (const m of res.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)) {
          assert.match(m[1] ?? '', /src="\/static\/portal\.js"/, url);
          assert.equal((m[2] ?? '').trim(), '', url);
        }
        assert.ok(!/\son[a-z]+=/i.test(res.body), `${url}: no inline event handler`);
        assert.ok(!/\sstyle=/i.test(res.body) && !/<style/i.test(res.body), `${url}: no inline style`);
        assert.match(res.body, /<img src="https:\/\/cdn\.example\.test\/logo\.svg" alt=""/, url);
      }
    } finally {
      await p.close();
    }
  });

  test('CSRF: an unblock, a whitelist request and a contact message without a valid token are refused (403) and change nothing', async () => {
    const p = await portalEnv(harness);
    try {
      await p.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      await p.env.firewall.flush();
      harness.server.setZone({
        ...ZONE,
        records: { ...ZONE.records, '20.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'fixed.example.com', ttl: 300 }], 'fixed.example.com': [{ type: 'A', data: IP.noPtr, ttl: 300 }] },
      });
      const { cookie, token } = await p.form(`/ip/${IP.noPtr}`);
      const other = await p.form('/');
      assert.equal(other.token, '', 'the start page has no form to post');
      const second = await p.form('/contact');
      const cases: Array<[string, Record<string, string>, string | undefined]> = [
        ['no token, no cookie', {}, undefined],
        ['token without its cookie', { csrf: token }, undefined],
        ['cookie without a token', {}, cookie],
        ['a token of another browser', { csrf: token }, second.cookie],
        ['a forged token', { csrf: `${token.split('.')[0] ?? ''}.AAAA` }, cookie],
      ];
      for (const [label, fields, c] of cases) {
        const res = await p.post(`/ip/${IP.noPtr}/unblock`, fields, c);
        assert.equal(res.statusCode, 403, label);
        assert.match(visibleText(res.body), /Please send the form again/, label);
      }
      assert.equal(p.env.firewall.hotListing(IP.noPtr)?.verdict, 'permerror', 'still listed');

      // An expired token: the clock moves past portal.csrfTokenTtlMs.
      p.env.clock.advance(p.config.portal.csrfTokenTtlMs + 1);
      assert.equal((await p.post(`/ip/${IP.noPtr}/unblock`, { csrf: token }, cookie)).statusCode, 403);

      const wl = await p.post('/whitelist', { range: IP.noPtr, domain: 'example.com', contact: 'a@example.com', why: 'x' });
      assert.equal(wl.statusCode, 403);
      const ct = await p.post('/contact', { email: 'a@example.com', subject: 's', body: 'b' });
      assert.equal(ct.statusCode, 403);
      assert.equal((await p.env.firewall.records.requests(undefined, 10)).items.length, 0);
      assert.equal((await p.env.firewall.records.contacts(10)).items.length, 0);

      // And with a fresh token it goes through.
      const fresh = await p.form(`/ip/${IP.noPtr}`);
      const ok = await p.post(`/ip/${IP.noPtr}/unblock`, { csrf: fresh.token }, fresh.cookie);
      assert.equal(ok.statusCode, 200);
      assert.match(visibleText(ok.body), /Cleared, effective now/);
    } finally {
      await p.close();
    }
  });

  test('per-visitor limits: the live test answers 429 with Retry-After and the limit in words; other visitors are not affected', async () => {
    const p = await portalEnv(harness, { http: { checkLimitCount: 2, rateWindowMs: 60_000 } });
    try {
      assert.equal((await p.get(`/test/${IP.pass}`)).statusCode, 200);
      assert.equal((await p.get(`/test/${IP.pass}`)).statusCode, 200);
      const queries = harness.server.queries.length;
      const limited = await p.get(`/test/${IP.pass}`);
      assert.equal(limited.statusCode, 429);
      assert.equal(harness.server.queries.length, queries, 'no DNS work once limited');
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.match(visibleText(limited.body), /Please wait \d+ seconds.*Each visitor may run 2 of these per 1 minute/);
      const elsewhere = await p.server.app.inject({ url: `/test/${IP.pass}`, remoteAddress: '198.51.100.9' });
      assert.equal(elsewhere.statusCode, 200);
      p.env.clock.advance(60_000);
      assert.equal((await p.get(`/test/${IP.pass}`)).statusCode, 200, 'the bucket refills');
    } finally {
      await p.close();
    }
  });

  test('whitelist request: validation errors shown per field; filed; its status by reference (pending, then denied with the reason)', async () => {
    const p = await portalEnv(harness);
    try {
      const { res, cookie, token } = await p.form(`/whitelist?ip=${IP.noPtr}&r=k7q2m9px`);
      assert.match(res.body, new RegExp(`name="range"[^>]*value="${IP.noPtr.replace(/\./g, '\\.')}"`));
      assert.match(res.body, /name="r"[^>]*value="K7Q2M9PX"/);
      const bad = await p.post('/whitelist', { csrf: token, range: 'not-an-ip', domain: 'x', contact: 'nope', why: '', r: '' }, cookie);
      assert.equal(bad.statusCode, 400);
      const badText = visibleText(bad.body);
      assert.match(badText, /Enter an IPv4 or IPv6 address or a CIDR range/);
      assert.match(badText, /Enter a domain name/);
      assert.match(badText, /Enter an e-mail address/);
      assert.match(bad.body, /id="f-range"[^>]*aria-describedby="f-range-hint f-range-error"[^>]*aria-invalid="true"/);

      const filed = await p.post(
        '/whitelist',
        { csrf: token, range: '192.0.2.16/28', domain: 'sender.example', contact: 'admin@sender.example', why: 'Our provider does not offer PTR records <b>at all</b>.', r: '' },
        cookie,
      );
      assert.equal(filed.statusCode, 303);
      const location = String(filed.headers.location);
      const ref = /^\/whitelist\/([0-9A-Z]{8})\?new=1$/.exec(location)?.[1];
      assert.ok(ref !== undefined, location);
      const status = visibleText((await p.get(location)).body);
      assert.match(status, new RegExp(`Your request has the reference ${ref}`));
      assert.match(status, /Pending: waiting for the operator/);
      assert.ok(!status.includes('admin@sender.example'), 'the contact is not shown publicly');
      const stored = await p.env.firewall.records.request(ref);
      assert.equal(stored?.fromIp, '127.0.0.1');

      const lookup = await p.get(`/whitelist/status?ref=${ref.toLowerCase()}`);
      assert.equal(lookup.statusCode, 303);
      assert.equal(lookup.headers.location, `/whitelist/${ref}`);
      await p.env.firewall.denyRequest(ref, 'operator:ops', 'Please fix DNS <first>');
      const denied = await p.get(`/whitelist/${ref}`);
      assert.match(visibleText(denied.body), /Denied\. .*Reason Please fix DNS <first>/);
      assert.ok(!denied.body.includes('<first>'));
      assert.equal((await p.get('/whitelist/ZZZZZZZZ')).statusCode, 404);
    } finally {
      await p.close();
    }
  });

  test('contact: a message reaches the operator\'s records; the form limit applies', async () => {
    const p = await portalEnv(harness, { http: { formLimitCount: 1 } });
    try {
      const { cookie, token } = await p.form(`/contact?ip=${IP.noPtr}`);
      const sent = await p.post('/contact', { csrf: token, email: 'me@sender.example', name: '', ip: IP.noPtr, ref: '', subject: 'Blocked', body: 'Please help' }, cookie);
      assert.equal(sent.statusCode, 201);
      assert.match(visibleText(sent.body), /Message sent/);
      const messages = (await p.env.firewall.records.contacts(10)).items;
      assert.equal(messages.length, 1);
      assert.equal(messages[0]?.ip, IP.noPtr);
      assert.equal(messages[0]?.subject, 'Blocked');
      const again = await p.post('/contact', { csrf: token, email: 'me@sender.example', subject: 'Again', body: 'x' }, cookie);
      assert.equal(again.statusCode, 429);
      assert.match(visibleText(again.body), /Each visitor may run 1 of these/);
    } finally {
      await p.close();
    }
  });
});
