/**
 * NAME
 *   bench/firewall/write-cost - CPU time per listing write, by thread: what a noisy VM blurs least in section 2
 *
 * SYNOPSIS
 *   tsc -p tsconfig.bench.json && node dist-bench/bench/firewall/write-cost.js
 *       [--store=sqlite|redis] [--writes=N (5,000)] [--rounds=N (3)] [--loops] [--threads]
 *
 * DESCRIPTION
 *   Section 2 of run.ts measures decision latency while 1,000 listing writes a second go on;
 *   what the writes cost a decision is event-loop time (and, on 2 vCPUs, CPU taken from it by
 *   the process's other threads). On a shared VM the latency figures move with other people's
 *   load; the CPU time a thread spent running moves much less. This asks for WRITES_PER_S
 *   `firewall.list` calls a second (new addresses, at most WRITERS in flight, no decisions) on
 *   a firewall and store built as in run.ts (timers off; a fresh SQLite file or Redis prefix),
 *   and reads each thread's time on the CPU from /proc/self/task/<tid>/schedstat (ns) before
 *   and after. Per write it prints:
 *
 *     main   the main thread (the event loop every decision waits for)
 *     other  every other thread of the process (the SQLite writer thread, V8's GC helpers, libuv)
 *
 *   Each round first runs the pacing alone (no write) for as long, so that "main - pacing" is
 *   what the writes cost the event loop. Pacing: one 1 ms timer starting the writes that are
 *   due; `--loops`: WRITERS loops each polling a 1 ms timer, as run.ts section 2 does.
 *   `--threads`: CPU per write of each thread (by thread id). Median of the rounds. SQLite: also
 *   the writes per commit (store.writeCounts); BENCH_COMMIT_WINDOW_MS=n sets the store's commit
 *   window (write-channel.ts; 0: a commit as soon as the thread is free). Linux only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { FcrdnsChecker } from '../../src/check/checker.js';
import { configSchema } from '../../src/config/schema.js';
import { StubResolver } from '../../src/dns/stub-resolver.js';
import { Firewall } from '../../src/firewall/index.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { benchIp, median, openBenchStore, round, STORE_KINDS, yieldToLoop, type StoreKind } from './support.js';

const ONLY = process.argv.find((a) => a.startsWith('--store='))?.slice('--store='.length);
const KINDS: readonly StoreKind[] = STORE_KINDS.filter((k) => ONLY === undefined || k === ONLY);
const WRITES = Number(process.argv.find((a) => a.startsWith('--writes='))?.slice('--writes='.length) ?? 5_000);
const ROUNDS = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 3);
/** As run.ts section 2. */
const WRITES_PER_S = 1_000;
const WRITERS = 32;
const NS_PER_US = 1_000;
/** Where no DNS server listens: no DNS is asked for here. */
const NO_DNS = '127.0.0.1:9';
const LOOPS = process.argv.includes('--loops');
const COMMIT_WINDOW_LABEL = process.env.BENCH_COMMIT_WINDOW_MS === undefined ? 'default' : `${process.env.BENCH_COMMIT_WINDOW_MS} ms`;
const VERBOSE = process.argv.includes('--threads');

/** cpuNs - nanoseconds on the CPU of the main thread and of all the others, from schedstat. */
function cpuNs(): { main: number; other: number; byName: Map<string, number> } {
  let main = 0;
  let other = 0;
  const byName = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let ns: number;
    try {
      ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      continue; // the thread ended meanwhile
    }
    if (Number(tid) === process.pid) main += ns;
    else other += ns;
    // Node 20 names every thread `node`: told apart by id.
    const name = Number(tid) === process.pid ? 'main' : `thread ${tid}`;
    byName.set(name, (byName.get(name) ?? 0) + ns);
  }
  return { main, other, byName };
}

/**
 * pacedWriters - the writers of run.ts section 2: `count` writes at WRITES_PER_S, at most WRITERS
 * in flight; `write` undefined: the pacing alone. `loops`: as run.ts did (WRITERS loops that each
 * poll a 1 ms timer), else one 1 ms timer that starts the writes that are due.
 */
