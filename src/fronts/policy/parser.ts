/**
 * NAME
 *   fronts/policy/parser - bytes of a policy connection into requests, or a coded error
 *
 * SYNOPSIS
 *   const parser = new PolicyParser({ maxLineBytes, maxRequestBytes })
 *   parser.push(chunk)                 keep a chunk (not copied)
 *   parser.next(): ParseEvent | undefined
 *                                      the next complete request, an error, or undefined when
 *                                      more bytes are needed
 *   parser.inRequest                   true while part of a request has been read
 *
 * DESCRIPTION
 *   Framing only, no socket (STYLE.md §2): Postfix's SMTPD_POLICY_README. A request is lines of
 *   `name=value` ended by LF (a CR before the LF is dropped, so CRLF works), ended by an empty
 *   line. next() consumes bytes only up to the end of one request and keeps the rest, so a
 *   session can answer one request before it reads the next (pipelined requests are served in
 *   order, and unread bytes stay bounded by what the socket delivered before it was paused).
 *
 *   Lines are checked as they arrive; a request's attributes are kept as strings only for the
 *   names in KNOWN_ATTRIBUTES (the ones the front uses): unknown attributes are ignored, as the
 *   protocol requires, and cost no memory. Names are matched byte by byte (no string is made
 *   for a name), and a known attribute whose value has the same bytes as its value in the
 *   previous request of the connection gets the same string back (Postfix repeats request,
 *   protocol_state, helo_name, sender, often client_address, from one request to the next):
 *   a warm request then makes no string at all. Values up to CACHED_VALUE_MAX_BYTES are kept
 *   for that comparison, copied into one buffer per attribute and connection (allocated once:
 *   a value that changes at every request, such as client_address in a benchmark, costs its
 *   string and a copy, no allocation for the copy).
 *
 *   Errors (the session closes the connection without a reply; Postfix then retries and applies
 *   its default action). After an error the parser stays failed.
 *     line-too-long     a line (without its LF) longer than maxLineBytes, detected before its LF
 *     request-too-long  a request (lines with their LF) larger than maxRequestBytes
 *     nul               a NUL byte anywhere (the protocol forbids it in names and values)
 *     no-equals         a non-empty line without '='
 *     bad-name          an attribute name that is empty or holds anything but printable ASCII
 *     duplicate         a known attribute given twice with different values (which one would
 *                       Postfix mean? the README lets a server pick; we refuse to guess about
 *                       the client address or the recipient)
 *     empty-request     an empty line with no attribute before it
 *   Values are UTF-8 (Postfix sends SMTPUTF8 addresses as such); invalid bytes decode to U+FFFD.
 *
 * LIMITS
 *   maxLineBytes, maxRequestBytes (config policy.*): checked before anything is kept.
 */

export interface ParserLimits {
  readonly maxLineBytes: number;
  readonly maxRequestBytes: number;
}

/** The attributes the front reads; every other name is ignored. */
export const KNOWN_ATTRIBUTES = ['request', 'protocol_state', 'client_address', 'helo_name', 'sender', 'recipient'] as const;
export type KnownAttribute = (typeof KNOWN_ATTRIBUTES)[number];
export type Attributes = Partial<Record<KnownAttribute, string>>;

export type ParseErrorCode = 'line-too-long' | 'request-too-long' | 'nul' | 'no-equals' | 'bad-name' | 'duplicate' | 'empty-request';

export type ParseEvent =
  | { readonly kind: 'request'; readonly attributes: Attributes; readonly bytes: number }
  | { readonly kind: 'error'; readonly code: ParseErrorCode; readonly detail: string };

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const EQUALS = 0x3d;
const KNOWN_BYTES: readonly Buffer[] = KNOWN_ATTRIBUTES.map((name) => Buffer.from(name, 'latin1'));
/** The longest known name: longer names are skipped after one comparison. */
const KNOWN_MAX_LENGTH = Math.max(...KNOWN_ATTRIBUTES.map((name) => name.length));
/** Values longer than this are decoded every time, not kept for the next request's comparison. */
export const CACHED_VALUE_MAX_BYTES = 256;

