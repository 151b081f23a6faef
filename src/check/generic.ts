/**
 * NAME
 *   check/generic - does a PTR name look like an ISP's generic (dynamic-pool) name?
 *
 * SYNOPSIS
 *   detectGeneric(name: string, ip: IpAddress): GenericEvidence
 *   detectGenericAll(names: readonly string[], ip: IpAddress): GenericEvidence
 *   DYNAMIC_TOKENS, DYNAMIC_TOKENS_WITH_DIGITS, WEAK_TOKENS, LOWERING_TOKENS
 *
 * DESCRIPTION
 *   Step 9 of FCRDNS.md: a hint shown to people and offered to the firewall as a flag, never a
 *   reject reason by default. Input names are expected cleaned by check/names.ts (lower case,
 *   no trailing dot); ASCII case is folded again anyway.
 *
 *   Only the host part is judged: the labels left of the registrable domain
 *   (`registrableDomain` in check/names.ts: last two labels, three under `co.uk`-like
 *   suffixes). A name that is its registrable domain (`example.com`) is never generic.
 *
 *   Signals (fcrdns-systems.md §5.2):
 *   - strong: the client's own address in the host part, generated from the address (never a
 *     "digits and separators" shape, which is what gives Haraka its `mx11` false positives):
 *       IPv4: 3 or 4 octets in sequence, in address order or reversed, joined by `-`, `.`, `_`
 *         or nothing, plain (`198-51-100-7`) or zero-padded to 3 digits (`198-051-100-007`).
 *         Joined by nothing, only the padded forms and the plain 4-octet form count (`5111`
 *         for 51.1.1 is too ambiguous). No digit may touch the match on either side.
 *       IPv4 in hex: the 8 hex digits (`c000020a`, any case), alone, after `0x`, or after one
 *         letter (T-Online's `pD9E4F89F`); no letter or digit may touch it otherwise.
 *       IPv6: the last 64 bits, as 4 groups (plain or padded to 4 digits) joined by `-`, `.`,
 *         `_`, as 16 padded hex digits, or as 16 nibbles joined by `.` or `-`, in order or
 *         reversed; no letter or digit may touch it.
 *   - strong: a dynamic-address token (DYNAMIC_TOKENS) as a whole piece of the host part,
 *     pieces being split at `.`, `-` and `_`, optionally followed by digits (`dsl`, `ppp0`,
 *     `pool12`). `client(s)`, `cust` and `customer` count only with digits, attached or as the
 *     next piece (`client123`, `cust-42`).
 *   - weak: a generic-ish token (WEAK_TOKENS: user, host, res, resnet, vps, cloud, ip), same
 *     matching.
 *   - lowering: a LOWERING_TOKENS piece (static, fix, fixip, business, and the mail roles mail,
 *     mx, smtp, relay, out, outbound, mta; digits may follow: `mx11`, `mail50`). If any is
 *     present the level drops ONE step, however many there are: strong -> weak, weak -> none.
 *     They are reported only when they changed the level.
 *
 *   The level is the strongest signal found, then lowered. Evidence is plain words, e.g.
 *   `the address 198-51-100-7 appears in the name`, `"dsl" is a dynamic-address token`,
 *   `"business" lowers the score`.
 *
 *   detectGenericAll judges each name and returns the strongest (the first of equals); its
 *   `name` is the name judged. With no name at all, or none generic, the level is `none`.
 *
 * LIMITS
 *   Cost: the candidate encodings of the address (a few dozen short strings) are built once per
 *   call of detectGenericAll, then each name costs one `indexOf` per candidate and one split;
 *   no regular expression is built per call.
 *   Names longer than NAME_MAX_CHARS are judged on their first NAME_MAX_CHARS characters.
 *
 * SEE ALSO
 *   /work/shared/research/fcrdns-systems.md §5, check/names.ts, check/types.ts (GenericEvidence).
 */
import type { IpAddress } from './address.js';
import type { GenericEvidence, GenericLevel } from './types.js';
import { NAME_MAX_CHARS, registrableDomain } from './names.js';
import { asciiLower } from '../util/ascii.js';

