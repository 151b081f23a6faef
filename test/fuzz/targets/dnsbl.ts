/**
 * Fuzz target: the DNSBL zone's query path without sockets, as server.ts runs it for a datagram:
 * fronts/dnsbl/parser.ts parseQuery → responder.ts Responder.respond (a real ListingView over a
 * fixed listing) → render.ts renderReply (wire.ts encodeWire, dns-packet as the fallback) within
 * the UDP limit, and within the TCP one.
 *
 * Inputs: queries written by hand from random parts (labels of listed, unlisted and bypassed
 * addresses under the zone in any case, apex, partial and foreign names, odd label bytes, '.'
 * inside a label, compression pointers, random QTYPE/QCLASS/opcode/flags, EDNS OPT records of
 * any version and size, two OPTs, lying counts), mutated valid queries, and random bytes.
 *
 * Contract checked:
 *   - parseQuery, respond and the renderers never throw; respond answers at once (live off);
 *   - `drop` only for fewer than 12 octets or QR=1; everything else gets a reply;
 *   - a reply decodes (dns-packet), is a response, echoes the query's id, RD and (but FORMERR)
 *     its question byte for byte; it fits the UDP limit (512, or the agreed EDNS size), with TC
 *     set when it had to be cut;
 *   - the hand-written encoder (wire.ts) and dns-packet agree on every reply both can write.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import type { NormalisedAddress } from '../../../src/check/address.js';
import { configSchema } from '../../../src/config/schema.js';
import type { Firewall } from '../../../src/firewall/index.js';
import { noMetrics } from '../../../src/metrics/types.js';
import { dnsblName, zoneInfo } from '../../../src/fronts/dnsbl/names.js';
import { parseQuery } from '../../../src/fronts/dnsbl/parser.js';
import { encodePacket, renderReply, renderSlip, TCP_MAX_BYTES, udpLimit } from '../../../src/fronts/dnsbl/render.js';
import { Responder, type Reply } from '../../../src/fronts/dnsbl/responder.js';
import { ListingView } from '../../../src/fronts/dnsbl/view.js';
import { encodeWire } from '../../../src/fronts/dnsbl/wire.js';
import type { Listing } from '../../../src/store/types.js';
import { bytes, mutated, type FuzzTarget } from '../harness.js';

const ZONE = 'bl.example.test';
const LISTED: Readonly<Record<string, Listing['verdict']>> = { '192.0.2.20': 'permerror', '192.0.2.30': 'fail', '2001:db8::7': 'manual' };
const BYPASSED = '10.1.2.3';

function makeResponder(ednsUdpBytes: number): Responder {
  const config = configSchema.parse({
    firewall: { portalUrl: 'https://portal.example.test', organisation: { name: 'Example Org' } },
    dnsbl: { listen: ['127.0.0.1:0'], zone: ZONE, ednsUdpBytes, nsNames: ['ns1.example.test', 'ns2.example.test'] },
  });
  const firewall = {
    exemption: (address: NormalisedAddress) => (address.ip === BYPASSED ? { kind: 'bypass', range: '10.0.0.0/8' } : undefined),
    hotListing: (ip: string) => {
      const verdict = LISTED[ip];
      return verdict === undefined ? undefined : { verdict, recheckDueAt: 0, rejectCount: 0 };
    },
  } as unknown as Firewall;
  return new Responder({ zone: zoneInfo(config.dnsbl), view: new ListingView({ firewall, config }), config: config.dnsbl, metrics: noMetrics });
}
const RESPONDERS = [makeResponder(1_232), makeResponder(512), makeResponder(4_096)];

const NAMES = [
  ...['192.0.2.20', '192.0.2.30', '2001:db8::7', '127.0.0.2', '127.0.0.1', BYPASSED, '198.51.100.1', '::ffff:192.0.2.20'].map((ip) => dnsblName(ip, ZONE)),
  ZONE,
  `2.0.192.${ZONE}`,
  `x.${ZONE}`,
  'example.test',
  '',
  `1.2.3.4.5.${ZONE}`,
  `0x1.2.0.192.${ZONE}`,
];

/** A name's labels, each possibly re-cased, with odd labels thrown in. */
const labels = fc
  .tuple(fc.constantFrom(...NAMES), fc.array(fc.tuple(fc.nat(), fc.constantFrom('upper', 'drop', 'insert', 'dot', 'odd', 'long')), { maxLength: 2 }), fc.boolean())
  .map(([name, edits, mixCase]) => {
    let list = name === '' ? [] : name.split('.');
    if (mixCase) list = list.map((l, i) => (i % 2 === 0 ? l.toUpperCase() : l));
    for (const [at, op] of edits) {
      const i = list.length === 0 ? 0 : at % list.length;
      if (op === 'upper') list[i] = (list[i] ?? '').toUpperCase();
      else if (op === 'drop') list.splice(i, 1);
      else if (op === 'insert') list.splice(i, 0, 'a');
      else if (op === 'dot') list[i] = `${list[i] ?? ''}.x`;
      else if (op === 'odd') list[i] = `${list[i] ?? ''}\u0000\u007f `;
      else list[i] = 'y'.repeat(64);
    }
    return list.map((l) => Buffer.from(l, 'latin1'));
  });

const QTYPES = [1, 2, 6, 16, 28, 251, 252, 255, 12, 0, 65_535];
const QCLASSES = [1, 255, 3, 254, 0];

