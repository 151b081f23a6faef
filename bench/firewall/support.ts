/**
 * NAME
 *   bench/firewall/support - what bench/firewall/run.ts builds its measures from
 *
 * SYNOPSIS
 *   startDnsServer(): Promise<DnsServer>          bench/check's synthetic server, own process
 *   openBenchStore(kind): Promise<BenchStore>      a fresh SQLite file or Redis prefix, and its cleanup
 *   reopenBenchStore(kind, where): Store           the same data from another process
 *   countCalls(store): CountingStore               a Proxy that counts every Store method call
 *   benchListing(ip, n, now): Listing              an active, not yet due listing with small evidence
 *   benchIp(n) / memoryIp(n)                       addresses (198.18.0.0/15, then 2001:2::/48)
 *   median / percentile / round / mb / yieldToLoop
 *
 * DESCRIPTION
 *   Nothing here measures; run.ts does. Redis keys live under a prefix unique to the run
 *   (`blocksmith-bench-fw:<pid>:<random>:`) and are deleted by SCAN + UNLINK of that prefix
 *   only; nothing else in the Redis is touched. SQLite files live in a fresh directory under
 *   os.tmpdir() (or $BENCH_DIR), removed afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as immediate } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { normaliseAddress } from '../../src/check/address.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { Evidence, Listing, Store } from '../../src/store/types.js';

export type StoreKind = 'sqlite' | 'redis';
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'redis'];

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Audit entries RedisStore keeps during the bench (its default is 250,000): the bench's audit is noise. */
export const REDIS_AUDIT_MAX_ENTRIES = 10_000;
const REDIS_DELETE_BATCH = 1_000;
const REDIS_SCAN_COUNT = 10_000;
const PREFIX_RANDOM_BYTES = 4;

// ---- the synthetic DNS server ---------------------------------------------------------------

export { startDnsServer, type DnsServer } from '../check/synthetic-dns-process.js';

/** An arrival record of bench/firewall/arrivals.ts: uint32 sequence, float64 time of sending. */
export const RECORD_BYTES = 12;

// ---- stores ---------------------------------------------------------------------------------

export interface BenchStore {
  readonly kind: StoreKind;
  readonly store: Store;
  /** The SQLite file, or the Redis key prefix: what another process opens. */
  readonly where: string;
  /** Close the store, then remove the file's directory or every key under the prefix. */
  cleanup(): Promise<void>;
}

/** openBenchStore - a fresh, empty, open store of that kind. */
export async function openBenchStore(kind: StoreKind): Promise<BenchStore> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'blocksmith-bench-fw-'));
    const path = join(dir, 'bench.db');
    const store = new SqliteStore({ path });
    await store.open();
    return {
      kind,
      store,
      where: path,
      async cleanup() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const prefix = `blocksmith-bench-fw:${process.pid}:${randomBytes(PREFIX_RANDOM_BYTES).toString('hex')}:`;
  const store = new RedisStore({ url: REDIS_URL, prefix, auditMaxEntries: REDIS_AUDIT_MAX_ENTRIES });
  await store.open();
  return {
    kind,
    store,
    where: prefix,
    async cleanup() {
      await store.close();
      await deleteRedisPrefix(prefix);
    },
  };
}

/** reopenBenchStore - a store on data another process wrote (not opened yet). */
export function reopenBenchStore(kind: StoreKind, where: string): Store {
  return kind === 'sqlite' ? new SqliteStore({ path: where }) : new RedisStore({ url: REDIS_URL, prefix: where, auditMaxEntries: REDIS_AUDIT_MAX_ENTRIES });
}

