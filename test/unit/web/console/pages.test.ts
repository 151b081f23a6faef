/**
 * The console's pages with a signed-in operator: the dashboard's figures and charts, listings
 * (search by address and range, filters, pages, evidence and history, clear and list by hand),
 * the allowlist (add, edit, remove, expired apart), the whitelist queue (approve with an expiry,
 * deny with a reason the requester sees), messages and the audit log searched; every action in
 * the audit log as `operator:<account>`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision } from '../../../../src/firewall/index.js';
import { IP, useHarness } from '../../firewall/helpers.js';
import { ACCOUNT, consoleEnv, visibleText } from './helpers.js';

const ACTOR = `operator:${ACCOUNT}`;
const DAY_MS = 86_400_000;

const METRICS = `# HELP blocksmith_check_duration_seconds x
# TYPE blocksmith_check_duration_seconds histogram
blocksmith_check_duration_seconds_bucket{le="0.01",verdict="pass"} 2
blocksmith_check_duration_seconds_bucket{le="0.025",verdict="pass"} 8
blocksmith_check_duration_seconds_bucket{le="0.1",verdict="pass"} 9
blocksmith_check_duration_seconds_bucket{le="+Inf",verdict="pass"} 10
blocksmith_check_duration_seconds_count{verdict="pass"} 10
blocksmith_check_duration_seconds_bucket{le="0.01",verdict="fail"} 0
blocksmith_check_duration_seconds_bucket{le="0.025",verdict="fail"} 0
blocksmith_check_duration_seconds_bucket{le="0.1",verdict="fail"} 0
blocksmith_check_duration_seconds_bucket{le="+Inf",verdict="fail"} 0
blocksmith_check_duration_seconds_count{verdict="fail"} 0
blocksmith_dns_queries_total 42
blocksmith_dns_in_flight 3
blocksmith_dns_queued 1
`;

describe('console pages', () => {
  const harness = useHarness('sqlite');

  test('dashboard: decisions and refusals of 24 hours and 30 days, listings now, pending requests, DNS health', async () => {
    const c = await consoleEnv(harness, { metrics: METRICS });
    try {
      const fw = c.env.firewall;
      const decisions: Decision[] = [];
      for (const ip of [IP.pass, IP.noPtr, IP.noMatch, IP.servfail]) decisions.push(await fw.decide({ front: 'policy', ip }));
      // What the firewall decided (a loaded machine may turn a slow answer into a temperror): the page must show the same.
      const count = (f: (d: (typeof decisions)[number]) => boolean): number => decisions.filter(f).length;
      const temps = count((d) => d.verdict === 'temperror');
      const listed = count((d) => d.action === 'reject');
      const totals = `Total ${count((d) => d.action === 'accept')} ${count((d) => d.action === 'reject')} ${count((d) => d.action === 'defer')} 0 `;
      await fw.requestWhitelist({ range: '203.0.113.0/24', domain: 'example.com', contact: 'a@example.com', why: 'x' });
      await fw.flush();
      const { cookie } = await c.signIn();
      const res = await c.get('/admin', cookie);
      assert.equal(res.statusCode, 200);
      const text = visibleText(res.body);
      assert.ok(listed >= 1);
      assert.match(res.body, new RegExp(`<p class="big" id="listings-now">${listed}</p>`), 'the refused are listed');
      assert.match(res.body, /<p class="big" id="pending-count">1<\/p>/);
      assert.equal((res.body.match(/<svg class="chart"/g) ?? []).length, 4, 'decisions and refusals, two windows');
      assert.match(res.body, /aria-labelledby="h24-refusals-t h24-refusals-d"/);
      // The temperror share of the four verdicts (at least the SERVFAIL one).
      assert.ok(temps >= 1);
      assert.ok(text.includes(`Temporary DNS failures, 24 hours ${((temps / 4) * 100).toFixed(1)}% (${temps} of 4 checks)`), text.slice(0, 800));
      assert.match(text, /median under 25 ms, 90% under 100 ms, over 10 live checks/);
      assert.match(text, /DNS questions in flight \/ waiting now 3 \/ 1/);
      // The tables' totals by action (accept, reject, defer, tag): both windows hold today's decisions.
      assert.match(text, new RegExp(`The numbers, last 24 hours \\(UTC hours\\).* ${totals}.*Last 30 days`));
      assert.match(text, new RegExp(`The numbers, last 30 days \\(UTC days\\).* ${totals}`));

      const empty = await consoleEnv(harness);
      try {
        const e = await empty.signIn();
        assert.match(visibleText((await empty.get('/admin', e.cookie)).body), /not available \(no metrics on this node\)/);
      } finally {
        await empty.close();
      }
    } finally {
      await c.close();
    }
  });

  test('listings: search by address and range, filter by state and reason, next page; evidence and history; clear and list by hand', async () => {
    const c = await consoleEnv(harness);
    try {
      const fw = c.env.firewall;
      const decision = await fw.decide({ front: 'policy', ip: IP.noPtr, helo: 'helo.example', sender: 'a@b.example' });
      await fw.flush();
      for (let i = 1; i <= 55; i++) await fw.list(`198.51.100.${i}`, `bulk ${i}`, 'cli:test');
      const { cookie, csrf } = await c.signIn();

      const all = await c.get('/admin/listings', cookie);
      assert.equal((all.body.match(/<tr><th scope="row" class="mono">/g) ?? []).length, 50, 'first page of 50');
      const next = /href="(\/admin\/listings\?[^"]+)" rel="next"/.exec(all.body)?.[1]?.replace(/&amp;/g, '&');
      assert.ok(next !== undefined);
      const second = await c.get(next, cookie);
      assert.equal((second.body.match(/<tr><th scope="row" class="mono">/g) ?? []).length, 6, 'the other 6');
      assert.doesNotMatch(second.body, /rel="next"/);

      const one = await c.get(`/admin/listings?q=${IP.noPtr}`, cookie);
      assert.equal((one.body.match(/<tr><th scope="row" class="mono">/g) ?? []).length, 1);
      const range = await c.get('/admin/listings?q=198.51.100.0/28', cookie);
      assert.equal((range.body.match(/<tr><th scope="row" class="mono">/g) ?? []).length, 15, '.1 to .15');
      const manual = await c.get('/admin/listings?reason=manual', cookie);
      assert.doesNotMatch(manual.body, new RegExp(`>${IP.noPtr}<`));
      const noPtr = await c.get('/admin/listings?reason=no-ptr', cookie);
      assert.match(noPtr.body, new RegExp(`>${IP.noPtr}<`));
      const bad = await c.get('/admin/listings?q=not-an-ip', cookie);
      assert.equal(bad.statusCode, 400);
      assert.match(visibleText(bad.body), /Enter an IPv4 or IPv6 address or a CIDR range/);

      const page = await c.get(`/admin/listings/${IP.noPtr}`, cookie);
      const text = visibleText(page.body);
      assert.match(text, /In force: refused/);
      assert.match(text, new RegExp(`Reference ${decision.ref ?? 'x'}`));
      assert.match(text, /HELO helo\.example/);

      const cleared = await c.post(`/admin/listings/${IP.noPtr}/clear`, { csrf, note: 'customer fixed DNS' }, cookie);
      assert.equal(cleared.statusCode, 303);
      assert.equal(cleared.headers.location, `/admin/listings/${IP.noPtr}?done=cleared`);
      const after = visibleText((await c.get(String(cleared.headers.location), cookie)).body);
      assert.match(after, /The listing was cleared, effective now\./);
      assert.match(after, /State cleared/);
      assert.match(after, new RegExp(`${ACTOR} CLEAR customer fixed DNS`), 'the history names the account');
      assert.equal(fw.hotListing(IP.noPtr), undefined, 'in force on this node at once');
      const again = await c.post(`/admin/listings/${IP.noPtr}/clear`, { csrf, note: '' }, cookie);
      assert.equal(again.headers.location, `/admin/listings/${IP.noPtr}?done=not-listed`);

      const listed = await c.post('/admin/listings', { csrf, ip: '2001:DB8::99', note: 'abuse' }, cookie);
      assert.equal(listed.headers.location, '/admin/listings/2001:db8::99?done=listed');
      assert.equal((await fw.records.listing('2001:db8::99'))?.listedBy, ACTOR);
      const badIp = await c.post('/admin/listings', { csrf, ip: '300.1.1.1', note: '' }, cookie);
      assert.equal(badIp.statusCode, 400);
    } finally {
      await c.close();
    }
  });

  test('allowlist: add with an expiry, edit in place, remove; expired entries shown apart', async () => {
    const c = await consoleEnv(harness);
    try {
      const fw = c.env.firewall;
      let { cookie, csrf } = await c.signIn();
      const bad = await c.post('/admin/allowlist', { csrf, range: '192.0.2.0/33', note: 'x', expires: 'never' }, cookie);
      assert.equal(bad.statusCode, 400);
      assert.equal((await fw.records.allows()).length, 0);
      const added = await c.post('/admin/allowlist', { csrf, range: IP.noPtr, note: 'partner', expires: '7' }, cookie);
      assert.equal(added.headers.location, '/admin/allowlist?done=allow-added');
      const [entry] = await fw.records.allows();
      assert.ok(entry !== undefined);
      assert.equal(entry.author, ACTOR);
      assert.equal(entry.expiresAt, c.env.clock.now() + 7 * DAY_MS);
      assert.equal((await fw.decide({ front: 'policy', ip: IP.noPtr })).source, 'allowlist');

      const edited = await c.post(`/admin/allowlist/${entry.id}`, { csrf, range: '192.0.2.0/24', note: 'partner, whole range', expires: 'keep' }, cookie);
      assert.equal(edited.headers.location, `/admin/allowlist/${entry.id}?done=allow-edited`);
      const [changed] = await fw.records.allows();
      assert.deepEqual({ ...changed }, { ...entry, range: '192.0.2.0/24', note: 'partner, whole range' });
      assert.equal((await fw.decide({ front: 'policy', ip: IP.noMatch })).source, 'allowlist', 'the new range is in force');
      const audit = await fw.records.audit({ action: 'ALLOW-EDIT' });
      assert.equal(audit.items[0]?.actor, ACTOR);

      c.env.clock.advance(8 * DAY_MS);
      assert.equal((await c.get('/admin/allowlist', cookie)).statusCode, 303, 'the session has ended meanwhile');
      ({ cookie, csrf } = await c.signIn());
      const list = await c.get('/admin/allowlist', cookie);
      assert.match(list.body, /<table id="allow-expired">[\s\S]*192\.0\.2\.0\/24/);
      assert.doesNotMatch(list.body, /<table id="allow-live">/);
      const renewed = await c.post(`/admin/allowlist/${entry.id}`, { csrf, range: '192.0.2.0/24', note: 'renewed', expires: '30' }, cookie);
      assert.equal(renewed.statusCode, 303);
      assert.match((await c.get('/admin/allowlist', cookie)).body, /<table id="allow-live">[\s\S]*renewed/);

      const removed = await c.post(`/admin/allowlist/${entry.id}/remove`, { csrf }, cookie);
      assert.equal(removed.headers.location, '/admin/allowlist?done=allow-removed');
      assert.equal((await fw.records.allows()).length, 0);
      const gone = await c.get(`/admin/allowlist/${entry.id}`, cookie);
      assert.equal(gone.statusCode, 404);
    } finally {
      await c.close();
    }
  });

  test('whitelist queue: approve with an expiry (allow entry in force at once), deny with a reason the requester sees', async () => {
    const c = await consoleEnv(harness);
    try {
      const fw = c.env.firewall;
      const one = await fw.requestWhitelist({ range: IP.noPtr, domain: 'sender.example', contact: 'a@sender.example', why: 'ISP will not delegate' });
      const two = await fw.requestWhitelist({ range: IP.noMatch, domain: 'other.example', contact: 'b@other.example', why: 'please' });
      const { cookie, csrf } = await c.signIn();
      const queue = visibleText((await c.get('/admin/requests', cookie)).body);
      assert.match(queue, new RegExp(`${one.ref} ${IP.noPtr} sender\\.example`));
      assert.match(queue, new RegExp(`${two.ref} ${IP.noMatch} other\\.example`));
      assert.match(visibleText((await c.get(`/admin/requests/${one.ref}`, cookie)).body), /Why DNS cannot be fixed ISP will not delegate/);

      const approved = await c.post(`/admin/requests/${one.ref}/approve`, { csrf, expires: '90' }, cookie);
      assert.equal(approved.headers.location, `/admin/requests/${one.ref}?done=approved`);
      const allow = (await fw.records.allows()).find((e) => e.requestRef === one.ref);
      assert.equal(allow?.expiresAt, c.env.clock.now() + 90 * DAY_MS);
      assert.equal((await fw.decide({ front: 'policy', ip: IP.noPtr })).action, 'accept');
      const twice = await c.post(`/admin/requests/${one.ref}/deny`, { csrf, reason: 'late' }, cookie);
      assert.equal(twice.headers.location, `/admin/requests/${one.ref}?done=decided`);

      const noReason = await c.post(`/admin/requests/${two.ref}/deny`, { csrf, reason: '  ' }, cookie);
      assert.equal(noReason.statusCode, 400);
      const denied = await c.post(`/admin/requests/${two.ref}/deny`, { csrf, reason: 'Fix your PTR: your provider can.' }, cookie);
      assert.equal(denied.headers.location, `/admin/requests/${two.ref}?done=denied`);
      const stored = await fw.records.request(two.ref);
      assert.equal(stored?.decisionReason, 'Fix your PTR: your provider can.');
      assert.equal(stored?.decidedBy, ACTOR);
      assert.match(visibleText((await c.get('/admin/requests', cookie)).body), /No pending request\./);
      assert.match(visibleText((await c.get('/admin/requests?state=denied', cookie)).body), new RegExp(two.ref));
      assert.equal((await c.post('/admin/requests/ZZZZZZZZ/approve', { csrf, expires: 'never' }, cookie)).statusCode, 404);
    } finally {
      await c.close();
    }
  });

  test('messages and the audit log are searchable', async () => {
    const c = await consoleEnv(harness);
    try {
      const fw = c.env.firewall;
      await fw.contact({ email: 'first@example.com', subject: 'Blocked again', body: 'Our relay 192.0.2.20 is refused.' });
      c.env.clock.advance(1_000);
      await fw.contact({ email: 'second@example.com', subject: 'Hello', body: 'Nothing to do with it.', name: 'Bob' });
      await fw.list(IP.noMatch, 'by cli', 'cli:root');
      const { cookie, csrf } = await c.signIn();
      await c.post(`/admin/listings/${IP.noMatch}/clear`, { csrf, note: 'by console' }, cookie);

      const all = visibleText((await c.get('/admin/messages', cookie)).body);
      assert.match(all, /Hello .* Blocked again/, 'newest first');
      const found = visibleText((await c.get('/admin/messages?q=192.0.2.20', cookie)).body);
      assert.match(found, /Blocked again/);
      assert.doesNotMatch(found, /Hello/);
      assert.match(visibleText((await c.get('/admin/messages?q=nothing-like-this', cookie)).body), /No message matches\./);

      const mine = await c.get(`/admin/audit?actor=${encodeURIComponent(ACTOR)}`, cookie);
      assert.equal((mine.body.match(/<tr><td>/g) ?? []).length, 1);
      assert.match(visibleText(mine.body), new RegExp(`${ACTOR} CLEAR ${IP.noMatch.replace(/\./g, '\\.')} by console`));
      const text = visibleText((await c.get('/admin/audit?q=by%20cli', cookie)).body);
      assert.match(text, /cli:root LIST/);
      assert.doesNotMatch(text, /by console/);
      assert.match(visibleText((await c.get('/admin/audit?action=list', cookie)).body), /cli:root LIST/);
    } finally {
      await c.close();
    }
  });
});
