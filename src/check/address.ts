/**
 * NAME
 *   check/address - strict IP address parsing, canonical text, reverse names, binary comparison
 *
 * SYNOPSIS
 *   normaliseAddress(input: string): NormalisedAddress            throws BS_ERR_ADDRESS_INVALID
 *   parseAnswerAddress(data: string, family: 4 | 6): Uint8Array | null
 *   reverseName(addr: IpAddress | string): string                 throws BS_ERR_ADDRESS_INVALID
 *   sameAddress(a: AddressLike, b: AddressLike): boolean
 *   formatAddress(bytes: Uint8Array): string
 *   parseAddressText(text: string): ParseOutcome                  (never throws; used by names, bypass)
 *   quoteInput(text: string, maxChars?: number): string
 *   ADDRESS_INPUT_MAX_CHARS, QUOTED_INPUT_MAX_CHARS; types IpAddress, NormalisedAddress, AddressLike
 *
 * DESCRIPTION
 *   Step 1 of FCRDNS.md. Every address BlockSmith judges goes through `normaliseAddress` first;
 *   everything after that compares the `bytes` (4 or 16), never the text.
 *
 *   normaliseAddress: strict parse. Nothing is trimmed (a space is an error). IPv4 must be four
 *   decimal parts of 0-255 without leading zeros: `192.0.2.01`, `1.2.3`, `0x7f.1`, `017.0.0.1`
 *   are refused (inet_aton would read them as octal, hex or shortened forms, a classic source of
 *   "the filter and the kernel disagree" bugs). IPv6 follows RFC 4291 §2.2, including one
 *   embedded dotted IPv4 as the last 32 bits (strict as above). A zone id (`fe80::1%eth0`,
 *   RFC 4007 §11) is stripped, with a note. An IPv4-mapped address (`::ffff:0:0/96`, in any
 *   spelling: `::ffff:192.0.2.1`, `::FFFF:c000:201`) becomes IPv4, with a note: it is how Node
 *   reports IPv4 clients on a dual-stack socket. NAT64 (`64:ff9b::/96`, RFC 6052) and the
 *   deprecated IPv4-compatible form (`::192.0.2.1`) stay IPv6: they are different hosts.
 *   Canonical text: IPv4 dotted decimal; IPv6 per RFC 5952 (lower case, no leading zeros,
 *   the longest run of two or more zero groups as `::`, the first on a tie), always in hex
 *   (the mixed `::a.b.c.d` notation is never produced).
 *
 *   parseAnswerAddress: parses the `data` of an A (family 4) or AAAA (family 6) record for a
 *   binary comparison. Returns null for anything that is not a strict address of that family
 *   (garbage from the wire must not throw). It does NOT unmap: an AAAA `::ffff:192.0.2.1` stays
 *   16 bytes, so it can never equal an IPv4 client (FCRDNS.md step 7, family-strict).
 *
 *   sameAddress: byte-for-byte equality; a 4-byte and a 16-byte value are never equal.
 *
 *   reverseName: `d.c.b.a.in-addr.arpa` (RFC 1035 §3.5) or the 32 reversed nibbles +
 *   `.ip6.arpa` (RFC 3596 §2.5), lower case, no trailing dot.
 *
 * LIMITS
 *   ADDRESS_INPUT_MAX_CHARS (64): longer input is refused before any parsing. The longest
 *   address text is 45 characters (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`), which
 *   leaves room for a zone id (an interface name is at most 15 characters on Linux).
 *   QUOTED_INPUT_MAX_CHARS (64): at most this much of the input is echoed in an error message,
 *   with control characters, quotes, backslashes and every non-ASCII character escaped (so a
 *   look-alike digit shows up as `\u{ff11}`, not as `1`).
 *
 * DIAGNOSTICS
 *   BlockSmithError('BS_ERR_ADDRESS_INVALID', 'not a valid IP address "<quoted input>": <problem>').
 *
 * STANDARDS
 *   RFC 4291 §2.2 (text forms), RFC 5952 (canonical text), RFC 4007 §11 (zone ids),
 *   RFC 6052 (NAT64, kept as IPv6), RFC 1035 §3.5 and RFC 3596 §2.5 (reverse names).
 *   Not accepted: inet_aton's shortened/octal/hex IPv4 forms, bracketed `[v6]`, `addr:port`,
 *   CIDR suffixes (a range is not an address; see check/bypass.ts for ranges).
 *
 * SEE ALSO
 *   /work/shared/design/FCRDNS.md step 1, check/bypass.ts, check/names.ts.
 */
