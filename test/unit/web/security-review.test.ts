/**
 * The security review's checks of the portal and the JSON API beside it (docs/SECURITY-REVIEW.md):
 *   - the live test cannot be turned on reserved or internal addresses, whatever the spelling,
 *     through the portal (/test, the unblock button) or the API (/api/v1/check, unblock): every
 *     range of fronts/reserved-targets.ts at its edges, IPv4-mapped forms, and spellings other
 *     parsers read as loopback ('127.1', '2130706433', '0x7f.0.0.1', zone ids); never a DNS query;
 *   - the rate limits hold: the portal's unblock button shares the live test's bucket, the
 *     whitelist and contact forms share one, reads are limited, and neither a forged
 *     X-Forwarded-For from an untrusted peer nor rotating addresses inside one IPv6 /64 gets a
 *     fresh bucket (portal and API alike);
 *   - the security headers are on every answer: every portal page, its error pages (400, 403,
 *     404, 422, 429), redirects and static files, and every JSON API answer including errors
 *     (400, 401, 404, 405, 413, 415, 422, 429); the CSRF cookie's flags.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { RESERVED_TARGETS } from '../../../src/fronts/reserved-targets.js';
import { IP, useHarness } from '../firewall/helpers.js';
import { portalEnv, visibleText } from './helpers.js';

/** The first, a middle and the last address of a CIDR range (IPv4 or IPv6), as text. */
function edges(cidr: string): string[] {
  const [base, lenText] = cidr.split('/');
  const len = Number(lenText);
  if (base === undefined) return [];
  if (base.includes(':')) {
    const words = expand6(base);
    const value = words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
    const hostBits = BigInt(128 - len);
    const first = value;
    const last = value | ((1n << hostBits) - 1n);
    const middle = value | ((1n << hostBits) >> 1n) | 1n;
    return [...new Set([first, middle & last, last].map(format6))];
  }
  const value = base.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - len);
  return [...new Set([value, value + Math.floor(size / 2) + 1, value + size - 1].filter((v) => v < value + size).map(format4))];
}

function expand6(text: string): number[] {
  const [head = '', tail = ''] = text.split('::');
  const h = head === '' ? [] : head.split(':').map((w) => parseInt(w, 16));
  const t = tail === '' ? [] : tail.split(':').map((w) => parseInt(w, 16));
  return text.includes('::') ? [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
}

function format6(v: bigint): string {
  const words: string[] = [];
  for (let i = 7; i >= 0; i--) words.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return words.join(':');
}

function format4(v: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(v / 2 ** s) % 256).join('.');
}

const RESERVED_ADDRESSES: readonly string[] = [
  ...RESERVED_TARGETS.flatMap(edges),
  // IPv4 reserved ranges reached through IPv4-mapped IPv6, in both spellings.
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::FFFF:10.1.2.3',
  '::ffff:192.168.0.1',
  '::ffff:169.254.169.254',
  '0:0:0:0:0:ffff:a9fe:a9fe',
  // Cloud metadata, the classic SSRF target.
  '169.254.169.254',
];

/**
 * Spellings that some parsers read as an internal address (inet_aton shorthands, octal, hex,
 * decimal, a zone id, a trailing dot, brackets). Each must be refused as not an address (400) or
 * as reserved (422): never checked.
 */
const OBFUSCATED: readonly string[] = ['127.1', '127.0.1', '2130706433', '0x7f000001', '0x7f.0.0.1', '0177.0.0.1', '017700000001', '127.0.0.1.', '[::1]', 'fe80::1%25eth0', '::1%251', '10.0.0.1%0a', ' 127.0.0.1', 'localhost', '0', '::', '0.0.0.0'];

const FORBIDDEN_STATUS = new Set([200, 201, 202, 204]);

