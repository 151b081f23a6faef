/**
 * NAME
 *   fronts/dnsbl/render - a Reply as DNS wire bytes (dns-packet), within a size limit
 *
 * SYNOPSIS
 *   renderReply(reply, maxBytes): Buffer
 *   renderSlip(reply): Buffer                   the empty TC=1 answer the rate limiter "slips"
 *   udpLimit(reply): number                     512 without EDNS, else the agreed UDP size
 *   renderReplyInto(reply, maxBytes, out, at, room): number    the same bytes written into `out`
 *   renderSlipInto(reply, out, at, room): number                 at `at`; their length, -1 if over `room`
 *
 * DESCRIPTION
 *   The question is echoed exactly: dns-packet writes the labels, then the query's own QTYPE
 *   and QCLASS numbers are written over its placeholders (dns-packet cannot spell an unknown
 *   class). A reply bigger than `maxBytes` goes out with TC=1, the question and the OPT record
 *   only (RFC 1035 §4.2.1, RFC 2181 §9): the client asks again over TCP.
 *
 *   RA is never set (authoritative only); RD is copied (RFC 1035 §4.1.1).
 *
 *   The bytes are written by wire.ts (by hand, the fast path); dns-packet (encodePacket) is the
 *   reference and the fallback for any record wire.ts does not write.
 */
import dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { HEADER_BYTES } from './parser.js';
import type { Reply } from './responder.js';
import { encodeWire, planWire, writeWire, type WirePlan } from './wire.js';

/** The classic UDP limit without EDNS (RFC 1035 §2.3.4). */
export const UDP_PLAIN_BYTES = 512;
/** TCP: the 2-octet length prefix is the limit. */
export const TCP_MAX_BYTES = 65_535;
const RCODE_LOW_BITS = 0x0f;
const RCODE_HIGH_SHIFT = 4;

export function udpLimit(reply: Reply): number {
  return reply.edns === undefined ? UDP_PLAIN_BYTES : reply.edns.udpBytes;
}

function encode(reply: Reply, truncated: boolean): Buffer {
  return encodeWire(reply, truncated) ?? encodePacket(reply, truncated);
}

/** encodePacket - the reference encoder (dns-packet), for what wire.ts does not write. */
export function encodePacket(reply: Reply, truncated: boolean): Buffer {
  let flags = reply.rcode & RCODE_LOW_BITS;
  if (reply.aa) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
  if (reply.rd) flags |= dnsPacket.RECURSION_DESIRED;
  if (truncated) flags |= dnsPacket.TRUNCATED_RESPONSE;
  const additionals: Answer[] = [];
  if (reply.edns !== undefined) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: reply.edns.udpBytes,
      extendedRcode: reply.rcode >> RCODE_HIGH_SHIFT,
      ednsVersion: 0,
      flags: 0,
      flag_do: false,
      options: [],
    });
  }
  const q = reply.question;
  const packet: Packet = {
    type: 'response',
    id: reply.id,
    flags,
    questions: q === undefined ? [] : [{ name: q.labels.length === 0 ? '.' : q.labels.join('.'), type: 'A', class: 'IN' }],
    answers: truncated ? [] : [...reply.answers],
    authorities: truncated ? [] : [...reply.authorities],
    additionals,
  };
  const buf = dnsPacket.encode(packet);
  if (q !== undefined) {
    const nameBytes = q.labels.reduce((n, label) => n + label.length + 1, 1);
    buf.writeUInt16BE(q.qtype, HEADER_BYTES + nameBytes);
    buf.writeUInt16BE(q.qclass, HEADER_BYTES + nameBytes + 2);
  }
  return buf;
}

export function renderReply(reply: Reply, maxBytes: number): Buffer {
  const full = encode(reply, false);
  return full.length <= maxBytes ? full : encode(reply, true);
}

export function renderSlip(reply: Reply): Buffer {
  return encode(reply, true);
}

/**
 * writeInto - a planned reply written into `out` at `at`, or, for what wire.ts does not write,
 * dns-packet's bytes (renderReply, or renderSlip when `maxBytes` is undefined) copied there; the
 * length, or -1 when over `room` (nothing usable written).
 */
function writeInto(reply: Reply, planned: WirePlan | undefined, maxBytes: number | undefined, out: Buffer, at: number, room: number): number {
  if (planned === undefined) {
    const bytes = maxBytes === undefined ? renderSlip(reply) : renderReply(reply, maxBytes);
    if (bytes.length > room) return -1;
    bytes.copy(out, at);
    return bytes.length;
  }
  if (planned.size > room) return -1;
  writeWire(reply, planned, out, at);
  return planned.size;
}

/**
 * renderReplyInto - renderReply's bytes written into `out` at `at` (the native UDP path's shared
 * output buffer): no Buffer per reply. The length written, or -1 when over `room` (nothing usable
 * written).
 */
export function renderReplyInto(reply: Reply, maxBytes: number, out: Buffer, at: number, room: number): number {
  let planned = planWire(reply, false);
  if (planned !== undefined && planned.size > maxBytes) planned = planWire(reply, true);
  return writeInto(reply, planned, maxBytes, out, at, room);
}

/** renderSlipInto - renderSlip's bytes into `out` at `at`; the length, or -1 when over `room`. */
export function renderSlipInto(reply: Reply, out: Buffer, at: number, room: number): number {
  return writeInto(reply, planWire(reply, true), undefined, out, at, room);
}
