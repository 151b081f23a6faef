/**
 * NAME
 *   firewall/writer - the decision path's store writes: in the background, batched, retried
 *
 * SYNOPSIS
 *   const writer = new Writer({ store, now, queueCount, log })
 *   writer.putListing(listing, audit)   a new listing or a lifecycle change made while deciding
 *   writer.putEvidence(evidence)
 *   writer.touch(ip, touch)             a rejection of a listed IP: batched per IP
 *   await writer.flushTouches()         one read-modify-write per touched IP
 *   await writer.retry()                queued writes, oldest first, until one still fails
 *   await writer.idle()                 wait for the writes under way
 *   writer.clearListing(op)             end a stored listing if still active (re-check, unblock)
 *   writer.queuedCount, writer.touchCount, writer.hasPending(ip), writer.hasPendingListing(ip)
 *
 * DESCRIPTION
 *   A decision never waits for the store: the hot cache already holds its outcome. The writes
 *   it causes go through here. A write rejected with BS_ERR_STORE_UNAVAILABLE is kept in a
 *   bounded queue (one slot per listing IP, the latest state wins; one per evidence ref) and
 *   retried by Firewall's timer; any other error is a bug, not an outage, and the write is
 *   dropped with a STORE-ERROR log line.
 *
 *   Rejections of an IP already listed do not each write: they add up in a touch (count, last
 *   rejection, latest evidence, maybe a new re-check time) written by flushTouches() as one
 *   read-modify-write of the stored listing, with a LIST-UPDATE audit entry. A touch for an IP
 *   whose stored listing is no longer active is dropped (a clear on another node wins); one for
 *   an IP whose listing write is queued or under way is merged into it or kept for later.
 *
 * LIMITS
 *   firewall.retryQueueCount bounds the queue and, separately, the touches; past it the oldest
 *   goes, with a RETRY-DROP log line.
 */
import { isBlockSmithError } from '../errors.js';
import type { AuditEntry, ClearCause, Evidence, Listing, Store } from '../store/types.js';
import type { FirewallLogger } from './types.js';

export type AuditInput = Omit<AuditEntry, 'id'>;

export interface Touch {
  readonly count: number;
  readonly lastRejectAt: number;
  readonly latestEvidence?: Evidence;
  readonly recheckDueAt?: number;
}

/** Ending a listing found active in the store (read-modify-write): re-check, expiry. */
export interface ClearOp {
  readonly ip: string;
  readonly cause: ClearCause;
  readonly actor: string;
  readonly at: number;
  /** Audit action: CLEAR or EXPIRE. */
  readonly action: string;
}

type QueuedWrite =
  | { readonly kind: 'listing'; readonly listing: Listing; readonly audit: AuditInput }
  | { readonly kind: 'evidence'; readonly evidence: Evidence }
  | { readonly kind: 'clear'; readonly op: ClearOp };

export interface WriterOptions {
  readonly store: Store;
  readonly now: () => number;
  readonly queueCount: number;
  readonly log: FirewallLogger;
}

