/**
 * NAME
 *   firewall/hot-cache - active listings and allow entries in memory: a warm decision's only data
 *
 * SYNOPSIS
 *   const hot = new HotCache({ now, log, onRemove? })
 *   hot.putListing(listing)      active → kept (compact), any other state → removed
 *   hot.removeListing(ip); hot.listing(ip): HotListing | undefined; hot.listings(); hot.listedIps(); hot.listingCount
 *   hot.touch(ip, at, dueAt?)    a rejection seen here: lastRejectAt, rejectCount, maybe recheckDueAt
 *   hot.setAllows(entries); hot.putAllow(entry); hot.removeAllow(id)
 *   hot.matchAllow(address): AllowEntry | undefined
 *
 * DESCRIPTION
 *   Loaded at Firewall.start() from store.activeListings and store.allAllows, then kept current
 *   by the firewall's own writes (at once) and by store events (other nodes). Nothing here
 *   touches the store or DNS.
 *
 *   A listing is kept as a slot of typed arrays (class Listings): its (verdict, reason) pair's
 *   number, recheckDueAt, lastRejectAt, rejectCount; with its key (the address text) and the Map
 *   entry about 60-70 bytes a listing on V8 (1,000,000 listings ≈ 70 MB). listing(ip) hands out
 *   a fresh `HotListing` view. The evidence stays in the store.
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

/** What the hot cache knows of an active listing (a fresh view; changing it changes nothing). */
export interface HotListing {
  readonly verdict: Listing['verdict'];
  readonly reason: Listing['reason'];
  readonly recheckDueAt: number;
  readonly lastRejectAt: number;
  readonly rejectCount: number;
}

export interface HotCacheOptions {
  readonly now: () => number;
  readonly log: FirewallLogger;
  /** Called when an IP's listing leaves the cache (cleared, expired, replaced by a non-active state). */
  readonly onRemove?: (ip: string) => void;
}

const HOST_PREFIX_V4 = 32;
const HOST_PREFIX_V6 = 128;
const INITIAL_SLOTS = 1_024;
/** The (verdict, reason) pairs seen, each a small integer: a closed set, a few dozen at most. */
const PAIRS_MAX = 65_535;

/** prefixLength - the prefix length of a range as written (a bare address is a host route). */
function prefixLength(range: string): number {
  const slash = range.indexOf('/');
  if (slash === -1) return range.includes(':') ? HOST_PREFIX_V6 : HOST_PREFIX_V4;
  const n = Number(range.slice(slash + 1));
  return Number.isFinite(n) ? n : 0;
}

/**
 * Listings - the active listings as a struct of arrays: IP text → slot (a small integer), and
 * per slot the (verdict, reason) pair's number and three numbers in typed arrays. About 60 bytes
 * a listing with its key and Map slot, against about 200 for an object per listing (its header,
 * two heap-allocated doubles for the times, and a verdict and a reason string per row as the
 * SQLite driver makes them). Freed slots are reused.
 */
class Listings {
  private readonly slots = new Map<string, number>();
  private pairOf = new Uint16Array(INITIAL_SLOTS);
  private dueAt = new Float64Array(INITIAL_SLOTS);
  private lastAt = new Float64Array(INITIAL_SLOTS);
  private count = new Float64Array(INITIAL_SLOTS);
  private readonly free: number[] = [];
  private used = 0;
  private readonly pairs: Array<readonly [Listing['verdict'], Listing['reason']]> = [];
  private readonly pairIds = new Map<string, number>();

  get size(): number {
    return this.slots.size;
  }

