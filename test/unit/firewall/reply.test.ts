/**
 * firewall/reply, firewall/policy and firewall/reference as tables: every verdict × mode of
 * PRODUCT.md §3, the reply's shape (codes, continuation, ASCII, ≤ 512 octets a line, one URL),
 * and hostile PTR names.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { firewallSchema } from '../../../src/config/schema.js';
import { ruleFor } from '../../../src/firewall/policy.js';
import {
  REPLY_LINE_MAX_OCTETS,
  buildReply,
  oneLineReply,
  portalLink,
  renderReply,
  replySafeName,
  stepWords,
  type ReplyInput,
} from '../../../src/firewall/reply.js';
import { isReference, newReference } from '../../../src/firewall/reference.js';
import type { DecisionReason, DecisionVerdict } from '../../../src/firewall/types.js';

const URL = portalLink('https://blocksmith.example.org', '203.0.113.5', 'K7Q2M9PX');

function input(over: Partial<ReplyInput> = {}): ReplyInput {
  return { kind: 'soft', ip: '203.0.113.5', family: 4, reason: 'no-ptr', url: URL, organisation: 'Example Org', nameMaxChars: 64, ...over };
}

function assertWellFormed(wire: string, label: string): void {
  assert.ok(wire.endsWith('\r\n'), label);
  const lines = wire.slice(0, -2).split('\r\n');
  lines.forEach((line, i) => {
    assert.ok(Buffer.byteLength(line + '\r\n') <= REPLY_LINE_MAX_OCTETS, `${label}: line ${i} is ${line.length + 2} octets`);
    assert.match(line, /^[\x20-\x7e]*$/, `${label}: line ${i} is not printable ASCII`);
    const last = i === lines.length - 1;
    assert.match(line, last ? /^\d{3} \d\.\d{1,3}\.\d{1,3} / : /^\d{3}-\d\.\d{1,3}\.\d{1,3} /, `${label}: line ${i} prefix`);
  });
  assert.equal((wire.match(/https?:\/\//g) ?? []).length, 1, `${label}: exactly one URL`);
}

describe('policy: PRODUCT.md §3 table, every verdict × mode', () => {
  const rows: Array<[DecisionVerdict, string, string, string]> = [
    // verdict, soft, hard, report-only
    ['pass', 'accept', 'accept', 'accept'],
    ['skipped', 'accept', 'accept', 'accept'],
    ['permerror', 'reject 450 4.7.25 list', 'reject 550 5.7.25 list', 'accept would-reject'],
    ['fail', 'reject 450 4.7.25 list', 'reject 550 5.7.25 list', 'accept would-reject'],
    ['temperror', 'defer 451 4.4.3', 'defer 451 4.4.3', 'accept'],
    ['manual', 'reject 450 4.7.25 list', 'reject 550 5.7.25 list', 'accept would-reject'],
  ];
  for (const [verdict, ...expected] of rows) {
    (['soft', 'hard', 'report-only'] as const).forEach((mode, i) => {
      test(`${verdict} in ${mode} mode: ${expected[i]}`, () => {
        const rule = ruleFor(firewallSchema.parse({ mode }), verdict);
        let got: string;
        if (rule.action === 'accept') got = rule.wouldReject ? 'accept would-reject' : 'accept';
        else {
          const reply = buildReply(input({ kind: rule.kind, reason: verdict === 'temperror' ? 'dns-temp-ptr' : 'no-ptr' }));
          got = `${rule.action} ${reply.code} ${reply.enhanced}${rule.list ? ' list' : ''}`;
        }
        assert.equal(got, expected[i]);
      });
    });
  }

  test('modeByVerdict overrides the mode per verdict class; temperror is never a 5xx', () => {
    const config = firewallSchema.parse({ mode: 'soft', modeByVerdict: { permerror: 'hard', fail: 'report-only', temperror: 'hard' } });
    const permerror = ruleFor(config, 'permerror');
    assert.equal(permerror.action === 'reject' && permerror.kind, 'hard');
    assert.deepEqual(ruleFor(config, 'fail'), { action: 'accept', wouldReject: true });
    assert.deepEqual(ruleFor(config, 'temperror'), { action: 'defer', kind: 'temp', list: false });
  });
});

describe('reply text', () => {
  test('the example of PRODUCT.md §3: brackets, organisation, step, one URL, continuation', () => {
    const wire = renderReply(buildReply(input()));
    assertWellFormed(wire, 'example');
    assert.match(wire, /^450-4\.7\.25 \[203\.0\.113\.5\] Rejected by Example Org mail gateway: no reverse DNS/);
    assert.match(wire, /450 4\.7\.25 .*https:\/\/blocksmith\.example\.org\/ip\/203\.0\.113\.5\?r=K7Q2M9PX\r\n$/);
  });

  const reasons: Array<[DecisionReason, RegExp]> = [
    ['no-ptr', /no reverse DNS \(PTR\) record/],
    ['no-valid-ptr', /not valid host names/],
    ['no-forward-match', /mail\.example\.net does not resolve back to this IP/],
    ['forward-nodata', /mail\.example\.net has no address \(A\) record/],
    ['dns-temp-ptr', /temporary DNS failure/],
    ['dns-temp-forward', /temporary DNS failure/],
    ['deadline', /temporary DNS failure/],
    ['overload', /temporary DNS failure/],
    ['manual', /blocked by the operator/],
  ];
  for (const [reason, words] of reasons) {
    for (const kind of ['soft', 'hard', 'temp'] as const) {
      test(`${reason} as ${kind}: the failing step in plain words, well formed`, () => {
        const reply = buildReply(input({ kind, reason, name: 'mail.example.net' }));
        const wire = renderReply(reply);
        assertWellFormed(wire, `${reason}/${kind}`);
        assert.match(reply.lines.join(' '), words);
        assert.equal(reply.code, kind === 'soft' ? 450 : kind === 'hard' ? 550 : 451);
      });
    }
  }

  test('IPv6: the address in brackets, AAAA named, the URL keeps the colons', () => {
    const url = portalLink('https://bs.example/', '2001:db8::26', 'ABCDEFGH');
    assert.equal(url, 'https://bs.example/ip/2001:db8::26?r=ABCDEFGH');
    const reply = buildReply(input({ ip: '2001:db8::26', family: 6, reason: 'forward-nodata', url }));
    assert.match(reply.lines[0] ?? '', /^\[2001:db8::26\] Rejected/);
    assert.match(reply.lines.join(' '), /\(AAAA\) record/);
  });

  const hostile: Array<[string, string]> = [
    ['CR LF injection', 'evil.example\r\n250 OK\r\nMAIL FROM:<x>'],
    ['10 KB name', 'a'.repeat(10 * 1024)],
    ['non-ASCII', 'mäil.exämple.com\u202e\u0000'],
    ['percent and backslash', '%s%n%x.\\x41\\.example'],
    ['dollar expansion', '${run{/bin/sh}}.example'],
  ];
  for (const [label, name] of hostile) {
    test(`hostile PTR name (${label}) cannot break the reply`, () => {
      for (const kind of ['soft', 'hard'] as const) {
        const reply = buildReply(input({ kind, reason: 'no-forward-match', name }));
        const wire = renderReply(reply);
        assertWellFormed(wire, label);
        const text = reply.lines.join(' ');
        assert.doesNotMatch(text, /[%\\$\r\n{}]/, label);
        const shown = /name (\S+) does not/.exec(text)?.[1] ?? '';
        assert.ok(shown.length <= 64, `${label}: shown name is ${shown.length} chars`);
        assert.match(shown, /^[A-Za-z0-9._?-]+$/, label);
        const one = oneLineReply(reply);
        assert.ok(one.length + 2 <= REPLY_LINE_MAX_OCTETS);
        assert.match(one, /^[\x20-\x7e]+$/);
      }
    });
  }

  test('a name at the largest configured cut, a long organisation and a long portal URL still fit 512 octets', () => {
    const base = `https://${'p'.repeat(180)}.example`;
    const reply = buildReply({
      kind: 'hard',
      ip: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe',
      family: 6,
      reason: 'no-forward-match',
      name: `${'n'.repeat(63)}.${'m'.repeat(63)}.${'o'.repeat(63)}.${'q'.repeat(61)}`,
      url: portalLink(base, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', 'ABCDEFGH'),
      organisation: 'O'.repeat(64),
      nameMaxChars: 255,
    });
    assertWellFormed(renderReply(reply), 'long');
    const one = oneLineReply(reply);
    assert.ok(one.length + 2 <= REPLY_LINE_MAX_OCTETS, `one line is ${one.length + 2}`);
    assert.ok(one.endsWith('?r=ABCDEFGH'), 'the URL survives the one-line cut');
  });

  test('replySafeName keeps host-name characters and cuts with an ASCII ellipsis', () => {
    assert.equal(replySafeName('mail.example.com', 64), 'mail.example.com');
    assert.equal(replySafeName('a'.repeat(100), 20), `${'a'.repeat(17)}...`);
    assert.equal(replySafeName('a\r\nb', 64), 'a?x0d?x0ab');
  });

  test('stepWords without a name stays generic', () => {
    assert.match(stepWords('no-forward-match', 4), /names of this IP do not resolve back/);
  });
});

describe('reference', () => {
  test('8 characters of Crockford base32, different every time', () => {
    const refs = new Set(Array.from({ length: 2000 }, () => newReference()));
    assert.equal(refs.size, 2000);
    for (const ref of refs) assert.ok(isReference(ref), ref);
    assert.ok(!isReference('K7Q2M9P'), 'too short');
    assert.ok(!isReference('K7Q2M9PI'), 'I is not in the alphabet');
  });
});
