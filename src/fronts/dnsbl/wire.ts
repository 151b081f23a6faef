/**
 * NAME
 *   fronts/dnsbl/wire - the zone's replies as DNS wire bytes, written by hand (the fast path)
 *
 * SYNOPSIS
 *   encodeWire(reply, truncated): Buffer | undefined     undefined: a record it does not write
 *   planWire(reply, truncated) / writeWire(reply, plan, buf, at)   the same, into a given buffer
 *
 * DESCRIPTION
 *   dns-packet's encoder builds and walks many objects per message; at tens of thousands of
 *   queries a second that is most of the zone's cost. The zone only ever answers with A, TXT,
 *   NS and SOA records and an OPT, so those are written here straight into one Buffer sized
 *   in advance. Anything else (no such record today) returns undefined and render.ts uses
 *   dns-packet: the two must decode to the same message (test/unit/fronts/dnsbl/wire.test.ts).
 *
 *   The question is written from its labels as received (0x20 case kept), with the query's own
 *   QTYPE and QCLASS. An answer owned by the question's name points back to it (0xC00C, RFC
 *   1035 §4.1.4); other names (the zone apex of a negative SOA, SOA MNAME/RNAME, NS targets)
 *   are written whole from a small cache of their encodings (config names only, so bounded).
 *   Records carry class IN, as dns-packet's default does.
 *
 *   A text that is not one octet a character (never: the schema keeps it ASCII) is left to
 *   dns-packet, so the length octets can never disagree with the bytes.
 */
import type { Answer } from 'dns-packet';
import { HEADER_BYTES } from './parser.js';
import type { Reply } from './responder.js';

const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const RCODE_LOW_BITS = 0x0f;
const RCODE_HIGH_SHIFT = 4;
const TYPE_A = 1;
const TYPE_NS = 2;
const TYPE_SOA = 6;
const TYPE_TXT = 16;
const TYPE_OPT = 41;
const CLASS_IN = 1;
/** TYPE, CLASS, TTL, RDLENGTH. */
const RR_FIXED_BYTES = 10;
const QUESTION_FIXED_BYTES = 4;
const POINTER_TO_QUESTION = 0xc000 | HEADER_BYTES;
const POINTER_BYTES = 2;
const A_BYTES = 4;
/** SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM. */
const SOA_NUMBERS_BYTES = 20;
const OPT_BYTES = 1 + RR_FIXED_BYTES;
const TXT_STRING_MAX = 255;
const OCTET_MAX = 255;
/** Config names only reach the cache (owners of answers are the question's name): a cap for safety. */
const NAME_CACHE_MAX = 64;

const nameCache = new Map<string, Buffer>();

/** nameBytes - a dotted name in wire form (uncompressed); undefined if it cannot be written. */
function nameBytes(name: string): Buffer | undefined {
  const cached = nameCache.get(name);
  if (cached !== undefined) return cached;
  const labels = name === '.' || name === '' ? [] : name.split('.');
  let size = 1;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || Buffer.byteLength(label) !== label.length) return undefined;
    size += 1 + label.length;
  }
  const buf = Buffer.alloc(size);
  let p = 0;
  for (const label of labels) {
    buf[p] = label.length;
    buf.write(label, p + 1, 'latin1');
    p += 1 + label.length;
  }
  if (nameCache.size < NAME_CACHE_MAX) nameCache.set(name, buf);
  return buf;
}

/** The zone's answers are few values (127.0.0.2-4): their octets are kept once parsed. */
const aCache = new Map<string, number[]>();

/** aBytes - '127.0.0.2' as 4 octets; undefined if not a plain dotted quad. */
function aBytes(text: string): number[] | undefined {
  const cached = aCache.get(text);
  if (cached !== undefined) return cached;
  const parsed = parseA(text);
  if (parsed !== undefined && aCache.size < NAME_CACHE_MAX) aCache.set(text, parsed);
  return parsed;
}

