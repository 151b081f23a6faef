/**
 * NAME
 *   bench/fronts/dnsbl - BlockSmith's DNSBL zone against rbldnsd, side by side, one run
 *
 * SYNOPSIS
 *   bash bench/fronts/install.sh      # postfwd, rbldnsd, dnsperf from Debian's packages
 *   npm run bench:fronts:dnsbl
 *
 * DESCRIPTION
 *   100,000 listed IPs. BlockSmith serves them from its hot cache (a fresh SQLite store filled
 *   through the Store interface, loaded at start); rbldnsd (Debian's package) serves the same
 *   listings as written by `blocksmith export rbldnsd` from that same store. dnsperf (Debian's
 *   package) sends the same query file to each: A queries, half for listed IPs, half for IPs
 *   that are not. Each server is pinned to CPU 1 with taskset (one core, as the goal says:
 *   rbldnsd is single-threaded, so is BlockSmith's event loop); dnsperf runs on CPU 0.
 *   Rounds alternate the two; figures are medians. Answers are checked once per server with a
 *   listed and an unlisted name before the load.
 *
 *   Beside them, on the same core, udp-echo.ts: Node's UDP floor (each query sent back as its own
 *   answer, no DNS work), the ceiling of any zone served through Node's dgram. Each round also
 *   reads each server's CPU time (user + system, all threads, /proc) to give its CPU per query.
 *   BlockSmith's UDP engine (dnsbl.udpEngine: native recvmmsg/sendmmsg or node:dgram) is read from
 *   its UDP-ENGINE log line and printed; BLOCKSMITH_DNSBL_UDP_ENGINE=dgram measures the dgram path.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchIp } from '../firewall/support.js';
import { dataDirWithListings, freePort, median, processTreeCpuMs, removeDir, runCommand, startDnsServer, stopChild } from './support.js';
import { spawn } from 'node:child_process';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const LISTED = Number(process.env.BENCH_LISTED ?? 100_000);
const ZONE = 'fcrdns.bench.test';
const SERVER_CPU = '1';
const CLIENT_CPU = '0';

const listed = Array.from({ length: LISTED }, (_, i) => benchIp(i));
const unlisted = Array.from({ length: Math.min(LISTED, 30_000) }, (_, i) => benchIp(LISTED + i));
const reverse = (ip: string): string => ip.split('.').reverse().join('.');

const dns = await startDnsServer();
console.log(`filling a store with ${LISTED} listings…`);
const dataDir = await dataDirWithListings(listed);
const bin = new URL('../../src/cli/bin.js', import.meta.url).pathname;
chmodSync(dataDir, 0o755); // rbldnsd drops to nobody before it reads its data file

// rbldnsd's data, from BlockSmith's own export of the same store.
const exported = await runCommand(process.execPath, [bin, 'export', 'rbldnsd', '--data', dataDir, '--zone', ZONE, '--out', join(dataDir, 'rbldnsd.data')]);
if (exported.code !== 0) throw new Error(`blocksmith export rbldnsd failed: ${exported.stderr}`);

const queries: string[] = [];
for (let i = 0; i < 100_000; i++) {
  const ip = i % 2 === 0 ? listed[(i / 2) % listed.length]! : unlisted[((i - 1) / 2) % unlisted.length]!;
  queries.push(`${reverse(ip)}.${ZONE} A`);
}
writeFileSync(join(dataDir, 'queries.txt'), `${queries.join('\n')}\n`);

const bsPort = await freePort();
const rbPort = await freePort();
const blocksmith = spawn(
  'taskset',
  ['-c', SERVER_CPU, process.execPath, bin, 'serve', '--data', dataDir, '--resolver', `127.0.0.1:${dns.port}`, '--bypass', 'none', '--policy', 'none', '--http', 'none', '--dnsbl', `127.0.0.1:${bsPort}`, '--dnsbl-zone', ZONE],
  // Log level info for the one UDP-ENGINE line (which UDP path serves: native or dgram); the
  // DNSBL front logs nothing per query at info.
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BLOCKSMITH_LOG_LEVEL: 'info', BLOCKSMITH_DNSBL_RATE_LIMIT_PER_SECOND_COUNT: '0' } },
);
let udpEngine = 'unknown (no UDP-ENGINE log line)';
let logTail = '';
blocksmith.stdout.setEncoding('utf8');
blocksmith.stdout.on('data', (chunk: string) => {
  logTail = (logTail + chunk).slice(-4096);
  const m = /"event":"UDP-ENGINE"[^\n]*?"engine":"(\w+)"/.exec(logTail);
  if (m !== null && udpEngine.startsWith('unknown')) {
    udpEngine = m[1]!;
    console.log(`BlockSmith UDP engine: ${udpEngine}`);
  }
});
const echoPort = await freePort();
const echo = spawn('taskset', ['-c', SERVER_CPU, process.execPath, new URL('./udp-echo.js', import.meta.url).pathname, String(echoPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
const rbldnsd = spawn('taskset', ['-c', SERVER_CPU, 'rbldnsd', '-n', '-q', '-u', 'nobody', '-b', `127.0.0.1/${rbPort}`, '-w', dataDir, `${ZONE}:ip4set:rbldnsd.data`], {
  stdio: ['ignore', 'ignore', 'inherit'],
});

async function dig(port: number, name: string, type = 'A'): Promise<string> {
  const { stdout } = await runCommand('dig', ['+short', '+tries=1', '+time=2', '-p', String(port), '@127.0.0.1', name, type]);
  return stdout.trim();
}

async function waitForAnswer(port: number, what: string): Promise<void> {
  const until = Date.now() + 120_000;
  const name = `${reverse(listed[0]!)}.${ZONE}`;
  // Until the listed name answers 127.0.0.x (dig prints errors on stdout too).
  while (!/^127\.0\.0\.\d+$/.test(await dig(port, name))) {
    if (Date.now() > until) throw new Error(`${what} does not answer for ${name}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface PerfResult {
  readonly qps: number;
  readonly lost: number;
  readonly avgLatencyMs: number;
  /** The server's CPU time (user + system) per answered query. */
  readonly cpuUsPerQuery: number;
}