import { BlockSmithError } from '../errors.js';

/** Longest input accepted by `normaliseAddress` (characters). */
export const ADDRESS_INPUT_MAX_CHARS = 64;
/** Most characters of a caller's input echoed in an error message. */
export const QUOTED_INPUT_MAX_CHARS = 64;

const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const IPV4_PARTS = 4;
const IPV6_GROUPS = 8;
const IPV6_GROUP_MAX_HEX_DIGITS = 4;
const IPV4_PART_MAX_DIGITS = 3;
const OCTET_MAX = 255;
const BITS_PER_BYTE = 8;
const NIBBLE_BITS = 4;
const NIBBLE_MASK = 0x0f;
const BYTE_MASK = 0xff;
const HEX_RADIX = 16;
/** A zero-group run shorter than this is not compressed to `::` (RFC 5952 §4.2.2). */
const IPV6_MIN_COMPRESSED_GROUPS = 2;
/** Bytes 0-9 zero and 10-11 0xff: `::ffff:0:0/96`, RFC 4291 §2.5.5.2. */
const MAPPED_PREFIX_ZERO_BYTES = 10;
const MAPPED_PREFIX_BYTES = 12;

/** A parsed address: canonical text, family, and the binary form every comparison uses. */
export interface IpAddress {
  readonly ip: string;
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/** What `normaliseAddress` returns: the address, and why its text changed, if it did. */
export interface NormalisedAddress extends IpAddress {
  /** Set when the input was changed beyond spelling: zone id stripped, IPv4-mapped unmapped. */
  readonly note?: string;
}

/** Something that carries address bytes: a parsed address, or raw bytes. */
export type AddressLike = Uint8Array | { readonly bytes: Uint8Array };

/** The outcome of a non-throwing parse. */
export type ParseOutcome =
  | { readonly ok: true; readonly family: 4 | 6; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly problem: string };

function failed(problem: string): ParseOutcome {
  return { ok: false, problem };
}

/** quoteInput - the first `maxChars` characters of untrusted text, escaped and in quotes, for a message. */
export function quoteInput(text: string, maxChars: number = QUOTED_INPUT_MAX_CHARS): string {
  // Slice before splitting into code points, so a huge string costs nothing; two code units per
  // code point at most.
  const points = Array.from(text.slice(0, maxChars * 2));
  const cut = points.length > maxChars || text.length > maxChars * 2;
  let out = '';
  for (const ch of points.slice(0, maxChars)) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0x20 && cp <= 0x7e) out += ch;
    else if (cp <= BYTE_MASK) out += `\\x${cp.toString(HEX_RADIX).padStart(2, '0')}`;
    else out += `\\u{${cp.toString(HEX_RADIX)}}`;
  }
  return `"${out}${cut ? '…' : ''}"`;
}

function invalid(input: string, problem: string): BlockSmithError {
  return new BlockSmithError('BS_ERR_ADDRESS_INVALID', `not a valid IP address ${quoteInput(input)}: ${problem}`);
}

/** parseIPv4 - four strict decimal parts, or the problem. */
function parseIPv4(text: string): ParseOutcome {
  const parts = text.split('.');
  if (parts.length !== IPV4_PARTS) {
    return failed(
      `an IPv4 address has ${IPV4_PARTS} dot-separated decimal parts, this has ${parts.length} ` +
        '(shortened, hexadecimal and octal forms are not accepted)',
    );
  }
  const bytes = new Uint8Array(IPV4_BYTES);
  for (let i = 0; i < IPV4_PARTS; i++) {
    const part = parts[i] ?? '';
    if (part === '') return failed('an IPv4 part is empty');
    if (!/^[0-9]+$/.test(part)) {
      return failed(/^0x/i.test(part) ? 'hexadecimal IPv4 parts are not accepted' : 'an IPv4 part is not a decimal number');
    }
    if (part.length > 1 && part.startsWith('0')) {
      return failed('an IPv4 part has a leading zero (it could be read as octal)');
    }
    const value = part.length > IPV4_PART_MAX_DIGITS ? OCTET_MAX + 1 : Number(part);
    if (value > OCTET_MAX) return failed(`an IPv4 part is over ${OCTET_MAX}`);
    bytes[i] = value;
  }
  return { ok: true, family: 4, bytes };
}

