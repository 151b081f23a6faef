/**
 * NAME
 *   firewall/own-writes - listing writes this firewall makes itself, so that their store events are not read back
 *
 * SYNOPSIS
 *   const own = new OwnWrites({ ended, reread, now })
 *   await own.putListing(store, listing, audit, options?)   store.putListing, with its event expected
 *   own.claim(ip, local): boolean                   an event for ip: true when it is one of ours (nothing to read)
 *
 * DESCRIPTION
 *   A store event says only "the listing of this IP changed" (store/types.ts); the firewall
 *   follows one by reading the listing back (Firewall.followEvent). For the firewall's own
 *   writes (operator actions, self-service, re-check, expiry, batched touches) that read is
 *   wasted: the listing read back is the one just written, and the writer updates the hot
 *   cache itself once its write is done, as it always did (operator.ts, lifecycle.ts). At
 *   1,000 listing writes a second it was a store read per write on the event loop (a SELECT
 *   and two JSON.parse on SQLite, a round trip on Redis), next to the decisions.
 *
 *   So each own write is an expected event for its IP:
 *
 *   - While the write is under way, any event for the IP may be claimed, at most one per own
 *     write under way. SQLite announces an own write's event before its promise resolves, so
 *     it is always claimed here. If another node's event for the same IP comes meanwhile and
 *     is claimed in place of ours, ours finds nothing left to claim and is read back, which
 *     reads the newest state; if our write fails instead (then no event of ours comes), the IP
 *     is read back at once (`reread`). No other node's change is skipped for good.
 *   - Once the write is done, an event not yet claimed for it may still be claimed for
 *     LATE_EVENT_MS, but only by an event the store marks `local` (written by this very store
 *     instance: Redis delivers the own node's message on its subscriber connection, often
 *     after the write's reply). Another node's event is never claimed then.
 *
 *   An own write that ends a listing (cleared, expired) makes the checker forget its cached
 *   verdict (`ended`), as following its event did.
 *
 *   A conditional write (`unlessActive`) that found an active listing wrote nothing and sends no
 *   event: it is handled as a failed write is, without the error.
 *
 * LIMITS
 *   LATE_EVENT_MS (5 s); entries past it are swept once SWEEP_AT IPs are tracked (then once
 *   the map has doubled since the last sweep).
 */
import type { AuditEntry, Listing, PutListingOptions, Store } from '../store/types.js';

/** How long after an own write its event, marked local, is still expected. */
export const LATE_EVENT_MS = 5_000;
/** Tracked IPs at which entries whose late events are overdue are dropped. */
const SWEEP_AT = 1_024;

interface Expected {
  /** Own writes of this IP's listing under way. */
  inFlight: number;
  /** Events claimed for them so far (never more than inFlight). */
  claimed: number;
  /** Own writes done whose event has not been claimed yet (claimable only by a local event). */
  late: number;
  /** Until when those are expected (ms, `now`). */
  lateUntil: number;
}

export interface OwnWritesOptions {
  /** An own write ended a listing (cleared, expired): what following its event did besides the hot cache. */
  readonly ended: (ip: string) => void;
  /** An event was claimed for a write that then failed: follow the IP as for any event. */
  readonly reread: (ip: string) => void;
  readonly now: () => number;
}

export class OwnWrites {
  private readonly expected = new Map<string, Expected>();
  /** Tracked IPs at which the next sweep runs. */
  private sweepAt = SWEEP_AT;

  constructor(private readonly options: OwnWritesOptions) {}

  /**
   * putListing - store.putListing(listing, audit, options), its event expected (see above);
   * what the store answered (false: `unlessActive` found an active listing, nothing written).
   */
  async putListing(store: Store, listing: Listing, audit: Omit<AuditEntry, 'id'>, options?: PutListingOptions): Promise<boolean> {
    const ip = listing.ip;
    if (this.expected.size >= this.sweepAt) this.sweep();
    let entry = this.expected.get(ip);
    if (entry === undefined) {
      entry = { inFlight: 0, claimed: 0, late: 0, lateUntil: 0 };
      this.expected.set(ip, entry);
    }
    entry.inFlight++;
    let written: boolean;
    try {
      written = (await store.putListing(listing, audit, options)) !== false;
    } catch (err) {
      this.noEvent(ip, entry);
      throw err;
    }
    if (!written) {
      this.noEvent(ip, entry);
      return false;
    }
    entry.inFlight--;
    if (entry.claimed > 0) {
      entry.claimed--;
    } else {
      entry.late++;
      entry.lateUntil = this.options.now() + LATE_EVENT_MS;
    }
    this.drop(ip, entry);
    if (listing.state !== 'active') this.options.ended(ip);
    return true;
  }

  /** claim - whether an event for `ip` is one of ours; `local`: the store says this instance wrote it. */
  claim(ip: string, local: boolean): boolean {
    const entry = this.expected.get(ip);
    if (entry === undefined) return false;
    if (entry.claimed < entry.inFlight) {
      entry.claimed++;
      return true;
    }
    if (!local || entry.late === 0) return false;
    const due = entry.lateUntil >= this.options.now();
    entry.late = due ? entry.late - 1 : 0;
    this.drop(ip, entry);
    return due;
  }

  /** IPs tracked (for tests). */
  get size(): number {
    return this.expected.size;
  }

  /** noEvent - an own write that failed or wrote nothing sends no event: a claim beyond the writes still under way was someone else's. */
  private noEvent(ip: string, entry: Expected): void {
    entry.inFlight--;
    const overClaimed = entry.claimed > entry.inFlight;
    entry.claimed = Math.min(entry.claimed, entry.inFlight);
    this.drop(ip, entry);
    if (overClaimed) this.options.reread(ip);
  }

  private drop(ip: string, entry: Expected): void {
    if (entry.inFlight === 0 && entry.late === 0) this.expected.delete(ip);
  }

  /**
   * sweep - forget late events that never came (a message lost while Redis was away). The next
   * sweep waits until the map has doubled from what this one left (at least SWEEP_AT), so a map
   * of many writes still due is not walked again on every write.
   */
  private sweep(): void {
    const now = this.options.now();
    for (const [ip, entry] of this.expected) {
      if (entry.inFlight === 0 && entry.lateUntil < now) this.expected.delete(ip);
    }
    this.sweepAt = Math.max(SWEEP_AT, 2 * this.expected.size);
  }
}
