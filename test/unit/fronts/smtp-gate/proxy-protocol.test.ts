/**
 * fronts/smtp-gate/proxy-protocol without sockets: the spec's vectors, round trips, every coded
 * error, byte-by-byte arrival, and random garbage that must never throw.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeProxyHeader, encodeProxyV1, encodeProxyV2, looksLikeProxyHeader, V1_MAX_BYTES, V2_SIGNATURE, type ProxyEndpoints } from '../../../../src/fronts/smtp-gate/proxy-protocol.js';

const V4: ProxyEndpoints = { sourceAddress: '192.0.2.10', sourcePort: 40_000, destinationAddress: '198.51.100.5', destinationPort: 25 };
const V6: ProxyEndpoints = { sourceAddress: '2001:db8::25', sourcePort: 65_535, destinationAddress: '2001:db8:1::1', destinationPort: 0 };

function bytesOf(hex: string): Buffer {
  return Buffer.from(hex.replace(/\s/g, ''), 'hex');
}

/** Feed `input` one byte at a time: need-more until the last byte, then the final result. */
function byteByByte(input: Buffer): ReturnType<typeof decodeProxyHeader> {
  for (let i = 1; i < input.length; i++) {
    const partial = decodeProxyHeader(input.subarray(0, i));
    if (partial.kind !== 'need-more') return partial;
  }
  return decodeProxyHeader(input);
}