/** parseGroups - the 16-bit words of one side of `::`; a dotted IPv4 only as the last group, if allowed. */
function parseGroups(groups: readonly string[], v4AllowedLast: boolean): number[] | string {
  const words: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i] ?? '';
    if (group.includes('.')) {
      if (!v4AllowedLast || i !== groups.length - 1) return 'an embedded IPv4 address may only be the last 32 bits';
      const v4 = parseIPv4(group);
      if (!v4.ok) return `in the embedded IPv4 address: ${v4.problem}`;
      const [a = 0, b = 0, c = 0, d = 0] = v4.bytes;
      words.push((a << BITS_PER_BYTE) | b, (c << BITS_PER_BYTE) | d);
      continue;
    }
    if (group === '') return 'an empty group (a stray ":" at the start or end, or ":::")';
    if (group.length > IPV6_GROUP_MAX_HEX_DIGITS) {
      return `a group has more than ${IPV6_GROUP_MAX_HEX_DIGITS} hex digits`;
    }
    words.push(parseInt(group, HEX_RADIX));
  }
  return words;
}

/** parseIPv6 - RFC 4291 §2.2 text (no zone id) to 16 bytes, or the problem. */
function parseIPv6(text: string): ParseOutcome {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) {
    return failed('an IPv6 address holds only hex digits, colons and (for an embedded IPv4 address) dots');
  }
  if (text.includes(':::')) return failed('three colons in a row');
  const gap = text.indexOf('::');
  if (gap !== -1 && text.indexOf('::', gap + 1) !== -1) return failed('"::" appears more than once');
  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? '' : text.slice(gap + 2);
  const headWords = parseGroups(head === '' ? [] : head.split(':'), gap === -1);
  if (typeof headWords === 'string') return failed(headWords);
  const tailWords = parseGroups(tail === '' ? [] : tail.split(':'), true);
  if (typeof tailWords === 'string') return failed(tailWords);
  const total = headWords.length + tailWords.length;
  if (gap === -1 && total !== IPV6_GROUPS) {
    return failed(`an IPv6 address has ${IPV6_GROUPS} groups (or "::" for a run of zeros), this has ${total}`);
  }
  if (gap !== -1 && total >= IPV6_GROUPS) return failed('too many groups for "::" to stand for any');
  const words = [...headWords, ...new Array<number>(IPV6_GROUPS - total).fill(0), ...tailWords];
  const bytes = new Uint8Array(IPV6_BYTES);
  words.forEach((word, i) => {
    bytes[2 * i] = word >> BITS_PER_BYTE;
    bytes[2 * i + 1] = word & BYTE_MASK;
  });
  return { ok: true, family: 6, bytes };
}

/**
 * parseAddressText - strict parse of IPv4 or IPv6 text with no zone id and no unmapping.
 * Never throws. Shared by the DNS-answer parser, the bypass list and the PTR-name cleaner.
 */
