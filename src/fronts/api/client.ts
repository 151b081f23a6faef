/**
 * NAME
 *   fronts/api/client - who is asking: the client address, its rate-limit key, range matching
 *
 * SYNOPSIS
 *   clientAddress(request): string            normalised (IPv4-mapped IPv6 made IPv4)
 *   rateKey(address): string                  IPv4 address, or the IPv6 /64
 *   new RangeList(ranges).has(address): boolean
 *   trustProxyOption(ranges): false | string[]
 *
 * DESCRIPTION
 *   The client address is fastify's request.ip: the socket's peer, or, only when that peer is
 *   one of http.trustedProxies, the right-most address of X-Forwarded-For that is not itself a
 *   trusted proxy (proxy-addr's rule). A header from anybody else is ignored, so a client cannot
 *   pick its own rate-limit bucket or pass as loopback for /metrics.
 *
 *   IPv6 clients are rate-limited by /64: one end site usually gets a /64 (or more) and can
 *   rotate addresses inside it at will.
 */
import type { FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';

/** Prefix length that keys an IPv6 client's rate limit. */
export const IPV6_RATE_PREFIX = 64;

function parse(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = address.includes('%') ? address.slice(0, address.indexOf('%')) : address;
  if (!ipaddr.isValid(bare)) return undefined;
  return ipaddr.process(bare);
}

function text(addr: ipaddr.IPv4 | ipaddr.IPv6): string {
  return addr.kind() === 'ipv6' ? (addr as ipaddr.IPv6).toRFC5952String() : addr.toString();
}

/** normaliseClient - canonical text of a socket address; unparsable input is kept as it is. */
export function normaliseClient(address: string): string {
  const addr = parse(address);
  return addr === undefined ? address : text(addr);
}

export function clientAddress(request: FastifyRequest): string {
  return normaliseClient(request.ip);
}

export function rateKey(address: string): string {
  const addr = parse(address);
  if (addr === undefined) return `raw:${address}`;
  if (addr.kind() === 'ipv4') return addr.toString();
  const bytes = addr.toByteArray().slice(0, IPV6_RATE_PREFIX / 8);
  while (bytes.length < 16) bytes.push(0);
  return `${(ipaddr.fromByteArray(bytes) as ipaddr.IPv6).toRFC5952String()}/${IPV6_RATE_PREFIX}`;
}

/** A list of addresses and CIDR ranges (already validated: config schema, check/bypass.ts). */
export class RangeList {
  private readonly ranges: ReadonlyArray<{ readonly entry: string; readonly base: ipaddr.IPv4 | ipaddr.IPv6; readonly bits: number }>;

  constructor(entries: readonly string[]) {
    this.ranges = entries.map((entry) => {
      if (entry.includes('/')) {
        const [base, bits] = ipaddr.parseCIDR(entry);
        return { entry, base, bits };
      }
      const base = ipaddr.process(entry);
      return { entry, base, bits: base.kind() === 'ipv4' ? 32 : 128 };
    });
  }

  /** The first entry (as written) holding `address`, or undefined. Family-strict. */
  match(address: string): string | undefined {
    const addr = parse(address);
    if (addr === undefined) return undefined;
    for (const { entry, base, bits } of this.ranges) {
      if (base.kind() === addr.kind() && addr.match(base, bits)) return entry;
    }
    return undefined;
  }

  has(address: string): boolean {
    return this.match(address) !== undefined;
  }
}

/** fastify's trustProxy: the configured ranges, or false (no proxy header believed). */
export function trustProxyOption(ranges: readonly string[]): false | string[] {
  return ranges.length === 0 ? false : [...ranges];
}
