/**
 * NAME
 *   check/bypass - the ranges that are never checked (verdict `skipped`)
 *
 * SYNOPSIS
 *   new BypassList(ranges: readonly string[])        throws BS_ERR_CIDR_INVALID
 *   list.match(addr: { bytes: Uint8Array }): string | null
 *   list.size: number
 *   list.ranges: readonly string[]
 *
 * DESCRIPTION
 *   Step 2 of FCRDNS.md. Built once from the configured CIDR strings (config/schema.ts
 *   `DEFAULT_BYPASS`, the allowlist); `match` then runs on every decision, before any DNS query.
 *
 *   Accepted entries: `a.b.c.d/len` (len 0-32), `v6/len` (len 0-128), and a bare address, which
 *   means one host (/32 or /128). The address part is parsed as strictly as a client address
 *   (check/address.ts: no leading zeros, no shortened IPv4, no zone id, nothing trimmed); the
 *   prefix length is plain decimal without leading zeros. An entry with host bits set
 *   (`10.1.2.3/8`) is accepted and means the network it lies in (`10.0.0.0/8`), as the kernel
 *   and most firewalls read it; `match` still reports the entry as written, so the operator
 *   recognises it.
 *
 *   IPv4-mapped ranges (inside `::ffff:0:0/96`) are refused: client addresses are unmapped by
 *   `normaliseAddress` before they get here, so such a range could never match. Write the IPv4
 *   range instead. The word `none` (an empty list) is the CLI's business, not this module's.
 *
 *   `match` takes the bytes of a normalised address (4 or 16) and returns the first entry, in
 *   the order given, that contains it, or null. Family-strict: an IPv4 address never matches an
 *   IPv6 range. Cost: the address is read into 32-bit words once, then each range of the same
 *   family is one AND and one compare per word; no string is parsed per call.
 *
 * LIMITS
 *   CIDR_INPUT_MAX_CHARS (64, as config/schema.ts allows per entry): a longer entry is refused.
 *
 * DIAGNOSTICS
 *   BlockSmithError('BS_ERR_CIDR_INVALID', 'bypass range #<n> <quoted entry> is not valid: <problem>').
 *
 * SEE ALSO
 *   check/address.ts, config/schema.ts (DEFAULT_BYPASS).
 */
import { BlockSmithError } from '../errors.js';
import { parseAddressText, quoteInput } from './address.js';

/** Longest CIDR entry accepted (characters). */
export const CIDR_INPUT_MAX_CHARS = 64;

const IPV4_BITS = 32;
const IPV6_BITS = 128;
const WORD_BITS = 32;
const BYTES_PER_WORD = 4;
const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const BITS_PER_BYTE = 8;
const MAPPED_PREFIX_BITS = 96;
const MAPPED_PREFIX_ZERO_BYTES = 10;
const MAPPED_MARKER = 0xff;
const MAX_PREFIX_DIGITS = 3;

/** One compiled range: network and mask as 32-bit words (1 for IPv4, 4 for IPv6). */
interface CompiledRange {
  readonly text: string;
  readonly network: Uint32Array;
  readonly mask: Uint32Array;
}

/** toWords - big-endian 32-bit words of 4 or 16 bytes. */
function toWords(bytes: Uint8Array): Uint32Array {
  const words = new Uint32Array(bytes.length / BYTES_PER_WORD);
  for (let w = 0; w < words.length; w++) {
    const i = w * BYTES_PER_WORD;
    words[w] =
      (((bytes[i] ?? 0) << (3 * BITS_PER_BYTE)) |
        ((bytes[i + 1] ?? 0) << (2 * BITS_PER_BYTE)) |
        ((bytes[i + 2] ?? 0) << BITS_PER_BYTE) |
        (bytes[i + 3] ?? 0)) >>>
      0;
  }
  return words;
}

/** maskWords - a prefix length as 32-bit mask words. */
function maskWords(prefix: number, wordCount: number): Uint32Array {
  const mask = new Uint32Array(wordCount);
  for (let w = 0; w < wordCount; w++) {
    const bits = Math.max(0, Math.min(WORD_BITS, prefix - w * WORD_BITS));
    // `<< 32` is a no-op in JS, so a full word is written out.
    mask[w] = bits === 0 ? 0 : bits === WORD_BITS ? 0xffffffff : (0xffffffff << (WORD_BITS - bits)) >>> 0;
  }
  return mask;
}