export function parseAddressText(text: string): ParseOutcome {
  if (text.length === 0) return failed('empty');
  if (text.length > ADDRESS_INPUT_MAX_CHARS) return failed(`longer than ${ADDRESS_INPUT_MAX_CHARS} characters`);
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

/** isMapped - true for `::ffff:0:0/96` (IPv4-mapped IPv6). */
function isMapped(bytes: Uint8Array): boolean {
  if (bytes.length !== IPV6_BYTES) return false;
  for (let i = 0; i < MAPPED_PREFIX_ZERO_BYTES; i++) if (bytes[i] !== 0) return false;
  return bytes[MAPPED_PREFIX_ZERO_BYTES] === BYTE_MASK && bytes[MAPPED_PREFIX_ZERO_BYTES + 1] === BYTE_MASK;
}

function hex(n: number): string {
  return n.toString(HEX_RADIX);
}

/** formatAddress - canonical text of 4 bytes (dotted) or 16 bytes (RFC 5952). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === IPV4_BYTES) return Array.from(bytes).join('.');
  if (bytes.length !== IPV6_BYTES) {
    throw new BlockSmithError('BS_ERR_ADDRESS_INVALID', `an address has 4 or 16 bytes, not ${bytes.length}`);
  }
  const words: number[] = [];
  for (let i = 0; i < IPV6_GROUPS; i++) words.push(((bytes[2 * i] ?? 0) << BITS_PER_BYTE) | (bytes[2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < IPV6_GROUPS; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < IPV6_GROUPS && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < IPV6_MIN_COMPRESSED_GROUPS) return words.map(hex).join(':');
  return `${words.slice(0, bestStart).map(hex).join(':')}::${words.slice(bestStart + bestLength).map(hex).join(':')}`;
}

/** normaliseAddress - strict parse to canonical text and bytes; unmaps IPv4-mapped, strips zone ids. */
export function normaliseAddress(input: string): NormalisedAddress {
  if (typeof input !== 'string') throw invalid(String(input), 'not a string');
  if (input.length === 0) throw invalid(input, 'empty');
  if (input.length > ADDRESS_INPUT_MAX_CHARS) {
    throw invalid(input, `${input.length} characters long, at most ${ADDRESS_INPUT_MAX_CHARS} are accepted`);
  }
  if (/\p{Cc}/u.test(input)) throw invalid(input, 'contains a control character');
  if (/\s/.test(input)) throw invalid(input, 'contains white space (nothing is trimmed)');
  if (/[^\x20-\x7e]/.test(input)) {
    throw invalid(input, 'contains a non-ASCII character (a look-alike of a digit, letter or dot?)');
  }
  if (input.includes('/')) throw invalid(input, 'has a prefix length: an address is expected, not a range');
  if (input.startsWith('[')) throw invalid(input, 'remove the brackets: an address is expected, not a URL host');
  if (/^[0-9.]+:[0-9]+$/.test(input)) throw invalid(input, 'looks like address:port; give the address alone');

  const notes: string[] = [];
  let text = input;
  const percent = input.indexOf('%');
  if (percent !== -1) {
    const zone = input.slice(percent + 1);
    text = input.slice(0, percent);
    if (text === '') throw invalid(input, 'nothing before the zone id "%"');
    if (!text.includes(':')) throw invalid(input, 'a zone id ("%…") belongs to an IPv6 address only');
    if (zone === '') throw invalid(input, 'empty zone id after "%"');
    if (!/^[A-Za-z0-9._~-]+$/.test(zone)) {
      throw invalid(input, 'the zone id holds characters other than letters, digits, ".", "_", "~" and "-"');
    }
    notes.push(`IPv6 zone id "%${zone}" removed`);
  }

  const parsed = parseAddressText(text);
  if (!parsed.ok) {
    const hostName = !text.includes(':') && /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(text) && /[g-wyz]/i.test(text);
    throw invalid(input, hostName ? 'looks like a host name; an IP address is expected' : parsed.problem);
  }
  let bytes = parsed.bytes;
  let family = parsed.family;
  if (isMapped(bytes)) {
    bytes = bytes.slice(MAPPED_PREFIX_BYTES);
    family = 4;
    notes.push(`IPv4-mapped IPv6 address (::ffff:0:0/96) treated as the IPv4 address ${formatAddress(bytes)}`);
  }
  const ip = formatAddress(bytes);
  return notes.length > 0 ? { ip, family, bytes, note: notes.join('; ') } : { ip, family, bytes };
}

/** parseAnswerAddress - bytes of an A/AAAA record's data in the expected family, null if it is not one. */
export function parseAnswerAddress(data: string, family: 4 | 6): Uint8Array | null {
  if (typeof data !== 'string') return null;
  const parsed = parseAddressText(data);
  if (!parsed.ok || parsed.family !== family) return null;
  return parsed.bytes;
}

function bytesOf(value: AddressLike): Uint8Array {
  return value instanceof Uint8Array ? value : value.bytes;
}

/** sameAddress - binary equality; family-strict (4 bytes never equal 16 bytes). */
export function sameAddress(a: AddressLike, b: AddressLike): boolean {
  const x = bytesOf(a);
  const y = bytesOf(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** reverseName - the PTR query name for an address (in-addr.arpa or ip6.arpa), no trailing dot. */
export function reverseName(addr: Pick<IpAddress, 'family' | 'bytes'> | string): string {
  const { family, bytes } = typeof addr === 'string' ? normaliseAddress(addr) : addr;
  if (family === 4 && bytes.length === IPV4_BYTES) return `${Array.from(bytes).reverse().join('.')}.in-addr.arpa`;
  if (family === 6 && bytes.length === IPV6_BYTES) {
    const nibbles: string[] = [];
    for (let i = IPV6_BYTES - 1; i >= 0; i--) {
      const byte = bytes[i] ?? 0;
      nibbles.push(hex(byte & NIBBLE_MASK), hex(byte >> NIBBLE_BITS));
    }
    return `${nibbles.join('.')}.ip6.arpa`;
  }
  throw new BlockSmithError(
    'BS_ERR_ADDRESS_INVALID',
    `family ${String(family)} does not match an address of ${bytes.length} bytes`,
  );
}