describe('PROXY codec', () => {
  test('v2 encodes the spec\'s worked example byte for byte, and decodes it back', () => {
    const expected = bytesOf('0D0A0D0A000D0A515549540A 21 11 000C C000020A C6336405 9C40 0019');
    const encoded = encodeProxyV2(V4);
    assert.deepEqual(encoded, expected);
    assert.deepEqual(decodeProxyHeader(encoded), { kind: 'header', version: 2, addresses: V4, length: 28 });
  });

  test('round trips (encode, decode, re-encode: byte-equal), v1 and v2, IPv4 and IPv6, whole and byte by byte', () => {
    for (const e of [V4, V6]) {
      for (const encode of [encodeProxyV1, encodeProxyV2]) {
        const wire = encode(e);
        for (const decoded of [decodeProxyHeader(wire), byteByByte(wire)]) {
          assert.equal(decoded.kind, 'header');
          if (decoded.kind !== 'header' || decoded.addresses === undefined) return;
          assert.deepEqual(decoded.addresses, e);
          assert.equal(decoded.length, wire.length);
          assert.deepEqual(encode(decoded.addresses), wire);
        }
      }
    }
    assert.equal(encodeProxyV1(V4).toString(), 'PROXY TCP4 192.0.2.10 198.51.100.5 40000 25\r\n');
  });

  test('bytes after the header are left for the client (length says where it ends)', () => {
    const wire = Buffer.concat([encodeProxyV1(V4), Buffer.from('EHLO x\r\n')]);
    const d = decodeProxyHeader(wire);
    assert.equal(d.kind === 'header' && wire.subarray(d.length).toString(), 'EHLO x\r\n');
  });

  test('v1 UNKNOWN, v2 LOCAL and v2 UNSPEC decode without addresses; TLVs after the addresses are skipped', () => {
    assert.deepEqual(decodeProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'header', version: 1, addresses: undefined, length: 15 });
    const local = Buffer.concat([V2_SIGNATURE, bytesOf('20 00 0000')]);
    assert.deepEqual(decodeProxyHeader(local), { kind: 'header', version: 2, addresses: undefined, length: 16 });
    const localWithBlock = Buffer.concat([V2_SIGNATURE, bytesOf('20 11 000C'), Buffer.alloc(12)]);
    const skipped = decodeProxyHeader(localWithBlock);
    assert.equal(skipped.kind === 'header' && skipped.length, 28);
    const unspec = Buffer.concat([V2_SIGNATURE, bytesOf('21 00 0003 040001')]);
    assert.deepEqual(decodeProxyHeader(unspec), { kind: 'header', version: 2, addresses: undefined, length: 19 });
    const base = encodeProxyV2(V4);
    const tlv = bytesOf('04 0003 000000');
    const withTlv = Buffer.concat([base.subarray(0, 14), Buffer.from([0, 12 + tlv.length]), base.subarray(16), tlv]);
    assert.deepEqual(decodeProxyHeader(withTlv), { kind: 'header', version: 2, addresses: V4, length: 28 + tlv.length });
  });

  const errors: readonly [string, Buffer, string][] = [
    ['an SMTP command', Buffer.from('EHLO x\r\n'), 'not-proxy'],
    ['TLS', bytesOf('160301'), 'not-proxy'],
    ['v1 with a bare LF', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), 'v1-syntax'],
    ['v1 with a lone CR', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX'), 'v1-syntax'],
    ['v1 with two spaces', Buffer.from('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), 'v1-syntax'],
    ['v1 TCP5', Buffer.from('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), 'v1-syntax'],
    ['v1 octet over 255', Buffer.from('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n'), 'v1-syntax'],
    ['v1 leading zero', Buffer.from('PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n'), 'v1-syntax'],
    ['v1 port over 65535', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), 'v1-syntax'],
    ['v1 IPv6 under TCP4', Buffer.from('PROXY TCP4 ::1 ::1 1 2\r\n'), 'v1-syntax'],
    ['v1 missing a field', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), 'v1-syntax'],
    ['v1 a NUL', Buffer.from('PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n'), 'v1-syntax'],
    ['v1 without CRLF in 107 bytes', Buffer.from(`PROXY ${'x'.repeat(120)}`), 'v1-too-long'],
    ['v2 version 1', Buffer.concat([V2_SIGNATURE, bytesOf('11 11 000C'), Buffer.alloc(12)]), 'v2-version'],
    ['v2 command 2', Buffer.concat([V2_SIGNATURE, bytesOf('22 11 000C'), Buffer.alloc(12)]), 'v2-command'],
    ['v2 UNIX family', Buffer.concat([V2_SIGNATURE, bytesOf('21 31 00D8'), Buffer.alloc(216)]), 'v2-family'],
    ['v2 UDP', Buffer.concat([V2_SIGNATURE, bytesOf('21 12 000C'), Buffer.alloc(12)]), 'v2-family'],
    ['v2 block too short for TCP4', Buffer.concat([V2_SIGNATURE, bytesOf('21 11 0008'), Buffer.alloc(8)]), 'v2-length'],
    ['v2 block too short for TCP6', Buffer.concat([V2_SIGNATURE, bytesOf('21 21 000C'), Buffer.alloc(12)]), 'v2-length'],
    ['v2 length 65535 (refused before waiting for it)', Buffer.concat([V2_SIGNATURE, bytesOf('21 11 FFFF')]), 'v2-length'],
  ];
  for (const [label, input, code] of errors) {
    test(`error: ${label} → ${code} (whole and byte by byte)`, () => {
      for (const d of [decodeProxyHeader(input), byteByByte(input)]) {
        assert.equal(d.kind, 'error', `${label}: ${JSON.stringify(d)}`);
        assert.equal(d.kind === 'error' && d.code, code);
      }
    });
  }

  test('a header cut short is need-more, never a header', () => {
    for (const wire of [encodeProxyV1(V6), encodeProxyV2(V6)]) {
      for (let i = 0; i < wire.length; i++) assert.equal(decodeProxyHeader(wire.subarray(0, i)).kind, 'need-more', `cut at ${i}`);
    }
  });

  test('looksLikeProxyHeader: the first bytes of either signature', () => {
    assert.equal(looksLikeProxyHeader(Buffer.from('PROXY TCP4')), true);
    assert.equal(looksLikeProxyHeader(Buffer.from('PRO')), true);
    assert.equal(looksLikeProxyHeader(V2_SIGNATURE), true);
    assert.equal(looksLikeProxyHeader(Buffer.from('EHLO')), false);
    assert.equal(looksLikeProxyHeader(Buffer.alloc(0)), false);
  });

  test('encoding refuses mixed families and bad ports', () => {
    assert.throws(() => encodeProxyV2({ ...V4, destinationAddress: '::1' }), RangeError);
    assert.throws(() => encodeProxyV1({ ...V4, sourcePort: 70_000 }), RangeError);
  });

  test('fuzz: 20,000 random inputs (raw, and behind either signature) never throw and give a valid result', () => {
    const prefixes = [Buffer.alloc(0), V2_SIGNATURE, Buffer.from('PROXY '), Buffer.from('PROXY TCP4 ')];
    for (let i = 0; i < 20_000; i++) {
      const prefix = prefixes[i % prefixes.length] as Buffer;
      const input = Buffer.concat([prefix, randomBytes(i % 200)]);
      const d = decodeProxyHeader(input);
      assert.ok(d.kind === 'need-more' || d.kind === 'error' || (d.kind === 'header' && d.length <= input.length), JSON.stringify(d));
    }
  });
  test('fuzz findings: v1 refuses an IPv6 zone id, and a CRLF ending past byte 107', () => {
    // isIP() takes `fe80::1%eth0`; the header then could not be re-encoded (encodeProxyV2 threw).
    for (const line of ['PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', 'PROXY TCP6 ::1 fe80::1%1 1 2\r\n']) {
      assert.deepEqual(decodeProxyHeader(Buffer.from(line)), { kind: 'error', code: 'v1-syntax', detail: 'not an IPv6 address' });
    }
    // The spec's longest line is 107 bytes with its CRLF: 106 bytes then CRLF (108) is too long,
    // whole or byte by byte, while 105 bytes and CRLF (107) still decodes.
    const pad = (n: number): Buffer => Buffer.from(`PROXY UNKNOWN ${'x'.repeat(n - 'PROXY UNKNOWN '.length)}\r\n`);
    assert.equal(pad(105).length, V1_MAX_BYTES);
    assert.deepEqual(decodeProxyHeader(pad(105)), { kind: 'header', version: 1, addresses: undefined, length: V1_MAX_BYTES });
    for (const d of [decodeProxyHeader(pad(106)), byteByByte(pad(106))]) assert.equal(d.kind === 'error' && d.code, 'v1-too-long');
  });
});
