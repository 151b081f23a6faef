/**
 * NAME
 *   bench/firewall/run - what a warm firewall decision costs, on SQLite and on Redis
 *
 * SYNOPSIS
 *   npm run bench:firewall            (compiles src and bench to dist-bench/, runs it with plain node)
 *   npm run bench:firewall -- --quick (shorter rounds, 100,000 listings: for trying it out)
 *
 * DESCRIPTION
 *   One run measures both stores side by side. For each store a Firewall (timers off, so that
 *   every store call counted below comes from a decision) starts on a store holding 250 active
 *   listings not yet due (198.18.10.0/24); then an allow entry (198.18.20.0/24) is added through
 *   it, 198.18.30.0/24 is a configured bypass range, and 250 addresses of 198.18.0.0/24 get a
 *   cached `pass` through bench/check/synthetic-dns-server.ts. The "mix" is those 1,000
 *   addresses interleaved, a quarter of each kind.
 *
 *     1. Warm decisions per second, one process: `await firewall.decide({ front: 'policy', ip,
 *        recipient: 'user@example.org' })` over the mix, yielding to the event loop every
 *        YIELD_EVERY decisions (as a server reading sockets would), ROUNDS rounds of ROUND_MS,
 *        median; then one round per kind of address. Store calls are counted by a Proxy around
 *        the store, DNS queries at the DNS server; then what firewall.flush() does with the
 *        rejections that piled up (it is what the 10-second timer would do).
 *     2. Decision latency while the store takes WRITES_PER_S listing writes a second
 *        (`firewall.list(ip, note, actor)`, paced, at most WRITERS in flight, LOAD_MS). The decisions are
 *        asked for by another process (bench/firewall/arrivals.ts) over TCP at DECISIONS_PER_S,
 *        so the measured process waits in epoll as a server does and nothing queued is lost;
 *        each is timed alone (performance.now around the await: "service") and from the moment
 *        it was sent ("response": includes waiting for an event loop that a synchronous store
 *        write holds). Four runs: the records read and timed with no decision at all (floor:
 *        what this machine's scheduling costs), the mix with no writes (baseline), the mix with
 *        writes, and the mix without the listed addresses (decisions that write nothing themselves).
 *        The writes are started by one 1 ms timer (those due, at most WRITERS in flight), not by
 *        WRITERS loops each polling a timer: the pacing is the bench's, not BlockSmith's, and
 *        32 polling loops cost the measured event loop more than the writes' own pacing needs.
 *        Pinned (unless BENCH_PIN=0; Linux, 2+ CPUs): this process's main thread on
 *        MEASURED_CPU, and the arrivals process beside it (ARRIVALS_CPU: a wake-up across vCPUs
 *        has a tail of ms here); its other threads (V8's platform workers unless
 *        BENCH_V8_WORKERS=measured, the SQLite writer thread, libuv's pool), the DNS server
 *        and a Redis server on this machine (every thread; its affinity is restored at the end)
 *        on HELPER_CPU. What was pinned is printed and kept in
 *        the JSON line, with the load average before and after each run and the GC pauses
 *        seen during it, and the main thread's time waiting for a CPU (schedstat). BENCH_NICE=n:
 *        the threads on MEASURED_CPU get nice n too. Other users' processes are not pinned.
 *     3. Heap per 1,000,000 listings in the hot cache: MEMORY_LISTINGS active listings loaded
 *        into a fresh store, then in a fresh child process (`--expose-gc`) heapUsed after forced
 *        GCs before and after firewall.start(). The load goes through store.putListing with
 *        LOAD_IN_FLIGHT at once; when a sample says that would take longer than LOAD_BUDGET_S,
 *        SQLite gets the rest in transactions of SQLITE_TX_ROWS rows (the store's own SQL text and
 *        row encoding, no audit rows) and Redis stops at MEMORY_FALLBACK_LISTINGS (extrapolated).
 *
 *   It prints each section as it goes, a side-by-side summary and a JSON line; bench/RESULTS.md
 *   records them with the command. Redis: REDIS_URL ($BENCH_REDIS_URL), keys under a prefix of
 *   this run only, deleted at the end. SQLite: a fresh directory under os.tmpdir() ($BENCH_DIR).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { FcrdnsChecker } from '../../src/check/checker.js';
import { configSchema, DEFAULT_BYPASS, type Config } from '../../src/config/schema.js';
import { StubResolver } from '../../src/dns/stub-resolver.js';
import { Firewall } from '../../src/firewall/index.js';
import type { Decision } from '../../src/firewall/types.js';
import { listingParams } from '../../src/store/sqlite/rows.js';
import { SQL } from '../../src/store/sqlite/sql.js';
import type { AuditEntry } from '../../src/store/types.js';
import {
  affinity,
  benchIp,
  childPids,
  HELPER_CPU,
  MEASURED_CPU,
  NICE,
  niceThread,
  PIN_WANTED,
  pinThreadsExcept,
  pinThread,
  redisServerPid,
  setAffinityAll,
  setThreadMask,
  threadIds,
  benchListing,
  countCalls,
  mb,
  median,
  memoryIp,
  openBenchStore,
  percentileSorted,
  RECORD_BYTES,
  reopenBenchStore,
  round,
  schedstat,
  STORE_KINDS,
  workers,
  yieldToLoop,
  type BenchStore,
  type CountingStore,
  type DnsServer,
  type StoreKind,
  startDnsServer,
} from './support.js';

const QUICK = process.argv.includes('--quick');
const MEMORY_SECTION = process.argv.includes('--memory-section');
/** `--store=redis` (or sqlite): one store only; `--sections=1,2` (default 1,2,3): some sections only. */
const ONLY = process.argv.find((a) => a.startsWith('--store='))?.slice('--store='.length);
const KINDS: readonly StoreKind[] = STORE_KINDS.filter((k) => ONLY === undefined || k === ONLY);
const SECTIONS = new Set((process.argv.find((a) => a.startsWith('--sections='))?.slice('--sections='.length) ?? '1,2,3').split(','));

