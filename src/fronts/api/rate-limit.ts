/**
 * NAME
 *   fronts/api/rate-limit - token buckets per client, one set per route class
 *
 * SYNOPSIS
 *   const limiter = new TokenBuckets({ capacity, windowMs, trackedCount, now })
 *   limiter.take(key): { ok: true } | { ok: false; retryAfterMs }
 *
 * DESCRIPTION
 *   Each key (a client: IPv4 address or IPv6 /64, see client.ts) has a bucket of `capacity`
 *   tokens that refills at capacity per `windowMs`, continuously: a client may burst up to the
 *   capacity, then gets one request per windowMs/capacity. A refused take costs nothing.
 *
 *   At most `trackedCount` buckets exist. A full bucket is the same as no bucket, so when the
 *   table is full the ones that have refilled are dropped; if none has, the new client is
 *   refused (retry after one refill period): a flood of fresh addresses must not grow memory.
 *   The front's own limiter: the firewall's (firewall/rate-limit.ts) is internal to it.
 *
 * LIMITS
 *   http.rateWindowMs, http.rateTrackedClientsCount; capacities http.*LimitCount.
 */
export interface TokenBucketsOptions {
  /** Tokens a full bucket holds (the burst), and tokens refilled per window. */
  readonly capacity: number;
  readonly windowMs: number;
  /** Buckets kept at most. */
  readonly trackedCount: number;
  readonly now: () => number;
}

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class TokenBuckets {
  private readonly options: TokenBucketsOptions;
  private readonly buckets = new Map<string, Bucket>();
  /** Milliseconds for one token to come back. */
  private readonly msPerToken: number;

  constructor(options: TokenBucketsOptions) {
    this.options = options;
    this.msPerToken = options.windowMs / options.capacity;
  }

  /** How many buckets are tracked now (for tests and status). */
  get size(): number {
    return this.buckets.size;
  }

  take(key: string): TakeResult {
    const now = this.options.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.options.trackedCount && this.sweep(now) === 0) {
        return { ok: false, retryAfterMs: Math.ceil(this.msPerToken) };
      }
      bucket = { tokens: this.options.capacity, updatedAt: now };
      this.buckets.set(key, bucket);
    } else {
      this.refill(bucket, now);
    }
    if (bucket.tokens < 1) return { ok: false, retryAfterMs: Math.ceil((1 - bucket.tokens) * this.msPerToken) };
    bucket.tokens -= 1;
    return { ok: true };
  }

  private refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(this.options.capacity, bucket.tokens + elapsed / this.msPerToken);
    bucket.updatedAt = now;
  }

  /** Drop the buckets that are full again; returns how many went. */
  private sweep(now: number): number {
    let removed = 0;
    for (const [key, bucket] of this.buckets) {
      this.refill(bucket, now);
      if (bucket.tokens >= this.options.capacity) {
        this.buckets.delete(key);
        removed++;
      }
    }
    return removed;
  }
}
