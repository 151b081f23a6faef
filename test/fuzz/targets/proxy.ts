/**
 * Fuzz target: the SMTP gate's PROXY protocol codec (fronts/smtp-gate/proxy-protocol.ts).
 *
 * Inputs: v1 lines from a grammar (families, addresses, ports, spaces, CR/LF in odd places), v2
 * headers with random command/family/length bytes and blocks, mutated valid v1/v2 headers
 * followed by client bytes, random bytes, and random endpoints for the encoders.
 *
 * Contract checked:
 *   - decodeProxyHeader and looksLikeProxyHeader never throw;
 *   - a header's `length` is within the input, at most 107 bytes (v1) or 16 + V2_MAX_LENGTH (v2);
 *     its addresses are of one family with ports 0-65535;
 *   - arrival order does not matter: for every prefix of the input, a `header` there is the
 *     same header for the whole input, an `error` there is an error for the whole input too,
 *     and `need-more` for the whole input is `need-more` for every prefix;
 *   - anything but `not-proxy` is seen by looksLikeProxyHeader;
 *   - round trip: a decoded header re-encodes (v1 and v2) and decodes to the same addresses;
 *     encoding random endpoints and decoding gives them back.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { parseAddressText } from '../../../src/check/address.js';
import {
  decodeProxyHeader,
  encodeProxyV1,
  encodeProxyV2,
  looksLikeProxyHeader,
  V1_MAX_BYTES,
  V2_MAX_LENGTH,
  V2_SIGNATURE,
  type ProxyDecode,
  type ProxyEndpoints,
} from '../../../src/fronts/smtp-gate/proxy-protocol.js';
import { bytes, mutated, type FuzzTarget } from '../harness.js';

const endpoints4 = fc.record({ sourceAddress: fc.ipV4(), sourcePort: fc.integer({ min: 0, max: 65_535 }), destinationAddress: fc.ipV4(), destinationPort: fc.integer({ min: 0, max: 65_535 }) });
const endpoints6 = fc.record({ sourceAddress: fc.ipV6(), sourcePort: fc.integer({ min: 0, max: 65_535 }), destinationAddress: fc.ipV6(), destinationPort: fc.integer({ min: 0, max: 65_535 }) });
const endpoints = fc.oneof(endpoints4, endpoints6);

const SEEDS = [
  encodeProxyV1({ sourceAddress: '192.0.2.10', sourcePort: 40_000, destinationAddress: '198.51.100.5', destinationPort: 25 }),
  encodeProxyV1({ sourceAddress: '2001:db8::25', sourcePort: 65_535, destinationAddress: '2001:db8:1::1', destinationPort: 0 }),
  Buffer.from('PROXY UNKNOWN\r\n', 'latin1'),
  Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n', 'latin1'),
  encodeProxyV2({ sourceAddress: '192.0.2.10', sourcePort: 40_000, destinationAddress: '198.51.100.5', destinationPort: 25 }),
  encodeProxyV2({ sourceAddress: '2001:db8::25', sourcePort: 1, destinationAddress: '::ffff:192.0.2.1', destinationPort: 25 }),
  Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]),
].map((h) => Buffer.concat([h, Buffer.from('EHLO client.example\r\n', 'latin1')]));

const v1Field = fc.oneof(
  fc.constantFrom('TCP4', 'TCP6', 'UNKNOWN', 'tcp4', 'UDP4', ''),
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4Extended(),
  fc.constantFrom('0', '1', '65535', '65536', '01', '-1', '256.1.1.1', '1.2.3', '::', '::ffff:1.2.3.4', '1.2.3.4%eth0', 'fe80::1%eth0', '::1%1', '1::%'),
  fc.nat(99_999).map(String),
  fc.string({ maxLength: 8 }),
);
const v1Line = fc
  .tuple(fc.array(v1Field, { maxLength: 7 }), fc.constantFrom(' ', '  ', '\t'), fc.constantFrom('\r\n', '\n', '\r', '', '\r\nQUIT\r\n', '\r\r\n'))
  .map(([fields, sep, end]) => Buffer.from(`PROXY ${fields.join(sep)}${end}`, 'latin1'));

/** The shape of a good line, each field drawn from the good and the bad. */
const v1Shaped = fc
  .tuple(fc.constantFrom('TCP4', 'TCP6', 'UNKNOWN'), v1Field, v1Field, v1Field, v1Field)
  .map((fields) => Buffer.from(`PROXY ${fields.join(' ')}\r\n`, 'latin1'));

