/**
 * NAME
 *   web/reads - the portal's store reads, with a short-lived copy of each answer
 *
 * SYNOPSIS
 *   const reads = new PortalReads(firewall, { ttlMs?, maxEntries?, clock? })
 *   await reads.listing(ip, hot): Listing | undefined        hot: firewall.hotListing(ip)
 *   await reads.evidence(ref): Evidence | undefined
 *
 * DESCRIPTION
 *   The address page is what a refused sender's link opens, again and again: reading the same
 *   listing from the store on every view cost a SQLite query and a JSON decode of its evidence
 *   per page. Answers are kept for READ_TTL_MS (real, monotonic time) in a table of at most
 *   READ_MAX_ENTRIES (the oldest entry goes first), through firewall.records as before.
 *
 *   A kept listing is used only while the firewall's hot cache still says what it said when the
 *   listing was read (listed or not, verdict, re-check time, rejection count): a listing, a
 *   clear, an unblock or a rejection on this node, or one heard from another node, makes the
 *   next view read the store again at once. An answer that disagrees with the hot cache (the
 *   store write of a new listing or of a clear not landed yet) is not kept. What remains is at
 *   most READ_TTL_MS of lag on fields the hot cache does not carry, where the store itself lags
 *   the firewall by up to firewall.listingUpdateFlushMs (batched rejections) anyway.
 *
 *   Evidence is immutable per reference (firewall/episodes.ts): kept the same way, by reference.
 *   A read that fails (BS_ERR_STORE_UNAVAILABLE) is not kept and reaches the page as before.
 */
import type { Firewall } from '../firewall/index.js';
import type { Evidence, Listing } from '../store/types.js';

/** How long a store answer is used again. */
export const READ_TTL_MS = 1_000;
/** Answers kept at most (listings and evidence each). */
export const READ_MAX_ENTRIES = 4_096;

export type HotView = ReturnType<Firewall['hotListing']>;

export interface PortalReadsOptions {
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  /** Monotonic milliseconds (performance.now by default; tests pass their own). */
  readonly clock?: () => number;
}

interface Kept<T> {
  readonly value: T;
  readonly at: number;
  readonly hotKey: string;
}

/** What the hot cache says of an address, as one comparable string ('' when not listed there). */
export function hotKey(hot: HotView): string {
  return hot === undefined ? '' : `${hot.verdict}|${hot.recheckDueAt}|${hot.rejectCount}`;
}

class Table<T> {
  private readonly entries = new Map<string, Kept<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(key: string, now: number, hot: string): Kept<T> | undefined {
    const kept = this.entries.get(key);
    if (kept === undefined) return undefined;
    if (now - kept.at < this.ttlMs && kept.hotKey === hot) return kept;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, kept: Kept<T>): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, kept);
  }

  get size(): number {
    return this.entries.size;
  }
}

export class PortalReads {
  private readonly firewall: Firewall;
  private readonly clock: () => number;
  private readonly listings: Table<Listing | undefined>;
  private readonly evidences: Table<Evidence | undefined>;

  constructor(firewall: Firewall, options: PortalReadsOptions = {}) {
    this.firewall = firewall;
    this.clock = options.clock ?? ((): number => performance.now());
    const ttl = options.ttlMs ?? READ_TTL_MS;
    const max = Math.max(1, options.maxEntries ?? READ_MAX_ENTRIES);
    this.listings = new Table(ttl, max);
    this.evidences = new Table(ttl, max);
  }

  /** listing - the stored listing of `ip`; `hot` is firewall.hotListing(ip), read just before. */
  async listing(ip: string, hot: HotView): Promise<Listing | undefined> {
    const key = hotKey(hot);
    const kept = this.listings.get(ip, this.clock(), key);
    if (kept !== undefined) return kept.value;
    const at = this.clock();
    const listing = await this.firewall.records.listing(ip);
    // Kept only when the store and the hot cache agree on whether it is listed, and the hot
    // cache did not move while the store answered.
    if ((listing?.state === 'active') === (hot !== undefined) && hotKey(this.firewall.hotListing(ip)) === key) {
      this.listings.set(ip, { value: listing, at, hotKey: key });
    }
    return listing;
  }

  /** evidence - the evidence of a reference (the firewall answers unwritten ones from memory). */
  async evidence(ref: string): Promise<Evidence | undefined> {
    const kept = this.evidences.get(ref, this.clock(), '');
    if (kept !== undefined) return kept.value;
    const at = this.clock();
    const evidence = await this.firewall.records.evidence(ref);
    this.evidences.set(ref, { value: evidence, at, hotKey: '' });
    return evidence;
  }

  /** Entries kept now (tests). */
  get size(): { readonly listings: number; readonly evidence: number } {
    return { listings: this.listings.size, evidence: this.evidences.size };
  }
}