/** deleteRedisPrefix - UNLINK every key under `prefix` (and only those); returns how many. */
export async function deleteRedisPrefix(prefix: string): Promise<number> {
  if (!prefix.startsWith('blocksmith-bench-fw:') || /[*?[\]\\]/.test(prefix)) throw new Error(`refusing to delete keys of prefix ${prefix}`);
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', REDIS_SCAN_COUNT);
      cursor = nextCursor;
      for (let i = 0; i < keys.length; i += REDIS_DELETE_BATCH) {
        deleted += await redis.unlink(...keys.slice(i, i + REDIS_DELETE_BATCH));
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

// ---- counting store calls -------------------------------------------------------------------

export interface CountingStore {
  readonly store: Store;
  reset(): void;
  total(): number;
  snapshot(): Record<string, number>;
}

/** countCalls - the same store behind a Proxy that counts each method call by name. */
export function countCalls(target: Store): CountingStore {
  const calls = new Map<string, number>();
  const wrapped = new Map<string, (...args: unknown[]) => unknown>();
  const store = new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      let w = wrapped.get(prop);
      if (w === undefined) {
        const fn = value as (...args: unknown[]) => unknown;
        w = (...args: unknown[]): unknown => {
          calls.set(prop, (calls.get(prop) ?? 0) + 1);
          return fn.apply(t, args);
        };
        wrapped.set(prop, w);
      }
      return w;
    },
  });
  return {
    store,
    reset: () => calls.clear(),
    total: () => [...calls.values()].reduce((a, b) => a + b, 0),
    snapshot: () => Object.fromEntries([...calls.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}

// ---- addresses and records ------------------------------------------------------------------

const HOSTS_PER_NET = 254;
const NETS_IN_SLASH_15 = 512;
/** Addresses benchIp() gives: 198.18.0.0/15 without the .0 and .255 of each /24. */
export const BENCH_V4_COUNT = HOSTS_PER_NET * NETS_IN_SLASH_15;

/** benchIp - the n-th address of 198.18.0.0/15 (RFC 2544, benchmarking), skipping .0 and .255. */
export function benchIp(n: number): string {
  if (n < 0 || n >= BENCH_V4_COUNT) throw new RangeError(`benchIp(${n}): past 198.18.0.0/15`);
  const host = (n % HOSTS_PER_NET) + 1;
  const net = Math.floor(n / HOSTS_PER_NET);
  return `198.${18 + Math.floor(net / 256)}.${net % 256}.${host}`;
}

/**
 * memoryIp - the n-th address for the 1,000,000-listing load: 198.18.0.0/15 holds only
 * 130,048 usable addresses, so past them the IPv6 benchmarking prefix 2001:2::/48 (RFC 5180)
 * follows, in canonical text (`2001:2::1:86a0`: as long as an IPv4 address's text, about).
 */
export function memoryIp(n: number): string {
  if (n < BENCH_V4_COUNT) return benchIp(n);
  const j = n - BENCH_V4_COUNT + 1;
  const hi = Math.floor(j / 0x10000);
  const lo = j % 0x10000;
  return normaliseAddress(`2001:2::${hi.toString(16)}:${lo.toString(16)}`).ip;
}

const REASONS = ['no-forward-match', 'forward-nodata'] as const;
const HOUR_MS = 3_600_000;
const PERMERROR_EVERY = 5;

/** benchListing - an active listing as a check would have made it, re-check due in an hour. */
export function benchListing(ip: string, n: number, now: number): Listing {
  const permerror = n % PERMERROR_EVERY === PERMERROR_EVERY - 1;
  const verdict = permerror ? 'permerror' : 'fail';
  const reason = permerror ? 'no-ptr' : REASONS[n % REASONS.length]!;
  const evidence: Evidence = {
    ref: n.toString(32).toUpperCase().padStart(8, '0'),
    at: now,
    front: 'policy',
    ip,
    verdict,
    reason,
    helo: 'mail.example.net',
    sender: '<bounce@example.net>',
    recipient: '<user@example.org>',
    reply: `450 4.7.25 Client host ${ip} rejected: reverse DNS does not confirm the address`,
    names: permerror ? [] : ['dyn-host.example.net'],
  };
  return {
    ip,
    state: 'active',
    verdict,
    reason,
    listedAt: now,
    listedBy: 'check',
    lastRejectAt: now,
    rejectCount: 1,
    recheckDueAt: now + HOUR_MS,
    firstEvidence: evidence,
    latestEvidence: evidence,
  };
}

// ---- numbers --------------------------------------------------------------------------------

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** percentile - nearest-rank over an already sorted array. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function mb(bytes: number): number {
  return round(bytes / 1_048_576, 1);
}

/** yieldToLoop - let timers and I/O run (a chain of resolved awaits alone never does). */
export function yieldToLoop(): Promise<void> {
  return immediate();
}

/** workers - run `job(i)` for i in [0, count) with at most `inFlight` at once. */
export async function workers(count: number, inFlight: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}
