/**
 * NAME
 *   web/ranges - address ranges the portal matches: the node's bypass list, reserved targets
 *
 * SYNOPSIS
 *   const ranges = new RangeMatcher(['10.0.0.0/8', '::1'])
 *   ranges.match(ip): string | undefined       the first entry holding ip (family-strict)
 *   RESERVED_TARGETS, isReserved(ip)
 *
 * DESCRIPTION
 *   The live test refuses addresses that are not mail clients on the internet (loopback,
 *   RFC 1918, link-local, CGNAT, ULA, multicast…): their reverse DNS lives in internal views
 *   that the public must not read through us. The documentation ranges (RFC 5737, RFC 3849)
 *   are tested like any address. The list is the same as the JSON API's (fronts/api/routes/
 *   public-ip.ts); it is repeated here because a front does not import another (a shared
 *   module under src/fronts/ is the lead's call).
 */
import ipaddr from 'ipaddr.js';

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

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

export class RangeMatcher {
  private readonly ranges: ReadonlyArray<{ readonly entry: string; readonly base: Addr; readonly bits: number }>;

  constructor(entries: readonly string[]) {
    this.ranges = entries.flatMap((entry) => {
      try {
        if (entry.includes('/')) {
          const [base, bits] = ipaddr.parseCIDR(entry);
          return [{ entry, base, bits }];
        }
        const base = ipaddr.process(entry);
        return [{ entry, base, bits: base.kind() === 'ipv4' ? 32 : 128 }];
      } catch {
        // Entries come validated from the config or the store; one that is not is skipped, never matched.
        return [];
      }
    });
  }

  match(address: string): string | undefined {
    if (!ipaddr.isValid(address)) return undefined;
    const addr = ipaddr.process(address);
    for (const { entry, base, bits } of this.ranges) {
      if (base.kind() === addr.kind() && addr.match(base, bits)) return entry;
    }
    return undefined;
  }
}

const reserved = new RangeMatcher(RESERVED_TARGETS);

export function isReserved(ip: string): boolean {
  return reserved.match(ip) !== undefined;
}
