/**
 * Fuzz target: what the stub resolver does with one datagram from its upstream (dns/udp-pool.ts
 * receive, decodeReply → dns/transport.ts isReplyTo, recordsOf, rcodeOf, flagsOf → dns/stub-resolver.ts
 * classifyReply), in the order the live path runs them.
 *
 * Inputs: replies to a PTR/A/AAAA/CNAME question, encoded by dns-packet from random sections
 * (owners in the question's name, another case, CNAME chains and loops, SOA/NS authority, odd
 * types, random rcodes and flags); mutated valid replies (wrong id, another question, lying
 * counts and RDLENGTHs, compression pointers forward, to themselves and into the header); and
 * random bytes behind a response header.
 *
 * Contract checked:
 *   - decodeReply never throws (garbage is undefined: ignored), and refuses nothing dns-packet decodes;
 *   - one message costs little: impossible header counts are refused before dns-packet allocates;
 *   - a message is accepted only if it is a response with our id and exactly our question;
 *   - an accepted message never throws on its way to a verdict; records are lean strings with a
 *     TTL in 0..2^31-1; the flags are one of the shared sets;
 *   - a DNS failure is never a definite answer: an rcode other than NOERROR/NXDOMAIN is `temp`;
 *     `answer` records are of the asked type and owned by the end of the CNAME chain, which
 *     starts at the question's name; negative TTLs are finite and not negative.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { classifyReply } from '../../../src/dns/stub-resolver.js';
import { encodeQuery, flagsOf, isReplyTo, rcodeOf, recordsOf } from '../../../src/dns/transport.js';
import { decodeReply } from '../../../src/dns/udp-pool.js';
import type { DnsExchange, QueryType } from '../../../src/dns/types.js';
import { bytes, mutated, type FuzzTarget } from '../harness.js';

const ID = 0x5a5a;
const QUESTIONS: readonly { qname: string; qtype: QueryType }[] = [
  { qname: '2.2.0.192.in-addr.arpa', qtype: 'PTR' },
  { qname: 'mail.example.com', qtype: 'A' },
  { qname: 'mail.example.com', qtype: 'AAAA' },
  { qname: 'x.example.com', qtype: 'CNAME' },
];
const MAX_TTL = 2 ** 31 - 1;

/** Host names from a few labels (fc.domain() is slow enough to halve the target's speed). */
const hostName = fc.array(fc.constantFrom('a', 'mail', 'Ex-1', '0', 'xn--bcher-kva', 'in-addr', 'arpa', 'com', '*', '_x', 'a b', 'x\\y'), { minLength: 1, maxLength: 5 }).map((l) => l.join('.'));

const owners = (qname: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(qname) },
    { weight: 1, arbitrary: fc.constant(qname.toUpperCase()) },
    { weight: 2, arbitrary: fc.constantFrom('a.example.com', 'b.example.com', 'c.example.net', 'example.com') },
    { weight: 1, arbitrary: hostName },
  );
const target_ = fc.oneof(
  fc.constantFrom('2.2.0.192.in-addr.arpa', 'mail.example.com', 'a.example.com', 'b.example.com', 'x.example.com', '.', ''),
  hostName,
  fc.string({ minLength: 1, maxLength: 20, unit: 'binary-ascii' }).filter((s) => !s.includes('.') && Buffer.byteLength(s) < 60),
);
const ttl = fc.oneof(fc.constantFrom(0, 1, 300, MAX_TTL, MAX_TTL + 1, 0xffffffff), fc.nat());

function record(qname: string): fc.Arbitrary<Answer> {
  const name = owners(qname);
  return fc.oneof(
    fc.record({ type: fc.constant('PTR' as const), name, ttl, data: target_ }),
    fc.record({ type: fc.constant('CNAME' as const), name, ttl, data: target_ }),
    fc.record({ type: fc.constant('A' as const), name, ttl, data: fc.ipV4() }),
    fc.record({ type: fc.constant('AAAA' as const), name, ttl, data: fc.constantFrom('2001:db8::1', '::ffff:192.0.2.1', '::') }),
    fc.record({ type: fc.constant('NS' as const), name, ttl, data: target_ }),
    fc.record({ type: fc.constant('DNAME' as const), name, ttl, data: target_ }),
    fc.record({ type: fc.constant('TXT' as const), name, ttl, data: fc.array(fc.string({ maxLength: 50 }), { maxLength: 3 }) }),
    fc.record({ type: fc.constant('MX' as const), name, ttl, data: fc.record({ preference: fc.nat(65_535), exchange: target_ }) }),
    fc.record({
      type: fc.constant('SOA' as const),
      name,
      ttl,
      data: fc.record({ mname: target_, rname: target_, serial: fc.nat(), refresh: fc.nat(), retry: fc.nat(), expire: fc.nat(), minimum: fc.oneof(fc.nat(), fc.constant(0xffffffff)) }),
    }),
  );
}

