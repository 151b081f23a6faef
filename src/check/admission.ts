/**
 * NAME
 *   check/admission - how many checks run at once, and what the others cost while they wait
 *
 * SYNOPSIS
 *   const admission = new Admission({ maxRunning, maxWaiting, deadlineMs, now })
 *   const result = await admission.run((waitedMs) => work(), (why) => refusal(why), signal)
 *
 * DESCRIPTION
 *   A flood of new addresses must not become thousands of half-done checks, each holding its
 *   timers, signals and promise chains: at most `maxRunning` checks run; the others wait in a
 *   FIFO queue as a small record each. Every check has the same deadline, measured from the call,
 *   so the waiting records expire in queue order: ONE timer, set for the oldest, is enough to turn
 *   every waiter past its deadline into `{ run: false, why: 'deadline' }` without any DNS work.
 *   When `maxWaiting` already wait, a new check is refused at once (`why: 'overload'`). A caller's
 *   AbortSignal, if given, takes its waiter out of the queue (`why: 'aborted'`).
 *
 * LIMITS
 *   check.maxRunningCount, check.maxWaitingCount, check.deadlineMs.
 */

import type { AbortLike } from '../util/abort.js';

/** Why a check did not run. */
export type Refusal = 'deadline' | 'overload' | 'aborted';

/**
 * One check waiting its turn: a plain record, its methods on the prototype, so that 20,000
 * waiting checks cost a few hundred bytes each.
 */
class Waiter<T> {
  settled = false;
  onAbort: (() => void) | undefined;

  constructor(
    readonly enqueuedAt: number,
    private readonly work: (waitedMs: number) => Promise<T>,
    private readonly refused: (why: Refusal) => T,
    private readonly resolve: (value: T | Promise<T>) => void,
    private readonly signal: AbortLike | undefined,
  ) {}

  /** Mark done; true the first time only. */
  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort);
    return true;
  }

  start(admission: Admission, waitedMs: number): boolean {
    if (!this.finish()) return false;
    this.resolve(admission.begin(this.work, waitedMs));
    return true;
  }

  refuse(why: Refusal): boolean {
    if (!this.finish()) return false;
    this.resolve(this.refused(why));
    return true;
  }
}

export interface AdmissionOptions {
  readonly maxRunning: number;
  readonly maxWaiting: number;
  readonly deadlineMs: number;
  readonly now: () => number;
}

/** Compact the queue once this many consumed entries sit before its head. */
const QUEUE_COMPACT_AT = 1024;

export class Admission {
  private running = 0;
  private waiting = 0;
  /** Consumed slots are cleared at once: a settled waiter must not keep its result alive. */
  private queue: (Waiter<unknown> | undefined)[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AdmissionOptions) {}

  get runningCount(): number {
    return this.running;
  }

  get waitingCount(): number {
    return this.waiting;
  }

  /**
   * Run `work` now if fewer than maxRunning run, else when its turn comes; `refused` gives the
   * result when it never runs (deadline passed while waiting, queue full, caller aborted).
   */
  run<T>(work: (waitedMs: number) => Promise<T>, refused: (why: Refusal) => T, signal?: AbortLike): Promise<T> {
    if (signal?.aborted === true) return Promise.resolve(refused('aborted'));
    if (this.running < this.options.maxRunning && this.waiting === 0) return this.begin(work, 0);
    if (this.waiting >= this.options.maxWaiting) return Promise.resolve(refused('overload'));
    return new Promise<T>((resolve) => {
      const waiter = new Waiter<T>(this.options.now(), work, refused, resolve, signal);
      if (signal !== undefined) {
        waiter.onAbort = () => {
          if (waiter.refuse('aborted')) this.waiting -= 1;
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter as Waiter<unknown>);
      this.waiting += 1;
      this.armTimer();
    });
  }

  /** Run one admitted piece of work; its end frees the slot. (Called by waiters, too.) */
  begin<T>(work: (waitedMs: number) => Promise<T>, waitedMs: number): Promise<T> {
    this.running += 1;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.running -= 1;
      this.drain();
    };
    let promise: Promise<T>;
    try {
      promise = work(waitedMs);
    } catch (err) {
      release();
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return promise.finally(release);
  }

  /** Start waiters while there is room, expiring those past their deadline first. */
  private drain(): void {
    this.expire();
    while (this.running < this.options.maxRunning && this.head < this.queue.length) {
      const next = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (next?.start(this, this.options.now() - next.enqueuedAt) === true) this.waiting -= 1;
    }
    this.compact();
    this.armTimer();
  }

  /** Refuse every waiter whose deadline has passed; they are at the head (FIFO, one deadline). */
  private expire(): void {
    const cutoff = this.options.now() - this.options.deadlineMs;
    while (this.head < this.queue.length) {
      const first = this.queue[this.head];
      if (first !== undefined && !first.settled && first.enqueuedAt > cutoff) break;
      this.queue[this.head++] = undefined;
      if (first?.refuse('deadline') === true) this.waiting -= 1;
    }
  }

  private armTimer(): void {
    if (this.timer !== undefined) return;
    let first: Waiter<unknown> | undefined;
    for (let i = this.head; i < this.queue.length && first === undefined; i++) {
      const w = this.queue[i];
      if (w !== undefined && !w.settled) first = w;
    }
    if (first === undefined) return;
    const dueInMs = Math.max(0, first.enqueuedAt + this.options.deadlineMs - this.options.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, dueInMs + 1);
  }

  private compact(): void {
    if (this.head >= QUEUE_COMPACT_AT || this.head === this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