const v2Header = fc
  .record({
    verCmd: fc.oneof(fc.constantFrom(0x20, 0x21, 0x22, 0x11, 0x2f, 0x31), fc.integer({ min: 0, max: 255 })),
    fam: fc.oneof(fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32), fc.integer({ min: 0, max: 255 })),
    len: fc.oneof(fc.constantFrom(0, 1, 11, 12, 35, 36, 216, V2_MAX_LENGTH, V2_MAX_LENGTH + 1, 0xffff), fc.integer({ min: 0, max: 1_100 })),
    body: bytes(64),
    fill: fc.boolean(),
  })
  .map(({ verCmd, fam, len, body, fill }) => {
    const head = Buffer.alloc(16);
    V2_SIGNATURE.copy(head);
    head[12] = verCmd;
    head[13] = fam;
    head.writeUInt16BE(len, 14);
    // Either the block as announced (then some client bytes), or whatever body came.
    const block = fill ? Buffer.concat([body, Buffer.alloc(Math.max(0, len - body.length))]).subarray(0, Math.min(len, V2_MAX_LENGTH + 8)) : body;
    return Buffer.concat([head, block, fill ? Buffer.from('EHLO x\r\n') : Buffer.alloc(0)]);
  });

type Input =
  | { readonly kind: 'decode'; readonly input: Buffer; readonly cuts: readonly number[] }
  | { readonly kind: 'encode'; readonly endpoints: ProxyEndpoints };

const cuts = fc.array(fc.nat(), { minLength: 1, maxLength: 4 });
const arbitrary: fc.Arbitrary<Input> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('decode' as const), input: v1Line, cuts }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('decode' as const), input: v1Shaped, cuts }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('decode' as const), input: v2Header, cuts }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('decode' as const), input: mutated(SEEDS), cuts }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('decode' as const), input: bytes(200), cuts }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('encode' as const), endpoints }) },
);

function sameAddress(a: string, b: string): boolean {
  const pa = parseAddressText(a);
  const pb = parseAddressText(b);
  return pa.ok && pb.ok && Buffer.from(pa.bytes).equals(Buffer.from(pb.bytes));
}

function sameEndpoints(a: ProxyEndpoints, b: ProxyEndpoints): void {
  assert.ok(sameAddress(a.sourceAddress, b.sourceAddress) && sameAddress(a.destinationAddress, b.destinationAddress), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  assert.equal(a.sourcePort, b.sourcePort);
  assert.equal(a.destinationPort, b.destinationPort);
}

function checkHeader(d: ProxyDecode, input: Buffer): void {
  if (d.kind !== 'header') return;
  assert.ok(d.length > 0 && d.length <= input.length, 'the header lies within the input');
  assert.ok(d.version === 1 ? d.length <= V1_MAX_BYTES : d.length <= 16 + V2_MAX_LENGTH);
  const e = d.addresses;
  if (e === undefined) return;
  const family = isIP(e.sourceAddress);
  assert.ok(family !== 0 && family === isIP(e.destinationAddress), 'addresses of one family');
  for (const port of [e.sourcePort, e.destinationPort]) assert.ok(Number.isInteger(port) && port >= 0 && port <= 65_535);
  for (const encode of [encodeProxyV1, encodeProxyV2]) {
    const again = decodeProxyHeader(encode(e));
    assert.ok(again.kind === 'header' && again.addresses !== undefined, 're-encoded header decodes');
    sameEndpoints(again.addresses, e);
  }
}

export const target: FuzzTarget<Input> = {
  name: 'proxy',
  parser: 'fronts/smtp-gate proxy-protocol.ts decodeProxyHeader / encodeProxyV1 / encodeProxyV2',
  arbitrary,
  check(input) {
    if (input.kind === 'encode') {
      for (const encode of [encodeProxyV1, encodeProxyV2]) {
        const d = decodeProxyHeader(encode(input.endpoints));
        assert.ok(d.kind === 'header' && d.addresses !== undefined, `encoded endpoints decode: ${JSON.stringify(d)}`);
        sameEndpoints(d.addresses, input.endpoints);
      }
      return;
    }
    const whole = decodeProxyHeader(input.input);
    checkHeader(whole, input.input);
    if (input.input.length > 0 && !(whole.kind === 'error' && whole.code === 'not-proxy')) assert.ok(looksLikeProxyHeader(input.input));
    for (const cut of input.cuts) {
      const prefix = input.input.subarray(0, input.input.length === 0 ? 0 : cut % (input.input.length + 1));
      const part = decodeProxyHeader(prefix);
      if (whole.kind === 'need-more') assert.equal(part.kind, 'need-more', 'need-more for the whole input means need-more for a prefix');
      if (part.kind === 'header') assert.deepEqual(part, whole, 'a header in a prefix is the header of the whole input');
      if (part.kind === 'error') assert.equal(whole.kind, 'error', 'an error in a prefix stays an error');
    }
  },
};
