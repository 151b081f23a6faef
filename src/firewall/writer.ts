/**
 * NAME
 *   firewall/writer - the decision path's store writes: in the background, batched, retried
 *
 * SYNOPSIS
 *   const writer = new Writer({ store, now, queueCount, log })
 *   writer.putListing(listing, audit)   a new listing or a lifecycle change made while deciding
 *   writer.putEvidence(evidence)        buffered; await writer.flushEvidence() writes the buffer
 *   writer.pendingEvidence(ref)         evidence not yet in the store (buffered, writing, queued)
 *   writer.touch(ip, touch)             a rejection of a listed IP: batched per IP
 *   await writer.flushTouches()         one read-modify-write per touched IP, many at once
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
 *   Evidence is buffered and written in batches (flushEvidence, from the firewall's timer
 *   every EVIDENCE_FLUSH_MS, or as soon as EVIDENCE_BATCH_COUNT are buffered): concurrent
 *   store calls that SQLite commits in one transaction and Redis pipelines. Until written,
 *   the evidence of a reference is answered from here (pendingEvidence), so the portal finds
 *   it from the moment the reply was sent. A crash loses at most that second of evidence, as
 *   it loses the touches not yet flushed; operator actions never come through here.
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
import { nextTurn } from './core.js';
import type { OwnWrites } from './own-writes.js';
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
  /**
   * Evidence records buffered before a flush is started on their own (default
   * EVIDENCE_BATCH_COUNT); the firewall's timer flushes the rest every EVIDENCE_FLUSH_MS.
   */
  readonly evidenceBatchCount?: number;
  /** Touch writes go through it, so their events are not read back (own-writes.ts). */
  readonly own?: OwnWrites;
}

/** Evidence buffered before flushEvidence() starts by itself. */
export const EVIDENCE_BATCH_COUNT = 512;
/** How often the firewall's timer flushes buffered evidence. */
export const EVIDENCE_FLUSH_MS = 1_000;
/**
 * Evidence records held at most (buffered and being written): past it, the oldest buffered
 * records are dropped and counted in one EVIDENCE-DROP log line per flush. Only a flood of
 * refusals that are all different (new recipient each time) faster than the store writes gets
 * here; memory stays bounded (about 500 bytes a record).
 */
export const EVIDENCE_PENDING_MAX = 100_000;
/** Store calls a flush keeps under way at once (the stores batch concurrent writes). */
export const FLUSH_IN_FLIGHT = 128;
/**
 * Store calls a flush starts per turn of the event loop (runLimited): a touch costs a store
 * read and a row encoding (tens of microseconds on SQLite), so a slice stays well under 1 ms.
 */
export const FLUSH_STARTS_PER_TURN = 16;

/** A touch being added up (a private, mutable copy). */
interface PendingTouch {
  count: number;
  lastRejectAt: number;
  latestEvidence: Evidence | undefined;
  recheckDueAt: number | undefined;
}

function frozenTouch(t: PendingTouch): Touch {
  return {
    count: t.count,
    lastRejectAt: t.lastRejectAt,
    ...(t.latestEvidence === undefined ? {} : { latestEvidence: t.latestEvidence }),
    ...(t.recheckDueAt === undefined ? {} : { recheckDueAt: t.recheckDueAt }),
  };
}

/**
 * runLimited - job(item) for each item, at most `inFlight` under way at once and at most
 * FLUSH_STARTS_PER_TURN started per turn of the event loop. A job's first part (a store read,
 * the encoding of a row) runs in a microtask, and microtasks never let a socket be served: with
 * only the in-flight bound, the 128 continuations released by one commit ran back to back, a
 * burst of several milliseconds in which no decision was answered. Between slices the flush
 * waits for the next turn (core.ts nextTurn), so the sockets ready meanwhile are served first;
 * the store still sees up to `inFlight` calls under way, which it commits together.
 */
async function runLimited<T>(items: readonly T[], inFlight: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let left = FLUSH_STARTS_PER_TURN;
  let turn: Promise<void> | undefined;
  const slot = async (): Promise<void> => {
    while (left <= 0) {
      turn ??= nextTurn().then(() => {
        turn = undefined;
        left = FLUSH_STARTS_PER_TURN;
      });
      await turn;
    }
    left--;
  };
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      await slot();
      if (next >= items.length) return;
      await job(items[next++] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, worker));
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

/** addTouch - `b` added into `a` (in place), or a new pending touch from `b`. */
function addTouch(a: PendingTouch | undefined, b: Touch): PendingTouch {
  if (a === undefined) {
    return { count: b.count, lastRejectAt: b.lastRejectAt, latestEvidence: b.latestEvidence, recheckDueAt: b.recheckDueAt };
  }
  a.count += b.count;
  if (b.lastRejectAt > a.lastRejectAt) a.lastRejectAt = b.lastRejectAt;
  if (b.latestEvidence !== undefined) a.latestEvidence = b.latestEvidence;
  if (b.recheckDueAt !== undefined) a.recheckDueAt = b.recheckDueAt;
  return a;
}

export class Writer {
  private readonly options: WriterOptions;
  private readonly queue = new Map<string, QueuedWrite>();
  private readonly touches = new Map<string, PendingTouch>();
  private readonly running = new Set<Promise<void>>();
  private readonly listingInFlight = new Map<string, number>();
  /** Evidence not yet written, by ref (buffered, or its write under way). */
  private readonly evidenceBuffer = new Map<string, Evidence>();
  private readonly evidenceWriting = new Map<string, Evidence>();
  private readonly evidenceBatchCount: number;
  private evidenceFlushQueued = false;
  private evidenceDropped = 0;

