/**
 * NAME
 *   firewall/reply - the SMTP reply text of a rejection or deferral (PRODUCT.md §3)
 *
 * SYNOPSIS
 *   buildReply(input: ReplyInput): SmtpReply
 *   renderReply(reply: SmtpReply): string          the wire form, `450-4.7.25 …\r\n…450 4.7.25 …\r\n`
 *   replyLine(reply, index): string                one line with its code prefix, no CRLF
 *   oneLineReply(reply): string                    `450 4.7.25 <all text>` for single-line fronts
 *   stepWords(reason, family, name?, nameMaxChars?): string
 *   portalLink(base, ip, ref): string
 *   replySafeName(name, maxChars): string
 *
 * DESCRIPTION
 *   Codes: a soft rejection is 450 4.7.25, a hard one 550 5.7.25 (RFC 8765 §3.2: reverse DNS
 *   validation failed), a temperror always 451 4.4.3 (RFC 3463: directory server failure),
 *   whatever the mode.
 *
 *   Text: the IP in brackets, who decided (the organisation), the failing step in plain words,
 *   one URL `<portalUrl>/ip/<ip>?r=<ref>`. It is word-wrapped to REPLY_WRAP_CHARS characters and
 *   sent as a multi-line reply (`code-` on every line but the last, RFC 5321 §4.2.1).
 *
 *   Everything is ASCII. A PTR name is attacker-controlled: it appears only after `printable()`
 *   (ASCII escapes, cut to `replyNameMaxChars` with "...") and a filter that keeps letters,
 *   digits, '.', '-' and '_' and writes '?' for anything else, so no CR, LF, '%', '\\' or '$'
 *   reaches an MTA's reply handling. The organisation name and the portal URL are checked by
 *   the config schema and filtered again here.
 *
 * LIMITS
 *   REPLY_LINE_MAX_OCTETS (512, RFC 5321 §4.5.3.1.5): every line, code prefix and CRLF included,
 *   is at most this long; a word that cannot fit is split. REPLY_WRAP_CHARS (72): the width
 *   lines are wrapped to for readability.
 *
 * SEE ALSO
 *   firewall/decide.ts (when a reply is built), util/printable.ts.
 */
import type { Reason } from '../check/types.js';
import { printable } from '../util/printable.js';
import type { DecisionReason, SmtpReply } from './types.js';

/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, including the reply code and CRLF. */
export const REPLY_LINE_MAX_OCTETS = 512;
/** Text width lines are wrapped to (a readable bounce; far under the limit). */
export const REPLY_WRAP_CHARS = 72;
const CRLF = '\r\n';
/** `450-4.7.25 `: three digits, separator, enhanced code (at most 9 characters by RFC 3463), space. */
const PREFIX_MAX_CHARS = 3 + 1 + 9 + 1;
const TEXT_MAX_CHARS = REPLY_LINE_MAX_OCTETS - PREFIX_MAX_CHARS - CRLF.length;

export type ReplyKind = 'soft' | 'hard' | 'temp';

export interface ReplyInput {
  readonly kind: ReplyKind;
  /** The normalised client address. */
  readonly ip: string;
  readonly family: 4 | 6;
  readonly reason: DecisionReason;
  /** A PTR name to mention (untrusted): the first valid name, for the forward reasons. */
  readonly name?: string;
  /** From portalLink(). */
  readonly url: string;
  readonly organisation: string;
  readonly nameMaxChars: number;
}

const TEMP_REASONS: ReadonlySet<DecisionReason> = new Set<DecisionReason>([
  'dns-temp-ptr',
  'dns-temp-forward',
  'deadline',
  'overload',
  'check-error',
]);

/** replySafeName - a PTR name fit for a reply: printable, ASCII host-name characters only, cut. */
export function replySafeName(name: string, maxChars: number): string {
  return printable(name, maxChars, true).replace(/[^A-Za-z0-9._-]/g, '?');
}

/** Only what a reply may carry of trusted-but-configured text (organisation, URL). */
function replySafeText(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x5b\x5d-\x7e]/g, '?');
}

