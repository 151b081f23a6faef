/**
 * NAME
 *   bench/check/run - what an FCrDNS check costs, in queries, time and memory
 *
 * SYNOPSIS
 *   npm run bench            (compiles src and bench to dist-bench/, runs it with plain node)
 *   npm run bench -- --quick
 *
 *   Plain node on compiled JavaScript, as `blocksmith` runs: tsx's on-the-fly transform wraps
 *   every closure it creates in a naming helper, which made the check look up to twice as slow.
 *
 * DESCRIPTION
 *   Against bench/check/synthetic-dns-server.ts in its own process (every 198.18.x.y has a PTR
 *   `h-198-18-x-y.bench.test` whose A is the address), one run measures:
 *     1. DNS queries per check, counted at the server: cold, warm, and 1,000 concurrent checks
 *        of one address;
 *     2. warm checks per second in one process (`await checker.check(ip)`, verdict cached);
 *     3. cold-check latency against a bare dns-packet loop (PTR then A, one socket) to the same
 *        server, interleaved in blocks so both see the same machine; medians and the difference;
 *     4. 20,000 cold checks of distinct addresses at once with the in-flight cap at 256, in a
 *        fresh child process: all complete, peak RSS.
 *   It prints a table and a JSON line; bench/RESULTS.md records them with the command.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import { configSchema, type Config } from '../../src/config/schema.js';
import { FcrdnsChecker } from '../../src/check/checker.js';
import { StubResolver } from '../../src/dns/stub-resolver.js';
import { startDnsServer, type DnsServer } from './synthetic-dns-process.js';

const QUICK = process.argv.includes('--quick');
const RSS_SECTION = process.argv.includes('--rss-section');

function benchConfig(port: number, overrides: { resolverCache?: number; verdictCache?: number; inFlight?: number } = {}): Config {
  return configSchema.parse({
    resolver: {
      servers: [`127.0.0.1:${port}`],
      cacheEntriesCount: overrides.resolverCache ?? 10_000,
      maxInFlightCount: overrides.inFlight ?? 256,
    },
    check: { bypass: [], verdictCacheEntriesCount: overrides.verdictCache ?? 100_000 },
  });
}

/** The n-th address of 198.18.0.0/15 (RFC 2544, benchmarking), skipping .0 and .255. */
function benchIp(n: number): string {
  const host = (n % 254) + 1;
  const net = Math.floor(n / 254);
  return `198.${18 + Math.floor(net / 256)}.${net % 256}.${host}`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function queryCounts(server: DnsServer): Promise<Record<string, number>> {
  const resolver = StubResolver.fromConfig(benchConfig(server.port).resolver);
  const checker = new FcrdnsChecker({ resolver, config: benchConfig(server.port).check });
  let before = await server.queries();
  const cold = await checker.check(benchIp(1));
  if (cold.verdict !== 'pass') throw new Error(`bench setup: expected pass, got ${cold.verdict}/${cold.reason}`);
  const coldQueries = (await server.queries()) - before;
  before = await server.queries();
  await checker.check(benchIp(1));
  const warmQueries = (await server.queries()) - before;
  before = await server.queries();
  const many = await Promise.all(Array.from({ length: 1000 }, () => checker.check(benchIp(2))));
  const concurrentQueries = (await server.queries()) - before;
  if (many.some((r) => r.verdict !== 'pass')) throw new Error('bench: a concurrent check did not pass');
  resolver.close();
  return { coldQueries, evaluatedNames: cold.names.length - cold.notEvaluated.length, warmQueries, concurrent1000Queries: concurrentQueries };
}

async function warmRate(server: DnsServer): Promise<{ checksPerSecond: number; cachedPerSecond: number }> {
  const resolver = StubResolver.fromConfig(benchConfig(server.port).resolver);
  const checker = new FcrdnsChecker({ resolver, config: benchConfig(server.port).check });
  const ip = benchIp(3);
  await checker.check(ip);
  const rounds = QUICK ? 3 : 7;
  const perRound = QUICK ? 200_000 : 1_000_000;
  const asyncRates: number[] = [];
  const syncRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    for (let i = 0; i < perRound; i++) await checker.check(ip);
    asyncRates.push(perRound / ((performance.now() - t0) / 1000));
    t0 = performance.now();
    for (let i = 0; i < perRound; i++) checker.cached(ip);
    syncRates.push(perRound / ((performance.now() - t0) / 1000));
  }
  resolver.close();
  return { checksPerSecond: median(asyncRates), cachedPerSecond: median(syncRates) };
}

/** The floor: PTR then A with dns-packet over one UDP socket, no validation beyond the id. */
function bareLoop(port: number): { check(ip: string): Promise<void>; close(): void } {
  const socket = createSocket('udp4');
  const pending = new Map<number, (packet: dnsPacket.Packet) => void>();
  socket.on('message', (message) => {
    const packet = dnsPacket.decode(message);
    pending.get(packet.id ?? -1)?.(packet);
  });
  let id = 0;
  const ask = (name: string, type: 'PTR' | 'A'): Promise<dnsPacket.Packet> =>
    new Promise((resolve) => {
      id = (id + 1) & 0xffff;
      pending.set(id, (p) => {
        pending.delete(p.id ?? -1);
        resolve(p);
      });
      socket.send(dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] }), port, '127.0.0.1');
    });
  return {
    async check(ip: string) {
      const reverse = ip.split('.').reverse().join('.') + '.in-addr.arpa';
      const ptr = await ask(reverse, 'PTR');
      const name = (ptr.answers?.[0] as { data: string } | undefined)?.data;
      if (name === undefined) throw new Error('bare loop: no PTR');
      const a = await ask(name, 'A');
      if ((a.answers?.[0] as { data: string } | undefined)?.data !== ip) throw new Error('bare loop: no match');
    },
    close() {
      socket.close();
    },
  };
}

