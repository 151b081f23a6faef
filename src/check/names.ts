/**
 * NAME
 *   check/names - clean and cap the names of a PTR answer
 *
 * SYNOPSIS
 *   cleanPtrNames(raw: readonly string[], maxNames: number): CleanedNames   throws BS_ERR_CONFIG_INVALID
 *   registrableDomain(name: string): string
 *   REPORTED_INVALID_NAMES_MAX, REPORTED_NAME_MAX_CHARS, NAME_MAX_CHARS, LABEL_MAX_CHARS
 *
 * DESCRIPTION
 *   Steps 5 and 6 of FCRDNS.md. The PTR set is under the client's control, so nothing in it is
 *   trusted: every name is checked before it is looked up or shown.
 *
 *   Each raw name: one trailing dot is stripped and ASCII letters are lower-cased (only ASCII:
 *   `toLowerCase` would turn the Kelvin sign U+212A into `k`). The first rule that applies, in
 *   this order, drops it with a reason (`InvalidNameWhy`):
 *     empty           `` or `.` (the root)
 *     ip-literal      an IPv4 or IPv6 address (strict parse, check/address.ts)
 *     bad-characters  anything outside letters, digits, `-`, `.`, `_`: a backslash from a
 *                     presentation escape, spaces, `<`, controls, NUL, non-ASCII
 *     numeric         only digits and dots (`123.456`, `192.000.002.001`), or an all-numeric
 *                     top-level label (`host.123`; RFC 3696 §2: a TLD is never all-numeric)
 *     too-long        name over 253 characters, or a label over 63 (RFC 1035 §2.3.4)
 *     bad-syntax      an empty label (`a..b`, `.a`), a label starting or ending with `-`
 *     localhost       `localhost`, `localhost.*` and `*.localhost` (RFC 6761 §6.3)
 *     single-label    no dot
 *     arpa            `arpa` or under `.arpa` (a reverse name is not a host name)
 *   Names with `_` are kept (Postfix accepts them) and raise `underscore`.
 *
 *   Duplicates (after cleaning) count once, valid or not. Valid names are sorted (code-unit
 *   order: deterministic whatever order the resolver rotated the RRset into); the first
 *   `maxNames` are `evaluated`, the rest `notEvaluated`. `multiDomain`: the valid names belong
 *   to more than one registrable domain (see below).
 *
 *   registrableDomain: the last two labels, or the last three when the last two are a
 *   two-level public suffix. No public-suffix list is shipped (a dependency and a data file to
 *   keep fresh, for a hint): a suffix counts as two-level when the top label is a two-letter
 *   country code and the second is one of the common generic second levels (co, com, net, org,
 *   ac, gov, edu, ne, or, …: `example.co.uk`, `example.com.au`, `example.ne.jp`). Known misses:
 *   private suffixes (`*.dyndns.org`), three-level ones (`*.k12.ca.us`), ccTLDs with other
 *   second levels. Both uses (multiDomain, generic-name detection) are flags, never verdicts.
 *
 * LIMITS
 *   REPORTED_INVALID_NAMES_MAX (50) invalid names are reported; the rest are counted in
 *   `invalidNotReported`, so a 1,000-record PTR set cannot blow up a trace.
 *   REPORTED_NAME_MAX_CHARS (100): a longer invalid name is reported as a prefix + `…`.
 *   The reported name is otherwise as received: escape it before showing it.
 *   `notEvaluated` is not capped here; a PTR RRset is bounded by the 64 KiB DNS message.
 *
 * SEE ALSO
 *   /work/shared/design/FCRDNS.md steps 5-6, check/types.ts (InvalidName), check/generic.ts.
 */
import { asciiLower } from '../util/ascii.js';
import { BlockSmithError } from '../errors.js';
import type { InvalidName, InvalidNameWhy } from './types.js';
import { parseAddressText } from './address.js';

/** Invalid names reported at most per PTR set. */
export const REPORTED_INVALID_NAMES_MAX = 50;
/** A reported invalid name is cut to this many characters (plus `…`). */
export const REPORTED_NAME_MAX_CHARS = 100;
/** RFC 1035 §2.3.4, in presentation form without the trailing dot. */
export const NAME_MAX_CHARS = 253;
export const LABEL_MAX_CHARS = 63;