export function isStoreUnavailable(err: unknown): boolean {
  return isBlockSmithError(err) && err.code === 'BS_ERR_STORE_UNAVAILABLE';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** applyTouch - a listing with a touch applied. */
export function applyTouch(listing: Listing, touch: Touch): Listing {
  return {
    ...listing,
    rejectCount: listing.rejectCount + touch.count,
    lastRejectAt: Math.max(listing.lastRejectAt, touch.lastRejectAt),
    ...(touch.latestEvidence === undefined ? {} : { latestEvidence: touch.latestEvidence }),
    ...(touch.recheckDueAt === undefined ? {} : { recheckDueAt: touch.recheckDueAt }),
  };
}

function mergeTouches(a: Touch | undefined, b: Touch): Touch {
  if (a === undefined) return b;
  const dueAt = b.recheckDueAt ?? a.recheckDueAt;
  const evidence = b.latestEvidence ?? a.latestEvidence;
  return {
    count: a.count + b.count,
    lastRejectAt: Math.max(a.lastRejectAt, b.lastRejectAt),
    ...(evidence === undefined ? {} : { latestEvidence: evidence }),
    ...(dueAt === undefined ? {} : { recheckDueAt: dueAt }),
  };
}

export class Writer {
  private readonly options: WriterOptions;
  private readonly queue = new Map<string, QueuedWrite>();
  private readonly touches = new Map<string, Touch>();
  private readonly running = new Set<Promise<void>>();
  private readonly listingInFlight = new Map<string, number>();

  constructor(options: WriterOptions) {
    this.options = options;
  }

  get queuedCount(): number {
    return this.queue.size;
  }

  get touchCount(): number {
    return this.touches.size;
  }

  /** hasPending - a listing write or touch for this IP has not reached the store yet. */
  hasPending(ip: string): boolean {
    return this.queue.has(`listing:${ip}`) || this.touches.has(ip) || this.listingInFlight.has(ip);
  }

  /** hasPendingListing - a listing write (put or clear) for this IP is queued or under way. */
  hasPendingListing(ip: string): boolean {
    return this.queue.has(`listing:${ip}`) || this.listingInFlight.has(ip);
  }

  putListing(listing: Listing, audit: AuditInput): void {
    this.queue.delete(`listing:${listing.ip}`);
    this.track(this.write({ kind: 'listing', listing, audit }));
  }

  /** clearListing - end the stored listing of `op.ip` if it is still active. */
  clearListing(op: ClearOp): void {
    this.queue.delete(`listing:${op.ip}`);
    this.touches.delete(op.ip);
    this.track(this.write({ kind: 'clear', op }));
  }

  putEvidence(evidence: Evidence): void {
    this.track(this.write({ kind: 'evidence', evidence }));
  }

  touch(ip: string, touch: Touch): void {
    const key = `listing:${ip}`;
    const queued = this.queue.get(key);
    if (queued?.kind === 'clear') return;
    if (queued?.kind === 'listing') {
      this.queue.set(key, { ...queued, listing: applyTouch(queued.listing, touch) });
      return;
    }
    this.touches.set(ip, mergeTouches(this.touches.get(ip), touch));
    this.bound(this.touches, 'touch');
  }

  /** flushTouches - write the batched rejections of listed IPs. */
  async flushTouches(): Promise<void> {
    for (const [ip, touch] of [...this.touches.entries()]) {
      if (this.listingInFlight.has(ip) || this.queue.has(`listing:${ip}`)) continue;
      this.touches.delete(ip);
      try {
        const stored = await this.options.store.getListing(ip);
        if (stored === undefined || stored.state !== 'active') continue;
        const detail = `+${touch.count} rejections${touch.latestEvidence ? `, latest ref ${touch.latestEvidence.ref}` : ''}`;
        await this.options.store.putListing(applyTouch(stored, touch), {
          at: this.options.now(),
          actor: 'check',
          action: 'LIST-UPDATE',
          target: ip,
          detail,
        });
      } catch (err) {
        if (!isStoreUnavailable(err)) {
          this.options.log({ event: 'STORE-ERROR', ip, detail: message(err) });
          continue;
        }
        this.touches.set(ip, mergeTouches(this.touches.get(ip), touch));
        this.bound(this.touches, 'touch');
        return;
      }
    }
  }

  /** retry - queued writes, oldest first; stops at the first that still finds the store away. */
  async retry(): Promise<void> {
    for (const [key, item] of [...this.queue.entries()]) {
      if (this.queue.get(key) !== item) continue;
      this.queue.delete(key);
      if (!(await this.write(item))) return;
    }
  }

  /** idle - resolves when the writes started so far have settled. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private track(promise: Promise<unknown>): void {
    const p = promise.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** write - one write; true when done (or dropped as a bug), false when queued again. */
  private async write(item: QueuedWrite): Promise<boolean> {
    const ip = item.kind === 'listing' ? item.listing.ip : item.kind === 'clear' ? item.op.ip : undefined;
    if (ip !== undefined) this.listingInFlight.set(ip, (this.listingInFlight.get(ip) ?? 0) + 1);
    try {
      if (item.kind === 'listing') await this.options.store.putListing(item.listing, item.audit);
      else if (item.kind === 'clear') await this.clear(item.op);
      else await this.options.store.putEvidence(item.evidence);
      return true;
    } catch (err) {
      const target = ip ?? (item.kind === 'evidence' ? item.evidence.ref : '');
      if (!isStoreUnavailable(err)) {
        this.options.log({ event: 'STORE-ERROR', detail: `${item.kind} ${target}: ${message(err)}` });
        return true;
      }
      const key = ip !== undefined ? `listing:${ip}` : `evidence:${target}`;
      // A newer state of the same listing queued meanwhile wins.
      if (!this.queue.has(key)) this.queue.set(key, item);
      this.bound(this.queue, 'write');
      this.options.log({ event: 'RETRY-QUEUE', detail: `${item.kind} ${target} kept for retry (${this.queue.size} queued)` });
      return false;
    } finally {
      if (ip !== undefined) {
        const left = (this.listingInFlight.get(ip) ?? 1) - 1;
        if (left <= 0) this.listingInFlight.delete(ip);
        else this.listingInFlight.set(ip, left);
      }
    }
  }

  private async clear(op: ClearOp): Promise<void> {
    const stored = await this.options.store.getListing(op.ip);
    if (stored === undefined || stored.state !== 'active') return;
    await this.options.store.putListing(
      { ...stored, state: op.cause === 'expired' ? 'expired' : 'cleared', clearedAt: op.at, clearedBy: op.actor, clearCause: op.cause },
      { at: op.at, actor: op.actor, action: op.action, target: op.ip, detail: op.cause },
    );
  }

  private bound(map: Map<string, unknown>, what: string): void {
    while (map.size > this.options.queueCount) {
      const oldest = map.keys().next();
      if (oldest.done === true) return;
      map.delete(oldest.value);
      this.options.log({ event: 'RETRY-DROP', detail: `oldest queued ${what} ${oldest.value} dropped: queue full (${this.options.queueCount})` });
    }
  }
}
