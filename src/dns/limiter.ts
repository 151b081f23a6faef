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
 *   The queue is a Set (insertion-ordered): O(1) enqueue, dequeue and removal on abort.
 *
 * LIMITS
 *   maxInFlightCount, maxQueuedCount (ResolverConfig).
 */

export type Slot =
  | { readonly ok: true; release(): void }
  | { readonly ok: false; readonly reason: 'queue-full' | 'aborted' };

interface Waiter {
  grant(): void;
}

export class InFlightLimiter {
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private held = 0;
  private readonly waiters = new Set<Waiter>();

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
    return this.waiters.size;
  }

  /** acquire - a slot now, a slot later (FIFO), or a refusal; never rejects. */
  acquire(signal?: AbortSignal): Promise<Slot> {
    if (signal?.aborted === true) return Promise.resolve({ ok: false, reason: 'aborted' });
    if (this.held < this.maxInFlight && this.waiters.size === 0) {
      this.held += 1;
      return Promise.resolve(this.slot());
    }
    if (this.waiters.size >= this.maxQueued) return Promise.resolve({ ok: false, reason: 'queue-full' });
    return new Promise<Slot>((resolve) => {
      const onAbort = (): void => {
        if (this.waiters.delete(waiter)) resolve({ ok: false, reason: 'aborted' });
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.slot());
        },
      };
      this.waiters.add(waiter);
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
    while (this.held < this.maxInFlight) {
      const next = this.waiters.values().next();
      if (next.done === true) return;
      this.waiters.delete(next.value);
      this.held += 1;
      next.value.grant();
    }
  }
}
