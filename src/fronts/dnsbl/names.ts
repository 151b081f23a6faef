/**
 * NAME
 *   fronts/dnsbl/names - where a query name sits in the zone, and the address it spells
 *
 * SYNOPSIS
 *   zoneLabels(zone): string[]                      lower case, no trailing dot
 *   locate(labels, zone): Location                  outside | apex | address | partial | other
 *   dnsblName(ip, zone): string                     `<reversed ip>.<zone>` (tests, docs, export)
 *   zoneInfo(config.dnsbl): ZoneInfo                the zone's names, empty SOA/NS names filled in
 *
 * DESCRIPTION
 *   Names compare case-insensitively (ASCII only: RFC 4343); the labels as received are kept by
 *   the caller for the answer (0x20). Below the apex a name is:
 *     address  4 decimal labels 0-255 without leading zeros (RFC 5782 §2.1), or 32 single hex
 *              digit labels (§2.4), reversed; the address is normalised (check/address.ts), so
 *              the nibbles of ::ffff:a.b.c.d name the IPv4 address a.b.c.d
 *     partial  the first 1-3 such decimal labels, or 1-31 such nibbles: the start of an address
 *              name (an empty non-terminal, RFC 8020). It gets NODATA, not NXDOMAIN: a resolver
 *              minimising its queries (RFC 9156) asks for these, and an NXDOMAIN would tell it
 *              that every address below does not exist
 *     other    anything else: NXDOMAIN
 */
import { normaliseAddress, type NormalisedAddress } from '../../check/address.js';
import ipaddr from 'ipaddr.js';
import type { DnsblConfig } from '../../config/schema.js';
import { BlockSmithError } from '../../errors.js';
import { asciiLower } from '../../util/ascii.js';
import type { ZoneInfo } from './responder.js';

const IPV4_LABELS = 4;
const IPV6_LABELS = 32;
const OCTET_MAX = 255;
const HEX_RADIX = 16;
const NIBBLES_PER_GROUP = 4;

export type Location =
  | { readonly kind: 'outside' }
  | { readonly kind: 'apex' }
  | { readonly kind: 'address'; readonly address: NormalisedAddress }
  | { readonly kind: 'partial' }
  | { readonly kind: 'other' };

export function zoneLabels(zone: string): string[] {
  const trimmed = zone.endsWith('.') ? zone.slice(0, -1) : zone;
  return trimmed === '' ? [] : asciiLower(trimmed).split('.');
}

const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_UPPER_A = 0x41;
const CHAR_UPPER_Z = 0x5a;
const CHAR_LOWER_A = 0x61;
const CHAR_LOWER_F = 0x66;
const ASCII_CASE_BIT = 0x20;
const DECIMAL_RADIX = 10;

/**
 * octetValue - 0-255 for a decimal label without leading zeros (RFC 5782 §2.1), else -1.
 * By character codes: this runs for every label of every query.
 */
function octetValue(label: string): number {
  const n = label.length;
  if (n === 0 || n > 3) return -1;
  if (n > 1 && label.charCodeAt(0) === CHAR_0) return -1;
  let value = 0;
  for (let i = 0; i < n; i++) {
    const c = label.charCodeAt(i);
    if (c < CHAR_0 || c > CHAR_9) return -1;
    value = value * DECIMAL_RADIX + (c - CHAR_0);
  }
  return value <= OCTET_MAX ? value : -1;
}

/** isNibble - one hex digit, either case. */
function isNibble(label: string): boolean {
  if (label.length !== 1) return false;
  const c = label.charCodeAt(0) | ASCII_CASE_BIT;
  return (c >= CHAR_0 && c <= CHAR_9) || (c >= CHAR_LOWER_A && c <= CHAR_LOWER_F);
}

