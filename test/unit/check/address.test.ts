// Rulings for check/address.ts (FCRDNS.md step 1): strict parsing, unmapping, zone ids,
// canonical text, reverse names and family-strict binary comparison, as labelled tables.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADDRESS_INPUT_MAX_CHARS,
  QUOTED_INPUT_MAX_CHARS,
  formatAddress,
  normaliseAddress,
  parseAnswerAddress,
  quoteInput,
  reverseName,
  sameAddress,
} from '../../../src/check/address.js';
import { BlockSmithError } from '../../../src/errors.js';

interface Accepted {
  label: string;
  input: string;
  ip: string;
  family: 4 | 6;
  bytes?: number[];
  /** A fragment the note must hold; absent = no note. */
  note?: string;
}

const ACCEPTED: Accepted[] = [
  { label: 'plain IPv4', input: '192.0.2.1', ip: '192.0.2.1', family: 4, bytes: [192, 0, 2, 1] },
  { label: 'IPv4 zeros', input: '0.0.0.0', ip: '0.0.0.0', family: 4, bytes: [0, 0, 0, 0] },
  { label: 'IPv4 all ones', input: '255.255.255.255', ip: '255.255.255.255', family: 4 },
  { label: 'IPv6 canonical already', input: '2001:db8::1', ip: '2001:db8::1', family: 6 },
  { label: 'IPv6 upper case', input: '2001:DB8::A', ip: '2001:db8::a', family: 6 },
  { label: 'IPv6 leading zeros in groups', input: '2001:0db8:0000:0000:0000:0000:0000:0001', ip: '2001:db8::1', family: 6 },
  { label: 'IPv6 longest zero run compressed', input: '2001:db8:0:0:1:0:0:0', ip: '2001:db8:0:0:1::', family: 6 },
  { label: 'IPv6 tie: first run compressed', input: '2001:db8:0:0:1:0:0:1', ip: '2001:db8::1:0:0:1', family: 6 },
  { label: 'IPv6 single zero group not compressed', input: '2001:db8:0:1:1:1:1:1', ip: '2001:db8:0:1:1:1:1:1', family: 6 },
  { label: 'IPv6 unspecified', input: '::', ip: '::', family: 6, bytes: new Array<number>(16).fill(0) },
  { label: 'IPv6 loopback', input: '::1', ip: '::1', family: 6 },
  { label: 'IPv6 trailing ::', input: '1::', ip: '1::', family: 6 },
  { label: 'IPv6 "::" for one group (RFC 4291 allows it)', input: '1:2:3:4:5:6:7::', ip: '1:2:3:4:5:6:7:0', family: 6 },
  { label: 'IPv6 with embedded IPv4 tail', input: '1:2:3:4:5:6:1.2.3.4', ip: '1:2:3:4:5:6:102:304', family: 6 },
  { label: 'mapped dotted', input: '::ffff:192.0.2.1', ip: '192.0.2.1', family: 4, bytes: [192, 0, 2, 1], note: 'IPv4-mapped' },
  { label: 'mapped hex', input: '::ffff:c000:201', ip: '192.0.2.1', family: 4, note: 'IPv4-mapped' },
  { label: 'mapped upper case', input: '::FFFF:C000:0201', ip: '192.0.2.1', family: 4, note: 'IPv4-mapped' },
  { label: 'mapped written in full', input: '0:0:0:0:0:ffff:198.51.100.7', ip: '198.51.100.7', family: 4, note: 'IPv4-mapped' },
  { label: 'NAT64 stays IPv6', input: '64:ff9b::192.0.2.1', ip: '64:ff9b::c000:201', family: 6 },
  { label: 'IPv4-compatible stays IPv6', input: '::192.0.2.1', ip: '::c000:201', family: 6 },
  { label: '::ffff:0:0:0/96 (SIIT translated) stays IPv6', input: '::ffff:0:c000:201', ip: '::ffff:0:c000:201', family: 6 },
  { label: 'zone id stripped', input: 'fe80::1%eth0', ip: 'fe80::1', family: 6, note: 'zone id "%eth0" removed' },
  { label: 'numeric zone id stripped', input: 'fe80::1%2', ip: 'fe80::1', family: 6, note: 'zone id' },
  { label: 'zone id on a mapped address: both notes', input: '::ffff:192.0.2.1%eth0', ip: '192.0.2.1', family: 4, note: 'zone id "%eth0" removed; IPv4-mapped' },
];

