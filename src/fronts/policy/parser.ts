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
 *   protocol requires, and cost no memory.
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
const KNOWN: ReadonlySet<string> = new Set(KNOWN_ATTRIBUTES);
/** An attribute name: printable ASCII but '=' (Postfix's are lower-case letters and '_'). */
const NAME = /^[\x21-\x3c\x3e-\x7e]+$/;

export class PolicyParser {
  private readonly limits: ParserLimits;
  /** Received, not yet consumed (each a view of a received chunk). */
  private pending: Buffer[] = [];
  /** Pieces of the current line (before its LF). */
  private line: Buffer[] = [];
  private lineBytes = 0;
  private requestBytes = 0;
  private attributes: Attributes = {};
  private attributeCount = 0;
  private failed: ParseEvent | undefined;

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
      const lf = chunk.indexOf(LF);
      const end = lf === -1 ? chunk.length : lf;
      if (this.lineBytes + end > this.limits.maxLineBytes) {
        return this.fail('line-too-long', `a line longer than ${this.limits.maxLineBytes} bytes`);
      }
      if (this.requestBytes + this.lineBytes + end + (lf === -1 ? 0 : 1) > this.limits.maxRequestBytes) {
        return this.fail('request-too-long', `a request larger than ${this.limits.maxRequestBytes} bytes`);
      }
      if (lf === -1) {
        this.line.push(chunk);
        this.lineBytes += chunk.length;
        this.pending.shift();
        continue;
      }
      this.line.push(chunk.subarray(0, lf));
      this.lineBytes += lf;
      if (lf + 1 < chunk.length) this.pending[0] = chunk.subarray(lf + 1);
      else this.pending.shift();
      const event = this.endLine();
      if (event !== undefined) return event;
    }
    return undefined;
  }

  /** A line is complete: an attribute, or (empty) the end of the request. */
  private endLine(): ParseEvent | undefined {
    let bytes = this.line.length === 1 ? (this.line[0] as Buffer) : Buffer.concat(this.line, this.lineBytes);
    this.requestBytes += this.lineBytes + 1;
    this.line = [];
    this.lineBytes = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    if (bytes.includes(NUL)) return this.fail('nul', 'a NUL byte');
    if (bytes.length === 0) return this.endRequest();
    const eq = bytes.indexOf(EQUALS);
    if (eq === -1) return this.fail('no-equals', 'a line without "="');
    const name = bytes.toString('latin1', 0, eq);
    if (!NAME.test(name)) return this.fail('bad-name', 'an attribute name that is empty or not printable ASCII');
    this.attributeCount += 1;
    if (!KNOWN.has(name)) return undefined;
    const key = name as KnownAttribute;
    const value = bytes.toString('utf8', eq + 1);
    const seen = this.attributes[key];
    if (seen !== undefined && seen !== value) return this.fail('duplicate', `attribute ${name} given twice with different values`);
    this.attributes[key] = value;
    return undefined;
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
    this.line = [];
    return this.failed;
  }
}