/** stepWords - the failing step in plain words ("no PTR", "names do not resolve back", …). */
export function stepWords(reason: DecisionReason | Reason, family: 4 | 6, name?: string, nameMaxChars = REPLY_WRAP_CHARS): string {
  const shown = name === undefined || name === '' ? undefined : replySafeName(name, nameMaxChars);
  switch (reason) {
    case 'no-ptr':
      return 'no reverse DNS (PTR) record for this IP';
    case 'no-valid-ptr':
      return 'the reverse DNS (PTR) names of this IP are not valid host names';
    case 'no-forward-match':
      return shown === undefined
        ? 'the reverse DNS (PTR) names of this IP do not resolve back to it'
        : `the reverse DNS (PTR) name ${shown} does not resolve back to this IP`;
    case 'forward-nodata': {
      const record = family === 4 ? 'A' : 'AAAA';
      return shown === undefined
        ? `the reverse DNS (PTR) names of this IP have no address (${record}) record`
        : `the reverse DNS (PTR) name ${shown} has no address (${record}) record`;
    }
    case 'manual':
      return 'this IP is blocked by the operator';
    default:
      return TEMP_REASONS.has(reason)
        ? 'a temporary DNS failure prevented checking the reverse DNS (PTR) of this IP'
        : 'the reverse DNS (PTR) check did not pass';
  }
}

/** portalLink - `<base>/ip/<ip>?r=<ref>` (a trailing '/' of the base is dropped). */
export function portalLink(base: string, ip: string, ref: string): string {
  const root = base.endsWith('/') ? base.slice(0, -1) : base;
  return `${root}/ip/${encodeURIComponent(ip).replace(/%3A/g, ':')}?r=${encodeURIComponent(ref)}`;
}

const CODES: Readonly<Record<ReplyKind, Pick<SmtpReply, 'code' | 'enhanced'>>> = {
  soft: { code: 450, enhanced: '4.7.25' },
  hard: { code: 550, enhanced: '5.7.25' },
  temp: { code: 451, enhanced: '4.4.3' },
};

/** buildReply - the reply for a refusal, wrapped into lines. */
export function buildReply(input: ReplyInput): SmtpReply {
  const org = replySafeText(input.organisation);
  const url = replySafeText(input.url);
  const step = stepWords(input.reason, input.family, input.name, input.nameMaxChars);
  const text =
    input.kind === 'temp'
      ? `[${input.ip}] Deferred by ${org} mail gateway: ${step}. Please try again later. Details: ${url}`
      : input.reason === 'manual'
        ? `[${input.ip}] Rejected by ${org} mail gateway: ${step}. Details and contact: ${url}`
        : `[${input.ip}] Rejected by ${org} mail gateway: ${step}. ` +
          `Mail servers need forward-confirmed reverse DNS. Details, test and unblock: ${url}`;
  return { ...CODES[input.kind], lines: wrap(text, REPLY_WRAP_CHARS) };
}

/** wrap - greedy word wrap to `width`; a word longer than a line can carry is split. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter((w) => w !== '')) {
    const pieces: string[] = [];
    for (let i = 0; i < word.length; i += TEXT_MAX_CHARS) pieces.push(word.slice(i, i + TEXT_MAX_CHARS));
    for (const piece of pieces) {
      if (line === '') line = piece;
      else if (line.length + 1 + piece.length <= width) line += ` ${piece}`;
      else {
        lines.push(line);
        line = piece;
      }
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** replyLine - line `index` with its prefix (`450-4.7.25 ` or, on the last line, `450 4.7.25 `). */
export function replyLine(reply: SmtpReply, index: number): string {
  const last = index === reply.lines.length - 1;
  return `${reply.code}${last ? ' ' : '-'}${reply.enhanced} ${reply.lines[index] ?? ''}`;
}

/** renderReply - the whole reply as sent on the wire, every line ended by CRLF. */
export function renderReply(reply: SmtpReply): string {
  return reply.lines.map((_, i) => replyLine(reply, i) + CRLF).join('');
}

/**
 * oneLineReply - `450 4.7.25 <text>` on one line, for fronts that carry one line (a Postfix
 * policy `action=`). When the text is too long for REPLY_LINE_MAX_OCTETS (long organisation,
 * URL and name together), the words before the URL are cut with "..."; the URL always stays.
 */
export function oneLineReply(reply: SmtpReply): string {
  const prefix = `${reply.code} ${reply.enhanced} `;
  const text = reply.lines.join(' ');
  const room = REPLY_LINE_MAX_OCTETS - CRLF.length - prefix.length;
  if (text.length <= room) return prefix + text;
  const space = text.lastIndexOf(' ');
  const url = text.slice(space + 1, space + 1 + room);
  const ellipsis = '... ';
  const head = text.slice(0, Math.max(0, room - url.length - ellipsis.length));
  return `${prefix}${head}${ellipsis}${url}`.slice(0, REPLY_LINE_MAX_OCTETS - CRLF.length);
}
