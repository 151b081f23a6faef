/**
 * The fast paths of the DNSBL zone against their references: wire.ts (hand-written reply bytes)
 * against dns-packet's encoder (render.ts encodePacket), and names.ts locate's direct IPv4
 * reading against normaliseAddress. Replies come from the real parser and Responder over a
 * real ListingView; only the firewall's two memory look-ups are stood in for (a fixed map).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import { normaliseAddress, type NormalisedAddress } from '../../../../src/check/address.js';
import { configSchema } from '../../../../src/config/schema.js';
import type { Firewall } from '../../../../src/firewall/index.js';
import { dnsblName, locate, zoneInfo, zoneLabels } from '../../../../src/fronts/dnsbl/names.js';
import { parseQuery } from '../../../../src/fronts/dnsbl/parser.js';
import { encodePacket, renderReply, renderReplyInto, renderSlip, renderSlipInto, udpLimit } from '../../../../src/fronts/dnsbl/render.js';
import { Responder, type Reply } from '../../../../src/fronts/dnsbl/responder.js';
import { ListingView } from '../../../../src/fronts/dnsbl/view.js';
import { encodeWire } from '../../../../src/fronts/dnsbl/wire.js';
import type { Listing } from '../../../../src/store/types.js';
import { FIREWALL, recordingMetrics, ZONE_NAME } from './helpers.js';

const LISTED: Readonly<Record<string, Listing['verdict']>> = {
  '192.0.2.20': 'permerror',
  '192.0.2.30': 'fail',
  '2001:db8::7': 'manual',
  '198.51.100.255': 'fail',
};
const BYPASSED = '10.1.2.3';

function makeResponder(dnsbl: Record<string, unknown> = {}): Responder {
  const config = configSchema.parse({ firewall: FIREWALL, dnsbl: { listen: ['127.0.0.1:0'], zone: ZONE_NAME, ...dnsbl } });
  // The two memory look-ups ListingView makes; everything else about the firewall is unused here.
  const firewall = {
    exemption: (address: NormalisedAddress) => (address.ip === BYPASSED ? { kind: 'bypass', range: '10.0.0.0/8' } : undefined),
    hotListing: (ip: string) => {
      const verdict = LISTED[ip];
      return verdict === undefined ? undefined : { verdict, recheckDueAt: 0, rejectCount: 0 };
    },
  } as unknown as Firewall;
  const view = new ListingView({ firewall, config });
  return new Responder({ zone: zoneInfo(config.dnsbl), view, config: config.dnsbl, metrics: recordingMetrics([]) });
}

/** mixCase - flip the case of every other letter (a resolver's 0x20 pattern). */
function mixCase(name: string): string {
  let out = '';
  let flip = false;
  for (const ch of name) {
    if (/[a-z]/i.test(ch)) {
      out += flip ? ch.toUpperCase() : ch.toLowerCase();
      flip = !flip;
    } else out += ch;
  }
  return out;
}

function message(name: string, type: string, options: { edns?: number; id?: number; rd?: boolean } = {}): Buffer {
  const packet: Packet = {
    type: 'query',
    id: options.id ?? 4321,
    flags: options.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as 'A', name, class: 'IN' }],
  };
  if (options.edns !== undefined) {
    packet.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: options.edns, flags: 0, flag_do: false, options: [] }];
  }
  return dnsPacket.encode(packet);
}

function replyFor(responder: Responder, buf: Buffer): Reply {
  const out = responder.respond(parseQuery(buf));
  assert.ok(out !== undefined && !(out instanceof Promise), 'a synchronous reply');
  return out;
}

/** The parts of a decoded message both encoders must agree on (everything a client reads). */
function sections(p: DecodedPacket): unknown {
  return { id: p.id, type: p.type, flags: p.flags, questions: p.questions, answers: p.answers, authorities: p.authorities, additionals: p.additionals };
}

const z = ZONE_NAME;
const NAMES: readonly string[] = [
  dnsblName('192.0.2.20', z), // listed, permerror
  dnsblName('192.0.2.30', z), // listed, fail
  dnsblName('198.51.100.255', z),
  dnsblName('2001:db8::7', z), // listed IPv6 (manual)
  dnsblName('192.0.2.21', z), // not listed
  dnsblName('2001:db8::8', z),
  dnsblName(BYPASSED, z),
  dnsblName('127.0.0.2', z), // RFC 5782 test points
  dnsblName('127.0.0.1', z),
  dnsblName('::ffff:127.0.0.2', z),
  `20.2.0.${z}`, // partial (empty non-terminal)
  `a.b.${z}`, // other
  `01.2.0.192.${z}`, // leading zero: not an address
  z, // apex
  'outside.example.org',
];
const TYPES = ['A', 'TXT', 'ANY', 'AAAA', 'MX', 'SOA', 'NS', 'AXFR'] as const;