/** knownIndex - the index in KNOWN_ATTRIBUTES of the name buf[start, end), or -1. */
function knownIndex(buf: Buffer, start: number, end: number): number {
  const length = end - start;
  if (length > KNOWN_MAX_LENGTH) return -1;
  for (let k = 0; k < KNOWN_BYTES.length; k++) {
    const name = KNOWN_BYTES[k] as Buffer;
    if (name.length === length && sameBytes(buf, start, name, 0, length)) return k;
  }
  return -1;
}

function sameBytes(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}
const PRINTABLE_FIRST = 0x21;
const PRINTABLE_LAST = 0x7e;

/**
 * nameEnd - where the name of the line buf[start, stop) ends: the index of its first '=' (a byte
 * loop: one pass, no native call per line); `stop` when there is no '='; -1 when the name
 * before it is empty or holds a byte that is not printable ASCII.
 */
function nameEnd(buf: Buffer, start: number, stop: number): number {
  let printable = true;
  for (let i = start; i < stop; i++) {
    const b = buf[i] as number;
    if (b === EQUALS) return printable && i > start ? i : -1;
    if (b < PRINTABLE_FIRST || b > PRINTABLE_LAST) printable = false;
  }
  return stop;
}

export class PolicyParser {
  private readonly limits: ParserLimits;
  /** Received, not yet consumed (each a view of a received chunk). */
  private pending: Buffer[] = [];
  /** Where the unread bytes of pending[0] start: lines are read in place, not sliced off. */
  private offset = 0;
  /** The first NUL of nulChunk at or after the line being read (-1: none): searched once a chunk, not once a line. */
  private nulChunk: Buffer | undefined;
  private nulAt = -1;
  /** Pieces of the current line (before its LF). */
  private line: Buffer[] = [];
  private lineBytes = 0;
  private requestBytes = 0;
  private attributes: Attributes = {};
  private attributeCount = 0;
  private failed: ParseEvent | undefined;
  /** Per known attribute: room for its last value's bytes, their length (-1: none kept), its string. */
  private readonly lastBytes: (Buffer | undefined)[] = KNOWN_ATTRIBUTES.map(() => undefined);
  private readonly lastLengths: number[] = KNOWN_ATTRIBUTES.map(() => -1);
  private readonly lastValues: string[] = KNOWN_ATTRIBUTES.map(() => '');

  constructor(limits: ParserLimits) {
    this.limits = limits;
  }

  /** True while part of a request has been received (for the request timeout). */
  get inRequest(): boolean {
    return this.requestBytes > 0 || this.lineBytes > 0 || this.pending.length > 0;
  }

  push(chunk: Buffer): void {
    if (this.failed === undefined && chunk.length > 0) this.pending.push(chunk);
  }

  next(): ParseEvent | undefined {
    if (this.failed !== undefined) return this.failed;
    while (this.pending.length > 0) {
      const chunk = this.pending[0] as Buffer;
      const start = this.offset;
      const lf = chunk.indexOf(LF, start);
      const end = (lf === -1 ? chunk.length : lf) - start;
      const lineRoom = this.limits.maxLineBytes - this.lineBytes;
      const requestRoom = this.limits.maxRequestBytes - this.requestBytes - this.lineBytes;
      const requestOver = end + (lf === -1 ? 0 : 1) > requestRoom;
      // Both limits crossed in this chunk: name the one a byte-by-byte arrival would hit first,
      // so the error does not depend on how the bytes were cut into segments.
      if (end > lineRoom && (!requestOver || lineRoom <= requestRoom)) {
        return this.fail('line-too-long', `a line longer than ${this.limits.maxLineBytes} bytes`);
      }
      if (requestOver) {
        return this.fail('request-too-long', `a request larger than ${this.limits.maxRequestBytes} bytes`);
      }
      if (lf === -1) {
        this.line.push(start === 0 ? chunk : chunk.subarray(start));
        this.lineBytes += end;
        this.consume(chunk.length);
        continue;
      }
      let event: ParseEvent | undefined;
      if (this.line.length === 0) {
        // The whole line is in this chunk (the usual case): read in place, no slice, no copy.
        if (this.nulChunk !== chunk || (this.nulAt !== -1 && this.nulAt < start)) {
          this.nulChunk = chunk;
          this.nulAt = chunk.indexOf(NUL, start);
        }
        const nul = this.nulAt !== -1 && this.nulAt < lf;
        this.consume(lf + 1);
        event = this.endLine(chunk, start, lf, nul);
      } else {
        this.line.push(chunk.subarray(start, lf));
        const bytes = Buffer.concat(this.line, this.lineBytes + end);
        this.consume(lf + 1);
        event = this.endLine(bytes, 0, bytes.length, bytes.includes(NUL));
      }
      if (event !== undefined) return event;
    }
    return undefined;
  }

