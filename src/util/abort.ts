/**
 * NAME
 *   util/abort - a cheap cancellation signal, shaped like the part of AbortSignal we use
 *
 * DESCRIPTION
 *   Every check has a deadline and every coalesced DNS lookup a way to stop; with AbortController
 *   that is an EventTarget, a signal and listener bookkeeping per check and per lookup, about
 *   10 µs and a few objects each time (bench/check, cold path). `Abort` does the same job with a
 *   flag and a Set. Internal code takes `AbortLike`, which a real AbortSignal also satisfies, so
 *   callers outside (a front passing a connection's signal) need nothing special.
 *
 *   Semantics follow AbortSignal: a listener added after abort() is never called; abort() calls
 *   each listener once, then forgets them all.
 */

/** What BlockSmith's internals need of a cancellation signal. AbortSignal has it. */
export interface AbortLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export class Abort implements AbortLike {
  private state = false;
  private listeners: Set<() => void> | undefined;

  get aborted(): boolean {
    return this.state;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.state) return;
    (this.listeners ??= new Set()).add(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners?.delete(listener);
  }

  abort(): void {
    if (this.state) return;
    this.state = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }
}