async function pacedWriters(count: number, write: ((n: number) => Promise<unknown>) | undefined, loops: boolean): Promise<number> {
  let issued = 0;
  let done = 0;
  const start = performance.now();
  const due = (): number => Math.min(count, Math.floor(((performance.now() - start) * WRITES_PER_S) / 1000));
  if (loops) {
    const writer = async (): Promise<void> => {
      for (;;) {
        if (issued >= count) return;
        if (issued >= due()) {
          await sleep(1);
          continue;
        }
        const n = issued++;
        if (write !== undefined) await write(n);
        done++;
        await yieldToLoop();
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
    return done;
  }
  let inFlight = 0;
  let finished: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (finished = resolve));
  const startDue = (): void => {
    for (let target = due(); issued < target && inFlight < WRITERS; ) {
      const n = issued++;
      inFlight++;
      void (write === undefined ? Promise.resolve() : write(n)).then(
        () => undefined,
        () => undefined,
      ).then(() => {
        inFlight--;
        done++;
        if (done === count) finished();
      });
    }
  };
  const timer = setInterval(startDue, 1);
  await all;
  clearInterval(timer);
  return done;
}

async function measure(kind: StoreKind): Promise<void> {
  const bench = await openBenchStore(kind);
  const config = configSchema.parse({ resolver: { servers: [NO_DNS] }, firewall: { nodeId: 'bench-write-cost' } });
  const resolver = StubResolver.fromConfig(config.resolver);
  const checker = new FcrdnsChecker({ resolver, config: config.check });
  const firewall = new Firewall({ config: config.firewall, checker, store: bench.store, timers: false });
  let seq = 0;
  try {
    await firewall.start();
    // Warm up (JIT, prepared statements, the writer thread).
    await pacedWriters(500, () => firewall.list(benchIp(seq++), 'bench/firewall', 'bench'), LOOPS);
    const main: number[] = [];
    const other: number[] = [];
    const idle: number[] = [];
    const perCommit: number[] = [];
    const counts = (): { batches: number; writes: number } | undefined => (bench.store instanceof SqliteStore ? bench.store.writeCounts : undefined);
    for (let r = 0; r < ROUNDS; r++) {
      const i0 = cpuNs();
      await pacedWriters(WRITES, undefined, LOOPS);
      const i1 = cpuNs();
      idle.push((i1.main - i0.main) / WRITES / NS_PER_US);
      const c0 = { ...counts() };
      const w0 = cpuNs();
      const done = await pacedWriters(WRITES, () => firewall.list(benchIp(seq++), 'bench/firewall', 'bench'), LOOPS);
      await firewall.flush();
      const w1 = cpuNs();
      const c1 = counts();
      if (c1 !== undefined) perCommit.push((c1.writes - (c0.writes ?? 0)) / Math.max(1, c1.batches - (c0.batches ?? 0)));
      main.push((w1.main - w0.main) / done / NS_PER_US);
      other.push((w1.other - w0.other) / done / NS_PER_US);
      if (VERBOSE) {
        const parts = [...w1.byName].map(([name, ns]) => `${name} ${round((ns - (w0.byName.get(name) ?? 0)) / done / NS_PER_US, 1)}`);
        console.log(`   per thread, µs/write: ${parts.join(', ')}`);
      }
    }
    const m = median(main);
    const i = median(idle);
    console.log(
      `[${kind}] ${LOOPS ? 'loops' : 'one timer'}: ${WRITES} writes at ${WRITES_PER_S}/s, median of ${ROUNDS}: main thread ${round(m, 1)} µs/write ` +
        `(pacing alone ${round(i, 1)}, so the writes ${round(m - i, 1)}), other threads ${round(median(other), 1)} µs/write; ` +
        `rounds main ${main.map((x) => round(x, 1)).join(', ')}` +
        (perCommit.length > 0 ? `; writes per commit ${round(median(perCommit), 2)} (window ${COMMIT_WINDOW_LABEL})` : ''),
    );
  } finally {
    await firewall.stop();
    resolver.close();
    await bench.cleanup();
  }
}

for (const kind of KINDS) await measure(kind);
