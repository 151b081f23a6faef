/**
 * NAME
 *   cli/operator/args - validation of the operator commands' arguments, before anything is opened
 *
 * SYNOPSIS
 *   parseIp(what, text): string                      normalised address   BS_ERR_ADDRESS_INVALID
 *   parseRange(what, text): string                   address or CIDR      BS_ERR_CIDR_INVALID
 *   parseDuration(what, text): number                30d, 12h, 90m, 45s, 2w → ms
 *   parseWhen(what, text, now, 'future'|'past'): number   a duration from now, or an ISO 8601 time
 *   parseCount(what, text, min, max): number
 *   parseNote(what, text), parseRef(what, text), parseAllowId(what, text), parseReason(what, text)
 *
 * DESCRIPTION
 *   Each parser throws a BlockSmithError whose exit status is 64 (usage) and whose one-line
 *   message starts with the argument's name (`--expires: …`, `RANGE: …`), quoting the value
 *   through printable(). Commands call them all before they load the configuration or open the
 *   store, so a typo never touches the node.
 *
 * LIMITS
 *   DURATION_MAX_MS (10 years), ALLOW_ID_MAX_CHARS (128), FILTER_MAX_CHARS (256), note length FORM_TEXT_MAX_CHARS
 *   (firewall/operator.ts: the firewall would cut a longer one silently).
 */
import { normaliseAddress } from '../../check/address.js';
import { BypassList } from '../../check/bypass.js';
import { BlockSmithError, isBlockSmithError } from '../../errors.js';
import { FORM_TEXT_MAX_CHARS } from '../../firewall/operator.js';
import { isReference } from '../../firewall/reference.js';
import type { Listing } from '../../store/types.js';
import { printable } from '../../util/printable.js';

/** Longest duration accepted anywhere (10 years). */
export const DURATION_MAX_MS = 10 * 365 * 86_400_000;
export const ALLOW_ID_MAX_CHARS = 128;
/** Longest --target, --actor or --action. */
export const FILTER_MAX_CHARS = 256;
/** How much of a rejected value an error message quotes. */
const QUOTED_MAX_CHARS = 40;

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** The reasons a listing can carry (check/types.ts Reason of fail/permerror, and `manual`). */
export const LISTING_REASONS = ['no-ptr', 'no-valid-ptr', 'no-forward-match', 'forward-nodata', 'manual'] as const satisfies readonly Listing['reason'][];

function quote(text: string): string {
  return `"${printable(text, QUOTED_MAX_CHARS)}"`;
}

function usage(what: string, problem: string): BlockSmithError {
  return new BlockSmithError('BS_ERR_USAGE', `${what}: ${problem}`);
}

export function parseIp(what: string, text: string): string {
  try {
    return normaliseAddress(text).ip;
  } catch (err) {
    if (!isBlockSmithError(err)) throw err;
    throw new BlockSmithError('BS_ERR_ADDRESS_INVALID', `${what}: ${err.message}`);
  }
}

export function parseRange(what: string, text: string): string {
  try {
    new BypassList([text]);
  } catch (err) {
    if (!isBlockSmithError(err)) throw err;
    const problem = err.message.replace(/^bypass range #\d+ /, '');
    throw new BlockSmithError('BS_ERR_CIDR_INVALID', `${what}: ${problem}`);
  }
  return text;
}

export function parseDuration(what: string, text: string): number {
  const m = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (m === null) throw usage(what, `${quote(text)} is not a duration (like 45s, 90m, 12h, 30d, 2w)`);
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  if (ms <= 0) throw usage(what, 'the duration must be longer than zero');
  if (ms > DURATION_MAX_MS) throw usage(what, `${quote(text)} is longer than 10 years`);
  return ms;
}

/** A time given as a duration (counted from `now` into the future or the past) or as ISO 8601. */
export function parseWhen(what: string, text: string, now: number, direction: 'future' | 'past'): number {
  const trimmed = text.trim();
  if (/^\d{1,9}[smhdw]$/.test(trimmed)) {
    const ms = parseDuration(what, trimmed);
    return direction === 'future' ? now + ms : now - ms;
  }
  const at = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed) ? Date.parse(trimmed) : NaN;
  if (Number.isNaN(at)) throw usage(what, `${quote(text)} is neither a duration (like 12h, 30d) nor an ISO 8601 time`);
  if (direction === 'future' && at <= now) throw usage(what, `${quote(text)} is not in the future`);
  if (direction === 'past' && at > now) throw usage(what, `${quote(text)} is in the future`);
  return at;
}

export function parseCount(what: string, text: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(text)) throw usage(what, `${quote(text)} is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw usage(what, `must be between ${min} and ${max}`);
  return n;
}

/** An exact-match filter (--target, --actor, --action): not empty, printable ASCII. */
export function parseFilter(what: string, text: string): string {
  if (text === '') throw usage(what, 'must not be empty');
  if (text.length > FILTER_MAX_CHARS || !/^[\x20-\x7e]+$/.test(text)) throw usage(what, `${quote(text)} is not something the audit log holds`);
  return text;
}

export function parseNote(what: string, text: string): string {
  if (text.trim() === '') throw usage(what, 'must not be empty');
  if (text.length > FORM_TEXT_MAX_CHARS) throw usage(what, `longer than ${FORM_TEXT_MAX_CHARS} characters`);
  return text;
}

/** A whitelist request's reference; accepted in lower case too. */
export function parseRef(what: string, text: string): string {
  const ref = text.trim().toUpperCase();
  if (!isReference(ref)) throw usage(what, `${quote(text)} is not a reference (8 characters like K7Q2M9PX)`);
  return ref;
}

export function parseAllowId(what: string, text: string): string {
  if (text.length > ALLOW_ID_MAX_CHARS || !/^[\x21-\x7e]+$/.test(text)) throw usage(what, `${quote(text)} is not an allow entry id`);
  return text;
}

export function parseReason(what: string, text: string): Listing['reason'] {
  const found = LISTING_REASONS.find((r) => r === text);
  if (found === undefined) throw usage(what, `${quote(text)} is not one of ${LISTING_REASONS.join(', ')}`);
  return found;
}

/** One of a fixed set of words (`--state`). */
export function parseChoice<T extends string>(what: string, text: string, choices: readonly T[]): T {
  const found = choices.find((c) => c === text);
  if (found === undefined) throw usage(what, `${quote(text)} is not one of ${choices.join(', ')}`);
  return found;
}
