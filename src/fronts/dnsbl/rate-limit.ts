/**
 * NAME
 *   fronts/dnsbl/rate-limit - response rate limiting per client network (UDP), a token bucket each
 *
 * SYNOPSIS
 *   const limiter = new ResponseRateLimiter({ config: config.dnsbl, now? })
 *   limiter.take(clientIp): 'send' | 'slip' | 'drop'
 *   limiter.takeNetwork(networkKeyOfBytes(octets, …)): the same, from the address's octets
 *
 * DESCRIPTION
 *   UDP source addresses can be forged, so an open DNS server can be made to send its answers
 *   to a victim. As BIND's RRL does, answers to one client network (an IPv4 /24, an IPv6 /56 by
 *   default) are limited: a bucket of rateLimitBurstCount tokens, refilled at
 *   rateLimitPerSecondCount a second, one token per answer. Over the limit, every
 *   rateLimitSlipCount-th answer "slips" out as an empty TC=1 reply (a real client behind the
 *   forged traffic retries over TCP, which cannot be forged and is not limited here) and the
 *   others are dropped; slip 0 drops them all.
 *
 *   TCP is not rate-limited: it needs a handshake, so it cannot reflect, and its connections are
 *   capped (dnsbl.tcpMaxConnectionsCount). Behind a local caching resolver every query comes
 *   from the resolver's address: size the limit for it, or turn it off (0).
 *
 *   At most rateLimitTrackedCount networks are tracked (LRU): a forgotten one starts again with
 *   a full bucket. An address that does not parse is treated as one network of its own text.
 */
import { LRUCache } from 'lru-cache';
import { normaliseAddress } from '../../check/address.js';
import type { DnsblConfig } from '../../config/schema.js';

const BITS_PER_BYTE = 8;
const BYTE_MASK = 0xff;
const MS_PER_S = 1_000;
const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const MAPPED_ZERO_BYTES = 10;

export type Admission = 'send' | 'slip' | 'drop';

interface Bucket {
  tokens: number;
  at: number;
  over: number;
}

export interface ResponseRateLimiterOptions {
  readonly config: DnsblConfig;
  readonly now?: () => number;
}

/** networkKey - the client's network (address bytes masked to the prefix) as a map key. */
export function networkKey(ip: string, v4Prefix: number, v6Prefix: number): string {
  let bytes: Uint8Array;
  try {
    bytes = normaliseAddress(ip).bytes;
  } catch {
    return `?${ip}`;
  }
  return networkKeyOfBytes(bytes, 0, bytes.length, v4Prefix, v6Prefix);
}

/**
 * networkKeyOfBytes - networkKey of an address given as its octets (`length` 4 or 16 from
 * `offset`), as the native UDP path has them: the same key as networkKey of its text (an
 * IPv4-mapped IPv6 address counts as its IPv4 address, as normaliseAddress unmaps it).
 */
export function networkKeyOfBytes(bytes: Uint8Array, offset: number, length: number, v4Prefix: number, v6Prefix: number): string {
  let start = offset;
  let size = length;
  if (size === IPV6_BYTES && isV4Mapped(bytes, offset)) {
    start = offset + IPV6_BYTES - IPV4_BYTES;
    size = IPV4_BYTES;
  }
  const prefix = size === IPV4_BYTES ? v4Prefix : v6Prefix;
  let key = '';
  for (let i = 0; i < size; i++) {
    const keep = Math.max(0, Math.min(BITS_PER_BYTE, prefix - i * BITS_PER_BYTE));
    const octet = (bytes[start + i] ?? 0) & ((BYTE_MASK << (BITS_PER_BYTE - keep)) & BYTE_MASK);
    key += i === 0 ? `${octet}` : `.${octet}`;
  }
  return `${key}/${prefix}`;
}

/** ::ffff:0:0/96 (RFC 4291 §2.5.5.2): octets 0-9 zero, 10-11 0xff. */
function isV4Mapped(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < MAPPED_ZERO_BYTES; i++) if (bytes[offset + i] !== 0) return false;
  return bytes[offset + MAPPED_ZERO_BYTES] === BYTE_MASK && bytes[offset + MAPPED_ZERO_BYTES + 1] === BYTE_MASK;
}

export class ResponseRateLimiter {
  private readonly config: DnsblConfig;
  private readonly now: () => number;
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(options: ResponseRateLimiterOptions) {
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.buckets = new LRUCache<string, Bucket>({ max: options.config.rateLimitTrackedCount });
  }

  get enabled(): boolean {
    return this.config.rateLimitPerSecondCount > 0;
  }

  take(clientIp: string): Admission {
    const c = this.config;
    if (c.rateLimitPerSecondCount === 0) return 'send';
    return this.takeNetwork(networkKey(clientIp, c.rateLimitIpv4PrefixLength, c.rateLimitIpv6PrefixLength));
  }

  /** takeNetwork - take() for a client network already keyed (networkKey / networkKeyOfBytes). */
  takeNetwork(key: string): Admission {
    const c = this.config;
    if (c.rateLimitPerSecondCount === 0) return 'send';
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: c.rateLimitBurstCount, at: now, over: 0 };
      this.buckets.set(key, bucket);
    } else {
      const refill = ((now - bucket.at) * c.rateLimitPerSecondCount) / MS_PER_S;
      bucket.tokens = Math.min(c.rateLimitBurstCount, bucket.tokens + Math.max(0, refill));
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.over = 0;
      return 'send';
    }
    bucket.over += 1;
    return c.rateLimitSlipCount > 0 && bucket.over % c.rateLimitSlipCount === 0 ? 'slip' : 'drop';
  }
}