async function dnsperf(port: number, pid: number | undefined): Promise<PerfResult> {
  const cpuBefore = processTreeCpuMs(pid ?? 0);
  const { code, stdout, stderr } = await runCommand('taskset', ['-c', CLIENT_CPU, 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', join(dataDir, 'queries.txt'), '-l', String(DURATION_S), '-q', '200', '-t', '2']);
  if (code !== 0) throw new Error(`dnsperf exited ${code}: ${stderr}`);
  const cpuMs = processTreeCpuMs(pid ?? 0) - cpuBefore;
  const num = (re: RegExp): number => Number(re.exec(stdout)?.[1] ?? Number.NaN);
  return {
    cpuUsPerQuery: Math.round((cpuMs * 1000 * 10) / Math.max(1, num(/Queries completed:\s+(\d+)/))) / 10,
    qps: num(/Queries per second:\s+([\d.]+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
  };
}

try {
  // dnsperf sends everything from 127.0.0.1: the per-client response-rate limit is off for the run.
  await waitForAnswer(bsPort, 'BlockSmith');
  await waitForAnswer(rbPort, 'rbldnsd');
  for (const [what, port] of [['BlockSmith', bsPort], ['rbldnsd', rbPort]] as const) {
    const listedName = `${reverse(listed[1]!)}.${ZONE}`;
    const unlistedName = `${reverse(unlisted[1]!)}.${ZONE}`;
    console.log(`${what}: ${listedName} A → ${JSON.stringify(await dig(port, listedName))}, TXT → ${JSON.stringify(await dig(port, listedName, 'TXT'))}; ${unlistedName} A → ${JSON.stringify(await dig(port, unlistedName))}`);
  }
  const bs: PerfResult[] = [];
  const rb: PerfResult[] = [];
  const ec: PerfResult[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    bs.push(await dnsperf(bsPort, blocksmith.pid));
    rb.push(await dnsperf(rbPort, rbldnsd.pid));
    ec.push(await dnsperf(echoPort, echo.pid));
    console.log(JSON.stringify({ round, blocksmith: bs[round], rbldnsd: rb[round], nodeUdpFloor: ec[round] }));
  }
  const q = (r: PerfResult[]): number => Math.round(median(r.map((x) => x.qps)));
  const l = (r: PerfResult[]): number => Math.round(median(r.map((x) => x.avgLatencyMs)) * 1000) / 1000;
  const c = (r: PerfResult[]): number => median(r.map((x) => x.cpuUsPerQuery));
  console.log(`\nBlockSmith's UDP engine: ${udpEngine}`);
  console.log(`\n| measure (median of ${ROUNDS} rounds of ${DURATION_S} s, ${LISTED} listed, half the queries listed, server on one core) | BlockSmith | rbldnsd | ratio | Node UDP floor (echo) | floor / rbldnsd |`);
  console.log('| --- | --- | --- | --- | --- | --- |');
  console.log(`| queries/s | ${q(bs)} | ${q(rb)} | ${(q(bs) / q(rb)).toFixed(2)} | ${q(ec)} | ${(q(ec) / q(rb)).toFixed(2)} |`);
  console.log(`| server CPU µs per query (user + system) | ${c(bs)} | ${c(rb)} | ${(c(bs) / c(rb)).toFixed(2)} | ${c(ec)} | ${(c(ec) / c(rb)).toFixed(2)} |`);
  console.log(`| average latency, ms | ${l(bs)} | ${l(rb)} | | ${l(ec)} | |`);
  console.log(`| queries lost (all rounds) | ${bs.reduce((a, x) => a + x.lost, 0)} | ${rb.reduce((a, x) => a + x.lost, 0)} | | ${ec.reduce((a, x) => a + x.lost, 0)} | |`);
} finally {
  await stopChild(blocksmith);
  await stopChild(rbldnsd);
  await stopChild(echo);
  dns.stop();
  removeDir(dataDir);
}