  /** put - set the numbers of an IP's listing; false when it cannot be kept (see pair()). */
  put(ip: string, verdict: Listing['verdict'], reason: Listing['reason'], dueAt: number, lastAt: number, count: number): boolean {
    const pair = this.pair(verdict, reason);
    if (pair === -1) return false;
    let slot = this.slots.get(ip);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.grow();
      this.slots.set(ip, slot);
    }
    this.pairOf[slot] = pair;
    this.dueAt[slot] = dueAt;
    this.lastAt[slot] = lastAt;
    this.count[slot] = count;
    return true;
  }

  delete(ip: string): boolean {
    const slot = this.slots.get(ip);
    if (slot === undefined) return false;
    this.slots.delete(ip);
    this.free.push(slot);
    return true;
  }

  get(ip: string): HotListing | undefined {
    const slot = this.slots.get(ip);
    return slot === undefined ? undefined : this.view(slot);
  }

  /** touch - a rejection: lastRejectAt, rejectCount, maybe recheckDueAt. */
  touch(ip: string, at: number, dueAt: number | undefined): void {
    const slot = this.slots.get(ip);
    if (slot === undefined) return;
    if (at > (this.lastAt[slot] ?? 0)) this.lastAt[slot] = at;
    this.count[slot] = (this.count[slot] ?? 0) + 1;
    if (dueAt !== undefined) this.dueAt[slot] = dueAt;
  }

  /** ips - the IPs, live: one deleted meanwhile is skipped, one added meanwhile may be visited. */
  ips(): IterableIterator<string> {
    return this.slots.keys();
  }

  private view(slot: number): HotListing {
    const [verdict, reason] = this.pairs[this.pairOf[slot] ?? 0] ?? ['fail', 'manual'];
    return { verdict, reason, recheckDueAt: this.dueAt[slot] ?? 0, lastRejectAt: this.lastAt[slot] ?? 0, rejectCount: this.count[slot] ?? 0 };
  }

  /** pair - the number of a (verdict, reason) pair; -1 past PAIRS_MAX distinct pairs (a store full of junk). */
  private pair(verdict: Listing['verdict'], reason: Listing['reason']): number {
    const key = `${verdict} ${reason}`;
    const known = this.pairIds.get(key);
    if (known !== undefined) return known;
    if (this.pairs.length >= PAIRS_MAX) return -1;
    const id = this.pairs.length;
    this.pairs.push([verdict, reason]);
    this.pairIds.set(key, id);
    return id;
  }

  private grow(): number {
    if (this.used === this.pairOf.length) {
      const n = this.pairOf.length * 2;
      const pairOf = new Uint16Array(n);
      pairOf.set(this.pairOf);
      this.pairOf = pairOf;
      this.dueAt = widen(this.dueAt, n);
      this.lastAt = widen(this.lastAt, n);
      this.count = widen(this.count, n);
    }
    return this.used++;
  }
}

function widen(a: Float64Array, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

export class HotCache {
  private readonly now: () => number;
  private readonly log: FirewallLogger;
  private readonly onRemove: (ip: string) => void;
  private readonly active = new Listings();
  private allows: AllowEntry[] = [];
  private matcher = new BypassList([]);
  private byRange = new Map<string, AllowEntry>();
  private nextExpiryAt = Number.POSITIVE_INFINITY;

  constructor(options: HotCacheOptions) {
    this.now = options.now;
    this.log = options.log;
    this.onRemove = options.onRemove ?? ((): void => undefined);
  }

  // ---- listings

  /** putListing - keep an active listing; any other state removes the IP. */
  putListing(listing: Listing): void {
    if (listing.state !== 'active') {
      this.removeListing(listing.ip);
      return;
    }
    const kept = this.active.put(listing.ip, listing.verdict, listing.reason, listing.recheckDueAt, listing.lastRejectAt, listing.rejectCount);
    if (!kept) this.log({ event: 'LISTING-INVALID', ip: printable(listing.ip), detail: 'too many distinct verdicts and reasons: not kept in memory' });
  }

  removeListing(ip: string): void {
    this.active.delete(ip);
    this.onRemove(ip);
  }

  listing(ip: string): HotListing | undefined {
    return this.active.get(ip);
  }

  /** touch - a rejection of a listed IP seen on this node. */
  touch(ip: string, at: number, recheckDueAt?: number): void {
    this.active.touch(ip, at, recheckDueAt);
  }

  get listingCount(): number {
    return this.active.size;
  }

  /** listings - [ip, listing] of every active listing (a snapshot). */
  listings(): Array<[string, HotListing]> {
    const out: Array<[string, HotListing]> = [];
    for (const ip of this.active.ips()) {
      const l = this.active.get(ip);
      if (l !== undefined) out.push([ip, l]);
    }
    return out;
  }

  /** listedIps - the listed IPs, live (no copy of a million entries for a scan); see Listings.ips. */
  listedIps(): IterableIterator<string> {
    return this.active.ips();
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
