/**
 * NAME
 *   firewall/rate-limit - fixed-window counters for self-service unblocks
 *
 * SYNOPSIS
 *   const limiter = new WindowLimiter({ windowMs, trackedKeysCount, now })
 *   limiter.take(key, limit): { ok: true } | { ok: false; retryAfterMs }
 *
 * DESCRIPTION
 *   Each key (`ip:<target>`, `from:<requester>`) may be taken `limit` times per window of
 *   `windowMs`, the window starting at the key's first use. A refused take does not count.
 *   At most `trackedKeysCount` keys are tracked; when full, expired windows are swept, and if
 *   none has expired the take is refused (a flood of fresh requester addresses must not grow
 *   memory or buy DNS work).
 *
 * LIMITS
 *   firewall.unblockWindowMs, firewall.unblockTrackedKeysCount; the limits per key are the
 *   caller's (firewall.unblockPerIpCount, firewall.unblockPerRequesterCount).
 */
export interface WindowLimiterOptions {
  readonly windowMs: number;
  readonly trackedKeysCount: number;
  readonly now: () => number;
}

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

interface Window {
  readonly startedAt: number;
  count: number;
}

export class WindowLimiter {
  private readonly options: WindowLimiterOptions;
  private readonly windows = new Map<string, Window>();

  constructor(options: WindowLimiterOptions) {
    this.options = options;
  }

  /** check - would `take` succeed? Nothing is counted. */
  check(key: string, limit: number): TakeResult {
    const now = this.options.now();
    const window = this.windows.get(key);
    if (window === undefined || window.startedAt + this.options.windowMs <= now) {
      return this.windows.size < this.options.trackedKeysCount || window !== undefined || this.sweep(now) > 0
        ? { ok: true }
        : { ok: false, retryAfterMs: this.options.windowMs };
    }
    return window.count < limit ? { ok: true } : { ok: false, retryAfterMs: window.startedAt + this.options.windowMs - now };
  }

  /** take - count one use of `key` if under `limit`. */
  take(key: string, limit: number): TakeResult {
    const verdict = this.check(key, limit);
    if (!verdict.ok) return verdict;
    const now = this.options.now();
    const window = this.windows.get(key);
    if (window === undefined || window.startedAt + this.options.windowMs <= now) this.windows.set(key, { startedAt: now, count: 1 });
    else window.count += 1;
    return verdict;
  }

  private sweep(now: number): number {
    let removed = 0;
    for (const [key, window] of this.windows) {
      if (window.startedAt + this.options.windowMs <= now) {
        this.windows.delete(key);
        removed++;
      }
    }
    return removed;
  }
}
