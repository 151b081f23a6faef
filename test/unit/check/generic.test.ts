// Rulings for check/generic.ts (FCRDNS.md step 9, fcrdns-systems.md §5.2): generic-name levels
// and their evidence, including Haraka's known false positives.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { GenericLevel } from '../../../src/check/types.js';
import { detectGeneric, detectGenericAll } from '../../../src/check/generic.js';
import { normaliseAddress } from '../../../src/check/address.js';

interface Case {
  label: string;
  name: string;
  ip: string;
  level: GenericLevel;
  /** Fragments the evidence must hold, one per entry (in any order). */
  evidence?: string[];
}

const CASES: Case[] = [
  // Haraka's false positives (fcrdns-systems.md §5.1): short octets in a mail-role name.
  { label: 'Haraka FP: mx11 for 198.51.1.1', name: 'mx11.example.com', ip: '198.51.1.1', level: 'none', evidence: [] },
  { label: 'Haraka FP: smtp27 for 192.0.2.7', name: 'smtp27.example.net', ip: '192.0.2.7', level: 'none', evidence: [] },
  { label: 'Haraka FP: mail50 for 52.100.0.5', name: 'mail50.example.org', ip: '52.100.0.5', level: 'none', evidence: [] },
  { label: 'Haraka FP: mail210 for 45.33.2.10', name: 'mail210.example.com', ip: '45.33.2.10', level: 'none', evidence: [] },
  { label: 'plain mail name', name: 'mail.example.com', ip: '192.0.2.10', level: 'none', evidence: [] },
  { label: 'registrable domain alone', name: 'example.com', ip: '192.0.2.10', level: 'none', evidence: [] },
  // Haraka's own test cases.
  {
    label: 'dsl + address',
    name: 'dsl-188-34-255-136.asretelecom.net',
    ip: '188.34.255.136',
    level: 'strong',
    evidence: ['the address 188-34-255-136 appears in the name', '"dsl" is a dynamic-address token'],
  },
  {
    label: 'Comcast business: address lowered by "business"',
    name: 'c-76-121-96-159.business.wa.comcast.net',
    ip: '76.121.96.159',
    level: 'weak',
    evidence: ['the address 76-121-96-159 appears in the name', '"business" lowers the score'],
  },
  {
    label: 'host + address',
    name: 'host-198-51-100-7.example.net',
    ip: '198.51.100.7',
    level: 'strong',
    evidence: ['the address 198-51-100-7 appears in the name', '"host" is common in generic names'],
  },
  {
    label: 'T-Online hex with a letter prefix',
    name: 'pD9E4F89F.dip0.t-ipconnect.de',
    ip: '217.228.248.159',
    level: 'strong',
    evidence: ['the address in hex (d9e4f89f) appears in the name'],
  },
  // Address encodings.
  { label: 'reversed with dots', name: '7.100.51.198.dyn.example.net', ip: '198.51.100.7', level: 'strong', evidence: ['7.100.51.198', '"dyn"'] },
  { label: 'reversed, no token', name: '7-100-51-198.example.net', ip: '198.51.100.7', level: 'strong', evidence: ['7-100-51-198'] },
  { label: 'padded', name: '192-000-002-010.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['192-000-002-010'] },
  { label: 'padded, no separator', name: 'x192000002010.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['192000002010'] },
  { label: 'underscores', name: 'ip_192_0_2_10.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['192_0_2_10', '"ip"'] },
  { label: 'no separator, four octets', name: 'h1920210.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['1920210'] },
  { label: 'three octets in sequence', name: 'a51-100-7.example.net', ip: '198.51.100.7', level: 'strong', evidence: ['51-100-7'] },
  { label: 'three octets reversed', name: '100-51-198.example.net', ip: '198.51.100.7', level: 'strong', evidence: ['100-51-198'] },
  { label: 'address across labels', name: '198.51.100.7.static.example.net', ip: '198.51.100.7', level: 'weak', evidence: ['198.51.100.7', '"static" lowers'] },
  { label: 'hex with 0x', name: '0xc000020a.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['c000020a'] },
  { label: 'hex in upper case alone', name: 'C000020A.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['c000020a'] },
  { label: 'hex with a leading zero byte (padded)', name: 'x0a01020b.example.net', ip: '10.1.2.11', level: 'strong', evidence: ['0a01020b'] },
  // Near misses.
  { label: 'two octets only', name: 'h100-7.example.net', ip: '198.51.100.7', level: 'none', evidence: [] },
  { label: 'two octets of a neighbour', name: '198-51-99-7.example.net', ip: '198.51.100.7', level: 'none', evidence: [] },
  { label: 'a neighbour sharing three octets still counts', name: '198-51-100-8.example.net', ip: '198.51.100.7', level: 'strong', evidence: ['198-51-100'] },
  { label: 'digit touching the match', name: '1198-51-100-7.example.net', ip: '198.51.100.7', level: 'strong', evidence: ['51-100-7'] },
  { label: 'digits touching both ends', name: '9198-51-1007.example.net', ip: '198.51.100.7', level: 'none', evidence: [] },
  { label: 'no-separator three octets is too ambiguous', name: 'mx5111.example.net', ip: '198.51.1.1', level: 'none', evidence: [] },
  { label: 'hex inside a longer word', name: 'abc000020a.example.net', ip: '192.0.2.10', level: 'none', evidence: [] },
  { label: 'hex followed by a hex digit', name: 'c000020ab.example.net', ip: '192.0.2.10', level: 'none', evidence: [] },
  { label: 'address only in the registrable domain', name: 'mail.192-0-2-10.com', ip: '192.0.2.10', level: 'none', evidence: [] },
  // Tokens.
  { label: 'dynamic token with digits', name: 'ppp12.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['"ppp"'] },
  { label: 'pool', name: 'pool-a.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['"pool"'] },
  { label: 'dhcp', name: 'x.dhcp.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['"dhcp"'] },
  { label: 'token only inside a word does not count', name: 'dynamo.example.net', ip: '192.0.2.10', level: 'none', evidence: [] },
  { label: 'pooled is not pool', name: 'pooled.example.net', ip: '192.0.2.10', level: 'none', evidence: [] },
  { label: 'client with digits', name: 'client123.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['"client" followed by a number'] },
  { label: 'cust - digits', name: 'cust-42.example.net', ip: '192.0.2.10', level: 'strong', evidence: ['"cust" followed by a number'] },
  { label: 'client without digits', name: 'client.example.net', ip: '192.0.2.10', level: 'none', evidence: [] },
  { label: 'weak token alone', name: 'vps12.example.net', ip: '192.0.2.10', level: 'weak', evidence: ['"vps"'] },
  { label: 'weak token lowered to none', name: 'mail.vps.example.net', ip: '192.0.2.10', level: 'none', evidence: ['"vps"', '"mail" lowers'] },
  { label: 'strong token lowered to weak', name: 'static.dsl.example.net', ip: '192.0.2.10', level: 'weak', evidence: ['"dsl"', '"static" lowers'] },
  { label: 'two lowering tokens lower once', name: 'mail.static.dsl.example.net', ip: '192.0.2.10', level: 'weak' },
  { label: 'tokens in the registrable domain do not count', name: 'mail.dsl.net', ip: '192.0.2.10', level: 'none', evidence: [] },
  { label: 'upper case folded', name: 'DSL-1.Example.NET', ip: '192.0.2.10', level: 'strong', evidence: ['"dsl"'] },
  { label: 'co.uk suffix skipped', name: 'dyn.example.co.uk', ip: '192.0.2.10', level: 'strong', evidence: ['"dyn"'] },
  { label: 'co.uk: the domain label is not host', name: 'mail.cable.co.uk', ip: '192.0.2.10', level: 'none', evidence: [] },
  // IPv6.
  { label: 'IPv6: interface id as groups', name: 'host-0-0-0-25.example.net', ip: '2001:db8::25', level: 'strong', evidence: ['0-0-0-25', '"host"'] },
  { label: 'IPv6: padded groups', name: '0000-0000-0000-0025.example.net', ip: '2001:db8::25', level: 'strong', evidence: ['0000-0000-0000-0025'] },
  { label: 'IPv6: 16 hex digits', name: 'a-1a2b3c4d5e6f7081.example.net', ip: '2001:db8::1a2b:3c4d:5e6f:7081', level: 'strong', evidence: ['1a2b3c4d5e6f7081'] },
  { label: 'IPv6: nibbles reversed', name: '1.8.0.7.f.6.e.5.d.4.c.3.b.2.a.1.v6.example.net', ip: '2001:db8::1a2b:3c4d:5e6f:7081', level: 'strong' },
  { label: 'IPv6: mail name', name: 'mail.example.net', ip: '2001:db8::25', level: 'none', evidence: [] },
  { label: 'IPv6: one group is not enough', name: 'mx25.example.net', ip: '2001:db8::25', level: 'none', evidence: [] },
];

void describe('detectGeneric', () => {
  for (const c of CASES) {
    void test(c.label, () => {
      const got = detectGeneric(c.name, normaliseAddress(c.ip));
      assert.equal(got.level, c.level, `evidence: ${JSON.stringify(got.evidence)}`);
      if (c.evidence) {
        assert.equal(got.evidence.length, c.evidence.length, `evidence: ${JSON.stringify(got.evidence)}`);
        for (const fragment of c.evidence) {
          assert.ok(
            got.evidence.some((e) => e.includes(fragment)),
            `evidence ${JSON.stringify(got.evidence)} should hold ${fragment}`,
          );
        }
      }
    });
  }
});

void describe('detectGeneric: hostile input', () => {
  const ip = normaliseAddress('192.0.2.10');
  const INPUTS: { label: string; name: string }[] = [
    { label: 'empty', name: '' },
    { label: 'a dot', name: '.' },
    { label: 'huge', name: `${'dsl-'.repeat(100_000)}x.example.com` },
    { label: 'control characters', name: 'a\u0000b.\r\n.example.com' },
    { label: 'non-ASCII', name: 'dyn.exämple.com' },
  ];
  for (const c of INPUTS) {
    void test(c.label, () => {
      const got = detectGeneric(c.name, ip);
      assert.ok(['none', 'weak', 'strong'].includes(got.level));
      assert.ok(Array.isArray(got.evidence));
    });
  }
  void test('a huge name is judged on a bounded prefix, quickly', () => {
    const started = performance.now();
    detectGeneric(`${'192-0-2-'.repeat(200_000)}10.example.com`, ip);
    assert.ok(performance.now() - started < 1000);
  });
});

void describe('detectGenericAll', () => {
  const ip = normaliseAddress('198.51.100.7');
  void test('the strongest wins and is named', () => {
    const got = detectGenericAll(['mail.example.com', 'vps1.example.com', 'dsl-198-51-100-7.example.net'], ip);
    assert.equal(got.level, 'strong');
    assert.equal(got.name, 'dsl-198-51-100-7.example.net');
  });
  void test('the first of equals', () => {
    const got = detectGenericAll(['vps1.example.com', 'user2.example.com'], ip);
    assert.equal(got.level, 'weak');
    assert.equal(got.name, 'vps1.example.com');
  });
  void test('no names: none, no evidence', () => {
    assert.deepEqual(detectGenericAll([], ip), { level: 'none', evidence: [] });
  });
  void test('nothing generic: none', () => {
    const got = detectGenericAll(['mail.example.com', 'mx.example.com'], ip);
    assert.equal(got.level, 'none');
    assert.deepEqual(got.evidence, []);
  });
  void test('agrees with detectGeneric on each name', () => {
    for (const name of ['host-198-51-100-7.example.net', 'mx11.example.com']) {
      assert.deepEqual(detectGenericAll([name], ip).level, detectGeneric(name, ip).level);
    }
  });
});

void describe('the cheap pre-filter never hides an address', () => {
  void test('an IPv6 interface identifier of four one-digit groups is still found', () => {
    const v6 = normaliseAddress('2001:db8::a:b:c:d');
    assert.equal(detectGeneric('a-b-c-d.example.net', v6).level, 'strong');
  });
  void test('an 8-hex IPv4 spelling with no decimal digit is still found', () => {
    const v4 = normaliseAddress('175.175.175.175'); // afafafaf
    assert.equal(detectGeneric('pafafafaf.dip.example.de', v4).level, 'strong');
  });
  void test('a host part with too few digits or hex characters is not searched, and not generic', () => {
    const v4 = normaliseAddress('192.0.2.1');
    assert.equal(detectGeneric('mail.example.com', v4).level, 'none');
  });
});