  constructor(options: WriterOptions) {
    this.options = options;
    this.evidenceBatchCount = options.evidenceBatchCount ?? EVIDENCE_BATCH_COUNT;
  }

  get evidenceCount(): number {
    return this.evidenceBuffer.size + this.evidenceWriting.size;
  }

  /**
   * pendingEvidence - evidence that has not reached the store yet (buffered, being written or
   * queued for retry), so that a reference is answered from the moment its reply was given.
   */
  pendingEvidence(ref: string): Evidence | undefined {
    const found = this.evidenceBuffer.get(ref) ?? this.evidenceWriting.get(ref);
    if (found !== undefined) return found;
    const queued = this.queue.get(`evidence:${ref}`);
    return queued?.kind === 'evidence' ? queued.evidence : undefined;
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

  /**
   * putEvidence - keep the evidence of a refusal for the next flushEvidence(): the firewall's
   * timer (every EVIDENCE_FLUSH_MS), a full buffer (evidenceBatchCount), or flush().
   */
  putEvidence(evidence: Evidence): void {
    this.evidenceBuffer.set(evidence.ref, evidence);
    while (this.evidenceBuffer.size > 0 && this.evidenceBuffer.size + this.evidenceWriting.size > EVIDENCE_PENDING_MAX) {
      const oldest = this.evidenceBuffer.keys().next();
      if (oldest.done === true) break;
      this.evidenceBuffer.delete(oldest.value);
      this.evidenceDropped++;
    }
    if (this.evidenceBuffer.size >= this.evidenceBatchCount && !this.evidenceFlushQueued) {
      // Not from inside the decision: on the next turn of the event loop.
      this.evidenceFlushQueued = true;
      setImmediate(() => {
        this.evidenceFlushQueued = false;
        this.track(this.flushEvidence());
      });
    }
  }

  /**
   * flushEvidence - every buffered evidence record to the store, FLUSH_IN_FLIGHT calls at once
   * (SQLite commits the concurrent calls in one transaction, Redis pipelines them). A record
   * the store cannot take now goes to the retry queue; until written it stays readable by
   * pendingEvidence().
   */
  async flushEvidence(): Promise<void> {
    if (this.evidenceDropped > 0) {
      this.options.log({ event: 'EVIDENCE-DROP', detail: `${this.evidenceDropped} evidence records dropped: more than ${EVIDENCE_PENDING_MAX} waiting for the store` });
      this.evidenceDropped = 0;
    }
    if (this.evidenceBuffer.size === 0) return;
    const batch = [...this.evidenceBuffer.values()];
    this.evidenceBuffer.clear();
    for (const e of batch) this.evidenceWriting.set(e.ref, e);
    await runLimited(batch, FLUSH_IN_FLIGHT, async (evidence) => {
      await this.write({ kind: 'evidence', evidence });
      if (this.evidenceWriting.get(evidence.ref) === evidence) this.evidenceWriting.delete(evidence.ref);
    });
  }

  touch(ip: string, touch: Touch): void {
    const key = `listing:${ip}`;
    const queued = this.queue.get(key);
    if (queued?.kind === 'clear') return;
    if (queued?.kind === 'listing') {
      this.queue.set(key, { ...queued, listing: applyTouch(queued.listing, touch) });
      return;
    }
    const pending = this.touches.get(ip);
    const merged = addTouch(pending, touch);
    if (pending === undefined) {
      this.touches.set(ip, merged);
      this.bound(this.touches, 'touch');
    }
  }

  /**
   * flushTouches - write the batched rejections of listed IPs: one read-modify-write per IP,
   * FLUSH_IN_FLIGHT IPs at once. Once the store is found away, the touches not yet written are
   * kept for the next flush.
   */
  async flushTouches(): Promise<void> {
    const work: Array<[string, Touch]> = [];
    for (const [ip, pending] of this.touches) {
      if (this.listingInFlight.has(ip) || this.queue.has(`listing:${ip}`)) continue;
      work.push([ip, frozenTouch(pending)]);
    }
    for (const [ip] of work) this.touches.delete(ip);
    let away = false;
    await runLimited(work, FLUSH_IN_FLIGHT, async ([ip, touch]) => {
      if (away) {
        this.keepTouch(ip, touch);
        return;
      }
      try {
        const stored = await this.options.store.getListing(ip);
        if (stored === undefined || stored.state !== 'active') return;
        const detail = `+${touch.count} rejections${touch.latestEvidence ? `, latest ref ${touch.latestEvidence.ref}` : ''}`;
        const audit = { at: this.options.now(), actor: 'check', action: 'LIST-UPDATE', target: ip, detail };
        const own = this.options.own;
        if (own === undefined) await this.options.store.putListing(applyTouch(stored, touch), audit);
        else await own.putListing(this.options.store, applyTouch(stored, touch), audit);
      } catch (err) {
        if (!isStoreUnavailable(err)) {
          this.options.log({ event: 'STORE-ERROR', ip, detail: message(err) });
          return;
        }
        away = true;
        this.keepTouch(ip, touch);
      }
    });
  }

  /** keepTouch - a touch that could not be written, added back for the next flush. */
  private keepTouch(ip: string, touch: Touch): void {
    const pending = this.touches.get(ip);
    // Older counts first: the touch kept back is older than any added meanwhile.
    const merged = addTouch(addTouch(undefined, touch), pending === undefined ? { count: 0, lastRejectAt: touch.lastRejectAt } : frozenTouch(pending));
    this.touches.delete(ip);
    this.touches.set(ip, merged);
    this.bound(this.touches, 'touch');
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