/** Tokens that mark a dynamic or consumer address pool. */
export const DYNAMIC_TOKENS: ReadonlySet<string> = new Set([
  'dyn', 'dynamic', 'dhcp', 'ppp', 'pppoe', 'dial', 'dialup', 'dsl', 'adsl', 'xdsl', 'vdsl', 'cable',
  'cablemodem', 'catv', 'docsis', 'cpe', 'pool', 'broadband', 'wifi', 'wireless', 'gprs', 'cdma', 'nat',
]);
/** Dynamic tokens that count only when digits follow (`client123`, `cust-42`). */
export const DYNAMIC_TOKENS_WITH_DIGITS: ReadonlySet<string> = new Set(['client', 'clients', 'cust', 'customer']);
/** Tokens common in generic names but also in real server names. */
export const WEAK_TOKENS: ReadonlySet<string> = new Set(['user', 'host', 'res', 'resnet', 'vps', 'cloud', 'ip']);
/** Tokens that make a name look deliberately assigned: each lowers the level one step (once). */
export const LOWERING_TOKENS: ReadonlySet<string> = new Set([
  'static', 'fix', 'fixip', 'business', 'mail', 'mx', 'smtp', 'relay', 'out', 'outbound', 'mta',
]);

const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const IID_FIRST_BYTE = 8;
const OCTET_PAD = 3;
const GROUP_PAD = 4;
const HEX_RADIX = 16;
const BYTE_HEX_DIGITS = 2;
const BITS_PER_BYTE = 8;
const IPV4_WINDOW = 3;
const SEPARATORS = ['-', '.', '_'] as const;
const LEVEL_RANK: Readonly<Record<GenericLevel, number>> = { none: 0, weak: 1, strong: 2 };
const LOWERED: Readonly<Record<GenericLevel, GenericLevel>> = { strong: 'weak', weak: 'none', none: 'none' };

/** One way the address can be written into a name. */
interface Candidate {
  readonly text: string;
  /** Characters that may not touch the match: digits for decimal forms, letters and digits for hex. */
  readonly touching: RegExp;
  /** Allow one letter, or `0x`, right before the match (the 8-hex IPv4 form). */
  readonly letterPrefix: boolean;
  /** Which words explain a match (built only for the candidate that matched). */
  readonly kind: 'decimal' | 'hex' | 'iid';
}

function evidenceFor(candidate: Candidate): string {
  switch (candidate.kind) {
    case 'decimal':
      return `the address ${candidate.text} appears in the name`;
    case 'hex':
      return `the address in hex (${candidate.text}) appears in the name`;
    case 'iid':
      return `the interface identifier (last 64 bits) of the address, ${candidate.text}, appears in the name`;
  }
}

/**
 * Could any spelling of the address occur in this host part? Every IPv4 spelling has at least
 * MIN_DECIMAL_DIGITS digits (three octets) or MIN_HEX_CHARS hex characters (the 8-hex form);
 * every IPv6 one at least MIN_IID_HEX_CHARS (four groups of one digit): most names (`mail`,
 * `mx1.out`) are ruled out without generating a single candidate.
 */
const MIN_DECIMAL_DIGITS = 3;
const MIN_HEX_CHARS = 8;
const MIN_IID_HEX_CHARS = 4;
function mayHoldAddress(host: string, family: 4 | 6): boolean {
  let digits = 0;
  let hex = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      hex++;
    } else if (c >= 97 && c <= 102) hex++;
  }
  return family === 4 ? digits >= MIN_DECIMAL_DIGITS || hex >= MIN_HEX_CHARS : hex >= MIN_IID_HEX_CHARS;
}

const DIGIT = /[0-9]/;
const ALNUM = /[0-9a-z]/;
const LETTER = /[a-z]/;

function pad(text: string, width: number): string {
  return text.padStart(width, '0');
}

/**
 * findIpv4 - the IPv4 address written into a host part, or null. Decimal: a chain of digit runs
 * joined by one and the same separator (`-`, `.`, `_`), of which three or four in a row are
 * octets of the address in order or reversed, all plain (`198-51-100`) or all zero-padded
 * (`198-051-100`); or one digit run that is three or four padded octets run together
 * (`198051100007`), or all four plain ones (`19851100` would be ambiguous with three, so only the
 * four-octet plain form counts). Hex: the eight hex digits, with nothing alphanumeric around them
 * but an optional `0x` or one letter before (`pD9E4F89F`). Works on the name's own digit runs,
 * so it costs a scan of the name, not a search for dozens of pre-built spellings.
 */