/** The security headers every answer of the listener must carry. */
function assertSecurityHeaders(res: LightMyRequestResponse, what: string): void {
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(res.headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options`);
  assert.equal(res.headers['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
  const csp = String(res.headers['content-security-policy'] ?? '');
  assert.match(csp, /default-src 'none'/, `${what}: CSP default-src: ${csp}`);
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP frame-ancestors: ${csp}`);
  assert.ok(!csp.includes('unsafe-'), `${what}: no unsafe-* in the CSP: ${csp}`);
  assert.equal(res.headers['x-powered-by'], undefined, `${what}: no X-Powered-By`);
}

function apiCode(res: LightMyRequestResponse): string | undefined {
  try {
    return res.json<{ error?: { code?: string } }>().error?.code;
  } catch {
    return undefined;
  }
}

describe('security review: portal and API', () => {
  const harness = useHarness('sqlite');

  test(`the live test refuses every reserved range at its edges (${RESERVED_ADDRESSES.length} addresses) through the portal and the API, with no DNS query`, async () => {
    const p = await portalEnv(harness, { http: { checkLimitCount: 10_000, readLimitCount: 10_000 } });
    try {
      harness.server.resetQueries();
      const wrong: string[] = [];
      for (const ip of RESERVED_ADDRESSES) {
        const path = encodeURIComponent(ip).replace(/%3A/gi, ':');
        const page = await p.get(`/test/${path}`);
        if (page.statusCode !== 422 || !/private, reserved or internal|never checks/.test(visibleText(page.body))) wrong.push(`portal /test/${ip}: ${page.statusCode}`);
        const form = await p.get(`/test?ip=${encodeURIComponent(ip)}`);
        if (FORBIDDEN_STATUS.has(form.statusCode) && /trace|PTR/i.test(visibleText(form.body)) && !/private, reserved or internal|never checks/.test(visibleText(form.body))) {
          wrong.push(`portal /test?ip=${ip}: ${form.statusCode} ran a test`);
        }
        const api = await p.server.app.inject({ url: `/api/v1/check/${path}` });
        if (api.statusCode !== 422 || apiCode(api) !== 'BS_API_TARGET_RESERVED') wrong.push(`API /api/v1/check/${ip}: ${api.statusCode} ${apiCode(api)}`);
      }
      assert.deepEqual(wrong, []);
      assert.equal(harness.server.queries.length, 0, `no DNS query for any reserved target: ${JSON.stringify(harness.server.queries.slice(0, 3))}`);
    } finally {
      await p.close();
    }
  });

  test('spellings that other parsers read as internal addresses are refused (400 or 422), never checked', async () => {
    const p = await portalEnv(harness, { http: { checkLimitCount: 10_000 } });
    try {
      harness.server.resetQueries();
      const wrong: string[] = [];
      for (const ip of OBFUSCATED) {
        const path = encodeURIComponent(ip);
        const page = await p.get(`/test/${path}`);
        if (![400, 404, 422].includes(page.statusCode)) wrong.push(`portal /test/${ip}: ${page.statusCode}`);
        const api = await p.server.app.inject({ url: `/api/v1/check/${path}` });
        if (![400, 404, 422].includes(api.statusCode)) wrong.push(`API /api/v1/check/${ip}: ${api.statusCode} ${api.body.slice(0, 120)}`);
      }
      assert.deepEqual(wrong, []);
      assert.equal(harness.server.queries.length, 0, `no DNS query: ${JSON.stringify(harness.server.queries.slice(0, 3).map((q) => q.name))}`);
    } finally {
      await p.close();
    }
  });

  test('the unblock button and the API unblock of reserved addresses run no DNS query', async () => {
    const p = await portalEnv(harness, { http: { checkLimitCount: 10_000 } });
    try {
      harness.server.resetQueries();
      for (const ip of ['127.0.0.1', '10.1.2.3', '192.168.0.1', '169.254.169.254', '::1', 'fd00::1', '::ffff:10.0.0.1']) {
        const { cookie, token } = await p.form(`/ip/${encodeURIComponent(ip).replace(/%3A/gi, ':')}`);
        const page = await p.post(`/ip/${encodeURIComponent(ip).replace(/%3A/gi, ':')}/unblock`, { csrf: token }, cookie);
        assert.ok(page.statusCode < 500, `portal unblock ${ip}: ${page.statusCode}`);
        assert.ok(!/Cleared, effective now/.test(visibleText(page.body)), `portal unblock ${ip}: nothing cleared`);
        const api = await p.server.app.inject({ method: 'POST', url: `/api/v1/ip/${encodeURIComponent(ip)}/unblock` });
        assert.ok(api.statusCode < 500, `API unblock ${ip}: ${api.statusCode}`);
      }
      assert.equal(harness.server.queries.length, 0, `no DNS query: ${JSON.stringify(harness.server.queries.slice(0, 3).map((q) => q.name))}`);
    } finally {
      await p.close();
    }
  });

  test('portal limits hold: the unblock button shares the live test\'s bucket and does nothing once limited', async () => {
    const p = await portalEnv(harness, { http: { checkLimitCount: 2, rateWindowMs: 60_000 } });
    try {
      await p.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      await p.env.firewall.flush();
      const { cookie, token } = await p.form(`/ip/${IP.noPtr}`);
      assert.notEqual(token, '', 'the address page offers the unblock button');
      assert.equal((await p.get(`/test/${IP.pass}`)).statusCode, 200);
      assert.equal((await p.get(`/test/${IP.pass6}`)).statusCode, 200);
      harness.server.resetQueries();
      const limited = await p.post(`/ip/${IP.noPtr}/unblock`, { csrf: token }, cookie);
      assert.equal(limited.statusCode, 429, `token ${token} cookie ${cookie}: ${visibleText(limited.body).slice(0, 300)}`);
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.equal(harness.server.queries.length, 0, 'no re-check once limited');
      assert.equal(p.env.firewall.hotListing(IP.noPtr)?.verdict, 'permerror', 'still listed');
      const audit = await p.env.firewall.records.audit({ target: IP.noPtr, action: 'CLEAR' });
      assert.equal(audit.items.length, 0, 'no clear recorded');
    } finally {
      await p.close();
    }
  });

  test('portal limits hold: whitelist and contact forms share one bucket; the refused one is not stored', async () => {
    const p = await portalEnv(harness, { http: { formLimitCount: 1, rateWindowMs: 60_000 } });
    try {
      const { cookie, token } = await p.form('/whitelist');
      const first = await p.post('/whitelist', { csrf: token, range: '192.0.2.16/28', domain: 'sender.example', contact: 'admin@sender.example', why: 'no PTR from our provider', r: '' }, cookie);
      assert.equal(first.statusCode, 303);
      const second = await p.post('/whitelist', { csrf: token, range: '192.0.2.32/28', domain: 'sender.example', contact: 'admin@sender.example', why: 'again', r: '' }, cookie);
      assert.equal(second.statusCode, 429);
      assert.ok(Number(second.headers['retry-after']) >= 1);
      const contact = await p.post('/contact', { csrf: token, email: 'me@sender.example', name: '', ip: '', ref: '', subject: 'hi', body: 'x' }, cookie);
      assert.equal(contact.statusCode, 429, 'the contact form shares the form bucket');
      assert.equal((await p.env.firewall.records.requests(undefined, 10)).items.length, 1, 'one whitelist request stored');
      assert.equal((await p.env.firewall.records.contacts(10)).items.length, 0, 'no contact stored');
    } finally {
      await p.close();
    }
  });

  test('portal limits hold: page reads are limited per visitor', async () => {
    const p = await portalEnv(harness, { http: { readLimitCount: 3, rateWindowMs: 60_000 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await p.get(`/ip/${IP.pass}`)).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    } finally {
      await p.close();
    }
  });

  test('a forged X-Forwarded-For from an untrusted peer and a rotating IPv6 /64 get no fresh bucket (portal and API)', async () => {
    const p = await portalEnv(harness, { http: { checkLimitCount: 2, rateWindowMs: 60_000 } });
    try {
      const app = p.server.app;
      const portalStatuses: number[] = [];
      const apiStatuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const headers = { 'x-forwarded-for': `198.51.100.${i + 1}` };
        portalStatuses.push((await app.inject({ url: `/test/${IP.pass}`, remoteAddress: '203.0.113.50', headers })).statusCode);
        apiStatuses.push((await app.inject({ url: `/api/v1/check/${IP.pass}`, remoteAddress: '203.0.113.50', headers })).statusCode);
      }
      assert.deepEqual(portalStatuses, [200, 200, 429, 429], 'portal: X-Forwarded-For ignored from an untrusted peer');
      assert.deepEqual(apiStatuses, [200, 200, 429, 429], 'API: X-Forwarded-For ignored from an untrusted peer');
      const v6: number[] = [];
      for (let i = 1; i <= 4; i++) v6.push((await app.inject({ url: `/test/${IP.pass}`, remoteAddress: `2001:db8:77:1::${i.toString(16)}` })).statusCode);
      assert.deepEqual(v6, [200, 200, 429, 429], 'portal: addresses of one /64 share a bucket');
      assert.equal((await app.inject({ url: `/test/${IP.pass}`, remoteAddress: '2001:db8:77:2::1' })).statusCode, 200, 'another /64 is another visitor');
    } finally {
      await p.close();
    }
  });

  test('security headers on every portal page, its errors, redirects and static files', async () => {
    const p = await portalEnv(harness, { http: { checkLimitCount: 1, rateWindowMs: 60_000 } });
    try {
      const app = p.server.app;
      const { cookie, token } = await p.form('/contact');
      const answers: Array<[string, LightMyRequestResponse]> = [];
      for (const url of ['/', '/lookup?ip=192.0.2.10', `/ip/${IP.pass}`, `/ip/${IP.noPtr}`, '/ip/not-an-address', `/test/${IP.pass}`, `/test/${IP.pass}`, '/test/127.0.0.1', '/test?ip=192.0.2.10', '/whitelist', '/whitelist/status?ref=ABCDEFGH', '/whitelist/ZZZZZZZZ', '/contact', '/stats', '/policy', '/no-such-page', '/static/portal.css', '/static/portal.js']) {
        answers.push([`GET ${url}`, await app.inject({ url })]);
      }
      answers.push(['POST /contact without CSRF', await p.post('/contact', { email: 'a@example.com', subject: 's', body: 'b' })]);
      answers.push(['POST /contact invalid', await p.post('/contact', { csrf: token, email: 'nope', subject: '', body: '' }, cookie)]);
      answers.push(['POST /whitelist without CSRF', await p.post('/whitelist', {})]);
      answers.push([`POST /ip/${IP.noPtr}/unblock without CSRF`, await p.post(`/ip/${IP.noPtr}/unblock`, {})]);
      answers.push(['DELETE /contact', await app.inject({ method: 'DELETE', url: '/contact' })]);
      const statuses = new Set(answers.map(([, r]) => r.statusCode));
      for (const status of [200, 303, 400, 403, 404, 422, 429]) assert.ok(statuses.has(status), `a ${status} among the answers checked: ${[...statuses].join(', ')}`);
      for (const [what, res] of answers) {
        assertSecurityHeaders(res, `${what} (${res.statusCode})`);
        if (String(res.headers['content-type']).startsWith('text/html')) {
          assert.match(String(res.headers['content-security-policy']), /script-src 'self'(;|$)/, `${what}: script-src 'self'`);
          assert.equal(res.headers['cache-control'], 'no-store', `${what}: no-store on a page`);
        }
      }
    } finally {
      await p.close();
    }
  });

  test('the CSRF cookie: HttpOnly, SameSite=Strict, Path=/; Secure when the request came over https (a trusted proxy says so)', async () => {
    const p = await portalEnv(harness, { http: { trustedProxies: ['127.0.0.1/32'] } });
    try {
      const plain = await p.server.app.inject({ url: '/contact', remoteAddress: '127.0.0.1' });
      const set = String(plain.headers['set-cookie']);
      assert.match(set, /; HttpOnly/);
      assert.match(set, /; SameSite=Strict/);
      assert.match(set, /; Path=\//);
      assert.doesNotMatch(set, /; Secure/, 'plain http: a Secure cookie would not come back');
      const https = await p.server.app.inject({ url: '/contact', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' } });
      assert.match(String(https.headers['set-cookie']), /; Secure/);
      const forged = await p.server.app.inject({ url: '/contact', remoteAddress: '203.0.113.8', headers: { 'x-forwarded-proto': 'https' } });
      assert.doesNotMatch(String(forged.headers['set-cookie']), /; Secure/, 'X-Forwarded-Proto from an untrusted peer is ignored');
    } finally {
      await p.close();
    }
  });

  test('security headers on every JSON API answer, errors included; no-store on /api/', async () => {
    const p = await portalEnv(harness, { http: { formLimitCount: 4, bodyLimitBytes: 1_024 } });
    try {
      const app = p.server.app;
      const json = { 'content-type': 'application/json' };
      const answers: Array<[string, LightMyRequestResponse]> = [
        ['GET ip', await app.inject({ url: `/api/v1/ip/${IP.pass}` })],
        ['GET ip invalid', await app.inject({ url: '/api/v1/ip/nope' })],
        ['GET check', await app.inject({ url: `/api/v1/check/${IP.pass}` })],
        ['GET check reserved', await app.inject({ url: '/api/v1/check/10.0.0.1' })],
        ['GET openapi', await app.inject({ url: '/api/v1/openapi.json' })],
        ['GET listings no key', await app.inject({ url: '/api/v1/listings' })],
        ['GET listings wrong key', await app.inject({ url: '/api/v1/listings', headers: { authorization: 'Bearer bsk_wrong' } })],
        ['GET unknown route', await app.inject({ url: '/api/v1/nothing-here' })],
        ['PUT ip', await app.inject({ method: 'PUT', url: `/api/v1/ip/${IP.pass}` })],
        ['POST contact bad JSON', await app.inject({ method: 'POST', url: '/api/v1/contact', headers: json, payload: '{"email":' })],
        ['POST contact xml', await app.inject({ method: 'POST', url: '/api/v1/contact', headers: { 'content-type': 'application/xml' }, payload: '<a/>' })],
        ['POST contact too large', await app.inject({ method: 'POST', url: '/api/v1/contact', headers: json, payload: JSON.stringify({ body: 'x'.repeat(4_000) }) })],
        ['POST contact', await app.inject({ method: 'POST', url: '/api/v1/contact', headers: json, payload: JSON.stringify({ email: 'a@example.com', subject: 's', body: 'b' }) })],
        ['POST contact limited', await app.inject({ method: 'POST', url: '/api/v1/contact', headers: json, payload: JSON.stringify({ email: 'a@example.com', subject: 's', body: 'b' }) })],
        ['GET metrics', await app.inject({ url: '/metrics' })],
      ];
      const statuses = new Set(answers.map(([, r]) => r.statusCode));
      for (const status of [200, 400, 401, 404, 405, 413, 415, 422, 429]) assert.ok(statuses.has(status), `a ${status} among the answers checked: ${answers.map(([w, r]) => `${w} ${r.statusCode}`).join(', ')}`);
      for (const [what, res] of answers) {
        assertSecurityHeaders(res, `${what} (${res.statusCode})`);
        if (what !== 'GET metrics' || res.statusCode !== 404) assert.equal(res.headers['cache-control'], 'no-store', `${what}: no-store`);
        if (res.statusCode >= 400 && what !== 'GET metrics') assert.match(String(res.headers['content-type']), /^application\/json/, `${what}: errors are JSON`);
      }
    } finally {
      await p.close();
    }
  });
});