/** sameLabel - `label` equals the lower-case `zoneLabel`, A-Z folded only (RFC 4343). */
function sameLabel(label: string, zoneLabel: string): boolean {
  if (label.length !== zoneLabel.length) return false;
  for (let i = 0; i < label.length; i++) {
    let c = label.charCodeAt(i);
    if (c >= CHAR_UPPER_A && c <= CHAR_UPPER_Z) c |= ASCII_CASE_BIT;
    if (c !== zoneLabel.charCodeAt(i)) return false;
  }
  return true;
}

export function locate(labels: readonly string[], zone: readonly string[]): Location {
  if (labels.length < zone.length) return { kind: 'outside' };
  const offset = labels.length - zone.length;
  for (let i = 0; i < zone.length; i++) {
    if (!sameLabel(labels[offset + i] ?? '', zone[i] ?? '')) return { kind: 'outside' };
  }
  if (offset === 0) return { kind: 'apex' };
  if (offset <= IPV4_LABELS) {
    // Reversed: the first label is the last octet. Decimal labels without leading zeros are
    // already the canonical text, so the address is built here without normaliseAddress.
    const bytes = new Uint8Array(IPV4_LABELS);
    let octets = true;
    for (let i = 0; i < offset && octets; i++) {
      const v = octetValue(labels[i] ?? '');
      if (v < 0) octets = false;
      else bytes[IPV4_LABELS - 1 - i] = v;
    }
    if (octets) {
      if (offset < IPV4_LABELS) return { kind: 'partial' };
      return { kind: 'address', address: { ip: `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`, family: 4, bytes } };
    }
  }
  if (offset > IPV6_LABELS) return { kind: 'other' };
  for (let i = 0; i < offset; i++) if (!isNibble(labels[i] ?? '')) return { kind: 'other' };
  if (offset < IPV6_LABELS) return { kind: 'partial' };
  return { kind: 'address', address: normaliseAddress(nibblesToText(labels.slice(0, offset))) };
}

/** nibblesToText - 32 reversed nibble labels → full IPv6 text (normalised by the caller). */
function nibblesToText(nibbles: readonly string[]): string {
  const hex = asciiLower([...nibbles].reverse().join(''));
  const groups: string[] = [];
  for (let i = 0; i < hex.length; i += NIBBLES_PER_GROUP) groups.push(hex.slice(i, i + NIBBLES_PER_GROUP));
  return groups.join(':');
}

/** dnsblName - the name an MTA asks for an address (IPv4-mapped IPv6 is asked as IPv6 nibbles). */
export function dnsblName(ip: string, zone: string): string {
  const z = zoneLabels(zone).join('.');
  if (!ip.includes(':')) return `${ip.split('.').reverse().join('.')}.${z}`;
  // Not normaliseAddress: it would unmap ::ffff:a.b.c.d, which MTAs still ask as nibbles.
  const bytes = ipaddr.IPv6.parse(ip).toByteArray();
  const nibbles: string[] = [];
  for (const b of bytes) nibbles.push((b >> NIBBLES_PER_GROUP).toString(HEX_RADIX), (b & (HEX_RADIX - 1)).toString(HEX_RADIX));
  return `${nibbles.reverse().join('.')}.${z}`;
}

/** zoneInfo - the zone as answered: lower case, no trailing dots, empty SOA/NS names filled in. */
export function zoneInfo(c: Pick<DnsblConfig, 'zone' | 'soaMname' | 'soaRname' | 'nsNames'>): ZoneInfo {
  const labels = zoneLabels(c.zone);
  if (labels.length === 0) throw new BlockSmithError('BS_ERR_CONFIG_INVALID', 'dnsbl.zone: the root zone cannot be served');
  const name = labels.join('.');
  const strip = (n: string): string => asciiLower(n.endsWith('.') ? n.slice(0, -1) : n);
  const mname = c.soaMname === '' ? name : strip(c.soaMname);
  const rname = c.soaRname === '' ? `hostmaster.${name}` : strip(c.soaRname);
  const ns = c.nsNames.length === 0 ? [mname] : c.nsNames.map(strip);
  return { labels, name, mname, rname, ns };
}
