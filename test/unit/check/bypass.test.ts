// Rulings for check/bypass.ts (FCRDNS.md step 2): which ranges parse, which addresses match
// which entry, and that bad entries are named.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BypassList, CIDR_INPUT_MAX_CHARS } from '../../../src/check/bypass.js';
import { normaliseAddress } from '../../../src/check/address.js';
import { DEFAULT_BYPASS } from '../../../src/config/schema.js';
import { BlockSmithError } from '../../../src/errors.js';

void describe('BypassList: the default ranges', () => {
  const list = new BypassList(DEFAULT_BYPASS);
  const CASES: { label: string; ip: string; want: string | null }[] = [
    { label: 'loopback', ip: '127.0.0.1', want: '127.0.0.0/8' },
    { label: 'loopback, far end', ip: '127.255.255.255', want: '127.0.0.0/8' },
    { label: 'IPv6 loopback', ip: '::1', want: '::1/128' },
    { label: 'RFC 1918 10/8', ip: '10.20.30.40', want: '10.0.0.0/8' },
    { label: 'RFC 1918 172.16/12 low end', ip: '172.16.0.0', want: '172.16.0.0/12' },
    { label: 'RFC 1918 172.16/12 high end', ip: '172.31.255.255', want: '172.16.0.0/12' },
    { label: 'just past 172.16/12', ip: '172.32.0.0', want: null },
    { label: 'just before 172.16/12', ip: '172.15.255.255', want: null },
    { label: 'RFC 1918 192.168/16', ip: '192.168.1.1', want: '192.168.0.0/16' },
    { label: 'link-local IPv4', ip: '169.254.1.1', want: '169.254.0.0/16' },
    { label: 'link-local IPv6', ip: 'fe80::1', want: 'fe80::/10' },
    { label: 'link-local IPv6, top of /10', ip: 'febf:ffff::1', want: 'fe80::/10' },
    { label: 'just past fe80::/10', ip: 'fec0::1', want: null },
    { label: 'link-local with zone id', ip: 'fe80::1%eth0', want: 'fe80::/10' },
    { label: 'CGNAT', ip: '100.64.0.1', want: '100.64.0.0/10' },
    { label: 'CGNAT top', ip: '100.127.255.255', want: '100.64.0.0/10' },
    { label: 'past CGNAT', ip: '100.128.0.0', want: null },
    { label: 'ULA', ip: 'fd12:3456::1', want: 'fc00::/7' },
    { label: 'this network', ip: '0.1.2.3', want: '0.0.0.0/8' },
    { label: 'unspecified IPv6', ip: '::', want: '::/128' },
    { label: 'mapped loopback (dual-stack socket)', ip: '::ffff:127.0.0.1', want: '127.0.0.0/8' },
    { label: 'mapped RFC 1918', ip: '::ffff:10.1.1.1', want: '10.0.0.0/8' },
    { label: 'documentation 192.0.2/24 is public', ip: '192.0.2.1', want: null },
    { label: 'documentation 198.51.100/24 is public', ip: '198.51.100.7', want: null },
    { label: 'documentation 203.0.113/24 is public', ip: '203.0.113.9', want: null },
    { label: 'documentation 2001:db8::/32 is public', ip: '2001:db8::1', want: null },
    { label: 'NAT64 of a private address is not bypassed', ip: '64:ff9b::10.0.0.1', want: null },
    { label: 'IPv4-compatible ::127.0.0.1 is not loopback', ip: '::127.0.0.1', want: null },
    { label: 'public IPv4', ip: '8.8.8.8', want: null },
    { label: 'public IPv6', ip: '2a00:1450::1', want: null },
  ];
  for (const c of CASES) {
    void test(c.label, () => assert.equal(list.match(normaliseAddress(c.ip)), c.want));
  }
  void test('size counts every entry', () => assert.equal(list.size, DEFAULT_BYPASS.length));
});