void describe('normaliseAddress: accepted input', () => {
  for (const c of ACCEPTED) {
    void test(c.label, () => {
      const got = normaliseAddress(c.input);
      assert.equal(got.ip, c.ip);
      assert.equal(got.family, c.family);
      assert.equal(got.bytes.length, c.family === 4 ? 4 : 16);
      if (c.bytes) assert.deepEqual(Array.from(got.bytes), c.bytes);
      if (c.note === undefined) assert.equal(got.note, undefined);
      else assert.ok(got.note?.includes(c.note), `note ${String(got.note)} should hold ${c.note}`);
      // The canonical text parses back to itself (idempotent).
      assert.equal(normaliseAddress(got.ip).ip, got.ip);
    });
  }
});

interface Refused {
  label: string;
  input: string;
  /** A fragment of the message naming the problem. */
  problem: string;
}

const REFUSED: Refused[] = [
  { label: 'empty', input: '', problem: 'empty' },
  { label: 'leading space', input: ' 192.0.2.1', problem: 'white space' },
  { label: 'trailing space', input: '192.0.2.1 ', problem: 'white space' },
  { label: 'trailing newline', input: '192.0.2.1\n', problem: 'control character' },
  { label: 'NUL inside', input: '192.0.2.1\u0000', problem: 'control character' },
  { label: 'DEL', input: '192.0.2.1\u007f', problem: 'control character' },
  { label: 'no-break space', input: '192.0.2.1\u00a0', problem: 'white space' },
  { label: 'full-width digit look-alike', input: '１92.0.2.1', problem: 'non-ASCII' },
  { label: 'Arabic-Indic digit', input: '١٩٢.0.2.1', problem: 'non-ASCII' },
  { label: 'one-dot leader instead of a dot', input: '192\u20240.2.1', problem: 'non-ASCII' },
  { label: 'leading zero', input: '192.0.2.01', problem: 'leading zero' },
  { label: 'octal-looking', input: '010.0.0.1', problem: 'leading zero' },
  { label: 'three parts', input: '1.2.3', problem: 'this has 3' },
  { label: 'one part (inet_aton integer)', input: '3221225985', problem: 'this has 1' },
  { label: 'hex shortened', input: '0x7f.1', problem: 'this has 2' },
  { label: 'hex part', input: '0x7f.0.0.1', problem: 'hexadecimal' },
  { label: 'five parts', input: '1.2.3.4.5', problem: 'this has 5' },
  { label: 'empty part', input: '1..3.4', problem: 'empty' },
  { label: 'trailing dot', input: '192.0.2.1.', problem: 'this has 5' },
  { label: 'octet over 255', input: '192.0.2.256', problem: 'over 255' },
  { label: 'long octet', input: '192.0.2.1000', problem: 'over 255' },
  { label: 'sign', input: '+1.2.3.4', problem: 'not a decimal' },
  { label: 'CIDR given as an address', input: '1.2.3.4/24', problem: 'prefix length' },
  { label: 'IPv6 CIDR given as an address', input: '2001:db8::/32', problem: 'prefix length' },
  { label: 'address:port', input: '192.0.2.1:25', problem: 'address:port' },
  { label: 'bracketed IPv6', input: '[2001:db8::1]', problem: 'brackets' },
  { label: 'host name', input: 'mail.example.com', problem: 'host name' },
  { label: 'hex-letter word', input: 'cafe.be.ad.de', problem: 'not a decimal' },
  { label: '% alone', input: '%', problem: 'nothing before the zone id' },
  { label: 'empty zone id', input: 'fe80::1%', problem: 'empty zone id' },
  { label: 'zone id on IPv4', input: '192.0.2.1%eth0', problem: 'IPv6 address only' },
  { label: 'zone id with bad characters', input: 'fe80::1%eth0%1', problem: 'zone id holds' },
  { label: '::ffff: alone', input: '::ffff:', problem: 'empty group' },
  { label: '::ffff:1.2.3 (short embedded IPv4)', input: '::ffff:1.2.3', problem: 'embedded IPv4' },
  { label: 'embedded IPv4 with leading zero', input: '::ffff:192.0.2.01', problem: 'leading zero' },
  { label: 'embedded IPv4 not last', input: '::1.2.3.4:5', problem: 'last 32 bits' },
  { label: 'embedded IPv4 before ::', input: '1.2.3.4::', problem: 'last 32 bits' },
  { label: 'two ::', input: '1::2::3', problem: 'more than once' },
  { label: 'three colons', input: '1:::2', problem: 'three colons' },
  { label: 'single leading colon', input: ':1:2:3:4:5:6:7', problem: 'empty group' },
  { label: 'nine groups', input: '1:2:3:4:5:6:7:8:9', problem: 'this has 9' },
  { label: 'seven groups without ::', input: '1:2:3:4:5:6:7', problem: 'this has 7' },
  { label: ':: with eight groups', input: '1:2:3:4::5:6:7:8', problem: 'too many groups' },
  { label: 'five hex digits', input: '2001:db8::12345', problem: 'more than 4 hex digits' },
  { label: 'non-hex letter', input: '2001:db8::g', problem: 'only hex digits' },
  { label: 'colon alone', input: ':', problem: 'empty group' },
  { label: 'over-long', input: '1'.repeat(ADDRESS_INPUT_MAX_CHARS + 1), problem: `at most ${ADDRESS_INPUT_MAX_CHARS}` },
  { label: 'one megabyte', input: 'a'.repeat(1 << 20), problem: 'characters long' },
];