/** Second-level labels that, under a two-letter country code, form a public suffix (`co.uk`). */
const GENERIC_SECOND_LEVELS: ReadonlySet<string> = new Set([
  'ac', 'ad', 'co', 'com', 'ed', 'edu', 'go', 'gob', 'gov', 'gr', 'lg', 'ltd', 'me', 'mil', 'ne', 'net',
  'nic', 'nom', 'or', 'org', 'plc', 'sch',
]);
const COUNTRY_CODE_CHARS = 2;
const REGISTRABLE_LABELS = 2;

export interface CleanedNames {
  /** Valid names: lower case, no trailing dot, unique, sorted. */
  valid: string[];
  /** Dropped names with the reason, at most REPORTED_INVALID_NAMES_MAX. */
  invalid: InvalidName[];
  /** Invalid names beyond REPORTED_INVALID_NAMES_MAX (counted, not listed). */
  invalidNotReported: number;
  /** Valid names past the cap, not looked up. */
  notEvaluated: string[];
  /** The first `maxNames` valid names: the ones to look up. */
  evaluated: string[];
  /** A valid name holds `_`. */
  underscore: boolean;
  /** The valid names belong to more than one registrable domain. */
  multiDomain: boolean;
}


/** clip - a reportable copy of an untrusted name: at most REPORTED_NAME_MAX_CHARS, no split surrogate pair. */
function clip(name: string): string {
  if (name.length <= REPORTED_NAME_MAX_CHARS) return name;
  let end = REPORTED_NAME_MAX_CHARS;
  const last = name.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${name.slice(0, end)}…`;
}

/** classify - why a cleaned (lower-case, one dot stripped) name is not usable, or null if it is. */
function classify(name: string): InvalidNameWhy | null {
  if (name === '') return 'empty';
  if (parseAddressText(name).ok) return 'ip-literal';
  if (!/^[a-z0-9._-]+$/.test(name)) return 'bad-characters';
  if (/^[0-9.]+$/.test(name)) return 'numeric';
  if (name.length > NAME_MAX_CHARS) return 'too-long';
  const labels = name.split('.');
  for (const label of labels) {
    if (label === '' || label.startsWith('-') || label.endsWith('-')) return 'bad-syntax';
    if (label.length > LABEL_MAX_CHARS) return 'too-long';
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) return 'numeric';
  if (name === 'localhost' || name.startsWith('localhost.') || name.endsWith('.localhost')) return 'localhost';
  if (labels.length < 2) return 'single-label';
  if (name === 'arpa' || name.endsWith('.arpa')) return 'arpa';
  return null;
}

/** registrableDomain - the last two labels, or three under a two-level suffix like co.uk. */
export function registrableDomain(name: string): string {
  const labels = name.split('.');
  const top = labels[labels.length - 1] ?? '';
  const second = labels[labels.length - 2] ?? '';
  const twoLevel =
    labels.length > REGISTRABLE_LABELS && top.length === COUNTRY_CODE_CHARS && GENERIC_SECOND_LEVELS.has(second);
  return labels.slice(-(twoLevel ? REGISTRABLE_LABELS + 1 : REGISTRABLE_LABELS)).join('.');
}

/** cleanPtrNames - validate, de-duplicate, sort and cap the names of a PTR answer. */
export function cleanPtrNames(raw: readonly string[], maxNames: number): CleanedNames {
  if (!Number.isInteger(maxNames) || maxNames < 1) {
    throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `maxNames must be an integer of at least 1, not ${String(maxNames)}`);
  }
  const seen = new Set<string>();
  const valid: string[] = [];
  const invalid: InvalidName[] = [];
  let invalidNotReported = 0;
  for (const entry of raw) {
    const text = typeof entry === 'string' ? entry : String(entry);
    const name = asciiLower(text.endsWith('.') ? text.slice(0, -1) : text);
    if (seen.has(name)) continue;
    seen.add(name);
    const why = classify(name);
    if (why === null) valid.push(name);
    else if (invalid.length < REPORTED_INVALID_NAMES_MAX) invalid.push({ name: clip(text), why });
    else invalidNotReported++;
  }
  valid.sort();
  const parents = new Set(valid.map(registrableDomain));
  return {
    valid,
    invalid,
    invalidNotReported,
    evaluated: valid.slice(0, maxNames),
    notEvaluated: valid.slice(maxNames),
    underscore: valid.some((name) => name.includes('_')),
    multiDomain: parents.size > 1,
  };
}