function findIpv4(host: string, bytes: Uint8Array): Candidate | null {
  // Runs of digits, each with where it starts.
  const runs: string[] = [];
  const starts: number[] = [];
  for (let i = 0; i < host.length; ) {
    if (!isDigit(host.charCodeAt(i))) {
      i++;
      continue;
    }
    const from = i;
    while (i < host.length && isDigit(host.charCodeAt(i))) i++;
    runs.push(host.slice(from, i));
    starts.push(from);
  }
  if (runs.length === 0) return findHexIpv4(host, bytes);
  const windows = ipv4Windows(bytes);
  let best: string | null = null;
  const consider = (text: string): void => {
    if (best === null || text.length > best.length) best = text;
  };
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i] as string;
    // One run on its own: padded octets run together, or the four plain octets.
    if (windows.joined.has(run)) consider(run);
    // A chain of runs joined by one and the same separator.
    const separator = host[(starts[i] as number) + run.length];
    if (separator !== '-' && separator !== '.' && separator !== '_') continue;
    let end = i + 1;
    while (end < runs.length && starts[end] === (starts[end - 1] as number) + (runs[end - 1] as string).length + 1 && host[(starts[end] as number) - 1] === separator) end++;
    if (end - i < IPV4_WINDOW) continue;
    for (const want of windows.spelled) {
      for (let c = i; c + want.length <= end; c++) {
        let same = true;
        for (let k = 0; k < want.length && same; k++) same = runs[c + k] === want[k];
        if (same) consider(want.join(separator));
      }
    }
  }
  if (best !== null) return { text: best, touching: DIGIT, letterPrefix: false, kind: 'decimal' };
  return findHexIpv4(host, bytes);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * The octet sequences to look for: three or four in a row, in order or reversed, all plain or
 * all padded (`spelled`, longest first); and the forms written without separators (`joined`).
 */
function ipv4Windows(bytes: Uint8Array): { spelled: string[][]; joined: Set<string> } {
  const octets = Array.from(bytes);
  const spelled: string[][] = [];
  const joined = new Set<string>();
  for (const order of [octets, [...octets].reverse()]) {
    const plain = order.map(String);
    const padded = plain.map((o) => pad(o, OCTET_PAD));
    joined.add(plain.join(''));
    for (let len = order.length; len >= IPV4_WINDOW; len--) {
      for (let w = 0; w + len <= order.length; w++) {
        spelled.push(plain.slice(w, w + len), padded.slice(w, w + len));
        joined.add(padded.slice(w, w + len).join(''));
      }
    }
  }
  return { spelled, joined };
}

/** The 8-hex spelling, with nothing alphanumeric around it but an optional `0x` or one letter. */
function findHexIpv4(host: string, bytes: Uint8Array): Candidate | null {
  const hex = Array.from(bytes, (octet) => pad(octet.toString(HEX_RADIX), BYTE_HEX_DIGITS)).join('');
  return findCandidate(host, [{ text: hex, touching: ALNUM, letterPrefix: true, kind: 'hex' }]);
}

/** ipv6Candidates - spellings of the interface identifier (last 64 bits) of an IPv6 address. */
function ipv6Candidates(bytes: Uint8Array): Candidate[] {
  const iid = bytes.slice(IID_FIRST_BYTE);
  const groups: string[] = [];
  for (let i = 0; i < iid.length; i += 2) {
    groups.push((((iid[i] ?? 0) << BITS_PER_BYTE) | (iid[i + 1] ?? 0)).toString(HEX_RADIX));
  }
  const paddedGroups = groups.map((group) => pad(group, GROUP_PAD));
  const nibbles = paddedGroups.join('').split('');
  const texts = new Set<string>([paddedGroups.join('')]);
  for (const separator of SEPARATORS) {
    texts.add(groups.join(separator));
    texts.add(paddedGroups.join(separator));
  }
  for (const separator of ['.', '-']) {
    texts.add(nibbles.join(separator));
    texts.add([...nibbles].reverse().join(separator));
  }
  return [...texts].map((text) => ({ text, touching: ALNUM, letterPrefix: false, kind: 'iid' as const }));
}

function familyOf(ip: Pick<IpAddress, 'bytes'>): 4 | 6 {
  return ip.bytes.length === IPV4_BYTES ? 4 : 6;
}

function candidatesFor(ip: Pick<IpAddress, 'bytes'>): Candidate[] {
  return ip.bytes.length === IPV6_BYTES ? ipv6Candidates(ip.bytes) : [];
}