const RCODES = ['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED', 'FORMERR', 'NOTIMP', 'YXDOMAIN', 'RCODE_15'] as const;
const RCODE_NUMBER: Readonly<Record<string, number>> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, RCODE_15: 15 };

const generatedReply = fc
  .record({
    question: fc.constantFrom(...QUESTIONS),
    rcode: fc.constantFrom(...RCODES),
    aa: fc.boolean(),
    ra: fc.boolean(),
    tc: fc.boolean(),
    matchQuestion: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    answers: fc.nat(4),
    authorities: fc.nat(3),
    seed: fc.nat(),
  })
  .chain((r) =>
    fc.tuple(fc.constant(r), fc.array(record(r.question.qname), { maxLength: r.answers }), fc.array(record(r.question.qname), { maxLength: r.authorities })),
  )
  .map(([r, answers, authorities]): { question: (typeof QUESTIONS)[number]; wire: Buffer } | undefined => {
    const flags = (r.aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | (r.ra ? dnsPacket.RECURSION_AVAILABLE : 0) | (r.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | dnsPacket.RECURSION_DESIRED;
    const packet: Packet = {
      type: 'response',
      id: ID,
      flags: flags | (RCODE_NUMBER[r.rcode] ?? 0),
      questions: [{ name: r.matchQuestion ? r.question.qname : 'other.example', type: r.question.qtype, class: 'IN' }],
      answers,
      authorities,
    };
    try {
      return { question: r.question, wire: dnsPacket.encode(packet) };
    } catch {
      return undefined; // a record dns-packet cannot write: not an input
    }
  })
  .filter((x): x is { question: (typeof QUESTIONS)[number]; wire: Buffer } => x !== undefined);

function reply(qname: string, qtype: QueryType, answers: Answer[], authorities: Answer[], flags = dnsPacket.RECURSION_AVAILABLE, rcode = 0): Buffer {
  return dnsPacket.encode({ type: 'response', id: ID, flags: flags | dnsPacket.RECURSION_DESIRED | rcode, questions: [{ name: qname, type: qtype, class: 'IN' }], answers, authorities });
}
const SOA: Answer = { type: 'SOA', name: 'example.com', ttl: 300, data: { mname: 'ns.example.com', rname: 'h.example.com', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 60 } };
const PTR_Q = '2.2.0.192.in-addr.arpa';
const SEEDS: readonly { question: (typeof QUESTIONS)[number]; wire: Buffer }[] = [
  { question: QUESTIONS[0]!, wire: reply(PTR_Q, 'PTR', [{ type: 'PTR', name: PTR_Q, ttl: 300, data: 'mail.example.com' }, { type: 'PTR', name: PTR_Q, ttl: 60, data: 'mx.example.com' }], []) },
  { question: QUESTIONS[0]!, wire: reply(PTR_Q, 'PTR', [{ type: 'CNAME', name: PTR_Q, ttl: 300, data: '2.0/25.2.0.192.in-addr.arpa' }, { type: 'PTR', name: '2.0/25.2.0.192.in-addr.arpa', ttl: 60, data: 'a.example.com' }], []) },
  { question: QUESTIONS[1]!, wire: reply('mail.example.com', 'A', [], [SOA], dnsPacket.AUTHORITATIVE_ANSWER, 3) },
  { question: QUESTIONS[1]!, wire: reply('mail.example.com', 'A', [{ type: 'CNAME', name: 'mail.example.com', ttl: 1, data: 'a.example.com' }, { type: 'CNAME', name: 'a.example.com', ttl: 1, data: 'mail.example.com' }], []) },
  { question: QUESTIONS[2]!, wire: reply('mail.example.com', 'AAAA', [], [{ type: 'NS', name: 'example.com', ttl: 1, data: 'ns.example.com' }], 0) },
  { question: QUESTIONS[2]!, wire: reply('mail.example.com', 'AAAA', [{ type: 'AAAA', name: 'mail.example.com', ttl: 5, data: '2001:db8::1' }], [SOA]) },
];

/** A response header with our id and random rest: gets past the first filters more often than pure noise. */
const noisy = fc.tuple(fc.constantFrom(...QUESTIONS), bytes(300)).map(([question, rest]) => {
  const head = Buffer.from([ID >> 8, ID & 0xff, 0x81, 0x80, 0, 1]);
  return { question, wire: Buffer.concat([head, rest]) };
});

/** Self and forward pointers and pointers into the header, in names of a valid reply. */
const pointerLoops = fc.tuple(fc.constantFrom(...SEEDS), fc.nat(), fc.nat(0x3fff)).map(([seed, at, to]) => {
  const wire = Buffer.from(seed.wire);
  const p = 12 + (at % Math.max(1, wire.length - 13));
  wire.writeUInt16BE(0xc000 | (to % 3 === 0 ? p : to % 3 === 1 ? to % wire.length : to % 12), p);
  return { question: seed.question, wire };
});

const arbitrary = fc.oneof(
  { weight: 4, arbitrary: generatedReply },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...SEEDS), fc.nat(SEEDS.length - 1)).chain(([seed]) => mutated([seed.wire]).map((wire) => ({ question: seed.question, wire }))) },
  { weight: 1, arbitrary: pointerLoops },
  { weight: 1, arbitrary: noisy },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...QUESTIONS), bytes(100)).map(([question, wire]) => ({ question, wire })) },
);