function parseA(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== A_BYTES) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    const n = Number(part);
    if (part === '' || !Number.isInteger(n) || n < 0 || n > OCTET_MAX) return undefined;
    out.push(n);
  }
  return out;
}

/** A record ready to copy: owner (pointer or bytes), type, ttl, rdata pieces. */
export interface Planned {
  readonly owner: Buffer | undefined;
  readonly type: number;
  readonly ttl: number;
  readonly rdLength: number;
  readonly write: (buf: Buffer, at: number) => void;
}

function plan(record: Answer, questionName: string | undefined): Planned | undefined {
  const extra = record as { class?: string; flush?: boolean };
  if ((extra.class !== undefined && extra.class !== 'IN') || extra.flush === true) return undefined;
  let owner: Buffer | undefined;
  if (questionName === undefined || record.name !== questionName) {
    owner = nameBytes(record.name);
    if (owner === undefined) return undefined;
  }
  const ttl = (record as { ttl?: number }).ttl ?? 0;
  switch (record.type) {
    case 'A': {
      const a = aBytes(record.data);
      if (a === undefined) return undefined;
      return { owner, type: TYPE_A, ttl, rdLength: A_BYTES, write: (buf, at) => { for (let i = 0; i < A_BYTES; i++) buf[at + i] = a[i] ?? 0; } };
    }
    case 'TXT': {
      const data = record.data;
      const strings = Array.isArray(data) ? data : [data];
      let rdLength = 0;
      for (const s of strings) {
        if (typeof s !== 'string' || s.length > TXT_STRING_MAX || Buffer.byteLength(s) !== s.length) return undefined;
        rdLength += 1 + s.length;
      }
      return {
        owner, type: TYPE_TXT, ttl, rdLength,
        write: (buf, at) => {
          let p = at;
          for (const s of strings as string[]) {
            buf[p] = s.length;
            buf.write(s, p + 1, 'latin1');
            p += 1 + s.length;
          }
        },
      };
    }
    case 'NS': {
      const target = nameBytes(record.data);
      if (target === undefined) return undefined;
      return { owner, type: TYPE_NS, ttl, rdLength: target.length, write: (buf, at) => { target.copy(buf, at); } };
    }
    case 'SOA': {
      const d = record.data;
      const mname = nameBytes(d.mname);
      const rname = nameBytes(d.rname);
      if (mname === undefined || rname === undefined) return undefined;
      return {
        owner, type: TYPE_SOA, ttl, rdLength: mname.length + rname.length + SOA_NUMBERS_BYTES,
        write: (buf, at) => {
          let p = at;
          p += mname.copy(buf, p);
          p += rname.copy(buf, p);
          buf.writeUInt32BE((d.serial ?? 0) >>> 0, p);
          buf.writeUInt32BE((d.refresh ?? 0) >>> 0, p + 4);
          buf.writeUInt32BE((d.retry ?? 0) >>> 0, p + 8);
          buf.writeUInt32BE((d.expire ?? 0) >>> 0, p + 12);
          buf.writeUInt32BE((d.minimum ?? 0) >>> 0, p + 16);
        },
      };
    }
    default:
      return undefined;
  }
}

function writeRecord(buf: Buffer, at: number, r: Planned): number {
  let p = at;
  if (r.owner === undefined) {
    buf.writeUInt16BE(POINTER_TO_QUESTION, p);
    p += POINTER_BYTES;
  } else {
    p += r.owner.copy(buf, p);
  }
  buf.writeUInt16BE(r.type, p);
  buf.writeUInt16BE(CLASS_IN, p + 2);
  buf.writeUInt32BE(r.ttl >>> 0, p + 4);
  buf.writeUInt16BE(r.rdLength, p + 8);
  p += RR_FIXED_BYTES;
  r.write(buf, p);
  return p + r.rdLength;
}

function recordBytes(r: Planned): number {
  return (r.owner === undefined ? POINTER_BYTES : r.owner.length) + RR_FIXED_BYTES + r.rdLength;
}

