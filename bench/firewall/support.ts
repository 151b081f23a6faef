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
 *   pinning: pinThread / pinThreadsExcept / threadIds / childPids / redisServerPid / affinity  (taskset, Linux)
 *   schedstat(tid): { runNs, waitNs, slices }      a thread's time on a CPU, time runnable but waiting, timeslices
 *
 * DESCRIPTION
 *   Nothing here measures; run.ts does. Redis keys live under a prefix unique to the run
 *   (`blocksmith-bench-fw:<pid>:<random>:`) and are deleted by SCAN + UNLINK of that prefix
 *   only; nothing else in the Redis is touched. SQLite files live in a fresh directory under
 *   os.tmpdir() (or $BENCH_DIR), removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
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
/** BENCH_COMMIT_WINDOW_MS: the SQLite store's commit window (write-channel.ts), to compare settings. */
const COMMIT_WINDOW_MS = process.env.BENCH_COMMIT_WINDOW_MS === undefined ? undefined : Number(process.env.BENCH_COMMIT_WINDOW_MS);

export async function openBenchStore(kind: StoreKind): Promise<BenchStore> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'blocksmith-bench-fw-'));
    const path = join(dir, 'bench.db');
    const store = new SqliteStore(COMMIT_WINDOW_MS === undefined ? { path } : { path, commitWindowMs: COMMIT_WINDOW_MS });
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
export async function workers(count: number, inFlight: number, job: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

// ---- pinning to CPUs (Linux, taskset) --------------------------------------------------------

/**
 * PIN_WANTED - section 2 pins its processes to CPUs (BENCH_PIN=0: no pinning): the measured
 * process's main thread, with the threads it had at start-up (V8's platform workers: the GC's
 * parallel helpers, which a pause waits for), on MEASURED_CPU; everything else of the bench
 * (threads started later: the SQLite writer thread, libuv's pool; the arrivals process, the DNS
 * server, a local Redis server) on HELPER_CPU, so that the event loop being measured never waits
 * for a core taken by the bench's own helpers. Other users' processes are not pinned: they
 * still share both CPUs.
 */
export const PIN_WANTED = process.env.BENCH_PIN !== '0' && process.platform === 'linux' && cpus().length >= 2;
export const MEASURED_CPU = 1;
/**
 * BENCH_NICE (e.g. -10): the measured threads (those on MEASURED_CPU) also get this nice value,
 * so that other users' processes sharing that CPU yield to them sooner; unset: not changed.
 */
export const NICE = process.env.BENCH_NICE === undefined || process.env.BENCH_NICE === '' ? undefined : Number(process.env.BENCH_NICE);
export const HELPER_CPU = 0;

/** taskset - runs taskset; the output, or undefined when it failed (not installed, no permission, gone). */
function taskset(args: readonly string[]): string | undefined {
  try {
    return execFileSync('taskset', [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** pinThread - one thread (or process, by id) to one CPU; whether it worked. */
export function pinThread(tid: number, cpu: number): boolean {
  return taskset(['-p', '-c', String(cpu), String(tid)]) !== undefined;
}

/** affinity - the hex CPU mask of a thread (`taskset -p`), or undefined. */
export function affinity(tid: number): string | undefined {
  return /mask:\s*([0-9a-f]+)/i.exec(taskset(['-p', String(tid)]) ?? '')?.[1];
}

/** setAffinityAll - every thread of `pid` to one CPU; whether it worked. */
export function setAffinityAll(pid: number, cpu: number): boolean {
  return taskset(['-a', '-p', '-c', String(cpu), String(pid)]) !== undefined;
}

/** setThreadMask - one thread back to a hex mask (as `affinity` read it); whether it worked. */
export function setThreadMask(tid: number, mask: string): boolean {
  return taskset(['-p', mask, String(tid)]) !== undefined;
}

/** niceThread - one thread's nice value (`renice`); whether it worked. */
export function niceThread(tid: number, nice: number): boolean {
  try {
    execFileSync('renice', ['-n', String(nice), '-p', String(tid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** threadIds - the ids of this process's threads now. */
export function threadIds(): number[] {
  return readdirSync('/proc/self/task').map(Number);
}

/** pinThreadsExcept - every thread of this process not in `keep` to `cpu`; their ids. */
export function pinThreadsExcept(keep: ReadonlySet<number>, cpu: number): number[] {
  const pinned: number[] = [];
  for (const tid of threadIds()) {
    if (!keep.has(tid) && pinThread(tid, cpu)) pinned.push(tid);
  }
  return pinned;
}

/** childPids - this process's children whose command line contains `marker`. */
export function childPids(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(marker)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** redisServerPid - the pid of the Redis at REDIS_URL when it runs on this machine (INFO server + /proc), else undefined. */
export async function redisServerPid(): Promise<number | undefined> {
  const url = new URL(REDIS_URL);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return undefined;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    return readFileSync(`/proc/${pid}/comm`, 'latin1').startsWith('redis-server') ? pid : undefined;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/**
 * schedstat - a thread's scheduler figures from /proc/self/task/<tid>/schedstat: time on a CPU,
 * time it was runnable but waiting for a CPU (the run queue), and how many times it got a CPU
 * (ns, ns, count); zeros when not readable.
 */
export function schedstat(tid: number = process.pid): { runNs: number; waitNs: number; slices: number } {
  try {
    const [run, wait, slices] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').trim().split(' ').map(Number);
    return { runNs: run ?? 0, waitNs: wait ?? 0, slices: slices ?? 0 };
  } catch {
    return { runNs: 0, waitNs: 0, slices: 0 };
  }
}