const FLAG_SETS = new Set(Array.from({ length: 32 }, (_, bits) => JSON.stringify({ aa: (bits & 1) !== 0, tc: (bits & 2) !== 0, rd: (bits & 4) !== 0, ra: (bits & 8) !== 0, ad: (bits & 16) !== 0 })));

export const target: FuzzTarget<{ question: (typeof QUESTIONS)[number]; wire: Buffer }> = {
  name: 'dns-reply',
  parser: 'dns udp-pool receive + transport.ts isReplyTo/recordsOf/rcodeOf/flagsOf + stub-resolver.ts classifyReply',
  arbitrary,
  check({ question, wire }) {
    const { qname, qtype } = question;
    // The query we "sent": the reply must repeat its question (sanity for the seeds).
    assert.ok(encodeQuery(ID, qname, qtype).length > 12);
    const packet = decodeReply(wire);
    // decodeReply refuses impossible counts before dns-packet: it must refuse nothing dns-packet
    // would decode (checked where the counts are small enough for dns-packet to be quick).
    if (wire.length >= 12 && wire.readUInt16BE(4) + wire.readUInt16BE(6) + wire.readUInt16BE(8) + wire.readUInt16BE(10) < 2_000) {
      let raw: DecodedPacket | undefined;
      try {
        raw = dnsPacket.decode(wire);
      } catch {
        raw = undefined;
      }
      assert.equal(packet === undefined, raw === undefined, 'decodeReply agrees with dns-packet on what decodes');
    }
    if (packet === undefined) return; // udp-pool.ts: garbage is ignored, the question keeps waiting
    if (packet.type !== 'response' || packet.id === undefined) return;
    if (!isReplyTo(packet, ID, qname, qtype)) return;
    // Accepted: what isReplyTo promises.
    assert.equal(packet.id, ID);
    assert.equal(packet.questions?.length, 1);
    const exchange: DnsExchange = {
      qname,
      qtype,
      server: '127.0.0.1:53',
      transport: 'udp',
      startedAt: 0,
      durationMs: 0,
      rcode: rcodeOf(packet),
      flags: flagsOf(packet),
      answers: recordsOf(packet.answers, qname),
      authority: recordsOf(packet.authorities, qname),
    };
    assert.ok(FLAG_SETS.has(JSON.stringify(exchange.flags)));
    for (const r of [...exchange.answers, ...exchange.authority]) {
      assert.equal(typeof r.name, 'string');
      assert.equal(typeof r.type, 'string');
      assert.equal(typeof r.data, 'string');
      assert.ok(Number.isInteger(r.ttl) && r.ttl >= 0 && r.ttl <= MAX_TTL, `ttl ${r.ttl}`);
      assert.ok(Object.isFrozen(r));
    }
    const verdict = classifyReply(exchange, qname, qtype);
    const rcode = exchange.rcode ?? '';
    if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN') assert.equal(verdict.kind, 'temp', `rcode ${rcode} is a temporary failure`);
    if (verdict.kind === 'answer') {
      const end = verdict.cnames.length === 0 ? qname : verdict.cnames.at(-1)!.data;
      assert.ok(verdict.records.length > 0);
      for (const r of verdict.records) {
        assert.equal(r.type, qtype);
        assert.equal(r.name, end);
      }
    }
    if (verdict.kind !== 'temp' && verdict.cnames.length > 0) assert.equal(verdict.cnames[0]!.name, qname, 'the chain starts at the question');
    if (verdict.kind === 'nxdomain' || verdict.kind === 'nodata') assert.ok(Number.isFinite(verdict.negTtl) && verdict.negTtl >= 0, `negTtl ${verdict.negTtl}`);
    if (verdict.kind === 'cname') assert.equal(typeof verdict.target, 'string');
  },
};
