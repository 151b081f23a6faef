/**
 * NAME
 *   check/admission - how many checks run at once, and what the others cost while they wait
 *
 * SYNOPSIS
 *   const admission = new Admission<T>({ maxRunning, maxWaiting, deadlineMs, now, start, refuse })
 *   admission.submit(ticket)     // start(ticket, waitedMs) now or later, or refuse(ticket, why)
 *   admission.cancel(ticket)     // a waiting ticket leaves the queue: refuse(ticket, 'aborted')
 *
 * DESCRIPTION
 *   A flood of new addresses must not become thousands of half-done checks, each holding its
 *   timers, signals and promise chains: at most `maxRunning` checks run; the others wait in a
 *   FIFO queue. A waiting check is the caller's own small record (a `Ticket`: when it asked, and
 *   whether it is still queued); the admission keeps no closure, promise or timer per ticket, and
 *   calls back the two functions its owner gave once: `start` when a ticket's turn comes (its
 *   returned promise settling frees the slot), `refuse` when it never runs. Under a flood most
 *   checks are waiting ones, created all at once and kept for seconds: whatever they hold is
 *   promoted to V8's old generation and sets how far the heap may grow before the next full
 *   collection (bench/RESULTS.md, "Where the memory goes").
 *
 *   Every check has the same deadline, measured from the call, so waiting tickets expire in queue
 *   order: ONE timer, set for the oldest, turns every ticket past its deadline into
 *   `refuse(ticket, 'deadline')` without any DNS work. "Past its deadline" means with less than
 *   `minRunMs` of it left: such a check would mostly end cut short, as a cached temperror. When `maxWaiting` already wait, a new ticket
 *   is refused at once (`'overload'`). `cancel` (the owner's answer to a caller's abort) takes a
 *   waiting ticket out (`'aborted'`); it does nothing to a ticket already started or refused.
 *
 *   `start` and `refuse` may be called synchronously from `submit` (room free, queue full).
 *
 * LIMITS
 *   check.maxRunningCount, check.maxWaitingCount, check.deadlineMs.
 */

/** Why a check did not run. */
export type Refusal = 'deadline' | 'overload' | 'aborted';

/** What the admission needs of a waiting check. The owner's record; `queued` is the admission's. */
export interface Ticket {
  /** When it was submitted, on the admission's clock (`now`). */
  readonly enqueuedAt: number;
  /** True while it waits in the queue; set and cleared by the admission only. */
  queued: boolean;
}

export interface AdmissionOptions<T extends Ticket> {
  readonly maxRunning: number;
  readonly maxWaiting: number;
  readonly deadlineMs: number;
  /**
   * A waiting ticket with less than this left of its deadline is refused ('deadline') rather than
   * started: it could hardly finish, and a check cut short by its deadline ends as a (cached)
   * temperror after spending queries.
   */
  readonly minRunMs: number;
  readonly now: () => number;
  /** Run the ticket's work; the slot is free again when the promise settles. Must not throw. */
  readonly start: (ticket: T, waitedMs: number) => Promise<unknown>;
  /** The ticket will never run. */
  readonly refuse: (ticket: T, why: Refusal) => void;
}

/** Compact the queue once this many consumed entries sit before its head. */
const QUEUE_COMPACT_AT = 1024;

export class Admission<T extends Ticket> {
  private running = 0;
  private waiting = 0;
  /** Consumed slots are cleared at once: a finished ticket must not be kept alive by the queue. */
  private queue: (T | undefined)[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  /** One function for every run's end, not a closure per run. */
  private readonly release = (): void => {
    this.running -= 1;
    this.drain();
  };

  constructor(private readonly options: AdmissionOptions<T>) {}

  get runningCount(): number {
    return this.running;
  }

  get waitingCount(): number {
    return this.waiting;
  }

  /** Start the ticket now if fewer than maxRunning run and nobody waits, else queue or refuse it. */
  submit(ticket: T): void {
    if (this.running < this.options.maxRunning && this.waiting === 0) {
      this.begin(ticket, 0);
      return;
    }
    if (this.waiting >= this.options.maxWaiting) {
      this.options.refuse(ticket, 'overload');
      return;
    }
    ticket.queued = true;
    this.queue.push(ticket);
    this.waiting += 1;
    this.armTimer();
  }

  /** Take a waiting ticket out of the queue (refused as 'aborted'); no-op once it left the queue. */
  cancel(ticket: T): void {
    if (!ticket.queued) return;
    ticket.queued = false;
    this.waiting -= 1;
    this.options.refuse(ticket, 'aborted');
  }

  private begin(ticket: T, waitedMs: number): void {
    this.running += 1;
    let work: Promise<unknown>;
    try {
      work = this.options.start(ticket, waitedMs);
    } catch {
      // The owner's bug; the slot must not leak with it.
      work = Promise.resolve();
    }
    work.then(this.release, this.release);
  }

  /** Start waiters while there is room, expiring those past their deadline first. */
  private drain(): void {
    this.expire();
    while (this.running < this.options.maxRunning && this.head < this.queue.length) {
      const next = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (next === undefined || !next.queued) continue;
      next.queued = false;
      this.waiting -= 1;
      this.begin(next, this.options.now() - next.enqueuedAt);
    }
    this.compact();
    this.armTimer();
  }

  /** Refuse every waiter whose deadline has passed; they are at the head (FIFO, one deadline). */
  private expire(): void {
    const cutoff = this.options.now() - this.waitLimitMs();
    while (this.head < this.queue.length) {
      const first = this.queue[this.head];
      if (first !== undefined && first.queued && first.enqueuedAt > cutoff) break;
      this.queue[this.head++] = undefined;
      if (first === undefined || !first.queued) continue;
      first.queued = false;
      this.waiting -= 1;
      this.options.refuse(first, 'deadline');
    }
  }

  private armTimer(): void {
    if (this.timer !== undefined) return;
    let first: T | undefined;
    for (let i = this.head; i < this.queue.length && first === undefined; i++) {
      const t = this.queue[i];
      if (t !== undefined && t.queued) first = t;
    }
    if (first === undefined) return;
    const dueInMs = Math.max(0, first.enqueuedAt + this.waitLimitMs() - this.options.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, dueInMs + 1);
  }

  /** How long a ticket may wait: its deadline, less the least time worth running for. */
  private waitLimitMs(): number {
    return Math.max(0, this.options.deadlineMs - this.options.minRunMs);
  }

  private compact(): void {
    if (this.head >= QUEUE_COMPACT_AT || this.head === this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
