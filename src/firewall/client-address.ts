/**
 * NAME
 *   firewall/client-address - the client address of a decision, parsed cheaply when it is canonical
 *
 * SYNOPSIS
 *   clientAddress(text: string): NormalisedAddress          throws BS_ERR_ADDRESS_INVALID
 *
 * DESCRIPTION
 *   Every decision parses its client address (bypass ranges and the allowlist compare bytes).
 *   Fronts hand over what the socket reported, nearly always canonical dotted-quad IPv4, and the
 *   strict parser (check/address.ts normaliseAddress: regular expressions, a split, the canonical
 *   text rebuilt) cost about as much as the rest of a warm decision. Here one pass over the
 *   characters accepts exactly the canonical IPv4 form (four decimal parts 0-255, no leading
 *   zero, nothing else); its canonical text is the input itself. Anything else (IPv6, mapped,
 *   zone ids, every malformed input) goes to normaliseAddress, which stays the one authority on
 *   what an address is and on the error a bad one gets.
 *
 * SEE ALSO
 *   check/address.ts (normaliseAddress), firewall/decide.ts.
 */
import { normaliseAddress, type NormalisedAddress } from '../check/address.js';

/** "255.255.255.255" */
const IPV4_MAX_CHARS = 15;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OCTET_MAX = 255;
const PARTS = 4;

/** canonicalIPv4 - the 4 bytes of a canonical dotted-quad address, or undefined. */
function canonicalIPv4(text: string): Uint8Array | undefined {
  const length = text.length;
  if (length < 7 || length > IPV4_MAX_CHARS) return undefined;
  const bytes = new Uint8Array(PARTS);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || part === PARTS - 1) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
      continue;
    }
    if (c < ZERO || c > NINE) return undefined;
    if (digits === 1 && value === 0) return undefined; // a leading zero
    value = value * 10 + (c - ZERO);
    digits++;
    if (value > OCTET_MAX) return undefined;
  }
  if (digits === 0 || part !== PARTS - 1) return undefined;
  bytes[part] = value;
  return bytes;
}

/** clientAddress - the parsed address; canonical IPv4 without the strict parser, the rest with it. */
export function clientAddress(text: string): NormalisedAddress {
  const bytes = typeof text === 'string' ? canonicalIPv4(text) : undefined;
  if (bytes !== undefined) return { ip: text, family: 4, bytes };
  return normaliseAddress(text);
}
