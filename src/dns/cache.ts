/**
 * NAME
 *   dns/cache - an LRU of finished lookup results, TTL-honouring, RFC 2308 negative caching
 *
 * SYNOPSIS
 *   const cache = new LookupCache({ entriesCount, maxTtlS, negativeMaxTtlS, now })
 *   cache.get(qname, qtype): LookupResult | undefined
 *   cache.set(result: LookupResult): void
 *   cache.clear(); cache.size
 *   negativeTtl(authority: readonly DnsRecord[]): number
 *
 * DESCRIPTION
 *   Keyed by lower-case qname + qtype. Only `answer`, `nxdomain` and `nodata` results with a TTL
 *   above zero are stored; `temp` never is (a DNS outage must clear itself as soon as the DNS
 *   does). The entry lives for the result's `ttl`, which the resolver computes as the smallest
 *   TTL along the CNAME chain and the final records, or for a negative result per RFC 2308 §5 as
 *   min(SOA record TTL, SOA MINIMUM) from the authority section (see negativeTtl). The stored
 *   lifetime is capped by `negativeMaxTtlS` for negative results and by `maxTtlS` for all.
 *
 *   A hit returns a copy with `fromCache: true`, `ttl` = seconds of lifetime left, every record's
 *   TTL lowered by the entry's age (never below 0), and the original replies' exchanges copied with
 *   `transport: 'cache'`, `server: 'cache'`, `durationMs: 0` (failed attempts that preceded the
 *   reply, and truncated UDP replies, are not copied: the cache holds answers, not history).
 *
 *   Time comes from the injected `now()` (milliseconds), so tests can move the clock; the LRU's
 *   own TTL machinery is not used (it would read its own clock and may start timers). Expired
 *   entries are dropped when read, or pushed out by the LRU bound.
 *
 * LIMITS
 *   cacheEntriesCount (0 disables the cache), cacheMaxTtlS, negativeCacheMaxTtlS.
 */
import { LRUCache } from 'lru-cache';
import type { DnsExchange, DnsRecord, LookupResult, QueryType } from './types.js';

const MS_PER_S = 1000;

export interface LookupCacheOptions {
  readonly entriesCount: number;
  readonly maxTtlS: number;
  readonly negativeMaxTtlS: number;
  /** Milliseconds; Date.now by default. */
  readonly now?: () => number;
}

interface Entry {
  readonly result: LookupResult;
  readonly storedAtMs: number;
  readonly lifetimeS: number;
}

/**
 * negativeTtl - RFC 2308 §5: min(SOA TTL, SOA MINIMUM) over the SOA records of an authority
 * section; 0 when there is none. MINIMUM is the last field of the SOA data string.
 */
export function negativeTtl(authority: readonly DnsRecord[]): number {
  let best: number | undefined;
  for (const r of authority) {
    if (r.type !== 'SOA') continue;
    const minimum = Number(r.data.slice(r.data.lastIndexOf(' ') + 1));
    const ttl = Number.isFinite(minimum) ? Math.min(r.ttl, minimum) : r.ttl;
    best = best === undefined ? ttl : Math.min(best, ttl);
  }
  return best ?? 0;
}

function cacheKey(qname: string, qtype: QueryType): string {
  return `${qname.toLowerCase()}/${qtype}`;
}

function aged(records: readonly DnsRecord[], ageS: number): DnsRecord[] {
  return records.map((r) => Object.freeze({ ...r, ttl: Math.max(0, r.ttl - ageS) }));
}

export class LookupCache {
  private readonly lru: LRUCache<string, Entry> | undefined;
  private readonly maxTtlS: number;
  private readonly negativeMaxTtlS: number;
  private readonly now: () => number;

  constructor(options: LookupCacheOptions) {
    this.lru = options.entriesCount > 0 ? new LRUCache<string, Entry>({ max: options.entriesCount }) : undefined;
    this.maxTtlS = options.maxTtlS;
    this.negativeMaxTtlS = options.negativeMaxTtlS;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }

  clear(): void {
    this.lru?.clear();
  }

  /** set - store a finished result if it may be cached (see DESCRIPTION); else do nothing. */
  set(result: LookupResult): void {
    if (this.lru === undefined || result.outcome === 'temp') return;
    const cap = result.outcome === 'answer' ? this.maxTtlS : Math.min(this.maxTtlS, this.negativeMaxTtlS);
    const lifetimeS = Math.min(result.ttl, cap);
    if (!(lifetimeS > 0)) return;
    const exchanges = result.exchanges.filter((e) => e.rcode !== undefined && e.flags?.tc !== true);
    this.lru.set(cacheKey(result.qname, result.qtype), {
      // The result itself when every exchange is a reply (the usual case): no copy to keep.
      result: exchanges.length === result.exchanges.length ? result : { ...result, exchanges },
      storedAtMs: this.now(),
      lifetimeS,
    });
  }

  /** get - a fresh copy of a live entry (see DESCRIPTION), or undefined. */
  get(qname: string, qtype: QueryType): LookupResult | undefined {
    if (this.lru === undefined) return undefined;
    const key = cacheKey(qname, qtype);
    const entry = this.lru.get(key);
    if (entry === undefined) return undefined;
    const ageMs = this.now() - entry.storedAtMs;
    if (ageMs >= entry.lifetimeS * MS_PER_S || ageMs < 0) {
      this.lru.delete(key);
      return undefined;
    }
    const ageS = Math.floor(ageMs / MS_PER_S);
    const startedAt = Date.now();
    const { result } = entry;
    const exchanges: DnsExchange[] = result.exchanges.map((e) =>
      Object.freeze({
        ...e,
        server: 'cache',
        transport: 'cache' as const,
        startedAt,
        durationMs: 0,
        answers: aged(e.answers, ageS),
        authority: aged(e.authority, ageS),
      }),
    );
    return Object.freeze({
      ...result,
      ttl: Math.max(0, entry.lifetimeS - ageS),
      fromCache: true,
      records: aged(result.records, ageS),
      cnameChain: aged(result.cnameChain, ageS),
      exchanges,
    });
  }
}
