/**
 * NAME
 *   bench/gate/run - the SMTP gate side by side with Haraka + haraka-plugin-fcrdns, one run
 *
 * SYNOPSIS
 *   bash bench/gate/install.sh      # Haraka and the plugin with npm into /tmp/haraka-bench
 *   npm run bench:gate
 *
 * DESCRIPTION
 *   Every server and every load generator is its own process: BlockSmith (`blocksmith serve` from
 *   dist-bench, fresh SQLite data directory), Haraka (haraka.ts), the no-PTR DNS server both ask
 *   (no-ptr-dns-server.ts), the SMTP sink behind the gate (sink-server.ts), the refusal load
 *   generator refuse-load.c (C, compiled here with `cc -O2` into dist-bench/bench/gate/) and
 *   gate-client.ts (the other measures; BENCH_LOADGEN=node uses its refuse mode for measure 1).
 *
 *   1. Refused connections per second, connect → first reply → close, from 1,000 addresses
 *      127.0.x.y without PTR, 50 at once. Both refuse at connect: BlockSmith in hard mode with
 *      `gate.rejectAtConnect` (554 greeting), Haraka's fcrdns with `reject.no_rdns` (554
 *      greeting). Warm: every address refused once by each before the rounds. Rounds alternate
 *      the two servers; figures are medians over rounds. DNS queries are counted at the server.
 *   2. 5,000 idle connections held through the gate: clients from 127.1.x.y (in `--bypass`, so
 *      accepted without a check) handed to the sink with a PROXY v2 header; the sink holds the
 *      other end. Peak RSS of the BlockSmith process is VmHWM of /proc/<pid>/status, a fresh
 *      process (it has served nothing else).
 *   Measure 1 is pinned (taskset, every thread): the server under test on CPU 0, the load
 *   generator and the DNS server on CPU 1, so the server has a core of its own and its rate is
 *   what the figure measures (BENCH_PIN=0: nothing pinned). Both servers sit on CPU 0; only one
 *   is under load at a time. Measures 2 and 3 are not pinned: pinning the gate and its backend
 *   to one core would make measure 3 measure the sharing.
 *   The server's CPU time per refusal is read from /proc/<pid>/stat around each round: on a
 *   2-vCPU VM the load generator shares the cores, so the rate alone also measures it.
 *   3. A 10 MB message through the gate vs straight to the backend, interleaved, median of 21 (BENCH_TRANSFERS)
 *      each: (a) the sink (the same process, its PROXY listener for the gate, its plain one for
 *      direct), and the same transfers through bare-relay.ts (a bare Node pipe) as the reference
 *      for the relay's own cost, with the CPU time of the gate and of the bare pipe per
 *      transfer; (b) when run as root with Postfix installed, two Postfix instances from
 *      test/e2e/helpers/postfix.ts, one with smtpd_upstream_proxy_protocol = haproxy behind a
 *      fresh gate, one plain, both delivering to their mailbox file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, median, removeDir, runCommand, runJson, startBlockSmith, stopChild, waitForPort } from '../fronts/support.js';
import { harakaInstalled, harakaVersion, startHaraka, HARAKA_DIR } from './haraka.js';
import { POSTFIX_MAIL_DOMAIN, startPostfix } from '../../test/e2e/helpers/postfix.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const HOLD_COUNT = Number(process.env.BENCH_HOLD ?? 5_000);
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 21);
const MESSAGE_BYTES = 10 * 1024 * 1024;
const PIN = process.env.BENCH_PIN !== '0';
const CLIENT_CPU = PIN ? 1 : undefined;
/** Measure 1's load generator: refuse-load.c (default) or gate-client.ts's refuse mode (`node`). */
const LOADGEN = process.env.BENCH_LOADGEN === 'node' ? 'node' : 'c';
/** BENCH_MEASURES=1,3 runs those measures only (default: all three). */
const MEASURES = new Set((process.env.BENCH_MEASURES ?? '1,2,3').split(',').map(Number));
/** Measure 3 with a real Postfix too (needs root and Debian's postfix); BENCH_POSTFIX=0 skips it. */
const POSTFIX = process.env.BENCH_POSTFIX !== '0' && process.getuid?.() === 0 && existsSync('/usr/sbin/postfix');
const fmt = (x: number, digits: number): string => x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

