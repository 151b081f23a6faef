/**
 * NAME
 *   fronts/dnsbl/parser - one DNS query message, from bytes to a typed value (no sockets)
 *
 * SYNOPSIS
 *   parseQuery(buf: Uint8Array): ParsedQuery
 *
 * DESCRIPTION
 *   The query is read by hand rather than with dns-packet's decoder, because a server must keep
 *   the question exactly as it came: labels as raw bytes (its 0x20 case pattern echoed back, a
 *   '.' inside a label never mistaken for a label boundary) and unknown types and classes as
 *   numbers. Nothing here throws; every outcome is a value:
 *
 *     drop     fewer than 12 octets (no header to answer), or QR=1: a response is never
 *              answered, so two servers cannot be made to bounce packets at each other
 *     formerr  a header but no usable question: QDCOUNT != 1, a name running past the end, a
 *              compression pointer in the question, a name over 255 octets, a label byte
 *              outside printable ASCII or a '.' inside a label (never a DNSBL name, and it
 *              could not be echoed faithfully), records after it that do not parse, or two OPT
 *              records (RFC 6891 §6.1.1). Answered with FORMERR and no question.
 *     notimp   OPCODE other than QUERY (RFC 1035 §4.1.1): NOTIMP with the question
 *     query    the question (labels, qtype, qclass), RD, and the EDNS OPT record if present
 *              (its UDP payload size and version)
 *
 *   Answer, authority and additional records of a query are walked only to find the OPT
 *   record; their contents are not used.
 *
 * STANDARDS
 *   RFC 1035 §4.1 (message format), RFC 6891 §6 (OPT pseudo-record).
 */

/** Header length (RFC 1035 §4.1.1). */
export const HEADER_BYTES = 12;
/** Longest name on the wire, length octets included (RFC 1035 §2.3.4). */
const NAME_MAX_BYTES = 255;
const LABEL_MAX_BYTES = 63;
const POINTER_BITS = 0xc0;
const QR_BIT = 0x80;
const OPCODE_SHIFT = 3;
const OPCODE_MASK = 0x0f;
const RD_BIT = 0x01;
const TYPE_OPT = 41;
/** type, class, ttl, rdlength after an RR's owner name. */
const RR_FIXED_BYTES = 10;
const QUESTION_FIXED_BYTES = 4;
const PRINTABLE_FIRST = 0x21;
const PRINTABLE_LAST = 0x7e;
const DOT = 0x2e;

export interface Question {
  /** Labels as received (ASCII, case kept), the zone's included; empty for the root. */
  readonly labels: readonly string[];
  readonly qtype: number;
  readonly qclass: number;
}

export interface Edns {
  /** The requester's UDP payload size (RFC 6891 §6.2.3; below 512 counts as 512). */
  readonly udpBytes: number;
  readonly version: number;
}

export type ParsedQuery =
  | { readonly kind: 'drop'; readonly why: 'short' | 'response' }
  | { readonly kind: 'formerr'; readonly id: number; readonly rd: boolean; readonly why: string }
  | { readonly kind: 'notimp'; readonly id: number; readonly rd: boolean; readonly opcode: number; readonly question: Question | undefined }
  | { readonly kind: 'query'; readonly id: number; readonly rd: boolean; readonly question: Question; readonly edns: Edns | undefined };

function u16(buf: Uint8Array, at: number): number {
  return ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
}

/** readQuestionName - labels from `at`, no compression allowed; the end offset, or a problem. */
function readQuestionName(buf: Uint8Array, at: number): { labels: string[]; end: number } | string {
  const labels: string[] = [];
  let total = 0;
  let p = at;
  for (;;) {
    if (p >= buf.length) return 'the name runs past the end';
    const len = buf[p] ?? 0;
    if ((len & POINTER_BITS) !== 0) return 'compression or an extended label type in the question';
    total += len + 1;
    if (total > NAME_MAX_BYTES) return 'the name is longer than 255 octets';
    p += 1;
    if (len === 0) return { labels, end: p };
    if (len > LABEL_MAX_BYTES || p + len > buf.length) return 'a label runs past the end';
    let label = '';
    for (let i = p; i < p + len; i++) {
      const b = buf[i] ?? 0;
      if (b < PRINTABLE_FIRST || b > PRINTABLE_LAST || b === DOT) return 'a label byte outside printable ASCII';
      label += String.fromCharCode(b);
    }
    labels.push(label);
    p += len;
  }
}

/** skipName - past a name in a record (compression allowed: a pointer ends it). */
function skipName(buf: Uint8Array, at: number): number | undefined {
  let p = at;
  for (let guard = 0; guard <= NAME_MAX_BYTES; guard++) {
    if (p >= buf.length) return undefined;
    const len = buf[p] ?? 0;
    if ((len & POINTER_BITS) === POINTER_BITS) return p + 2 <= buf.length ? p + 2 : undefined;
    if ((len & POINTER_BITS) !== 0) return undefined;
    p += 1 + len;
    if (len === 0) return p;
  }
  return undefined;
}

/** findEdns - walk the records after the question; the OPT record, none, or a problem. */
function findEdns(buf: Uint8Array, at: number, counts: readonly number[]): Edns | undefined | string {
  let p = at;
  let edns: Edns | undefined;
  const [an = 0, ns = 0, ar = 0] = counts;
  for (let i = 0; i < an + ns + ar; i++) {
    const nameEnd = skipName(buf, p);
    if (nameEnd === undefined || nameEnd + RR_FIXED_BYTES > buf.length) return 'a record does not parse';
    const type = u16(buf, nameEnd);
    const rdLength = u16(buf, nameEnd + 8);
    const next = nameEnd + RR_FIXED_BYTES + rdLength;
    if (next > buf.length) return 'a record runs past the end';
    if (type === TYPE_OPT && i >= an + ns) {
      if (edns !== undefined) return 'two OPT records';
      // OPT: CLASS is the payload size, TTL is extended RCODE, version, flags (RFC 6891 §6.1.3).
      edns = { udpBytes: u16(buf, nameEnd + 2), version: buf[nameEnd + 5] ?? 0 };
    }
    p = next;
  }
  return edns;
}

export function parseQuery(buf: Uint8Array): ParsedQuery {
  if (buf.length < HEADER_BYTES) return { kind: 'drop', why: 'short' };
  const flags1 = buf[2] ?? 0;
  if ((flags1 & QR_BIT) !== 0) return { kind: 'drop', why: 'response' };
  const id = u16(buf, 0);
  const rd = (flags1 & RD_BIT) !== 0;
  const opcode = (flags1 >> OPCODE_SHIFT) & OPCODE_MASK;
  const qdcount = u16(buf, 4);
  if (qdcount !== 1) return { kind: 'formerr', id, rd, why: `QDCOUNT ${qdcount}` };
  const name = readQuestionName(buf, HEADER_BYTES);
  if (typeof name === 'string') return { kind: 'formerr', id, rd, why: name };
  if (name.end + QUESTION_FIXED_BYTES > buf.length) return { kind: 'formerr', id, rd, why: 'the question is cut short' };
  const question: Question = { labels: name.labels, qtype: u16(buf, name.end), qclass: u16(buf, name.end + 2) };
  if (opcode !== 0) return { kind: 'notimp', id, rd, opcode, question };
  const edns = findEdns(buf, name.end + QUESTION_FIXED_BYTES, [u16(buf, 6), u16(buf, 8), u16(buf, 10)]);
  if (typeof edns === 'string') return { kind: 'formerr', id, rd, why: edns };
  return { kind: 'query', id, rd, question, edns };
}