/** A reply measured and its records planned: what writeWire needs. */
export interface WirePlan {
  readonly size: number;
  readonly truncated: boolean;
  readonly answers: readonly Planned[];
  readonly authorities: readonly Planned[];
}

/** planWire - the reply's size and records; undefined: a record this file does not write. */
export function planWire(reply: Reply, truncated: boolean): WirePlan | undefined {
  const q = reply.question;
  let questionBytes = 0;
  let questionName: string | undefined;
  if (q !== undefined) {
    questionBytes = 1 + QUESTION_FIXED_BYTES;
    for (const label of q.labels) questionBytes += 1 + label.length;
    // An empty question name (the root) has no labels to point at usefully: write owners whole.
    // The name is joined only when there are records to compare with it.
    if (q.labels.length > 0 && !truncated && (reply.answers.length > 0 || reply.authorities.length > 0)) questionName = q.labels.join('.');
  }
  const answers: Planned[] = [];
  const authorities: Planned[] = [];
  let size = HEADER_BYTES + questionBytes + (reply.edns === undefined ? 0 : OPT_BYTES);
  if (!truncated) {
    for (const record of reply.answers) {
      const r = plan(record, questionName);
      if (r === undefined) return undefined;
      answers.push(r);
      size += recordBytes(r);
    }
    for (const record of reply.authorities) {
      const r = plan(record, questionName);
      if (r === undefined) return undefined;
      authorities.push(r);
      size += recordBytes(r);
    }
  }
  return { size, truncated, answers, authorities };
}

/** writeWire - the planned reply into `buf` from `at` (plan.size octets must fit); the end offset. */
export function writeWire(reply: Reply, planned: WirePlan, buf: Buffer, at: number): number {
  const q = reply.question;
  const { answers, authorities } = planned;
  let flags = FLAG_QR | (reply.rcode & RCODE_LOW_BITS);
  if (reply.aa) flags |= FLAG_AA;
  if (reply.rd) flags |= FLAG_RD;
  if (planned.truncated) flags |= FLAG_TC;
  buf.writeUInt16BE(reply.id & 0xffff, at);
  buf.writeUInt16BE(flags, at + 2);
  buf.writeUInt16BE(q === undefined ? 0 : 1, at + 4);
  buf.writeUInt16BE(answers.length, at + 6);
  buf.writeUInt16BE(authorities.length, at + 8);
  buf.writeUInt16BE(reply.edns === undefined ? 0 : 1, at + 10);
  let p = at + HEADER_BYTES;
  if (q !== undefined) {
    for (const label of q.labels) {
      buf[p] = label.length;
      buf.write(label, p + 1, 'latin1');
      p += 1 + label.length;
    }
    buf[p] = 0;
    buf.writeUInt16BE(q.qtype, p + 1);
    buf.writeUInt16BE(q.qclass, p + 3);
    p += 1 + QUESTION_FIXED_BYTES;
  }
  for (const r of answers) p = writeRecord(buf, p, r);
  for (const r of authorities) p = writeRecord(buf, p, r);
  if (reply.edns !== undefined) {
    buf[p] = 0;
    buf.writeUInt16BE(TYPE_OPT, p + 1);
    buf.writeUInt16BE(reply.edns.udpBytes, p + 3);
    buf[p + 5] = (reply.rcode >> RCODE_HIGH_SHIFT) & 0xff;
    buf[p + 6] = 0;
    buf.writeUInt16BE(0, p + 7);
    buf.writeUInt16BE(0, p + 9);
    p += OPT_BYTES;
  }
  return p;
}

export function encodeWire(reply: Reply, truncated: boolean): Buffer | undefined {
  const planned = planWire(reply, truncated);
  if (planned === undefined) return undefined;
  const buf = Buffer.allocUnsafe(planned.size);
  writeWire(reply, planned, buf, 0);
  return buf;
}