/** Addresses of each kind in the mix. */
const CATEGORY_COUNT = 250;
const ROUNDS = QUICK ? 3 : 5;
const ROUND_MS = QUICK ? 300 : 1_000;
/** Rounds per kind of address alone (median). */
const CATEGORY_ROUNDS = QUICK ? 1 : 3;
/** Rounds of listed IPs with a new recipient each time: short, each refusal is an evidence record to write. */
const DISTINCT_MS = QUICK ? 50 : 100;
/** Untimed decisions first (JIT), over the mix without the listed IPs, then over the mix. */
const WARMUP_MS = QUICK ? 500 : 1_000;
/** Decisions between two yields to the event loop in the rate loop. */
const YIELD_EVERY = 1_000;
const LOAD_MS = QUICK ? 3_000 : 10_000;
const WRITES_PER_S = 1_000;
/**
 * The most listing writes in flight at once (was: 32 paced loops, one write at a time each).
 * With an asynchronous store (SQLite's writer thread, Redis) a write waits for its commit, and
 * 4 could not keep up with 1,000 a second once a commit took 4 ms. The rate asked is the same.
 */
const WRITERS = 32;
const DECISIONS_PER_S = 2_000;
/** A response slower than this (ms, the goal) is checked against the GC pauses of its run. */
const SLOW_MS = 1;
/** How long to wait, after the last arrival, for the decisions still queued. */
const DRAIN_MAX_MS = 60_000;
const MEMORY_LISTINGS = QUICK ? 100_000 : 1_000_000;
const MEMORY_FALLBACK_LISTINGS = QUICK ? 50_000 : 200_000;
const PER_MILLION = 1_000_000;
const LOAD_BUDGET_S = QUICK ? 30 : 180;
/** Listings a chunk while loading through the API; after each, the rate so far decides whether to go on. */
const LOAD_CHUNK: Record<StoreKind, number> = { sqlite: 1_000, redis: 20_000 };
const LOAD_IN_FLIGHT = 256;
const SQLITE_TX_ROWS = 10_000;
/** GCs before a heap reading (weak and finalised things need more than one). */
const GC_PASSES = 4;

const RECIPIENT = 'user@example.org';
const ALLOW_RANGE = '198.18.20.0/24';
const BYPASS_RANGE = '198.18.30.0/24';
/** Where no DNS server listens: a query there is a temperror, a tripwire for "no DNS happened". */
const NO_DNS = '127.0.0.1:9';
const NS_PER_MS = 1e6;
/** benchIp(n) of 198.19.0.1: the writers' listings stay out of the mix's 198.18.0.0/16. */
const BENCH_V4_198_19 = 256 * 254;

type Category = 'pass' | 'listed' | 'allowlisted' | 'bypassed';
const CATEGORIES: readonly Category[] = ['pass', 'listed', 'allowlisted', 'bypassed'];
const EXPECTED_SOURCE: Record<Category, Decision['source']> = { pass: 'check', listed: 'listing', allowlisted: 'allowlist', bypassed: 'bypass' };

function benchConfig(dnsServer: string): Config {
  return configSchema.parse({
    resolver: { servers: [dnsServer] },
    check: { bypass: [...DEFAULT_BYPASS, BYPASS_RANGE] },
    firewall: { nodeId: 'bench-firewall' },
  });
}

function audit(target: string): Omit<AuditEntry, 'id'> {
  return { at: Date.now(), actor: 'bench', action: 'LIST', target, detail: 'bench/firewall' };
}

function categoryIps(category: Category): string[] {
  return Array.from({ length: CATEGORY_COUNT }, (_, i) => {
    switch (category) {
      case 'pass':
        return benchIp(i); // 198.18.0.1 …
      case 'listed':
        return `198.18.10.${i + 1}`;
      case 'allowlisted':
        return `198.18.20.${i + 1}`;
      case 'bypassed':
        return `198.18.30.${i + 1}`;
    }
  });
}

// ---- the rig: one store, one firewall, the mix ----------------------------------------------

interface Rig {
  readonly kind: StoreKind;
  readonly bench: BenchStore;
  readonly counting: CountingStore;
  readonly firewall: Firewall;
  readonly resolver: StubResolver;
  readonly logs: Map<string, number>;
  readonly ips: Record<Category, string[]>;
  readonly mix: string[];
  /** Next address of 198.19.0.0/16 for the writers of section 2. */
  writeSeq: number;
}

async function setupRig(kind: StoreKind, dns: DnsServer): Promise<Rig> {
  const bench = await openBenchStore(kind);
  const ips = Object.fromEntries(CATEGORIES.map((c) => [c, categoryIps(c)])) as Record<Category, string[]>;
  const now = Date.now();
  await workers(CATEGORY_COUNT, 16, (i) => bench.store.putListing(benchListing(ips.listed[i]!, i, now), audit(ips.listed[i]!)));
  const counting = countCalls(bench.store);
  const config = benchConfig(`127.0.0.1:${dns.port}`);
  const resolver = StubResolver.fromConfig(config.resolver);
  const checker = new FcrdnsChecker({ resolver, config: config.check });
  const logs = new Map<string, number>();
  const firewall = new Firewall({
    config: config.firewall,
    checker,
    store: counting.store,
    timers: false,
    log: (e) => logs.set(e.event, (logs.get(e.event) ?? 0) + 1),
  });
  await firewall.start();
  await firewall.allow(ALLOW_RANGE, 'bench', 'bench');
  const mix: string[] = [];
  for (let i = 0; i < CATEGORY_COUNT; i++) for (const c of CATEGORIES) mix.push(ips[c][i]!);
  // Warm the pass verdicts (DNS happens here, once per address), and check every kind decides as meant.
  for (const c of CATEGORIES) {
    for (const ip of ips[c]) {
      const d = await firewall.decide({ front: 'policy', ip, recipient: RECIPIENT });
      const wanted = c === 'listed' ? 'reject' : 'accept';
      if (d.source !== EXPECTED_SOURCE[c] || d.action !== wanted || (c === 'pass' && d.verdict !== 'pass')) {
        throw new Error(`bench setup (${kind}): ${c} ${ip} decided ${d.action}/${d.source}/${d.verdict}/${d.reason}`);
      }
    }
  }
  await firewall.flush();
  return { kind, bench, counting, firewall, resolver, logs, ips, mix, writeSeq: 0 };
}