/** The address in the host part, by the family's own method. */
function findAddress(host: string, ip: Pick<IpAddress, 'bytes'>, candidates: () => readonly Candidate[]): Candidate | null {
  if (ip.bytes.length === IPV4_BYTES) return findIpv4(host, ip.bytes);
  return findCandidate(host, candidates());
}

/** touches - true when the character at `index` exists and matches `pattern`. */
function touches(host: string, index: number, pattern: RegExp): boolean {
  const ch = host[index];
  return ch !== undefined && pattern.test(ch);
}

/** findCandidate - the first candidate that occurs in the host part with clean edges. */
function findCandidate(host: string, candidates: readonly Candidate[]): Candidate | null {
  for (const candidate of candidates) {
    for (let at = host.indexOf(candidate.text); at !== -1; at = host.indexOf(candidate.text, at + 1)) {
      if (touches(host, at + candidate.text.length, candidate.touching)) continue;
      if (!touches(host, at - 1, candidate.touching)) return candidate;
      if (!candidate.letterPrefix) continue;
      // `0x` + hex, or one letter + hex, with nothing alphanumeric before the prefix.
      if (at >= 2 && host.slice(at - 2, at) === '0x' && !touches(host, at - 3, ALNUM)) return candidate;
      if (touches(host, at - 1, LETTER) && !touches(host, at - 2, ALNUM)) return candidate;
    }
  }
  return null;
}

/** judge - one name; `candidates` is asked for only when the host part may hold an address. */
function judge(rawName: string, ip: Pick<IpAddress, 'bytes'>, candidates: () => readonly Candidate[]): GenericEvidence {
  const name = asciiLower(rawName.slice(0, NAME_MAX_CHARS)).replace(/\.$/, '');
  const domain = registrableDomain(name);
  const host = name.length > domain.length ? name.slice(0, name.length - domain.length - 1) : '';
  if (host === '') return { level: 'none', name, evidence: [] };

  let level: GenericLevel = 'none';
  const evidence: string[] = [];
  const raise = (to: GenericLevel, words: string): void => {
    if (LEVEL_RANK[to] > LEVEL_RANK[level]) level = to;
    evidence.push(words);
  };

  const found = mayHoldAddress(host, familyOf(ip)) ? findAddress(host, ip, candidates) : null;
  if (found !== null) raise('strong', evidenceFor(found));

  const lowering: string[] = [];
  const pieces = host.split(/[.\-_]/);
  pieces.forEach((piece, i) => {
    const match = /^([a-z]+)([0-9]*)$/.exec(piece);
    if (match === null) return;
    const word = match[1] ?? '';
    const hasDigits = (match[2] ?? '') !== '' || /^[0-9]+$/.test(pieces[i + 1] ?? '');
    if (DYNAMIC_TOKENS.has(word)) raise('strong', `"${word}" is a dynamic-address token`);
    else if (DYNAMIC_TOKENS_WITH_DIGITS.has(word) && hasDigits) {
      raise('strong', `"${word}" followed by a number is a dynamic-address token`);
    } else if (WEAK_TOKENS.has(word)) raise('weak', `"${word}" is common in generic names (weak sign)`);
    else if (LOWERING_TOKENS.has(word) && !lowering.includes(word)) lowering.push(word);
  });

  if (level !== 'none' && lowering.length > 0) {
    level = LOWERED[level];
    for (const word of lowering) evidence.push(`"${word}" lowers the score`);
  }
  return { level, name, evidence: evidence.length === 0 ? evidence : evidence.slice() }; // exact length: results are kept
}

/** detectGeneric - how generic one PTR name looks for this address. */
export function detectGeneric(name: string, ip: IpAddress): GenericEvidence {
  return judge(name, ip, () => candidatesFor(ip));
}

/** detectGenericAll - the most generic-looking of several names (the first of equals). */
export function detectGenericAll(names: readonly string[], ip: IpAddress): GenericEvidence {
  let computed: readonly Candidate[] | undefined;
  const candidates = (): readonly Candidate[] => (computed ??= candidatesFor(ip));
  let best: GenericEvidence = { level: 'none', evidence: [] };
  for (const name of names) {
    const result = judge(name, ip, candidates);
    if (LEVEL_RANK[result.level] > LEVEL_RANK[best.level]) best = result;
  }
  return best;
}