async function coldOverhead(server: DnsServer): Promise<Record<string, number>> {
  // No cache anywhere: every check is cold.
  const config = benchConfig(server.port, { resolverCache: 0, verdictCache: 0 });
  const resolver = StubResolver.fromConfig(config.resolver);
  const checker = new FcrdnsChecker({ resolver, config: config.check });
  const bare = bareLoop(server.port);
  const blocks = QUICK ? 10 : 40;
  const perBlock = 100;
  const checkTimes: number[] = [];
  const bareTimes: number[] = [];
  let n = 10_000;
  // Warm up both paths (JIT) before measuring.
  for (let i = 0; i < 500; i++) {
    await bare.check(benchIp(n++));
    await checker.check(benchIp(n++));
  }
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < perBlock; i++) {
      const t0 = performance.now();
      await bare.check(benchIp(n++));
      bareTimes.push(performance.now() - t0);
    }
    for (let i = 0; i < perBlock; i++) {
      const t0 = performance.now();
      const result = await checker.check(benchIp(n++));
      checkTimes.push(performance.now() - t0);
      if (result.verdict !== 'pass') throw new Error(`cold check: ${result.verdict}/${result.reason}`);
    }
  }
  bare.close();
  resolver.close();
  const checkMedian = median(checkTimes);
  const bareMedian = median(bareTimes);
  return {
    samples: checkTimes.length,
    checkMedianMs: round(checkMedian),
    checkP99Ms: round(percentile(checkTimes, 99)),
    bareMedianMs: round(bareMedian),
    bareP99Ms: round(percentile(bareTimes, 99)),
    overheadMedianMs: round(checkMedian - bareMedian),
    ratio: round(checkMedian / bareMedian),
  };
}

async function rssSection(port: number): Promise<void> {
  const count = 20_000;
  const config = benchConfig(port, { inFlight: 256 });
  const resolver = StubResolver.fromConfig(config.resolver);
  const checker = new FcrdnsChecker({ resolver, config: config.check });
  const byVerdict: Record<string, number> = {};
  let completed = 0;
  const t0 = performance.now();
  // Like a firewall, keep the verdicts, not the results (the verdict cache keeps its own copy).
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      checker.check(benchIp(100_000 + i)).then((r) => {
        completed++;
        byVerdict[r.verdict] = (byVerdict[r.verdict] ?? 0) + 1;
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  resolver.close();
  process.stdout.write(
    JSON.stringify({ checks: count, completed, byVerdict, seconds: round(seconds), checksPerSecond: Math.round(count / seconds), peakRssMb: round(process.resourceUsage().maxRSS / 1024) }) + '\n',
  );
}

async function rssInChild(port: number): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--rss-section', String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`rss section exited ${code}`);
  return JSON.parse(out.trim()) as Record<string, unknown>;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

async function main(): Promise<void> {
  if (RSS_SECTION) {
    await rssSection(Number(process.argv[process.argv.indexOf('--rss-section') + 1]));
    return;
  }
  const server = await startDnsServer();
  try {
    console.log(`bench/check: node ${process.version}, synthetic DNS server on 127.0.0.1:${server.port}${QUICK ? ' (quick)' : ''}`);
    const counts = await queryCounts(server);
    console.log('\n1. DNS queries per check (counted at the server)');
    console.log(`   cold check:                     ${counts.coldQueries} (1 PTR + ${counts.evaluatedNames} evaluated name)`);
    console.log(`   warm check:                     ${counts.warmQueries}`);
    console.log(`   1,000 concurrent, one address:  ${counts.concurrent1000Queries}`);
    const warm = await warmRate(server);
    console.log('\n2. Warm checks per second, one process (median of rounds)');
    console.log(`   await checker.check(ip):        ${Math.round(warm.checksPerSecond).toLocaleString('en')}/s`);
    console.log(`   checker.cached(ip) (sync):      ${Math.round(warm.cachedPerSecond).toLocaleString('en')}/s`);
    const cold = await coldOverhead(server);
    console.log(`\n3. Cold check vs bare dns-packet loop (PTR + A), ${cold.samples} samples each, interleaved`);
    console.log(`   bare loop median / p99:         ${cold.bareMedianMs} / ${cold.bareP99Ms} ms`);
    console.log(`   BlockSmith check median / p99:  ${cold.checkMedianMs} / ${cold.checkP99Ms} ms`);
    console.log(`   overhead (median):              ${cold.overheadMedianMs} ms (ratio ${cold.ratio})`);
    const rss = await rssInChild(server.port);
    console.log('\n4. 20,000 cold checks of distinct addresses at once, in-flight cap 256 (fresh process)');
    console.log(`   completed ${String(rss.completed)} of ${String(rss.checks)} ${JSON.stringify(rss.byVerdict)} in ${String(rss.seconds)} s (${String(rss.checksPerSecond)}/s)`);
    console.log(`   peak RSS: ${String(rss.peakRssMb)} MB`);
    console.log('\n' + JSON.stringify({ counts, warm, cold, rss }));
  } finally {
    server.stop();
  }
}

await main();