void describe('normaliseAddress: refused input', () => {
  for (const c of REFUSED) {
    void test(c.label, () => {
      assert.throws(
        () => normaliseAddress(c.input),
        (err: unknown) => {
          assert.ok(err instanceof BlockSmithError);
          assert.equal(err.code, 'BS_ERR_ADDRESS_INVALID');
          assert.ok(err.message.includes(c.problem), `message "${err.message}" should name "${c.problem}"`);
          // The message never carries a raw control character, and echoes a bounded prefix.
          assert.doesNotMatch(err.message, /\p{Cc}/u);
          assert.ok(err.message.length < QUOTED_INPUT_MAX_CHARS * 2 + 200, 'message is bounded');
          return true;
        },
      );
    });
  }

  void test('a non-string from an untyped caller is refused, not a crash', () => {
    assert.throws(() => normaliseAddress(42 as unknown as string), { code: 'BS_ERR_ADDRESS_INVALID' });
  });
});

void describe('quoteInput: what an error message may echo', () => {
  const CASES: { label: string; input: string; want: string }[] = [
    { label: 'plain text as is', input: '1.2.3', want: '"1.2.3"' },
    { label: 'NUL escaped', input: 'a\u0000b', want: '"a\\x00b"' },
    { label: 'CR LF escaped', input: 'a\r\nb', want: '"a\\x0d\\x0ab"' },
    { label: 'quote and backslash escaped', input: 'a"\\', want: '"a\\"\\\\"' },
    { label: 'non-ASCII look-alike escaped', input: '１', want: '"\\u{ff11}"' },
    { label: 'astral character kept whole', input: '😀', want: '"\\u{1f600}"' },
    { label: 'cut with an ellipsis', input: 'x'.repeat(QUOTED_INPUT_MAX_CHARS + 1), want: `"${'x'.repeat(QUOTED_INPUT_MAX_CHARS)}…"` },
    { label: 'exactly the limit: no ellipsis', input: 'x'.repeat(QUOTED_INPUT_MAX_CHARS), want: `"${'x'.repeat(QUOTED_INPUT_MAX_CHARS)}"` },
  ];
  for (const c of CASES) {
    void test(c.label, () => assert.equal(quoteInput(c.input), c.want));
  }
});