async function teardown(rig: Rig): Promise<void> {
  try {
    await rig.firewall.stop();
  } finally {
    rig.resolver.close();
    await rig.bench.cleanup();
  }
}

// ---- 1. warm decisions per second -----------------------------------------------------------

async function rateRound(
  firewall: Firewall,
  ips: readonly string[],
  ms: number,
  recipientOf: (n: number) => string = () => RECIPIENT,
): Promise<{ decisions: number; perSecond: number }> {
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  for (;;) {
    for (let k = 0; k < YIELD_EVERY; k++) {
      await firewall.decide({ front: 'policy', ip: ips[n % ips.length]!, recipient: recipientOf(n) });
      n++;
    }
    if (performance.now() >= end) break;
    await yieldToLoop();
  }
  return { decisions: n, perSecond: n / ((performance.now() - t0) / 1000) };
}

interface WarmResult {
  readonly mixPerSecond: number;
  readonly mixRounds: number[];
  readonly mixDecisions: number;
  readonly mixStoreCalls: Record<string, number>;
  readonly byCategory: Record<Category, { perSecond: number; decisions: number; storeCalls: Record<string, number> }>;
  /**
   * Listed IPs, a different recipient every time: no two refusals alike, so each gets its own
   * reference and evidence record (the worst case for the evidence writes; they are buffered
   * and written in batches as the buffer fills, so store calls appear here).
   */
  readonly listedDistinct: { perSecond: number; decisions: number; storeCalls: Record<string, number> };
  readonly dnsQueries: number;
  readonly logEvents: Record<string, number>;
  readonly flush: { pendingTouches: number; ms: number; storeCalls: Record<string, number> };
}

async function warmSection(rig: Rig, dns: DnsServer): Promise<WarmResult> {
  const { firewall, counting } = rig;
  await rateRound(firewall, rig.mix.filter((ip) => !rig.ips.listed.includes(ip)), WARMUP_MS);
  await rateRound(firewall, rig.mix, WARMUP_MS);
  await firewall.flush();
  rig.logs.clear();
  const queriesBefore = await dns.queries();
  counting.reset();
  const rounds: number[] = [];
  let mixDecisions = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const round = await rateRound(firewall, rig.mix, ROUND_MS);
    rounds.push(round.perSecond);
    mixDecisions += round.decisions;
  }
  const mixStoreCalls = counting.snapshot();
  const byCategory = {} as WarmResult['byCategory'];
  for (const c of CATEGORIES) {
    counting.reset();
    const rates: number[] = [];
    let decisions = 0;
    for (let r = 0; r < CATEGORY_ROUNDS; r++) {
      const round = await rateRound(firewall, rig.ips[c], ROUND_MS);
      rates.push(round.perSecond);
      decisions += round.decisions;
    }
    byCategory[c] = { perSecond: median(rates), decisions, storeCalls: counting.snapshot() };
  }
  counting.reset();
  const distinctRates: number[] = [];
  let distinctDecisions = 0;
  for (let r = 0; r < CATEGORY_ROUNDS; r++) {
    const round = await rateRound(firewall, rig.ips.listed, DISTINCT_MS, (n) => `user${r}-${n}@example.org`);
    distinctRates.push(round.perSecond);
    distinctDecisions += round.decisions;
  }
  await firewall.flush();
  const listedDistinct = { perSecond: median(distinctRates), decisions: distinctDecisions, storeCalls: counting.snapshot() };
  const dnsQueries = (await dns.queries()) - queriesBefore;
  const logEvents = Object.fromEntries(rig.logs);
  // What the touches timer would write (timers are off here): every listed IP rejected since.
  const pendingTouches = firewall.status().pendingTouches;
  counting.reset();
  const t0 = performance.now();
  await firewall.flush();
  const flush = { pendingTouches, ms: performance.now() - t0, storeCalls: counting.snapshot() };
  return { mixPerSecond: median(rounds), mixRounds: rounds, mixDecisions, mixStoreCalls, byCategory, listedDistinct, dnsQueries, logEvents, flush };
}

// ---- 2. latency under listing writes --------------------------------------------------------

