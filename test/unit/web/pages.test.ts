/**
 * The portal's pages over a real Firewall (SQLite, the real checker, the in-process DNS server),
 * through fastify inject: every page, the refusal → explanation → fix → verify → unblock story,
 * whitelist requests and contact messages, and what a visitor may and may not see.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IP, ZONE, useHarness } from '../firewall/helpers.js';
import { portalEnv, visibleText } from './helpers.js';

const FIXED_ZONE = {
  ...ZONE,
  records: {
    ...ZONE.records,
    '20.2.0.192.in-addr.arpa': [{ type: 'PTR' as const, data: 'fixed.example.com', ttl: 300 }],
    'fixed.example.com': [{ type: 'A' as const, data: IP.noPtr, ttl: 300 }],
  },
};

describe('portal pages', () => {
  const harness = useHarness('sqlite');

  test('GET /: the lookup form, the visitor\'s address with the caveat; /lookup redirects to /ip/<ip>', async () => {
    const p = await portalEnv(harness);
    try {
      const res = await p.get('/');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
      const text = visibleText(res.body);
      assert.match(text, /Your browser connects from: 127\.0\.0\.1/);
      assert.match(text, /usually not the address your mail server sends from/);
      assert.match(res.body, /<form class="inline" method="get" action="\/lookup"/);
      assert.match(text, /Example Org mail gateway/);
      assert.match(res.body, /mailto:postmaster@example\.test/);

      const go = await p.get(`/lookup?ip=${encodeURIComponent(' ' + IP.noPtr + ' ')}`);
      assert.equal(go.statusCode, 303);
      assert.equal(go.headers.location, `/ip/${IP.noPtr}`);
      const bad = await p.get('/lookup?ip=mail.example.com');
      assert.equal(bad.statusCode, 400);
      assert.match(visibleText(bad.body), /looks like a host name/);
    } finally {
      await p.close();
    }
  });

  test('the visitor address comes from X-Forwarded-For only when the peer is a trusted proxy', async () => {
    const untrusted = await portalEnv(harness);
    try {
      const res = await untrusted.get('/', { 'x-forwarded-for': '198.51.100.77' });
      assert.match(visibleText(res.body), /connects from: 127\.0\.0\.1/);
      assert.ok(!res.body.includes('198.51.100.77'));
    } finally {
      await untrusted.close();
    }
    const trusted = await portalEnv(harness, { http: { trustedProxies: ['127.0.0.1'] } });
    try {
      const res = await trusted.get('/', { 'x-forwarded-for': '198.51.100.77' });
      assert.match(visibleText(res.body), /connects from: 198\.51\.100\.77/);
    } finally {
      await trusted.close();
    }
  });

  test('GET /ip/:ip: not refused; after a refusal: refused now, why, since, the reference highlighted, the fix written out, the SOA owner', async () => {
    const p = await portalEnv(harness);
    try {
      const before = visibleText((await p.get(`/ip/${IP.noPtr}`)).body);
      assert.match(before, /Not refused/);
      assert.doesNotMatch(before, /Refused now/);

      const decision = await p.env.firewall.decide({ front: 'policy', ip: IP.noPtr, helo: 'helo.sender.example', recipient: 'secret-rcpt@example.org' });
      assert.equal(decision.action, 'reject');
      assert.ok(decision.url?.startsWith(`https://portal.example.test/ip/${IP.noPtr}?r=`));
      await p.env.firewall.flush();
      const url = new URL(decision.url ?? '').pathname + new URL(decision.url ?? '').search;
      const res = await p.get(url);
      assert.equal(res.statusCode, 200);
      const text = visibleText(res.body);
      assert.match(text, /Refused now/);
      assert.match(text, /no reverse DNS \(PTR\) record for this IP/);
      assert.match(text, /not a spam accusation/);
      assert.match(text, new RegExp(`Your reference: ${decision.ref}`));
      assert.match(res.body, /class="ref" id="reference"/);
      assert.match(text, /This reference belongs to this address/);
      // The holder of the reference sees the HELO; never the recipient.
      assert.match(text, /helo\.sender\.example/);
      assert.ok(!res.body.includes('secret-rcpt'), 'the recipient is never shown');
      // The fix: the PTR line in the reverse zone and the A record, with a placeholder name.
      assert.match(text, /20\.2\.0\.192\.in-addr\.arpa\. IN PTR mail\.example\.com\./);
      assert.match(text, /mail\.example\.com\. IN A 192\.0\.2\.20/);
      assert.match(text, /No usable host name was found/);
      // Who controls the reverse zone: the SOA of the negative answer (the test server's: owner "test", ns.test, hostmaster.test).
      assert.match(text, /The reverse zone test is served by ns\.test\. Its administrative contact \(from the SOA record\) is hostmaster@test\./);
      // Verify, unblock (a POST form with a token), whitelist, the message to forward.
      assert.match(res.body, new RegExp(`href="/test/${IP.noPtr.replace(/\./g, '\\.')}"`));
      assert.match(res.body, new RegExp(`<form method="post" action="/ip/${IP.noPtr.replace(/\./g, '\\.')}/unblock"><input type="hidden" name="csrf" value="[^"]+">`));
      assert.match(res.body, new RegExp(`href="/whitelist\\?ip=${IP.noPtr.replace(/\./g, '\\.')}&amp;r=${decision.ref ?? ''}"`));
      assert.match(res.body, /<textarea id="forward-text" readonly[^>]*>Hello,/);
      assert.match(res.body, /<button type="button" class="secondary" hidden data-copy-target="forward-text"/);
      assert.match(text, new RegExp(`https://portal\\.example\\.test/ip/192\\.0\\.2\\.20\\?r=${decision.ref ?? ''}`));

      // Without the reference: the state, but not the HELO (evidence tiers).
      const plain = visibleText((await p.get(`/ip/${IP.noPtr}`)).body);
      assert.match(plain, /Refused now/);
      assert.ok(!plain.includes('helo.sender.example'));
      // A reference of another address shows nothing of it.
      const other = visibleText((await p.get(`/ip/${IP.pass}?r=${decision.ref ?? ''}`)).body);
      assert.match(other, /We have no rejection with this reference for this address/);
      assert.ok(!other.includes('helo.sender.example'));
    } finally {
      await p.close();
    }
  });

  test('GET /ip/:ip: a non-confirming PTR names the records for that name; a hand listing is operator-only (no unblock form)', async () => {
    const p = await portalEnv(harness);
    try {
      await p.env.firewall.decide({ front: 'policy', ip: IP.noMatch });
      await p.env.firewall.flush();
      const text = visibleText((await p.get(`/ip/${IP.noMatch}`)).body);
      assert.match(text, /the reverse DNS \(PTR\) name other\.example\.com does not resolve back to this IP/);
      assert.match(text, /other\.example\.com\. IN A 192\.0\.2\.30/);

      await p.env.firewall.list(IP.pass, 'abuse', 'operator:ops');
      const manual = await p.get(`/ip/${IP.pass}`);
      assert.match(visibleText(manual.body), /blocked by our operator by hand/);
      assert.ok(!manual.body.includes('/unblock"'), 'no unblock form for a hand listing');
    } finally {
      await p.close();
    }
  });

  test('GET /ip/:ip refuses what is not an address (400, escaped); allowlisted and bypassed addresses say so', async () => {
    const p = await portalEnv(harness);
    try {
      const bad = await p.get('/ip/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
      assert.equal(bad.statusCode, 400);
      assert.ok(!bad.body.includes('<script>alert'), 'input is never reflected as markup');
      await p.env.firewall.allow('192.0.2.0/27', 'partner', 'operator:ops');
      assert.match(visibleText((await p.get(`/ip/${IP.noPtr}`)).body), /on our allowlist \(192\.0\.2\.0\/27\)/);
      assert.match(visibleText((await p.get('/ip/10.1.2.3')).body), /never checks \(10\.0\.0\.0\/8\)/);
    } finally {
      await p.close();
    }
  });

  test('GET /test/:ip: the trace in plain words (NXDOMAIN, TTLs, the match), the reply the gateway would give, cache times', async () => {
    const p = await portalEnv(harness);
    try {
      const pass = await p.get(`/test/${IP.pass}`);
      assert.equal(pass.statusCode, 200);
      const passText = visibleText(pass.body);
      assert.match(passText, /Pass: the reverse DNS is forward-confirmed/);
      assert.match(passText, /Question: PTR of 10\.2\.0\.192\.in-addr\.arpa/);
      assert.match(passText, /10\.2\.0\.192\.in-addr\.arpa PTR mail\.example\.com 300 s/);
      assert.match(passText, /Forward look-up: A of mail\.example\.com/);
      assert.match(passText, /Match: this address is among the answers/);
      assert.match(passText, /mail\.example\.com A 192\.0\.2\.10 \(Matching address\) 300 s/);
      assert.match(passText, /It would accept the connection/);
      assert.match(passText, /kept for up to 300 seconds \(their TTL\)/);

      const none = visibleText((await p.get(`/test/${IP.noPtr}`)).body);
      assert.match(none, /Fail: no usable reverse DNS/);
      assert.match(none, /NXDOMAIN: this name does not exist in DNS/);
      assert.match(none, /450-4\.7\.25 \[192\.0\.2\.20\] Rejected by Example Org mail gateway/);
      assert.match(none, /up to 300 seconds \(the zone's SOA minimum\)/);
      assert.match(none, /The reverse zone test is served by ns\.test/);

      const temp = visibleText((await p.get(`/test/${IP.servfail}`)).body);
      assert.match(temp, /Undecided: DNS failed temporarily/);
      assert.match(temp, /SERVFAIL: the DNS server for this name is broken/);
      assert.match(temp, /451-4\.4\.3|451 4\.4\.3/);
      // A test changes nothing.
      assert.equal(await p.env.firewall.records.listing(IP.noPtr), undefined);

      const go = await p.get(`/test?ip=${IP.pass}`);
      assert.equal(go.statusCode, 303);
      assert.equal(go.headers.location, `/test/${IP.pass}`);
    } finally {
      await p.close();
    }
  });

  test('GET /test/:ip refuses reserved, internal and bypassed targets with 422 and no DNS query', async () => {
    const p = await portalEnv(harness);
    try {
      harness.server.resetQueries();
      for (const ip of ['10.1.2.3', '127.0.0.1', '192.168.1.1', 'fe80::1', '::1', '100.64.0.1']) {
        const res = await p.get(`/test/${ip}`);
        assert.equal(res.statusCode, 422, ip);
        assert.match(visibleText(res.body), /private, reserved or internal|never checks/);
      }
      assert.equal(harness.server.queries.length, 0);
    } finally {
      await p.close();
    }
  });

  test('the whole story: refused → page explains → DNS fixed → test passes → unblock clears → next decision accepts', async () => {
    const p = await portalEnv(harness);
    try {
      const first = await p.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      assert.equal(first.action, 'reject');
      await p.env.firewall.flush();
      const { cookie, token } = await p.form(`/ip/${IP.noPtr}?r=${first.ref ?? ''}`);
      assert.ok(cookie.startsWith('bs_csrf=') && token !== '');

      const still = await p.post(`/ip/${IP.noPtr}/unblock`, { csrf: token }, cookie);
      assert.equal(still.statusCode, 200);
      assert.match(visibleText(still.body), /Not cleared: the check still fails at this step: no reverse DNS \(PTR\) record/);
      assert.equal(p.env.firewall.hotListing(IP.noPtr)?.verdict, 'permerror');

      harness.server.setZone(FIXED_ZONE);
      assert.match(visibleText((await p.get(`/test/${IP.noPtr}`)).body), /Pass: the reverse DNS is forward-confirmed/);
      const cleared = await p.post(`/ip/${IP.noPtr}/unblock`, { csrf: token, r: first.ref ?? '' }, cookie);
      assert.equal(cleared.statusCode, 200);
      assert.match(visibleText(cleared.body), /Cleared, effective now/);
      assert.equal(p.env.firewall.hotListing(IP.noPtr), undefined);
      const next = await p.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      assert.equal(next.action, 'accept');
      assert.match(visibleText((await p.get(`/ip/${IP.noPtr}`)).body), /Not refused.*The last listing ended .* \(unblocked\)/);
    } finally {
      await p.close();
    }
  });

  test('the firewall\'s unblock limits are explained when hit (429, Retry-After)', async () => {
    const p = await portalEnv(harness, { firewall: { unblockPerIpCount: 1 } });
    try {
      await p.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      await p.env.firewall.flush();
      const { cookie, token } = await p.form(`/ip/${IP.noPtr}`);
      assert.equal((await p.post(`/ip/${IP.noPtr}/unblock`, { csrf: token }, cookie)).statusCode, 200);
      const limited = await p.post(`/ip/${IP.noPtr}/unblock`, { csrf: token }, cookie);
      assert.equal(limited.statusCode, 429);
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.match(visibleText(limited.body), /each address can be re-checked at most 1 times/);
    } finally {
      await p.close();
    }
  });

  test('GET /stats: SVG charts drawn on the server, the broken-DNS share with its numbers, the method', async () => {
    const p = await portalEnv(harness);
    try {
      await p.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      await p.env.firewall.decide({ front: 'policy', ip: IP.noMatch });
      await p.env.firewall.decide({ front: 'policy', ip: IP.servfail });
      await p.env.firewall.decide({ front: 'policy', ip: IP.pass });
      await p.env.firewall.flush();
      const res = await p.get('/stats');
      assert.equal(res.statusCode, 200);
      assert.equal((res.body.match(/<svg class="chart"/g) ?? []).length, 2);
      assert.match(res.body, /role="img" aria-labelledby="refusals-t refusals-d"/);
      const text = visibleText(res.body);
      assert.match(text, /66\.7% of refusals \(2 of 3\) were caused by missing or non-confirming reverse DNS/);
      assert.match(text, /Denominator: every refusal/);
      assert.match(text, /Window: the last 30/);
      assert.ok(!/\d+\.\d+\.\d+\.\d+/.test(text.replace(/[\d.]+%/g, '')), 'no address on the statistics page');
    } finally {
      await p.close();
    }
  });

  test('GET /policy states the replies, IPv6 and retention from this node\'s configuration', async () => {
    const p = await portalEnv(harness, { firewall: { recheckIntervalMs: 600_000 } });
    try {
      const text = visibleText((await p.get('/policy')).body);
      assert.match(text, /450 4\.7\.25/);
      assert.match(text, /451 4\.4\.3/);
      assert.match(text, /IPv6 is checked the same way/);
      assert.match(text, /every 10 minutes at most/);
      assert.match(text, /expires after 30 days/);
    } finally {
      await p.close();
    }
  });

  test('static files: CSS and JS with ETag and 304; the JSON API is unchanged beside the portal', async () => {
    const p = await portalEnv(harness);
    try {
      const css = await p.get('/static/portal.css');
      assert.equal(css.statusCode, 200);
      assert.match(String(css.headers['content-type']), /^text\/css/);
      const etag = String(css.headers.etag);
      assert.equal((await p.get('/static/portal.css', { 'if-none-match': etag })).statusCode, 304);
      const js = await p.get('/static/portal.js');
      assert.match(String(js.headers['content-type']), /^text\/javascript/);
      const api = await p.get(`/api/v1/ip/${IP.pass}`);
      assert.equal(api.statusCode, 200);
      assert.equal(api.json<{ ip: string }>().ip, IP.pass);
      assert.equal((await p.get('/no-such-page')).statusCode, 404);
    } finally {
      await p.close();
    }
  });

  test('portal.enabled false: no pages, the API stays', async () => {
    const p = await portalEnv(harness, { portal: { enabled: false } });
    try {
      assert.equal((await p.get('/')).statusCode, 404);
      assert.equal((await p.get(`/api/v1/ip/${IP.pass}`)).statusCode, 200);
    } finally {
      await p.close();
    }
  });
});