void describe('reverseName', () => {
  const CASES: { label: string; input: string; want: string }[] = [
    { label: 'IPv4', input: '192.0.2.10', want: '10.2.0.192.in-addr.arpa' },
    { label: 'IPv4 zeros', input: '0.0.0.0', want: '0.0.0.0.in-addr.arpa' },
    { label: 'mapped IPv4 queries in-addr.arpa', input: '::ffff:198.51.100.7', want: '7.100.51.198.in-addr.arpa' },
    {
      label: 'IPv6: 32 reversed nibbles',
      input: '2001:db8::567:89ab',
      want: 'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    },
    {
      label: 'NAT64 stays ip6.arpa',
      input: '64:ff9b::192.0.2.1',
      want: '1.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa',
    },
  ];
  for (const c of CASES) {
    void test(`${c.label} (from text)`, () => assert.equal(reverseName(c.input), c.want));
    void test(`${c.label} (from the parsed address)`, () => assert.equal(reverseName(normaliseAddress(c.input)), c.want));
  }

  void test('an IPv6 reverse name has 32 nibble labels', () => {
    const labels = reverseName('2001:db8::1').split('.');
    assert.equal(labels.length, 34);
    assert.deepEqual(labels.slice(-2), ['ip6', 'arpa']);
  });

  void test('family and byte count must agree', () => {
    assert.throws(() => reverseName({ family: 6, bytes: new Uint8Array(4) }), { code: 'BS_ERR_ADDRESS_INVALID' });
    assert.throws(() => reverseName({ family: 4, bytes: new Uint8Array(16) }), { code: 'BS_ERR_ADDRESS_INVALID' });
  });

  void test('bad text is refused', () => {
    assert.throws(() => reverseName('192.0.2'), { code: 'BS_ERR_ADDRESS_INVALID' });
  });
});

void describe('parseAnswerAddress', () => {
  const CASES: { label: string; data: string; family: 4 | 6; want: number[] | null }[] = [
    { label: 'A record', data: '192.0.2.1', family: 4, want: [192, 0, 2, 1] },
    { label: 'AAAA record', data: '2001:db8::1', family: 6, want: [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] },
    { label: 'AAAA mapped stays 16 bytes', data: '::ffff:192.0.2.1', family: 6, want: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1] },
    { label: 'IPv6 text where A expected', data: '2001:db8::1', family: 4, want: null },
    { label: 'IPv4 text where AAAA expected', data: '192.0.2.1', family: 6, want: null },
    { label: 'garbage', data: 'not an address', family: 4, want: null },
    { label: 'empty', data: '', family: 4, want: null },
    { label: 'leading zero', data: '192.0.2.01', family: 4, want: null },
    { label: 'zone id', data: 'fe80::1%eth0', family: 6, want: null },
    { label: 'huge', data: '1'.repeat(100_000), family: 4, want: null },
    { label: 'control characters', data: '\u0000\u0001', family: 6, want: null },
  ];
  for (const c of CASES) {
    void test(c.label, () => {
      const got = parseAnswerAddress(c.data, c.family);
      assert.deepEqual(got === null ? null : Array.from(got), c.want);
    });
  }
});

void describe('sameAddress: binary and family-strict', () => {
  const v4 = normaliseAddress('192.0.2.1');
  const CASES: { label: string; a: Parameters<typeof sameAddress>[0]; b: Parameters<typeof sameAddress>[1]; want: boolean }[] = [
    { label: 'equal IPv4', a: v4, b: parseAnswerAddress('192.0.2.1', 4) ?? new Uint8Array(), want: true },
    { label: 'different IPv4', a: v4, b: parseAnswerAddress('192.0.2.2', 4) ?? new Uint8Array(), want: false },
    { label: 'same /24 is not a match', a: v4, b: parseAnswerAddress('192.0.2.100', 4) ?? new Uint8Array(), want: false },
    { label: 'mapped AAAA does not confirm an IPv4 client', a: v4, b: parseAnswerAddress('::ffff:192.0.2.1', 6) ?? new Uint8Array(), want: false },
    { label: 'client from mapped text equals the A answer', a: normaliseAddress('::ffff:192.0.2.1'), b: parseAnswerAddress('192.0.2.1', 4) ?? new Uint8Array(), want: true },
    { label: 'IPv6 different spellings', a: normaliseAddress('2001:db8::1'), b: parseAnswerAddress('2001:0DB8:0:0::0:1', 6) ?? new Uint8Array(), want: true },
    { label: 'IPv6 different', a: normaliseAddress('2001:db8::1'), b: parseAnswerAddress('2001:db8::2', 6) ?? new Uint8Array(), want: false },
    { label: 'NAT64 is not the IPv4 address', a: v4, b: normaliseAddress('64:ff9b::192.0.2.1'), want: false },
    { label: 'IPv4 equal to the first 4 bytes of an IPv6 value', a: normaliseAddress('32.1.13.184'), b: normaliseAddress('2001:db8::1'), want: false },
    { label: 'IPv6 whose first 4 bytes are the IPv4 value', a: normaliseAddress('2001:db8::1'), b: normaliseAddress('32.1.13.184'), want: false },
  ];
  for (const c of CASES) {
    void test(c.label, () => assert.equal(sameAddress(c.a, c.b), c.want));
  }
});

void describe('formatAddress', () => {
  void test('refuses a byte count that is not 4 or 16', () => {
    assert.throws(() => formatAddress(new Uint8Array(5)), { code: 'BS_ERR_ADDRESS_INVALID' });
  });
  void test('all-ones IPv6', () => {
    assert.equal(formatAddress(new Uint8Array(16).fill(0xff)), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });
});