describe('wire: hand-written replies decode the same as dns-packet', () => {
  test('every name × type, mixed case, with and without OPT, full and truncated', () => {
    const responder = makeResponder();
    let compared = 0;
    let positive = 0;
    for (const name of NAMES) {
      for (const spelled of [name, mixCase(name), name.toUpperCase()]) {
        for (const type of TYPES) {
          for (const edns of [undefined, 0, 1]) {
            for (const rd of [true, false]) {
              const query = message(spelled, type, { edns, rd, id: 1 + compared });
              const reply = replyFor(responder, query);
              if (reply.answers.length > 0) positive++;
              for (const truncated of [false, true]) {
                const fast = encodeWire(reply, truncated);
                assert.ok(fast !== undefined, `wire.ts writes ${spelled} ${type}`);
                const slow = encodePacket(reply, truncated);
                const decoded = dnsPacket.decode(fast);
                assert.deepEqual(sections(decoded), sections(dnsPacket.decode(slow)), `${spelled} ${type} edns=${String(edns)} truncated=${String(truncated)}`);
                // The question goes back byte for byte (0x20 case, QTYPE, QCLASS).
                const qEnd = 12 + spelled.length + 2 + 4;
                assert.deepEqual(fast.subarray(12, qEnd), query.subarray(12, qEnd));
                assert.equal(decoded.questions?.[0]?.name, spelled);
                compared++;
              }
            }
          }
        }
      }
    }
    assert.ok(positive > 0 && compared === NAMES.length * 3 * TYPES.length * 3 * 2 * 2);
  });

  test('listed answers carry the right A and TXT; owners point at the question (0xC00C)', () => {
    const responder = makeResponder({ listedTtlS: 77 });
    const name = mixCase(dnsblName('192.0.2.30', z));
    const a = encodeWire(replyFor(responder, message(name, 'A', { edns: 0 })), false);
    assert.ok(a !== undefined);
    const answerAt = 12 + name.length + 2 + 4;
    assert.equal(a.readUInt16BE(answerAt), 0xc00c);
    const decoded = dnsPacket.decode(a);
    assert.deepEqual(decoded.answers, [{ name, type: 'A', ttl: 77, class: 'IN', flush: false, data: '127.0.0.3' }]);
    assert.equal(decoded.additionals?.[0]?.type, 'OPT');

    const txt = dnsPacket.decode(encodeWire(replyFor(responder, message(name, 'TXT')), false) ?? Buffer.alloc(0));
    const data = txt.answers?.[0]?.type === 'TXT' ? txt.answers[0].data : [];
    const text = (Array.isArray(data) ? data : [data]).map((d) => d.toString()).join('');
    assert.match(text, /192\.0\.2\.30 has reverse DNS \(PTR\) names that do not resolve back to it/);
  });

  test('TXT texts over 255 octets are cut the same way by both', () => {
    const responder = makeResponder();
    const reply = replyFor(responder, message(dnsblName('192.0.2.20', z), 'TXT'));
    const long: Reply = { ...reply, answers: [{ type: 'TXT', name: dnsblName('192.0.2.20', z), ttl: 5, data: ['x'.repeat(255), 'y'.repeat(100)] }] };
    const fast = encodeWire(long, false);
    assert.ok(fast !== undefined);
    assert.deepEqual(sections(dnsPacket.decode(fast)), sections(dnsPacket.decode(encodePacket(long, false))));
  });

  test('what wire.ts does not write falls back to dns-packet; BADVERS keeps its upper rcode bits', () => {
    const responder = makeResponder();
    const reply = replyFor(responder, message(dnsblName('192.0.2.20', z), 'A'));
    const odd: Reply = { ...reply, answers: [{ type: 'AAAA', name: 'x.example', ttl: 5, data: '2001:db8::1' }] };
    assert.equal(encodeWire(odd, false), undefined);
    assert.deepEqual(sections(dnsPacket.decode(renderReply(odd, 65_535))), sections(dnsPacket.decode(encodePacket(odd, false))));
    const nonAscii: Reply = { ...reply, answers: [{ type: 'TXT', name: dnsblName('192.0.2.20', z), ttl: 5, data: ['é'] }] };
    assert.equal(encodeWire(nonAscii, false), undefined);

    const badvers = replyFor(responder, message(dnsblName('192.0.2.20', z), 'A', { edns: 1 }));
    const bytes = encodeWire(badvers, false);
    assert.ok(bytes !== undefined);
    assert.equal(bytes.at(-6), 1, 'extended RCODE 1 (BADVERS = 16)');
    assert.deepEqual(bytes.subarray(0, 12), encodePacket(badvers, false).subarray(0, 12));
  });

  test('a reply over the UDP limit goes out truncated (TC=1, question only) by both', () => {
    const responder = makeResponder();
    const reply = replyFor(responder, message(dnsblName('192.0.2.20', z), 'TXT'));
    const big: Reply = { ...reply, answers: Array.from({ length: 4 }, () => ({ type: 'TXT' as const, name: dnsblName('192.0.2.20', z), ttl: 5, data: ['z'.repeat(200)] })) };
    const out = dnsPacket.decode(renderReply(big, 512));
    assert.equal(out.flag_tc, true);
    assert.equal(out.answers?.length, 0);
    assert.equal(out.questions?.length, 1);
  });
});