if (!harakaInstalled()) {
  console.error(`bench/gate: Haraka is not in ${HARAKA_DIR}; run: bash bench/gate/install.sh`);
  process.exit(2);
}

/** Compile refuse-load.c next to this script (dist-bench/bench/gate/refuse-load). */
const REFUSE_LOAD = new URL('./refuse-load', import.meta.url).pathname;
if (LOADGEN === 'c' && MEASURES.has(1)) {
  const source = new URL('../../../bench/gate/refuse-load.c', import.meta.url).pathname;
  const cc = process.env.CC ?? 'cc';
  const built = spawnSync(cc, ['-O2', '-o', REFUSE_LOAD, source], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (built.error !== undefined || built.status !== 0) {
    const why = (built.error as { code?: string } | undefined)?.code === 'ENOENT' ? `no C compiler (\`${cc}\` not found): install one (Debian: apt-get install gcc) or set CC` : `${cc} -O2 ${source} failed (status ${built.status})`;
    console.error(`bench/gate: measure 1's load generator is C: ${why}; BENCH_LOADGEN=node uses the Node generator instead`);
    process.exit(2);
  }
}

/** 127.<a>.x.y, x from 1, y 1..250: never 127.0.0.1 (the servers' own address). */
const addresses = (a: number, n: number): string[] => Array.from({ length: n }, (_, i) => `127.${a}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);
const refusedIps = addresses(0, 1_000);
const acceptedIps = addresses(1, 1_000);

interface LineChild {
  readonly process: ChildProcess;
  next(): Promise<string>;
}

/** Spawn a compiled script of this folder that talks in JSON lines on stdout. */
function spawnLines(script: string, args: readonly string[] = []): LineChild {
  const child = spawn(process.execPath, [new URL(script, import.meta.url).pathname, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const waiting: ((line: string) => void)[] = [];
  const queued: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const w = waiting.shift();
    if (w !== undefined) w(line);
    else queued.push(line);
  });
  return {
    process: child,
    next: () => (queued.length > 0 ? Promise.resolve(queued.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

async function ask<T>(child: LineChild): Promise<T> {
  const line = child.next();
  child.process.kill('SIGUSR2');
  return JSON.parse(await line) as T;
}

function procStatus(pid: number): { vmRssMb: number; vmHwmMb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { vmRssMb: Math.round(kb('VmRSS') / 102.4) / 10, vmHwmMb: Math.round(kb('VmHWM') / 102.4) / 10 };
}

/** CPU time (user + system, every thread) the process has used so far, in ms (/proc/<pid>/stat, 100 Hz ticks). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14-15 of stat(5))
}

/** Pin every thread of `pid` to `cpu` (BENCH_PIN=1: servers on CPU 0, load generators on CPU 1). */
async function pin(pid: number, cpu: number): Promise<void> {
  const r = await runCommand('taskset', ['-a', '-p', '-c', String(cpu), String(pid)]);
  if (r.code !== 0) throw new Error(`taskset: ${r.stderr}`);
}

interface RefuseResult {
  readonly connections: number;
  readonly seconds: number;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly codes: Record<string, number>;
  readonly errors: number;
  readonly firstError: string;
  /** refuse-load.c only: its own CPU time over the run. */
  readonly loadCpuMs?: number;
}
interface TransferResult {
  readonly bytes: number;
  readonly dataSeconds: number;
  readonly mbPerSecond: number;
  readonly sessionSeconds: number;
}

const uptime = async (): Promise<string> => (await runCommand('uptime', [])).stdout.trim();
const uptimeStart = await uptime();
console.log(`bench/gate: ${harakaVersion()}; Node ${process.version}; ${cpus().length} CPUs; measure 1: ${LOADGEN === 'c' ? 'refuse-load (C)' : 'gate-client.js (Node)'}${PIN ? ', server under test pinned to CPU 0, load generator and DNS server to CPU 1' : ', not pinned'}; ${uptimeStart}`);

const dns = spawnLines('./no-ptr-dns-server.js');
const dnsPort = (JSON.parse(await dns.next()) as { port: number }).port;
const sink = spawnLines('./sink-server.js');
const sinkPorts = JSON.parse(await sink.next()) as { proxyPort: number; directPort: number };
const work = mkdtempSync(join(tmpdir(), 'bs-bench-gate-'));
const children: { stop(): Promise<void> }[] = [];
const tables: string[] = [];

try {
  // ---- 1. refused connections per second -------------------------------------------------
  if (MEASURES.has(1)) {
    const dataA = join(work, 'data-a');
    const configA = join(work, 'refuse.yaml');
    writeFileSync(configA, 'gate:\n  rejectAtConnect: true\n  maxConnectionsCount: 10000\n');
    const bsPort = await freePort();
    const bs = startBlockSmith(
      ['--data', dataA, '--resolver', `127.0.0.1:${dnsPort}`, '--bypass', 'none', '--mode', 'hard', '--policy', 'none', '--http', 'none', '--gate', `127.0.0.1:${bsPort}`, '--gate-backend', `127.0.0.1:${sinkPorts.proxyPort}`, '--gate-proxy', 'v2'],
      { BLOCKSMITH_CONFIG: configA },
    );
    children.push(bs);
    const hkPort = await freePort();
    const hk = startHaraka(join(work, 'haraka'), hkPort, dnsPort);
    children.push(hk);
    await waitForPort(bsPort);
    await waitForPort(hkPort);
    if (PIN) {
      await pin(bs.process.pid!, 0);
      await pin(hk.process.pid!, 0);
      await pin(dns.process.pid!, 1);
    }

    const refuse = async (port: number, durationMs: number, maxConnections?: number, concurrency = CONCURRENCY): Promise<RefuseResult> => {
      if (LOADGEN === 'node') {
        return runJson<RefuseResult>('../gate/gate-client.js', [JSON.stringify({ mode: 'refuse', port, ips: refusedIps, concurrency, durationMs, ...(maxConnections !== undefined ? { maxConnections } : {}) })], CLIENT_CPU);
      }
      // The same 1,000 addresses as refusedIps: 127.0.x.y, x from 1, y 1..250.
      const args = ['-p', String(port), '-c', String(concurrency), '-d', String(durationMs), '-a', '0', '-n', String(refusedIps.length), ...(maxConnections !== undefined ? ['-m', String(maxConnections)] : [])];
      const r = CLIENT_CPU === undefined ? await runCommand(REFUSE_LOAD, args) : await runCommand('taskset', ['-c', String(CLIENT_CPU), REFUSE_LOAD, ...args]);
      if (r.code !== 0) throw new Error(`refuse-load exited ${r.code}: ${r.stderr.slice(0, 500)}`);
      return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as RefuseResult;
    };
    const queries = async (): Promise<number> => (await ask<{ queries: number }>(dns)).queries;

    let q = await queries();
    const warmBs = await refuse(bsPort, 120_000, refusedIps.length, 20);
    const qWarmBs = (await queries()) - q;
    q = await queries();
    const warmHk = await refuse(hkPort, 120_000, refusedIps.length, 20);
    const qWarmHk = (await queries()) - q;
    console.log(JSON.stringify({ warmup: { blocksmith: { ...warmBs, dnsQueries: qWarmBs }, haraka: { ...warmHk, dnsQueries: qWarmHk } } }));

    const bsRounds: RefuseResult[] = [];
    const hkRounds: RefuseResult[] = [];
    let bsQueries = 0;
    let hkQueries = 0;
    const cpuPerK: Record<'bs' | 'hk', number[]> = { bs: [], hk: [] };
    const cpuShare: Record<'bs' | 'hk', number[]> = { bs: [], hk: [] };
    const loadShare: Record<'bs' | 'hk', number[]> = { bs: [], hk: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order: ['bs' | 'hk', 'bs' | 'hk'] = round % 2 === 0 ? ['bs', 'hk'] : ['hk', 'bs'];
      for (const who of order) {
        const before = await queries();
        const server = (who === 'bs' ? bs : hk).process.pid!;
        const cpuBefore = cpuMs(server);
        const r = await refuse(who === 'bs' ? bsPort : hkPort, DURATION_MS);
        const cpu = cpuMs(server) - cpuBefore;
        cpuPerK[who].push((cpu / r.connections) * 1000);
        cpuShare[who].push(cpu / (r.seconds * 1000));
        if (r.loadCpuMs !== undefined) loadShare[who].push(r.loadCpuMs / (r.seconds * 1000));
        const used = (await queries()) - before;
        if (who === 'bs') {
          bsRounds.push(r);
          bsQueries += used;
        } else {
          hkRounds.push(r);
          hkQueries += used;
        }
        console.log(JSON.stringify({ round, who, ...r, dnsQueries: used, serverCpuMs: cpu, serverCpuShare: Math.round(cpu / (r.seconds * 10)) / 100 }));
      }
    }
    const bsRss = procStatus(bs.process.pid!);
    const hkRss = procStatus(hk.process.pid!);
    await bs.stop();
    await hk.stop();

    const m = (rs: RefuseResult[], k: 'rate' | 'p50Ms' | 'p99Ms'): number => median(rs.map((r) => r[k]));
    const ratio = (a: number, b: number): string => (a / b).toFixed(2);
    const bsRate = m(bsRounds, 'rate');
    const hkRate = m(hkRounds, 'rate');
    tables.push(
      [
        `### 1. Refused connections per second (connect → 554 greeting → close; ${refusedIps.length} addresses without PTR, ${CONCURRENCY} at once; median of ${ROUNDS} rounds of ${DURATION_MS / 1000} s, alternating; load generator ${LOADGEN === 'c' ? 'refuse-load (C)' : 'gate-client.js (Node)'}${PIN ? '; server under test on CPU 0, load generator and DNS server on CPU 1' : ', not pinned'})`,
        '',
        '| measure | BlockSmith gate | Haraka + fcrdns | ratio | goal | |',
        '| --- | --- | --- | --- | --- | --- |',
        `| refused connections/s | **${fmt(bsRate, 0)}** | ${fmt(hkRate, 0)} | **${ratio(bsRate, hkRate)}** | ≥ 2× | ${bsRate >= 2 * hkRate ? '✓' : '✗'} |`,
        `| p50 connect → reply (ms) | ${fmt(m(bsRounds, 'p50Ms'), 1)} | ${fmt(m(hkRounds, 'p50Ms'), 1)} | ${ratio(m(bsRounds, 'p50Ms'), m(hkRounds, 'p50Ms'))} | | |`,
        `| p99 connect → reply (ms) | ${fmt(m(bsRounds, 'p99Ms'), 1)} | ${fmt(m(hkRounds, 'p99Ms'), 1)} | ${ratio(m(bsRounds, 'p99Ms'), m(hkRounds, 'p99Ms'))} | | |`,
        `| server CPU ms per 1,000 refusals (user + system, all threads) | ${Math.round(median(cpuPerK.bs))} | ${Math.round(median(cpuPerK.hk))} | ${ratio(median(cpuPerK.bs), median(cpuPerK.hk))} | | |`,
        `| server's share of a core during the rounds (min – median – max) | ${spread(cpuShare.bs)} | ${spread(cpuShare.hk)} | | | |`,
        ...(loadShare.bs.length > 0 ? [`| load generator's share of a core (min – median – max) | ${spread(loadShare.bs)} | ${spread(loadShare.hk)} | | | |`] : []),
        `| rates of the rounds | ${bsRounds.map((r) => r.rate).join(', ')} | ${hkRounds.map((r) => r.rate).join(', ')} | | | |`,
        `| replies (all rounds) | ${JSON.stringify(sumCodes(bsRounds))}, ${sum(bsRounds, 'errors')} errors | ${JSON.stringify(sumCodes(hkRounds))}, ${sum(hkRounds, 'errors')} errors | | | |`,
        `| DNS queries during the rounds | ${bsQueries} | ${hkQueries} | | | |`,
        `| warm-up: ${refusedIps.length} first refusals, 20 at once | ${warmBs.rate}/s, ${qWarmBs} DNS queries | ${warmHk.rate}/s, ${qWarmHk} DNS queries | | | |`,
        `| RSS after the rounds (VmRSS / VmHWM, MB) | ${bsRss.vmRssMb} / ${bsRss.vmHwmMb} | ${hkRss.vmRssMb} / ${hkRss.vmHwmMb} | | | |`,
      ].join('\n'),
    );
    console.log(`\n${tables[tables.length - 1]}\n`);
  }

  // ---- 2. 5,000 idle connections held ----------------------------------------------------
  const dataB = join(work, 'data-b');
  const configB = join(work, 'relay.yaml');
  writeFileSync(configB, 'gate:\n  maxConnectionsCount: 10000\n');
  const gatePort = await freePort();
  const gate = startBlockSmith(
    ['--data', dataB, '--resolver', `127.0.0.1:${dnsPort}`, '--bypass', '127.1.0.0/16', '--policy', 'none', '--http', 'none', '--gate', `127.0.0.1:${gatePort}`, '--gate-backend', `127.0.0.1:${sinkPorts.proxyPort}`, '--gate-proxy', 'v2'],
    { BLOCKSMITH_CONFIG: configB },
  );
  children.push(gate);
  await waitForPort(gatePort);
  if (MEASURES.has(2)) {
    await new Promise((r) => setTimeout(r, 500));
    const idle = procStatus(gate.process.pid!);
    const holder = spawnLines('./gate-client.js', [JSON.stringify({ mode: 'hold', port: gatePort, ips: acceptedIps, count: HOLD_COUNT, holdMs: 3_000 })]);
    const held = JSON.parse(await holder.next()) as { held: number; codes: Record<string, number>; errors: number; firstError: string; openSeconds: number };
    const sinkHeld = await ask<{ open: number; proxied: number }>(sink);
    const whileHeld = procStatus(gate.process.pid!);
    const heldEnd = JSON.parse(await holder.next()) as { stillOpenAtEnd: number };
    await new Promise((r) => setTimeout(r, 500));
    const afterHold = procStatus(gate.process.pid!);
    tables.push(
      [
        `### 2. ${HOLD_COUNT.toLocaleString('en')} idle connections held through the gate (accepted, relayed to the sink with PROXY v2)`,
        '',
        '| measure | result | goal | |',
        '| --- | --- | --- | --- |',
        `| connections greeted (the sink's 220 through the gate) and held | ${held.held} (${JSON.stringify(held.codes)}, ${held.errors} errors${held.firstError !== '' ? `: ${held.firstError}` : ''}), opened in ${held.openSeconds} s | ${HOLD_COUNT} | ${held.held >= HOLD_COUNT ? '✓' : '✗'} |`,
        `| still open after 3 s held (client side) / open at the sink | ${heldEnd.stillOpenAtEnd} / ${sinkHeld.open} | ${HOLD_COUNT} | ${heldEnd.stillOpenAtEnd >= HOLD_COUNT && sinkHeld.open >= HOLD_COUNT ? '✓' : '✗'} |`,
        `| **peak RSS of the BlockSmith process (VmHWM)** | **${afterHold.vmHwmMb} MB** | ≤ 300 MB | ${afterHold.vmHwmMb <= 300 ? '✓' : '✗'} |`,
        `| RSS idle before / while held / after (VmRSS, MB) | ${idle.vmRssMb} / ${whileHeld.vmRssMb} / ${afterHold.vmRssMb} | | |`,
      ].join('\n'),
    );
    console.log(`\n${tables[tables.length - 1]}\n`);
  }

  // ---- 3. a 10 MB message through the gate vs direct ------------------------------------
  if (MEASURES.has(3)) {
    const transfer = (port: number, rcpt: string, bytes = MESSAGE_BYTES): Promise<TransferResult> =>
      runJson<TransferResult>('../gate/gate-client.js', [JSON.stringify({ mode: 'transfer', port, ip: acceptedIps[0], bytes, rcpt })]);
    /** One transfer through `port`; with `pid`, that relay process's CPU time (ms) over it. */
    const timed = async (port: number, rcpt: string, pid?: number, bytes = MESSAGE_BYTES): Promise<TransferResult & { relayCpuMs?: number }> => {
      const before = pid !== undefined ? cpuMs(pid) : 0;
      const r = await transfer(port, rcpt, bytes);
      return pid !== undefined ? { ...r, relayCpuMs: cpuMs(pid) - before } : r;
    };
    const transfers = async (label: string, gateTo: number, directTo: number, rcpt: string, gatePid: number, bare?: { port: number; pid: number }): Promise<string> => {
      await transfer(gateTo, rcpt); // warm every path once
      await transfer(directTo, rcpt);
      if (bare !== undefined) await transfer(bare.port, rcpt);
      const viaGate: (TransferResult & { relayCpuMs?: number })[] = [];
      const direct: TransferResult[] = [];
      const viaBare: (TransferResult & { relayCpuMs?: number })[] = [];
      for (let i = 0; i < TRANSFERS; i++) {
        // Interleaved, the order turned each time.
        const steps = [async () => viaGate.push(await timed(gateTo, rcpt, gatePid)), async () => direct.push(await timed(directTo, rcpt)), ...(bare !== undefined ? [async () => viaBare.push(await timed(bare.port, rcpt, bare.pid))] : [])];
        for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
        console.log(JSON.stringify({ label, i, gate: viaGate.at(-1), direct: direct.at(-1), ...(bare !== undefined ? { bare: viaBare.at(-1) } : {}) }));
      }
      const gateRate = median(viaGate.map((t) => t.mbPerSecond));
      const directRate = median(direct.map((t) => t.mbPerSecond));
      const bareRows: string[] = [];
      if (bare !== undefined) {
        // The same sessions with a 1 KB message: the relay's cost per session (decision, two
        // connections, and whatever the process does meanwhile), so that 10 MB minus 1 KB is the
        // cost of the bytes. CPU is read in 10 ms ticks: means, not medians.
        const smallGate: number[] = [];
        const smallBare: number[] = [];
        for (let i = 0; i < TRANSFERS; i++) {
          smallGate.push((await timed(gateTo, rcpt, gatePid, 1_000)).relayCpuMs ?? NaN);
          smallBare.push((await timed(bare.port, rcpt, bare.pid, 1_000)).relayCpuMs ?? NaN);
        }
        const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
        const big = { gate: mean(viaGate.map((t) => t.relayCpuMs ?? NaN)), bare: mean(viaBare.map((t) => t.relayCpuMs ?? NaN)) };
        const small = { gate: mean(smallGate), bare: mean(smallBare) };
        const bareRate = median(viaBare.map((t) => t.mbPerSecond));
        bareRows.push(
          `| ${label}: through a bare Node pipe instead (bare-relay.ts), MB/s (median) | ${fmt(bareRate, 1)} | ${fmt(directRate, 1)} | ${(bareRate / directRate).toFixed(2)} | | |`,
          `| ${label}: relay process CPU per 10 MB session (user + system, mean, ms): gate / bare pipe | ${fmt(big.gate, 0)} | ${fmt(big.bare, 0)} (bare pipe) | ${(big.gate / big.bare).toFixed(2)} | | |`,
          `| ${label}: relay process CPU per 1 KB session (mean, ms): gate / bare pipe | ${fmt(small.gate, 0)} | ${fmt(small.bare, 0)} (bare pipe) | | | |`,
          `| ${label}: **relay CPU for the 10 MB of bytes** (10 MB session − 1 KB session, ms): gate / bare pipe | **${fmt(big.gate - small.gate, 0)}** | ${fmt(big.bare - small.bare, 0)} (bare pipe) | **${((big.gate - small.gate) / (big.bare - small.bare)).toFixed(2)}** | ≤ 1 | ${big.gate - small.gate <= big.bare - small.bare ? '✓' : '✗'} |`,
        );
      } else {
        bareRows.push(`| ${label}: gate process CPU per 10 MB transfer (user + system, median, ms) | ${median(viaGate.map((t) => t.relayCpuMs ?? NaN))} | | | | |`);
      }
      return [
        `| ${label}: MB/s (median) | **${fmt(gateRate, 1)}** | ${fmt(directRate, 1)} | **${(gateRate / directRate).toFixed(2)}** | ≥ 0.80 | ${gateRate >= 0.8 * directRate ? '✓' : '✗'} |`,
        ...bareRows,
        `| ${label}: seconds for the DATA (median) | ${median(viaGate.map((t) => t.dataSeconds))} | ${median(direct.map((t) => t.dataSeconds))} | | | |`,
        `| ${label}: MB/s of each transfer | ${viaGate.map((t) => fmt(t.mbPerSecond, 0)).join(', ')} | ${direct.map((t) => fmt(t.mbPerSecond, 0)).join(', ')} | | | |`,
        `| ${label}: gate process VmHWM after (MB) | ${procStatus(gatePid).vmHwmMb} | | | | |`,
      ].join('\n');
    };
    const bareRelay = spawnLines('./bare-relay.js', [String(sinkPorts.proxyPort)]);
    const barePort = (JSON.parse(await bareRelay.next()) as { port: number }).port;
    const rows3: string[] = [await transfers('sink', gatePort, sinkPorts.directPort, 'rcpt@bench.test', gate.process.pid!, { port: barePort, pid: bareRelay.process.pid! })];
    await stopChild(bareRelay.process);
    await gate.stop();
    if (POSTFIX) {
      // Two Postfix instances of test/e2e/helpers/postfix.ts, the same but for the PROXY setting.
      const size = 'message_size_limit = 52428800';
      const proxied = await startPostfix({ mainCf: `smtpd_upstream_proxy_protocol = haproxy\n${size}`, upstreamProxy: true });
      children.push(proxied);
      const plain = await startPostfix({ mainCf: size });
      children.push(plain);
      const pfGatePort = await freePort();
      const pfGate = startBlockSmith(
        ['--data', join(work, 'data-c'), '--resolver', `127.0.0.1:${dnsPort}`, '--bypass', '127.1.0.0/16', '--policy', 'none', '--http', 'none', '--gate', `127.0.0.1:${pfGatePort}`, '--gate-backend', `127.0.0.1:${proxied.port}`, '--gate-proxy', 'v2'],
        { BLOCKSMITH_CONFIG: configB },
      );
      children.push(pfGate);
      await waitForPort(pfGatePort);
      rows3.push(await transfers('Postfix', pfGatePort, plain.port, `bob@${POSTFIX_MAIL_DOMAIN}`, pfGate.process.pid!));
      const log = await proxied.log();
      rows3.push(`| Postfix behind the gate logged the client's own address | ${/connect from unknown\[127\.1\.1\.1\]/.test(log) ? 'yes, `connect from unknown[127.1.1.1]`' : 'NO'} | | | | |`);
      await pfGate.stop();
      await proxied.stop();
      await plain.stop();
    }
    tables.push(
      [
        `### 3. A 10 MB message (${MESSAGE_BYTES.toLocaleString('en')} bytes asked, ${(Math.floor(MESSAGE_BYTES / 1000) * 1000).toLocaleString('en')} sent in 1,000-byte lines), through the gate vs straight to the backend; DATA's 354 → 250 after the dot; median of ${TRANSFERS} each, interleaved`,
        '',
        '| measure | through the gate | direct | ratio | goal | |',
        '| --- | --- | --- | --- | --- | --- |',
        ...rows3,
      ].join('\n'),
    );
    console.log(`\n${tables[tables.length - 1]}\n`);
    console.log(`load at start: ${uptimeStart}\nload at end:   ${await uptime()} (os.loadavg ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  }
} finally {
  for (const c of children) await c.stop();
  await stopChild(sink.process);
  await stopChild(dns.process);
  removeDir(work);
}

function spread(xs: readonly number[]): string {
  if (xs.length === 0) return '–';
  return `${Math.min(...xs).toFixed(2)} – ${median(xs).toFixed(2)} – ${Math.max(...xs).toFixed(2)}`;
}
function sum(rs: readonly RefuseResult[], k: 'errors'): number {
  return rs.reduce((s, r) => s + r[k], 0);
}
function sumCodes(rs: readonly RefuseResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rs) for (const [c, n] of Object.entries(r.codes)) out[c] = (out[c] ?? 0) + n;
  return out;
}
