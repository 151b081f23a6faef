/**
 * NAME
 *   fronts/reserved-targets - addresses the public live test refuses to check
 *
 * SYNOPSIS
 *   isReservedTarget(ip): boolean        ip as text (normalised here; a malformed one is not reserved)
 *   RESERVED_TARGETS                     the ranges
 *
 * DESCRIPTION
 *   Loopback, RFC 1918, link-local, CGNAT, ULA, multicast, "this network" and the like are not
 *   mail clients on the internet: their reverse DNS lives in internal views that the public must
 *   not read through us. The documentation ranges (RFC 5737, RFC 3849) are NOT here: they are
 *   tested like any address (tests and demos use them). One list for every front that offers the
 *   live test to the public (the JSON API's /api/v1/check, the portal's /test).
 */
import { normaliseAddress } from '../check/address.js';
import { BypassList } from '../check/bypass.js';

export const RESERVED_TARGETS: readonly string[] = Object.freeze([
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'fec0::/10',
  'ff00::/8',
]);

const reserved = new BypassList(RESERVED_TARGETS);

/** isReservedTarget - true when ip (IPv4-mapped IPv6 counts as IPv4) is in RESERVED_TARGETS. */
export function isReservedTarget(ip: string): boolean {
  try {
    return reserved.match(normaliseAddress(ip)) !== null;
  } catch {
    return false; // not an address: the caller's own validation answers it
  }
}