const query = fc
  .record({
    id: fc.integer({ min: 0, max: 0xffff }),
    flags: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0x0100, 0x0000) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
    labels,
    qtype: fc.oneof(fc.constantFrom(...QTYPES), fc.integer({ min: 0, max: 0xffff })),
    qclass: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...QCLASSES) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
    opt: fc.option(fc.record({ udp: fc.constantFrom(0, 511, 512, 1_232, 4_096, 65_535), version: fc.constantFrom(0, 0, 1, 255), count: fc.constantFrom(1, 1, 2) }), { nil: undefined }),
    extraAnswer: fc.boolean(),
    counts: fc.option(fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)), { freq: 8, nil: undefined }),
    pointer: fc.boolean(),
  })
  .map((q) => {
    const parts: Buffer[] = [];
    for (const l of q.labels) parts.push(Buffer.from([Math.min(l.length, 255)]), l);
    parts.push(q.pointer ? Buffer.from([0xc0, 0x0c]) : Buffer.from([0]));
    const tail = Buffer.alloc(4);
    tail.writeUInt16BE(q.qtype, 0);
    tail.writeUInt16BE(q.qclass, 2);
    parts.push(tail);
    let an = 0;
    if (q.extraAnswer) {
      an = 1;
      parts.push(Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2]));
    }
    let ar = 0;
    if (q.opt !== undefined) {
      for (let i = 0; i < q.opt.count; i++) {
        const opt = Buffer.alloc(11);
        opt.writeUInt16BE(41, 1);
        opt.writeUInt16BE(q.opt.udp, 3);
        opt[6] = q.opt.version;
        parts.push(opt);
        ar += 1;
      }
    }
    const head = Buffer.alloc(12);
    head.writeUInt16BE(q.id, 0);
    head.writeUInt16BE(q.flags, 2);
    const [qd, an2, ns, ar2] = q.counts ?? [1, an, 0, ar];
    head.writeUInt16BE(qd, 4);
    head.writeUInt16BE(an2, 6);
    head.writeUInt16BE(ns, 8);
    head.writeUInt16BE(ar2, 10);
    return Buffer.concat([head, ...parts]);
  });

const SEEDS = ['192.0.2.20', '2001:db8::7', '198.51.100.1'].flatMap((ip) =>
  [1, 16, 255].map((qtype) => {
    const packet = dnsPacket.encode({
      type: 'query',
      id: 0x1234,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: dnsblName(ip, ZONE), type: 'A', class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1_232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    packet.writeUInt16BE(qtype, packet.length - 11 - 4);
    return packet;
  }),
);

const arbitrary = fc.record({
  input: fc.oneof({ weight: 5, arbitrary: query }, { weight: 3, arbitrary: mutated(SEEDS) }, { weight: 1, arbitrary: bytes(80) }),
  responder: fc.nat(RESPONDERS.length - 1),
});

/** The question section as it sits in the message (name, QTYPE, QCLASS), or undefined. */
function questionBytes(message: Buffer): Buffer | undefined {
  let p = 12;
  for (;;) {
    const len = message[p];
    if (len === undefined || len >= 0xc0) return undefined;
    p += 1 + len;
    if (len === 0) break;
  }
  return p + 4 <= message.length ? message.subarray(12, p + 4) : undefined;
}

function sections(p: DecodedPacket): unknown {
  return { id: p.id, type: p.type, flags: p.flags, questions: p.questions, answers: p.answers, authorities: p.authorities, additionals: p.additionals };
}

function checkRendered(out: Buffer, reply: Reply, query: Buffer, limit: number): void {
  assert.ok(out.length <= limit, `a reply of ${out.length} bytes over the limit ${limit}`);
  const decoded = dnsPacket.decode(out);
  assert.equal(decoded.type, 'response');
  assert.equal(decoded.id, query.readUInt16BE(0), 'the query id is echoed');
  assert.equal(decoded.flag_rd, (query[2]! & 0x01) !== 0, 'RD is copied');
  if (reply.question !== undefined) {
    const asked = questionBytes(query);
    const echoed = questionBytes(out);
    assert.ok(asked !== undefined && echoed !== undefined && asked.equals(echoed), 'the question is echoed byte for byte');
  } else assert.equal(out.readUInt16BE(4), 0);
}

export const target: FuzzTarget<{ input: Buffer; responder: number }> = {
  name: 'dnsbl',
  parser: 'fronts/dnsbl parser.ts parseQuery + responder.ts + render.ts/wire.ts',
  arbitrary,
  check({ input, responder }) {
    const parsed = parseQuery(input);
    if (parsed.kind === 'drop') {
      assert.ok(input.length < 12 || (input[2]! & 0x80) !== 0, 'only short messages and responses are dropped');
      return;
    }
    const out = RESPONDERS[responder]!.respond(parsed);
    assert.ok(out !== undefined && !(out instanceof Promise), 'a synchronous reply');
    assert.equal(out.id, input.readUInt16BE(0));
    const limit = udpLimit(out);
    assert.ok(limit >= 512 && limit <= 4_096, `UDP limit ${limit}`);
    const udp = renderReply(out, limit);
    checkRendered(udp, out, input, limit);
    const tcp = renderReply(out, TCP_MAX_BYTES);
    checkRendered(tcp, out, input, TCP_MAX_BYTES);
    if (udp.length !== tcp.length) assert.ok((udp[2]! & 0x02) !== 0, 'a cut reply has TC set');
    checkRendered(renderSlip(out), out, input, limit);
    for (const truncated of [false, true]) {
      const wire = encodeWire(out, truncated);
      if (wire !== undefined) assert.deepEqual(sections(dnsPacket.decode(wire)), sections(dnsPacket.decode(encodePacket(out, truncated))), 'wire.ts and dns-packet agree');
    }
  },
};