function isMappedRange(bytes: Uint8Array, prefix: number): boolean {
  if (bytes.length !== IPV6_BYTES || prefix < MAPPED_PREFIX_BITS) return false;
  for (let i = 0; i < MAPPED_PREFIX_ZERO_BYTES; i++) if (bytes[i] !== 0) return false;
  return bytes[MAPPED_PREFIX_ZERO_BYTES] === MAPPED_MARKER && bytes[MAPPED_PREFIX_ZERO_BYTES + 1] === MAPPED_MARKER;
}

/** compile - one CIDR entry to network and mask words, or the problem in words. */
function compile(entry: string): CompiledRange | string {
  if (typeof entry !== 'string') return 'not a string';
  if (entry.length === 0) return 'empty';
  if (entry.length > CIDR_INPUT_MAX_CHARS) return `longer than ${CIDR_INPUT_MAX_CHARS} characters`;
  if (/[^\x21-\x7e]/.test(entry)) return 'contains white space, a control character or a non-ASCII character';
  const slash = entry.indexOf('/');
  if (slash !== -1 && entry.indexOf('/', slash + 1) !== -1) return 'more than one "/"';
  const addressText = slash === -1 ? entry : entry.slice(0, slash);
  if (addressText.includes('%')) return 'a zone id has no place in a range';
  const parsed = parseAddressText(addressText);
  if (!parsed.ok) return `the address part does not parse: ${parsed.problem}`;
  const maxPrefix = parsed.family === 4 ? IPV4_BITS : IPV6_BITS;
  let prefix = maxPrefix;
  if (slash !== -1) {
    const prefixText = entry.slice(slash + 1);
    if (!/^[0-9]+$/.test(prefixText)) return 'the prefix length after "/" is not a decimal number';
    if (prefixText.length > 1 && prefixText.startsWith('0')) return 'the prefix length has a leading zero';
    prefix = prefixText.length > MAX_PREFIX_DIGITS ? maxPrefix + 1 : Number(prefixText);
    if (prefix > maxPrefix) return `the prefix length is over ${maxPrefix} for an IPv${parsed.family} range`;
  }
  if (isMappedRange(parsed.bytes, prefix)) {
    return 'an IPv4-mapped range (::ffff:0:0/96) never matches, because clients are unmapped first; write the IPv4 range';
  }
  const wordCount = parsed.bytes.length / BYTES_PER_WORD;
  const mask = maskWords(prefix, wordCount);
  const network = toWords(parsed.bytes).map((word, i) => (word & (mask[i] ?? 0)) >>> 0);
  return { text: entry, network, mask };
}

/** BypassList - precompiled CIDR ranges; `match` says which one holds an address. */
export class BypassList {
  private readonly v4: readonly CompiledRange[];
  private readonly v6: readonly CompiledRange[];
  /** The entries, as given. */
  readonly ranges: readonly string[];

  constructor(ranges: readonly string[]) {
    const v4: CompiledRange[] = [];
    const v6: CompiledRange[] = [];
    ranges.forEach((entry, index) => {
      const compiled = compile(entry);
      if (typeof compiled === 'string') {
        throw new BlockSmithError(
          'BS_ERR_CIDR_INVALID',
          `bypass range #${index + 1} ${quoteInput(String(entry))} is not valid: ${compiled}`,
        );
      }
      (compiled.network.length === 1 ? v4 : v6).push(compiled);
    });
    this.v4 = v4;
    this.v6 = v6;
    this.ranges = Object.freeze([...ranges]);
  }

  /** Number of ranges. */
  get size(): number {
    return this.v4.length + this.v6.length;
  }

  /** match - the first range (as written) that holds the address, or null. */
  match(addr: { readonly bytes: Uint8Array }): string | null {
    const bytes = addr.bytes;
    if (bytes.length === IPV4_BYTES) {
      const word =
        (((bytes[0] ?? 0) << (3 * BITS_PER_BYTE)) |
          ((bytes[1] ?? 0) << (2 * BITS_PER_BYTE)) |
          ((bytes[2] ?? 0) << BITS_PER_BYTE) |
          (bytes[3] ?? 0)) >>>
        0;
      for (const range of this.v4) {
        if ((word & (range.mask[0] ?? 0)) >>> 0 === range.network[0]) return range.text;
      }
      return null;
    }
    if (bytes.length !== IPV6_BYTES) return null;
    const words = toWords(bytes);
    outer: for (const range of this.v6) {
      for (let w = 0; w < words.length; w++) {
        if (((words[w] ?? 0) & (range.mask[w] ?? 0)) >>> 0 !== range.network[w]) continue outer;
      }
      return range.text;
    }
    return null;
  }
}