describe('render into a shared buffer (the native UDP path): the same bytes as renderReply', () => {
  test('every name × type, with and without OPT, at an offset; slips too; the fallback and the over-limit cut', () => {
    const responder = makeResponder();
    const out = Buffer.alloc(4096, 0xee);
    const at = 1000;
    let compared = 0;
    for (const name of NAMES) {
      for (const type of TYPES) {
        for (const edns of [undefined, 0]) {
          const reply = replyFor(responder, message(mixCase(name), type, { edns, id: 9 + compared }));
          const expected = renderReply(reply, udpLimit(reply));
          const length = renderReplyInto(reply, udpLimit(reply), out, at, 1232);
          assert.equal(length, expected.length, `${name} ${type}`);
          assert.deepEqual(out.subarray(at, at + length), expected);
          assert.equal(out[at - 1], 0xee, 'nothing written before the offset');
          const slip = renderSlipInto(reply, out, at, 1232);
          assert.deepEqual(out.subarray(at, at + slip), renderSlip(reply));
          compared++;
        }
      }
    }
    assert.equal(compared, NAMES.length * TYPES.length * 2);
    const reply = replyFor(responder, message(dnsblName('192.0.2.20', z), 'TXT'));
    // Over the UDP limit: the truncated reply, as renderReply sends it.
    const big: Reply = { ...reply, answers: Array.from({ length: 4 }, () => ({ type: 'TXT' as const, name: dnsblName('192.0.2.20', z), ttl: 5, data: ['z'.repeat(200)] })) };
    const cut = renderReplyInto(big, 512, out, 0, 4096);
    assert.deepEqual(out.subarray(0, cut), renderReply(big, 512));
    assert.equal(dnsPacket.decode(out.subarray(0, cut)).flag_tc, true);
    // A record wire.ts does not write: dns-packet's bytes, copied.
    const odd: Reply = { ...reply, answers: [{ type: 'AAAA', name: 'x.example', ttl: 5, data: '2001:db8::1' }] };
    const oddLength = renderReplyInto(odd, 4096, out, 10, 4000);
    assert.deepEqual(out.subarray(10, 10 + oddLength), renderReply(odd, 4096));
    // No room: -1, and the caller sends nothing from the slot.
    assert.equal(renderReplyInto(reply, 1232, out, 0, 20), -1);
    assert.equal(renderReplyInto(odd, 4096, out, 0, 20), -1);
  });
});

describe('names: the direct IPv4 reading matches normaliseAddress', () => {
  const zone = zoneLabels(ZONE_NAME);
  test('addresses, edge octets and case of the zone', () => {
    for (const ip of ['0.0.0.0', '1.2.3.4', '192.0.2.20', '255.255.255.255', '10.0.100.9', '127.0.0.2']) {
      const where = locate(mixCase(dnsblName(ip, ZONE_NAME)).split('.'), zone);
      assert.equal(where.kind, 'address');
      if (where.kind === 'address') assert.deepEqual(where.address, normaliseAddress(ip));
    }
  });
  test('not decimal octets: other or partial, never an address', () => {
    const cases: ReadonlyArray<[string, string]> = [
      ['01.2.0.192', 'other'],
      ['256.2.0.192', 'other'],
      ['-1.2.0.192', 'other'],
      ['1e2.2.0.192', 'other'],
      ['1.2.0.0192', 'other'],
      ['2.0.192', 'partial'],
      ['a.2.0.192', 'other'],
      ['a.b', 'partial'],
      ['1.2.3.4.5', 'partial'],
      ['1.2.3.4.5.6.7.8.9.10', 'other'],
    ];
    for (const [below, kind] of cases) assert.equal(locate(`${below}.${ZONE_NAME}`.split('.'), zone).kind, kind, below);
  });
});