  /** consume - pending[0] is read up to `to`: move on in it, or past it. */
  private consume(to: number): void {
    const chunk = this.pending[0] as Buffer;
    if (to < chunk.length) {
      this.offset = to;
      return;
    }
    this.pending.shift();
    this.offset = 0;
    this.nulChunk = undefined; // the same Buffer pushed again is searched again
  }

  /** A line (buf[start, stop), without its LF) is complete: an attribute, or (empty) the end of the request. */
  private endLine(buf: Buffer, start: number, stop: number, nul: boolean): ParseEvent | undefined {
    this.requestBytes += stop - start + 1;
    if (this.line.length > 0) this.line = [];
    this.lineBytes = 0;
    if (stop > start && buf[stop - 1] === CR) stop -= 1;
    if (nul) return this.fail('nul', 'a NUL byte');
    if (stop === start) return this.endRequest();
    const eq = nameEnd(buf, start, stop);
    if (eq === stop) return this.fail('no-equals', 'a line without "="');
    if (eq < 0) return this.fail('bad-name', 'an attribute name that is empty or not printable ASCII');
    this.attributeCount += 1;
    // Most names Postfix sends are not ones the front reads: skip them without making a string.
    const k = knownIndex(buf, start, eq);
    if (k === -1) return undefined;
    const key = KNOWN_ATTRIBUTES[k] as KnownAttribute;
    const value = this.value(k, buf, eq + 1, stop);
    const seen = this.attributes[key];
    if (seen !== undefined && seen !== value) return this.fail('duplicate', `attribute ${key} given twice with different values`);
    this.attributes[key] = value;
    return undefined;
  }

  /** value - buf[start, stop) as UTF-8 text: the previous string of attribute k when the bytes are the same. */
  private value(k: number, buf: Buffer, start: number, stop: number): string {
    const length = stop - start;
    let last = this.lastBytes[k];
    if (last !== undefined && this.lastLengths[k] === length && sameBytes(buf, start, last, 0, length)) return this.lastValues[k] as string;
    const value = buf.toString('utf8', start, stop);
    if (length <= CACHED_VALUE_MAX_BYTES) {
      // Its own memory, not a slice of Buffer's shared pool (which it would keep alive).
      last ??= this.lastBytes[k] = Buffer.allocUnsafeSlow(CACHED_VALUE_MAX_BYTES);
      for (let i = 0; i < length; i++) last[i] = buf[start + i] as number;
      this.lastLengths[k] = length;
      this.lastValues[k] = value;
    } else {
      this.lastLengths[k] = -1;
    }
    return value;
  }

  private endRequest(): ParseEvent {
    if (this.attributeCount === 0) return this.fail('empty-request', 'an empty line with no attribute before it');
    const event: ParseEvent = { kind: 'request', attributes: this.attributes, bytes: this.requestBytes };
    this.attributes = {};
    this.attributeCount = 0;
    this.requestBytes = 0;
    return event;
  }

  private fail(code: ParseErrorCode, detail: string): ParseEvent {
    this.failed = { kind: 'error', code, detail };
    this.pending = [];
    this.offset = 0;
    this.nulChunk = undefined;
    this.line = [];
    return this.failed;
  }
}