void describe('BypassList: entries', () => {
  const CASES: { label: string; ranges: string[]; ip: string; want: string | null }[] = [
    { label: 'bare IPv4 = /32, hit', ranges: ['192.0.2.7'], ip: '192.0.2.7', want: '192.0.2.7' },
    { label: 'bare IPv4 = /32, neighbour misses', ranges: ['192.0.2.7'], ip: '192.0.2.8', want: null },
    { label: 'bare IPv6 = /128, hit', ranges: ['2001:db8::7'], ip: '2001:db8::7', want: '2001:db8::7' },
    { label: 'bare IPv6 = /128, neighbour misses', ranges: ['2001:db8::7'], ip: '2001:db8::8', want: null },
    { label: '/0 IPv4 holds every IPv4', ranges: ['0.0.0.0/0'], ip: '203.0.113.1', want: '0.0.0.0/0' },
    { label: '/0 IPv4 holds no IPv6', ranges: ['0.0.0.0/0'], ip: '2001:db8::1', want: null },
    { label: '::/0 holds no IPv4', ranges: ['::/0'], ip: '192.0.2.1', want: null },
    { label: '::/0 holds every IPv6', ranges: ['::/0'], ip: '2001:db8::1', want: '::/0' },
    { label: 'host bits set: the network is meant', ranges: ['10.1.2.3/8'], ip: '10.200.0.1', want: '10.1.2.3/8' },
    { label: 'host bits set, IPv6', ranges: ['2001:db8::1/32'], ip: '2001:db8:ffff::1', want: '2001:db8::1/32' },
    { label: 'odd prefix /27 inside', ranges: ['198.51.100.32/27'], ip: '198.51.100.63', want: '198.51.100.32/27' },
    { label: 'odd prefix /27 outside', ranges: ['198.51.100.32/27'], ip: '198.51.100.64', want: null },
    { label: 'IPv6 prefix across a word edge /33', ranges: ['2001:db8:8000::/33'], ip: '2001:db8:8000::1', want: '2001:db8:8000::/33' },
    { label: 'IPv6 /33 other half', ranges: ['2001:db8:8000::/33'], ip: '2001:db8:7fff::1', want: null },
    { label: 'IPv6 /127', ranges: ['2001:db8::/127'], ip: '2001:db8::1', want: '2001:db8::/127' },
    { label: 'IPv6 /127 miss', ranges: ['2001:db8::/127'], ip: '2001:db8::2', want: null },
    { label: 'first listed wins', ranges: ['192.0.2.0/24', '192.0.2.1/32'], ip: '192.0.2.1', want: '192.0.2.0/24' },
    { label: 'later entry still found', ranges: ['10.0.0.0/8', '192.0.2.1/32'], ip: '192.0.2.1', want: '192.0.2.1/32' },
    { label: 'upper-case IPv6 kept as written', ranges: ['2001:DB8::/32'], ip: '2001:db8::5', want: '2001:DB8::/32' },
    { label: 'empty list matches nothing', ranges: [], ip: '127.0.0.1', want: null },
  ];
  for (const c of CASES) {
    void test(c.label, () => assert.equal(new BypassList(c.ranges).match(normaliseAddress(c.ip)), c.want));
  }

  void test('odd byte counts never match', () => {
    assert.equal(new BypassList(['0.0.0.0/0', '::/0']).match({ bytes: new Uint8Array(5) }), null);
  });

  void test('ranges are kept as given, frozen', () => {
    const input = ['10.0.0.0/8'];
    const list = new BypassList(input);
    input.push('192.0.2.0/24');
    assert.deepEqual(list.ranges, ['10.0.0.0/8']);
    assert.ok(Object.isFrozen(list.ranges));
  });
});

void describe('BypassList: refused entries', () => {
  const CASES: { label: string; entry: string; problem: string }[] = [
    { label: 'empty', entry: '', problem: 'empty' },
    { label: 'IPv4 prefix over 32', entry: '10.0.0.0/33', problem: 'over 32' },
    { label: 'IPv6 prefix over 128', entry: '2001:db8::/129', problem: 'over 128' },
    { label: 'huge prefix', entry: '10.0.0.0/99999999999', problem: 'over 32' },
    { label: 'negative prefix', entry: '10.0.0.0/-1', problem: 'not a decimal' },
    { label: 'empty prefix', entry: '10.0.0.0/', problem: 'not a decimal' },
    { label: 'prefix with leading zero', entry: '10.0.0.0/08', problem: 'leading zero' },
    { label: 'netmask instead of a prefix', entry: '10.0.0.0/255.0.0.0', problem: 'not a decimal' },
    { label: 'two slashes', entry: '10.0.0.0/8/8', problem: 'more than one' },
    { label: 'shortened IPv4', entry: '10/8', problem: 'does not parse' },
    { label: 'leading zero in the address', entry: '010.0.0.0/8', problem: 'leading zero' },
    { label: 'space', entry: '10.0.0.0 /8', problem: 'white space' },
    { label: 'NUL', entry: '10.0.0.0/8\u0000', problem: 'control' },
    { label: 'zone id', entry: 'fe80::%eth0/10', problem: 'zone id' },
    { label: 'mapped range', entry: '::ffff:10.0.0.0/104', problem: 'IPv4-mapped' },
    { label: 'the word none', entry: 'none', problem: 'does not parse' },
    { label: 'a host name', entry: 'example.com', problem: 'does not parse' },
    { label: 'over-long', entry: `10.0.0.0/${'1'.repeat(CIDR_INPUT_MAX_CHARS)}`, problem: `longer than ${CIDR_INPUT_MAX_CHARS}` },
    { label: 'full-width digit', entry: '１0.0.0.0/8', problem: 'non-ASCII' },
  ];
  for (const c of CASES) {
    void test(c.label, () => {
      assert.throws(
        () => new BypassList(['127.0.0.0/8', c.entry]),
        (err: unknown) => {
          assert.ok(err instanceof BlockSmithError);
          assert.equal(err.code, 'BS_ERR_CIDR_INVALID');
          assert.ok(err.message.includes(c.problem), `message "${err.message}" should name "${c.problem}"`);
          assert.ok(err.message.includes('#2'), 'the message says which entry');
          assert.doesNotMatch(err.message, /\p{Cc}/u);
          return true;
        },
      );
    });
  }
});
