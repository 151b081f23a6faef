/**
 * The portal's small parts on their own: escaping by default, the records to publish and the
 * SOA reading, the daily statistics and their split, the CSRF cookie reader.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dnsText, html, escapeHtml } from '../../../src/web/html.js';
import { fixFor, rnameToMail, soaFromTrace } from '../../../src/web/fix.js';
import { brokenShare, dailyStats, DAY_MS } from '../../../src/web/stats.js';
import { readCookie } from '../../../src/web/csrf.js';
import { portalCsp } from '../../../src/web/index.js';
import type { HourlyStats } from '../../../src/store/types.js';

describe('web/html', () => {
  test('interpolated strings are escaped, Html is kept, arrays joined, nullish and false write nothing', () => {
    const name = '<script>"x"&\'y\'</script>';
    assert.equal(html`<p title="${name}">${name}</p>`.value, '<p title="&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;">&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;</p>');
    assert.equal(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.value, '<ul><li>a&lt;</li><li>b</li></ul>');
    assert.equal(html`${undefined}${null}${false}${0}`.value, '0');
    assert.equal(escapeHtml('&amp;'), '&amp;amp;');
  });

  test('dnsText makes controls and direction overrides visible', () => {
    assert.equal(dnsText('a\nb'), 'a\\x0ab');
    assert.ok(!dnsText('evil\u202Eexample').includes('\u202E'));
  });
});

describe('web/fix', () => {
  test('IPv4 and IPv6 records written out; a placeholder when no name is known', () => {
    const v4 = fixFor('192.0.2.20', 4, [], 'mail.example.com');
    assert.equal(v4.ptrLine, '20.2.0.192.in-addr.arpa.  IN PTR  mail.example.com.');
    assert.equal(v4.forwardLine, 'mail.example.com.  IN A  192.0.2.20');
    assert.equal(v4.zone, '2.0.192.in-addr.arpa');
    assert.equal(v4.placeholder, true);
    const v6 = fixFor('2001:db8::26', 6, ['mx.example.net'], 'mail.example.com');
    assert.equal(v6.recordType, 'AAAA');
    assert.equal(v6.forwardLine, 'mx.example.net.  IN AAAA  2001:db8::26');
    assert.equal(v6.ptrLine, `6.2.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.ip6.arpa.  IN PTR  mx.example.net.`);
    assert.equal(v6.zone, '0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
    assert.equal(v6.placeholder, false);
  });

  test('the SOA of a negative answer names the zone, its server and its contact; junk traces give nothing', () => {
    const trace = [{ step: 'ptr', exchanges: [{ authority: [{ name: '2.0.192.in-addr.arpa', type: 'SOA', ttl: 300, data: 'ns1.isp.example dns\\.admin.isp.example 1 2 3 4 300' }] }] }];
    assert.deepEqual(soaFromTrace(trace), { zone: '2.0.192.in-addr.arpa', server: 'ns1.isp.example', mail: 'dns.admin@isp.example' });
    for (const junk of [undefined, null, 'x', [1, null, { step: 'ptr', exchanges: 'no' }], [{ step: 'ptr', exchanges: [{ authority: [{ type: 'SOA', data: 5 }] }] }]]) {
      assert.equal(soaFromTrace(junk), undefined);
    }
    assert.equal(rnameToMail('hostmaster.example.org'), 'hostmaster@example.org');
    assert.equal(rnameToMail('nodot'), undefined);
  });
});

describe('web/stats', () => {
  test('refusals per UTC day, listing refusals exact, check refusals split by verdict counts, totals exact', () => {
    const from = Date.UTC(2030, 0, 1);
    const hours: HourlyStats[] = [
      { hour: from, counters: { 'decision.policy.reject': 6, 'decision.dnsbl.defer': 2, 'source.listing': 3, 'verdict.permerror.no-ptr': 2, 'verdict.fail.no-forward-match': 1, 'verdict.temperror.dns-temp-ptr': 2, 'verdict.pass.confirmed': 50, 'decision.policy.accept': 50, 'listing.created.permerror': 2 } },
      { hour: from + DAY_MS + 3_600_000, counters: { 'listing.cleared.unblock': 1 } },
      { hour: from + 5 * DAY_MS, counters: { 'decision.policy.reject': 99 } },
    ];
    const days = dailyStats(hours, from, 3);
    assert.equal(days.length, 3);
    assert.equal(days[0]?.refusals, 8);
    assert.deepEqual(days[0]?.byCategory, { 'no-ptr': 2, 'no-match': 1, listed: 3, temp: 2, other: 0 });
    assert.equal(days[0]?.created, 2);
    assert.equal(days[1]?.cleared, 1);
    assert.equal(days[2]?.refusals, 0, 'hours outside the window are ignored');
    assert.deepEqual(brokenShare(days), { broken: 6, total: 8 });
    // Refusals with no verdict counts at all are "other", never invented.
    const bare = dailyStats([{ hour: from, counters: { 'decision.policy.reject': 4 } }], from, 1);
    assert.equal(bare[0]?.byCategory.other, 4);
  });
});

describe('web/csrf and CSP', () => {
  test('readCookie finds one cookie, ignores oversize headers', () => {
    assert.equal(readCookie('a=1; bs_csrf=xyz; b=2', 'bs_csrf'), 'xyz');
    assert.equal(readCookie('a=1', 'bs_csrf'), undefined);
    assert.equal(readCookie(`bs_csrf=x; ${'a'.repeat(9_000)}`, 'bs_csrf'), undefined);
  });

  test('the CSP allows scripts and styles from the portal only, and the logo\'s origin for images', () => {
    assert.equal(portalCsp(''), "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    assert.match(portalCsp('https://cdn.example.org/a/logo.png'), /img-src 'self' https:\/\/cdn\.example\.org;/);
  });
});