interface Spread {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function spread(values: number[]): Spread {
  values.sort((a, b) => a - b);
  return { p50: round(percentileSorted(values, 50)), p99: round(percentileSorted(values, 99)), max: round(values[values.length - 1] ?? Number.NaN) };
}

interface LatencyResult {
  /** Listing writes a second asked of the writers (0: none, the baseline). */
  readonly writesAsked: number;
  readonly decisions: number;
  readonly decisionErrors: number;
  readonly writesDone: number;
  readonly writesPerSecond: number;
  readonly writeErrors: number;
  readonly serviceMs: Spread;
  readonly responseMs: Spread;
  /** Responses over SLOW_MS, and how many of them were waiting while a GC pause ran. */
  readonly slow: { count: number; duringGc: number };
  readonly serviceP99ByCategoryMs: Partial<Record<Category, number>>;
  readonly loopDelayMs: { p99: number; max: number };
  /** GC pauses during the run (PerformanceObserver 'gc'): how many, their sum, the longest, how many over 1 ms. */
  readonly gc: { count: number; major: number; totalMs: number; maxMs: number; over1Ms: number };
  /** The 1-minute load average before and after the run (other users' work on the VM shows here). */
  readonly loadAverage: { before: number; after: number };
  /**
   * The measured main thread while decisions were asked (/proc schedstat): its CPU time, the time
   * it was runnable but waiting for a CPU (taken by another process: the scheduler's share of the
   * response time), its timeslices, and that wait per timeslice.
   */
  readonly mainThread: { cpuMs: number; runQueueMs: number; slices: number; runQueueUsPerSlice: number };
  readonly dnsQueries: number;
}

// ---- pinning (section 2) ----------------------------------------------------------------------

interface Pinning {
  enabled: boolean;
  /** What was pinned where, as printed. */
  notes: string[];
  /** Threads of a Redis server pinned for the run, with the mask each had: restored at the end. */
  restore: { tid: number; mask: string }[];
}

const pinning: Pinning = { enabled: false, notes: [], restore: [] };
/**
 * The threads that stay with the main thread on MEASURED_CPU: the main thread alone by default;
 * with BENCH_V8_WORKERS=measured, also the threads this process had when this module started
 * (V8's platform workers). On the helpers' CPU those workers (concurrent compilation and marking,
 * the scavenger's parallel helpers) run beside the main thread instead of taking turns with it:
 * response p99 under writes, 3 alternating runs each (2026-11-28 09:17-09:25), median SQLite /
 * Redis 1.49 / 0.98 ms with the workers on CPU 0, 1.34 / 2.26 ms with them on CPU 1.
 */
const STARTUP_THREADS: ReadonlySet<number> = new Set(
  process.platform === 'linux' ? threadIds().filter((tid) => process.env.BENCH_V8_WORKERS === 'measured' || tid === process.pid) : [],
);

/** pinForLatency - main thread to MEASURED_CPU, the rest of the bench (and a local Redis) to HELPER_CPU. */
async function pinForLatency(): Promise<void> {
  if (!PIN_WANTED) {
    pinning.notes.push('not pinned (BENCH_PIN=0, or not Linux with 2+ CPUs)');
    return;
  }
  const kept = [...STARTUP_THREADS].filter((tid) => pinThread(tid, MEASURED_CPU));
  if (!kept.includes(process.pid)) {
    pinning.notes.push('not pinned (taskset failed)');
    return;
  }
  const later = pinThreadsExcept(STARTUP_THREADS, HELPER_CPU);
  pinning.enabled = true;
  const nice = NICE;
  if (nice !== undefined && Number.isInteger(nice)) {
    const niced = kept.filter((tid) => niceThread(tid, nice));
    pinning.notes.push(`nice ${NICE} for the ${niced.length} threads on CPU ${MEASURED_CPU} (BENCH_NICE)`);
  }
  pinning.notes.push(
    `bench process ${process.pid}: main thread${kept.length > 1 ? ` and the ${kept.length - 1} threads it started with (V8's platform workers, GC helpers; BENCH_V8_WORKERS=measured)` : ''} on CPU ${MEASURED_CPU}; ` +
      `the ${later.length} other threads (${kept.length > 1 ? '' : "V8's platform workers, "}SQLite writer thread, libuv pool) on CPU ${HELPER_CPU}, again before each run`,
  );
  pinning.notes.push(`arrivals process: CPU ${MEASURED_CPU}, beside the measured thread (taskset -c; see ARRIVALS_CPU)`);
  for (const pid of childPids('synthetic-dns-server')) {
    if (setAffinityAll(pid, HELPER_CPU)) pinning.notes.push(`synthetic DNS server ${pid}: CPU ${HELPER_CPU}`);
  }
  const redis = KINDS.includes('redis') ? await redisServerPid() : undefined;
  if (redis === undefined) {
    if (KINDS.includes('redis')) pinning.notes.push('redis-server: not on this machine or not found, not pinned');
    return;
  }
  const tids = readdirSync(`/proc/${redis}/task`).map(Number);
  for (const tid of tids) {
    const mask = affinity(tid);
    if (mask !== undefined) pinning.restore.push({ tid, mask });
  }
  if (setAffinityAll(redis, HELPER_CPU)) {
    pinning.notes.push(`redis-server ${redis} (${tids.length} threads): CPU ${HELPER_CPU} for the run, then back to mask ${[...new Set(pinning.restore.map((r) => r.mask))].join('/')}`);
    process.once('exit', restoreRedis);
  } else {
    pinning.restore.length = 0;
    pinning.notes.push(`redis-server ${redis}: taskset failed, not pinned`);
  }
}

/** restoreRedis - the shared Redis server's threads back to the masks they had. */
function restoreRedis(): void {
  for (const { tid, mask } of pinning.restore.splice(0)) setThreadMask(tid, mask);
}

/**
 * ARRIVALS_CPU - the asking process shares the measured thread's CPU. On this 2-vCPU VM a wake-up
 * sent to the other vCPU has a tail of milliseconds: a receiver that does nothing at all but read
 * the records (the floor run below) has a p99 of 1.1-3.4 ms when the asker is on the other CPU,
 * 0.31 ms when both share one (2026-11-28). The client beside its server is also how a policy
 * service runs: next to the smtpd processes that ask it.
 */
const ARRIVALS_CPU = MEASURED_CPU;

/** arrivals - bench/firewall/arrivals.js asking for DECISIONS_PER_S decisions a second for LOAD_MS. */
async function arrivals(port: number): Promise<number> {
  const args = [new URL('./arrivals.js', import.meta.url).pathname, String(port), String(DECISIONS_PER_S), String(LOAD_MS)];
  const child = pinning.enabled
    ? spawn('taskset', ['-c', String(ARRIVALS_CPU), process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`arrivals exited ${code}`);
  return (JSON.parse(out.trim()) as { sent: number }).sent;
}

/**
 * underWrites - decisions asked for over TCP by another process, while `writesPerS` listings a
 * second are written through the firewall; service and response time of each decision.
 */
async function underWrites(rig: Rig, dns: DnsServer, ips: readonly string[], writesPerS: number, floor = false): Promise<LatencyResult> {
  const { firewall } = rig;
  const category = new Map<string, Category>();
  for (const c of CATEGORIES) for (const ip of rig.ips[c]) category.set(ip, c);
  const queriesBefore = await dns.queries();
  const loop = monitorEventLoopDelay({ resolution: 1 });

  // The writes: one 1 ms timer starts those that are due, at most WRITERS in flight (each
  // waits for its commit). A write started is a `firewall.list` of a new address.
  let writesDone = 0;
  let writeErrors = 0;
  let issued = 0;
  let inFlight = 0;
  let writeStart = 0;
  const startWrites = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const pace = (): void => {
        const elapsed = performance.now() - writeStart;
        if (elapsed >= LOAD_MS) {
          clearInterval(timer);
          if (inFlight === 0) resolve();
          return;
        }
        for (const due = Math.floor((elapsed * writesPerS) / 1000); issued < due && inFlight < WRITERS; ) {
          issued++;
          inFlight++;
          firewall.list(benchIp(BENCH_V4_198_19 + rig.writeSeq++), 'bench/firewall', 'bench').then(
            () => void writesDone++,
            () => void writeErrors++,
          ).finally(() => {
            inFlight--;
            if (inFlight === 0 && performance.now() - writeStart >= LOAD_MS) resolve();
          });
        }
      };
      const timer = setInterval(pace, 1);
    });
  let writing: Promise<unknown> = Promise.resolve();
  if (pinning.enabled) pinThreadsExcept(STARTUP_THREADS, HELPER_CPU);
  const gcPauses: number[] = [];
  /** [start, end] of each GC pause (performance.now() time): which slow responses a pause explains. */
  const gcSpans: [number, number][] = [];
  /** [sent, answered] of each response over SLOW_MS. */
  const slow: [number, number][] = [];
  let gcMajor = 0;
  const onGc = (entries: readonly { readonly startTime: number; readonly duration: number }[]): void => {
    for (const entry of entries) {
      gcPauses.push(entry.duration);
      gcSpans.push([entry.startTime, entry.startTime + entry.duration]);
      if ((((entry as { detail?: { kind?: number } }).detail)?.kind ?? 0) & constants.NODE_PERFORMANCE_GC_MAJOR) gcMajor++;
    }
  };
  const gcObserver = new PerformanceObserver((list) => onGc(list.getEntries()));
  const loadBefore = loadavg()[0]!;
  let sched0 = schedstat();

  // The decisions, in arrival order, one at a time.
  const service: number[] = [];
  const response: number[] = [];
  const serviceBy = new Map<Category, number[]>();
  let decisionErrors = 0;
  const queue: { seq: number; sentAt: number }[] = [];
  let draining = false;
  const drain = async (): Promise<void> => {
    draining = true;
    while (queue.length > 0) {
      const { seq, sentAt } = queue.shift()!;
      const ip = ips[seq % ips.length]!;
      const t0 = performance.now();
      // The floor run asks nothing of the firewall: what is left is the machine's own delay.
      if (!floor) {
        try {
          await firewall.decide({ front: 'policy', ip, recipient: RECIPIENT });
        } catch {
          decisionErrors++;
        }
      }
      const t1 = performance.now();
      service.push(t1 - t0);
      response.push(t1 - sentAt);
      if (t1 - sentAt > SLOW_MS) slow.push([sentAt, t1]);
      const c = category.get(ip)!;
      let list = serviceBy.get(c);
      if (list === undefined) serviceBy.set(c, (list = []));
      list.push(t1 - t0);
    }
    draining = false;
  };
  const server = createServer((socket) => {
    if (writesPerS > 0) {
      writeStart = performance.now();
      writing = startWrites();
    }
    loop.enable();
    gcObserver.observe({ entryTypes: ['gc'] });
    sched0 = schedstat();
    let rest: Buffer = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      const buf = rest.length === 0 ? data : Buffer.concat([rest, data]);
      let at = 0;
      for (; at + RECORD_BYTES <= buf.length; at += RECORD_BYTES) {
        queue.push({ seq: buf.readUInt32LE(at), sentAt: buf.readDoubleLE(at + 4) - performance.timeOrigin });
      }
      rest = buf.subarray(at);
      if (!draining) void drain();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let sched1 = sched0;
  try {
    const sent = await arrivals((server.address() as AddressInfo).port);
    const deadline = performance.now() + DRAIN_MAX_MS;
    while (service.length < sent && performance.now() < deadline) await sleep(1);
    await writing;
  } finally {
    loop.disable();
    onGc(gcObserver.takeRecords());
    gcObserver.disconnect();
    sched1 = schedstat();
    server.close();
  }
  const loadAfter = loadavg()[0]!;
  const writeSeconds = (performance.now() - writeStart) / 1000;
  await firewall.flush();
  const serviceP99ByCategoryMs: Partial<Record<Category, number>> = {};
  for (const [c, list] of serviceBy) serviceP99ByCategoryMs[c] = spread(list).p99;
  return {
    writesAsked: writesPerS,
    decisions: service.length,
    decisionErrors,
    writesDone,
    writesPerSecond: writesPerS > 0 ? round(writesDone / writeSeconds, 0) : 0,
    writeErrors,
    serviceMs: spread(service),
    responseMs: spread(response),
    slow: { count: slow.length, duringGc: slow.filter(([a, b]) => gcSpans.some(([g0, g1]) => g0 < b && g1 > a)).length },
    serviceP99ByCategoryMs,
    loopDelayMs: { p99: round(loop.percentile(99) / NS_PER_MS), max: round(loop.max / NS_PER_MS) },
    gc: { count: gcPauses.length, major: gcMajor, totalMs: round(gcPauses.reduce((a, b) => a + b, 0)), maxMs: round(Math.max(0, ...gcPauses)), over1Ms: gcPauses.filter((d) => d > 1).length },
    loadAverage: { before: round(loadBefore, 2), after: round(loadAfter, 2) },
    mainThread: {
      cpuMs: round((sched1.runNs - sched0.runNs) / NS_PER_MS, 1),
      runQueueMs: round((sched1.waitNs - sched0.waitNs) / NS_PER_MS, 1),
      slices: sched1.slices - sched0.slices,
      runQueueUsPerSlice: round((sched1.waitNs - sched0.waitNs) / Math.max(1, sched1.slices - sched0.slices) / 1000, 1),
    },
    dnsQueries: (await dns.queries()) - queriesBefore,
  };
}

// ---- 3. heap per 1,000,000 listings ---------------------------------------------------------

interface MemoryChildResult {
  readonly count: number;
  readonly listings: number;
  readonly heapBeforeMb: number;
  readonly heapAfterMb: number;
  readonly deltaMb: number;
  readonly bytesPerListing: number;
  readonly rssAfterMb: number;
  readonly startSeconds: number;
  /** firewall.expire() over the whole hot cache (nothing due to expire): the maintenance scan. */
  readonly expireScanMs: number;
  readonly tripwire: string;
}

interface MemoryResult extends MemoryChildResult {
  readonly loadMethod: string;
  /** Listings written through store.putListing (the rest, if any, in batched transactions). */
  readonly apiSample: number;
  readonly apiPerSecond: number;
  readonly apiProjectedSeconds: number;
  readonly loadSeconds: number;
  readonly per1MMb: number;
  readonly extrapolated: boolean;
}

/** The child: open the loaded store, heap before and after firewall.start(). */
async function memorySection(kind: StoreKind, where: string, count: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the memory section needs node --expose-gc');
  const settle = async (): Promise<number> => {
    for (let i = 0; i < GC_PASSES; i++) {
      gc();
      await yieldToLoop();
    }
    return process.memoryUsage().heapUsed;
  };
  const store = reopenBenchStore(kind, where);
  await store.open();
  const config = benchConfig(NO_DNS);
  const resolver = StubResolver.fromConfig(config.resolver);
  const checker = new FcrdnsChecker({ resolver, config: config.check });
  const firewall = new Firewall({ config: config.firewall, checker, store, timers: false });
  const before = await settle();
  const t0 = performance.now();
  await firewall.start();
  const startSeconds = (performance.now() - t0) / 1000;
  const after = await settle();
  const rssAfter = process.memoryUsage().rss;
  const listings = firewall.status().listings;
  // A listed address is refused from memory, with no DNS (a query would go to 127.0.0.1:9).
  const d = await firewall.decide({ front: 'policy', ip: memoryIp(count - 1), recipient: RECIPIENT });
  const t1 = performance.now();
  await firewall.expire();
  const expireScanMs = performance.now() - t1;
  await firewall.stop();
  await store.close();
  resolver.close();
  const result: MemoryChildResult = {
    count,
    listings,
    heapBeforeMb: mb(before),
    heapAfterMb: mb(after),
    deltaMb: mb(after - before),
    bytesPerListing: Math.round((after - before) / listings),
    rssAfterMb: mb(rssAfter),
    startSeconds: round(startSeconds, 1),
    expireScanMs: round(expireScanMs, 0),
    tripwire: `${d.action}/${d.source}/${d.verdict}`,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function memoryInChild(kind: StoreKind, where: string, count: number): Promise<MemoryChildResult> {
  const child = spawn(process.execPath, ['--expose-gc', new URL(import.meta.url).pathname, '--memory-section', kind, where, String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`memory section (${kind}) exited ${code}`);
  return JSON.parse(out.trim()) as MemoryChildResult;
}

/** sqliteBatched - rows [from, to) straight into the file: the store's SQL and row encoding, SQLITE_TX_ROWS a transaction. */
function sqliteBatched(path: string, from: number, to: number, now: number): void {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const put = db.prepare(SQL.listingPut);
    const batch = db.transaction((a: number, b: number) => {
      for (let i = a; i < b; i++) put.run(listingParams(benchListing(memoryIp(i), i, now)));
    });
    for (let a = from; a < to; a += SQLITE_TX_ROWS) batch(a, Math.min(to, a + SQLITE_TX_ROWS));
  } finally {
    db.close();
  }
}

async function memoryMeasure(kind: StoreKind): Promise<MemoryResult> {
  const bench = await openBenchStore(kind);
  try {
    const now = Date.now();
    const put = (i: number): Promise<unknown> => {
      const ip = memoryIp(i);
      return bench.store.putListing(benchListing(ip, i, now), audit(ip));
    };
    // Through the API a chunk at a time, while the whole would fit LOAD_BUDGET_S at the rate so far.
    const chunk = LOAD_CHUNK[kind];
    let count = MEMORY_LISTINGS;
    let loaded = 0;
    let loadMethod = `store.putListing, ${LOAD_IN_FLIGHT} at once`;
    const t0 = performance.now();
    let apiPerSecond = 0;
    let apiSample = 0;
    while (loaded < count) {
      const n = Math.min(chunk, count - loaded);
      const from = loaded;
      await workers(n, LOAD_IN_FLIGHT, (i) => put(from + i));
      loaded += n;
      apiSample = loaded;
      apiPerSecond = loaded / ((performance.now() - t0) / 1000);
      if (loaded >= count || MEMORY_LISTINGS / apiPerSecond <= LOAD_BUDGET_S) continue;
      if (kind === 'sqlite') {
        await bench.store.close();
        sqliteBatched(bench.where, loaded, count, now);
        loadMethod = `${n0(loaded)} by store.putListing, the rest in transactions of ${n0(SQLITE_TX_ROWS)} rows (store SQL, no audit)`;
        loaded = count;
      } else if (count > MEMORY_FALLBACK_LISTINGS) {
        count = Math.max(loaded, MEMORY_FALLBACK_LISTINGS);
      }
    }
    const apiProjectedSeconds = MEMORY_LISTINGS / apiPerSecond;
    const loadSeconds = (performance.now() - t0) / 1000;
    await bench.store.close();
    const child = await memoryInChild(kind, bench.where, count);
    if (child.listings !== count) throw new Error(`memory section (${kind}): hot cache holds ${child.listings} of ${count} listings`);
    return {
      ...child,
      loadMethod,
      apiSample,
      apiPerSecond: round(apiPerSecond, 0),
      apiProjectedSeconds: round(apiProjectedSeconds, 0),
      loadSeconds: round(loadSeconds, 1),
      per1MMb: round((child.deltaMb * PER_MILLION) / count, 1),
      extrapolated: count !== PER_MILLION,
    };
  } finally {
    await bench.cleanup();
  }
}

// ---- output ---------------------------------------------------------------------------------

const n0 = (x: number): string => Math.round(x).toLocaleString('en');

function callsText(calls: Record<string, number>): string {
  const entries = Object.entries(calls);
  return entries.length === 0 ? '0' : entries.map(([k, v]) => `${k} ${n0(v)}`).join(', ');
}

function printWarm(kind: StoreKind, w: WarmResult): void {
  console.log(`\n[${kind}] 1. warm decisions per second, one process`);
  console.log(`   mix (median of ${ROUNDS} x ${ROUND_MS} ms):  ${n0(w.mixPerSecond)}/s   rounds: ${w.mixRounds.map(n0).join(', ')}`);
  console.log(`   store calls in those rounds:     ${callsText(w.mixStoreCalls)} (${n0(w.mixDecisions)} decisions)`);
  for (const c of CATEGORIES) {
    const b = w.byCategory[c];
    console.log(`   ${(c + ' only:').padEnd(32)} ${n0(b.perSecond).padStart(10)}/s   store calls: ${callsText(b.storeCalls)} (${n0(b.decisions)} decisions)`);
  }
  const d = w.listedDistinct;
  console.log(
    `   ${'listed, new recipient each:'.padEnd(32)} ${n0(d.perSecond).padStart(10)}/s   store calls (with the flush after): ${callsText(d.storeCalls)} (${n0(d.decisions)} decisions, ${CATEGORY_ROUNDS} x ${DISTINCT_MS} ms)`,
  );
  console.log(`   DNS queries during the loops:    ${w.dnsQueries}`);
  console.log(`   log events during the loops:     ${callsText(w.logEvents)}`);
  console.log(`   then firewall.flush() of ${n0(w.flush.pendingTouches)} touched listings: ${round(w.flush.ms, 1)} ms, store calls: ${callsText(w.flush.storeCalls)}`);
}

function printLatency(kind: StoreKind, name: string, l: LatencyResult): void {
  console.log(`\n[${kind}] 2. decisions asked at ${n0(DECISIONS_PER_S)}/s over TCP, ${n0(l.writesAsked)} listing writes/s asked, ${LOAD_MS / 1000} s: ${name}`);
  console.log(
    `   decisions: ${n0(l.decisions)} (${l.decisionErrors} errors, ${l.dnsQueries} DNS queries)` +
      (l.writesAsked > 0 ? `; writes done: ${n0(l.writesDone)} (${n0(l.writesPerSecond)}/s, ${l.writeErrors} errors)` : ''),
  );
  console.log(`   service  p50 / p99 / max:  ${l.serviceMs.p50} / ${l.serviceMs.p99} / ${l.serviceMs.max} ms   p99 by kind: ${JSON.stringify(l.serviceP99ByCategoryMs)}`);
  console.log(`   response p50 / p99 / max:  ${l.responseMs.p50} / ${l.responseMs.p99} / ${l.responseMs.max} ms   event-loop delay p99 / max: ${l.loopDelayMs.p99} / ${l.loopDelayMs.max} ms`);
  console.log(
    `   main thread: ${l.mainThread.cpuMs} ms on CPU, ${l.mainThread.runQueueMs} ms runnable but waiting for a CPU, ${n0(l.mainThread.slices)} timeslices (${l.mainThread.runQueueUsPerSlice} µs waiting per slice)`,
  );
  console.log(`   responses over ${SLOW_MS} ms: ${n0(l.slow.count)}, ${n0(l.slow.duringGc)} of them waiting while a GC pause ran`);
  console.log(`   GC pauses: ${l.gc.count}, ${l.gc.major} major (${l.gc.totalMs} ms in all, longest ${l.gc.maxMs} ms, ${l.gc.over1Ms} over 1 ms); load average ${l.loadAverage.before} -> ${l.loadAverage.after}`);
}

function printMemory(kind: StoreKind, m: MemoryResult): void {
  console.log(`\n[${kind}] 3. heap of the hot cache, fresh process`);
  console.log(`   load: ${m.loadMethod}; ${n0(m.count)} listings in ${m.loadSeconds} s (store.putListing: ${n0(m.apiSample)} at ${n0(m.apiPerSecond)}/s, ${n0(MEMORY_LISTINGS)} would take ${n0(m.apiProjectedSeconds)} s)`);
  console.log(`   firewall.start(): ${m.startSeconds} s for ${n0(m.listings)} listings; heapUsed ${m.heapBeforeMb} -> ${m.heapAfterMb} MB (+${m.deltaMb} MB, ${m.bytesPerListing} B/listing), RSS ${m.rssAfterMb} MB`);
  console.log(`   per 1,000,000 listings: ${m.per1MMb} MB${m.extrapolated ? ` (extrapolated from ${n0(m.count)})` : ''}; tripwire decision: ${m.tripwire}`);
  console.log(`   firewall.expire() over the hot cache, nothing to expire: ${n0(m.expireScanMs)} ms`);
}

interface StoreResult {
  warm?: WarmResult;
  latency?: { floor: LatencyResult; baseline: LatencyResult; mix: LatencyResult; withoutListed: LatencyResult };
  memory?: MemoryResult;
}

function mark(ok: boolean): string {
  return ok ? '✓' : '✗';
}

function printSummary(results: Record<StoreKind, StoreResult>): void {
  const col = (s: string): string => s.padEnd(24);
  const row = <T>(label: string, pick: (r: StoreResult) => T | undefined, f: (t: T) => string, goal: string): void => {
    const cells = KINDS.map((k) => {
      const t = pick(results[k]);
      return col(t === undefined ? '-' : f(t));
    });
    console.log(`${label.padEnd(48)}${cells.join('')}${goal}`);
  };
  const ms = (x: number, goalMs: number): string => `${x} ${mark(x <= goalMs)}`;
  console.log(`\nsummary${' '.repeat(41)}${KINDS.map((k) => col(k)).join('')}goal`);
  row('1. warm decisions/s, mix (median)', (r) => r.warm, (w) => `${n0(w.mixPerSecond)} ${mark(w.mixPerSecond >= 300_000)}`, '>= 300,000/s');
  row('   store calls in the mix rounds', (r) => r.warm, (w) => `${n0(Object.values(w.mixStoreCalls).reduce((a, b) => a + b, 0))} / ${n0(w.mixDecisions)}`, '0');
  for (const c of CATEGORIES) {
    row(`   ${c} only`, (r) => r.warm, (w) => `${n0(w.byCategory[c].perSecond)} ${mark(w.byCategory[c].perSecond >= 300_000)}`, '>= 300,000/s');
  }
  row('2. p99 response, no decision at all (floor, ms)', (r) => r.latency, (l) => `${l.floor.responseMs.p99}`, 'the machine');
  row('   p99 response, no writes (baseline, ms)', (r) => r.latency, (l) => ms(l.baseline.responseMs.p99, 1), '<= 1 ms');
  row('   p99 service, mix (ms)', (r) => r.latency, (l) => ms(l.mix.serviceMs.p99, 1), '<= 1 ms');
  row('   p99 response from sending, mix (ms)', (r) => r.latency, (l) => ms(l.mix.responseMs.p99, 1), '<= 1 ms');
  row('   p99 service, no listed IPs (ms)', (r) => r.latency, (l) => ms(l.withoutListed.serviceMs.p99, 1), '<= 1 ms');
  row('   p99 response, no listed IPs (ms)', (r) => r.latency, (l) => ms(l.withoutListed.responseMs.p99, 1), '<= 1 ms');
  row('   listing writes done/s (mix / no listed)', (r) => r.latency, (l) => `${n0(l.mix.writesPerSecond)} / ${n0(l.withoutListed.writesPerSecond)}`, `${n0(WRITES_PER_S)}/s asked`);
  row('3. heap per 1,000,000 listings (MB)', (r) => r.memory, (m) => `${m.per1MMb}${m.extrapolated ? '*' : ''} ${mark(m.per1MMb <= 200)}`, '<= 200 MB');
  if (KINDS.some((k) => results[k].memory?.extrapolated === true)) console.log('   * extrapolated from fewer listings (see section 3)');
}

// ---- main -----------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (MEMORY_SECTION) {
    const at = process.argv.indexOf('--memory-section');
    await memorySection(process.argv[at + 1] as StoreKind, process.argv[at + 2]!, Number(process.argv[at + 3]));
    return;
  }
  const dns = await startDnsServer();
  const results = Object.fromEntries(STORE_KINDS.map((k) => [k, {}])) as Record<StoreKind, StoreResult>;
  try {
    console.log(`bench/firewall: node ${process.version}, synthetic DNS server on 127.0.0.1:${dns.port}${QUICK ? ' (quick)' : ''}`);
    for (const kind of SECTIONS.has('1') || SECTIONS.has('2') ? KINDS : []) {
      const rig = await setupRig(kind, dns);
      try {
        if (SECTIONS.has('1')) {
          results[kind].warm = await warmSection(rig, dns);
          printWarm(kind, results[kind].warm);
        }
        if (!SECTIONS.has('2')) continue;
        if (pinning.notes.length === 0) {
          await pinForLatency();
          console.log(`\npinned: ${pinning.notes.join('; ')}`);
        }
        const floor = await underWrites(rig, dns, rig.mix, 0, true);
        printLatency(kind, 'no decision at all: the records read and timed (floor)', floor);
        const baseline = await underWrites(rig, dns, rig.mix, 0);
        printLatency(kind, 'the mix, no listing writes (baseline)', baseline);
        const mix = await underWrites(rig, dns, rig.mix, WRITES_PER_S);
        printLatency(kind, 'the mix', mix);
        const withoutListed = await underWrites(
          rig,
          dns,
          rig.mix.filter((ip) => !rig.ips.listed.includes(ip)),
          WRITES_PER_S,
        );
        printLatency(kind, 'the mix without listed IPs', withoutListed);
        results[kind].latency = { floor, baseline, mix, withoutListed };
      } finally {
        await teardown(rig);
      }
    }
    for (const kind of SECTIONS.has('3') ? KINDS : []) {
      const memory = await memoryMeasure(kind);
      printMemory(kind, memory);
      results[kind].memory = memory;
    }
    printSummary(results);
    console.log('\n' + JSON.stringify({ ...results, pinning: pinning.notes }));
  } finally {
    restoreRedis();
    dns.stop();
  }
}

await main();
