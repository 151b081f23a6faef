/**
 * NAME
 *   firewall/hot-cache - active listings and allow entries in memory: a warm decision's only data
 *
 * SYNOPSIS
 *   const hot = new HotCache({ now, log })
 *   hot.putListing(listing)      active → kept (compact), any other state → removed
 *   hot.removeListing(ip); hot.listing(ip): HotListing | undefined; hot.listings(); hot.listingCount
 *   hot.touch(ip, at, dueAt?)    a rejection seen here: lastRejectAt, rejectCount, maybe recheckDueAt
 *   hot.setAllows(entries); hot.putAllow(entry); hot.removeAllow(id)
 *   hot.matchAllow(address): AllowEntry | undefined
 *
 * DESCRIPTION
 *   Loaded at Firewall.start() from store.activeListings and store.allAllows, then kept current
 *   by the firewall's own writes (at once) and by store events (other nodes). Nothing here
 *   touches the store or DNS.
 *
 *   A listing is kept as a `HotListing`: verdict, reason, and four numbers. With its key (the
 *   address text) and the Map slot that is about 200 bytes per listing on V8 (100,000 listings
 *   ≈ 20 MB). The evidence stays in the store.
 *
 *   Allow entries are kept whole (an operator's list: hundreds, not millions) and compiled into
 *   one `BypassList` matcher (most specific range first), rebuilt on every change and when the earliest expiry passes; an
 *   expired entry never matches, even before the store forgets it. An entry whose range does not
 *   parse (written by another tool?) is skipped with an ALLOW-INVALID log line, never fatal.
 *
 * SEE ALSO
 *   check/bypass.ts (the matcher), firewall/firewall.ts (who feeds it).
 */
import { BypassList } from '../check/bypass.js';
import type { AllowEntry, Listing } from '../store/types.js';
import { printable } from '../util/printable.js';
import type { FirewallLogger } from './types.js';

export interface HotListing {
  readonly verdict: Listing['verdict'];
  readonly reason: Listing['reason'];
  readonly listedAt: number;
  recheckDueAt: number;
  lastRejectAt: number;
  rejectCount: number;
}

export interface HotCacheOptions {
  readonly now: () => number;
  readonly log: FirewallLogger;
}

const HOST_PREFIX_V4 = 32;
const HOST_PREFIX_V6 = 128;

/** prefixLength - the prefix length of a range as written (a bare address is a host route). */
function prefixLength(range: string): number {
  const slash = range.indexOf('/');
  if (slash === -1) return range.includes(':') ? HOST_PREFIX_V6 : HOST_PREFIX_V4;
  const n = Number(range.slice(slash + 1));
  return Number.isFinite(n) ? n : 0;
}

export class HotCache {
  private readonly now: () => number;
  private readonly log: FirewallLogger;
  private readonly active = new Map<string, HotListing>();
  private allows: AllowEntry[] = [];
  private matcher = new BypassList([]);
  private byRange = new Map<string, AllowEntry>();
  private nextExpiryAt = Number.POSITIVE_INFINITY;

  constructor(options: HotCacheOptions) {
    this.now = options.now;
    this.log = options.log;
  }

  // ---- listings

  /** putListing - keep an active listing; any other state removes the IP. */
  putListing(listing: Listing): void {
    if (listing.state !== 'active') {
      this.active.delete(listing.ip);
      return;
    }
    this.active.set(listing.ip, {
      verdict: listing.verdict,
      reason: listing.reason,
      listedAt: listing.listedAt,
      recheckDueAt: listing.recheckDueAt,
      lastRejectAt: listing.lastRejectAt,
      rejectCount: listing.rejectCount,
    });
  }

  removeListing(ip: string): void {
    this.active.delete(ip);
  }

  listing(ip: string): HotListing | undefined {
    return this.active.get(ip);
  }

  /** touch - a rejection of a listed IP seen on this node. */
  touch(ip: string, at: number, recheckDueAt?: number): void {
    const entry = this.active.get(ip);
    if (entry === undefined) return;
    entry.lastRejectAt = Math.max(entry.lastRejectAt, at);
    entry.rejectCount += 1;
    if (recheckDueAt !== undefined) entry.recheckDueAt = recheckDueAt;
  }

  get listingCount(): number {
    return this.active.size;
  }

  /** listings - [ip, listing] of every active listing (a snapshot). */
  listings(): Array<[string, Readonly<HotListing>]> {
    return [...this.active.entries()];
  }

  // ---- allow entries

  setAllows(entries: readonly AllowEntry[]): void {
    this.allows = [...entries];
    this.compile();
  }

  putAllow(entry: AllowEntry): void {
    this.allows = [...this.allows.filter((e) => e.id !== entry.id), entry];
    this.compile();
  }

  removeAllow(id: string): void {
    this.allows = this.allows.filter((e) => e.id !== id);
    this.compile();
  }

  get allowCount(): number {
    return this.allows.length;
  }

  /** matchAllow - the unexpired allow entry holding the address, or undefined. */
  matchAllow(address: { readonly bytes: Uint8Array }): AllowEntry | undefined {
    if (this.now() >= this.nextExpiryAt) this.compile();
    const range = this.matcher.match(address);
    return range === null ? undefined : this.byRange.get(range);
  }

  private compile(): void {
    const now = this.now();
    const ranges: string[] = [];
    const byRange = new Map<string, AllowEntry>();
    let nextExpiryAt = Number.POSITIVE_INFINITY;
    // The most specific range first, so a match names the narrowest entry (store order is arbitrary).
    const ordered = [...this.allows].sort((a, b) => prefixLength(b.range) - prefixLength(a.range));
    for (const entry of ordered) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) continue;
      try {
        new BypassList([entry.range]);
      } catch {
        this.log({ event: 'ALLOW-INVALID', detail: `allow entry ${printable(entry.id)} range ${printable(entry.range)} skipped` });
        continue;
      }
      if (entry.expiresAt !== undefined) nextExpiryAt = Math.min(nextExpiryAt, entry.expiresAt);
      if (!byRange.has(entry.range)) {
        byRange.set(entry.range, entry);
        ranges.push(entry.range);
      }
    }
    this.matcher = new BypassList(ranges);
    this.byRange = byRange;
    this.nextExpiryAt = nextExpiryAt;
  }
}
