/**
 * NAME
 *   dns/limiter - a global cap on DNS exchanges in flight, with a bounded FIFO queue
 *
 * SYNOPSIS
 *   const limiter = new InFlightLimiter(maxInFlightCount, maxQueuedCount)
 *   const slot = await limiter.acquire(signal)   // { ok: true, release } | { ok: false, reason }
 *   limiter.inFlight, limiter.queued
 *
 * DESCRIPTION
 *   A connection flood must queue here instead of flooding the upstream resolver. `acquire`
 *   grants a slot at once while fewer than `maxInFlightCount` are held, otherwise the caller
 *   waits in FIFO order. When `maxQueuedCount` callers already wait, `acquire` answers
 *   `{ ok: false, reason: 'queue-full' }` at once (the resolver turns that into temp/network).
 *   Aborting the signal while queued removes the waiter and answers `reason: 'aborted'`.
 *   `release` is idempotent: calling it twice frees one slot only.
 *
 *   The queue is an array read from a moving head (compacted as it drains), and a waiter that
 *   aborts is marked and skipped when its turn comes: O(1) enqueue, dequeue and abort. (A Set
 *   looked O(1) too, but taking its first element after many deletions walks the holes they
 *   leave: 20,000 queued checks spent most of their time there.)
 *
 * LIMITS
 *   maxInFlightCount, maxQueuedCount (ResolverConfig).
 */

import type { AbortLike } from '../util/abort.js';

export type Slot =
  | { readonly ok: true; release(): void }
  | { readonly ok: false; readonly reason: 'queue-full' | 'aborted' };

interface Waiter {
  grant(): void;
  cancelled: boolean;
}

/** Compact the queue once this many consumed entries sit before its head. */
const QUEUE_COMPACT_AT = 1024;

export class InFlightLimiter {
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private held = 0;
  /** Consumed slots are cleared at once, so a granted waiter is not kept alive by the queue. */
  private queue: (Waiter | undefined)[] = [];
  private head = 0;
  private waiting = 0;

  constructor(maxInFlightCount: number, maxQueuedCount: number) {
    this.maxInFlight = Math.max(1, maxInFlightCount);
    this.maxQueued = Math.max(0, maxQueuedCount);
  }

  /** Slots currently held. */
  get inFlight(): number {
    return this.held;
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.waiting;
  }

  /** acquire - a slot now, a slot later (FIFO), or a refusal; never rejects. */
  acquire(signal?: AbortLike): Promise<Slot> {
    if (signal?.aborted === true) return Promise.resolve({ ok: false, reason: 'aborted' });
    if (this.held < this.maxInFlight && this.waiting === 0) {
      this.held += 1;
      return Promise.resolve(this.slot());
    }
    if (this.waiting >= this.maxQueued) return Promise.resolve({ ok: false, reason: 'queue-full' });
    return new Promise<Slot>((resolve) => {
      const onAbort = (): void => {
        if (waiter.cancelled) return;
        waiter.cancelled = true;
        this.waiting -= 1;
        resolve({ ok: false, reason: 'aborted' });
      };
      const waiter: Waiter = {
        cancelled: false,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.slot());
        },
      };
      this.queue.push(waiter);
      this.waiting += 1;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private slot(): Slot {
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.held -= 1;
        this.drain();
      },
    };
  }

  private drain(): void {
    while (this.held < this.maxInFlight && this.head < this.queue.length) {
      const next = this.queue[this.head];
      this.queue[this.head] = undefined;
      this.head += 1;
      if (next === undefined || next.cancelled) continue;
      next.cancelled = true; // granted: a late abort must not count it again
      this.waiting -= 1;
      this.held += 1;
      next.grant();
    }
    if (this.head >= QUEUE_COMPACT_AT || this.head === this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
