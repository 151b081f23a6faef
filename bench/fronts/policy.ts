/**
 * NAME
 *   bench/fronts/policy - BlockSmith's policy service against postfwd2, side by side, one run
 *
 * SYNOPSIS
 *   bash bench/fronts/install.sh      # postfwd, rbldnsd, dnsperf from Debian's packages
 *   npm run bench:fronts:policy       # needs a C compiler (cc) for the load generator
 *
 * DESCRIPTION
 *   The same requests, from the same load generator (policy-load.c, compiled here with
 *   `cc -O2` next to this script, its own process), to BlockSmith's policy front and to postfwd2
 *   (Debian's postfwd package) with one equivalent rule: 1,000 client addresses, one in ten
 *   listed. BlockSmith refuses those from its listings (warm: the run starts after every
 *   address has been decided once) and accepts the rest from cached `pass` verdicts; postfwd2
 *   matches the listed ones against a file table and answers DUNNO for the rest. postfwd2 runs
 *   with its defaults (request cache on) and enough preforked children for every connection (a
 *   child serves one connection at a time, and Postfix keeps policy connections open), as an
 *   operator would run it for 100 smtpd processes.
 *
 *   Each server is pinned to CPU 1 (taskset; postfwd2's children inherit it) and the load
 *   generator to CPU 0, so the generator never takes the server's core (BENCH_PIN=0: no pinning).
 *
 *   Rounds alternate the two servers; figures are medians over rounds. Measures, per server:
 *     closed loop, 100 connections   requests per second (saturation), p50/p99
 *     closed loop, 8 connections     requests per second, p50/p99/p99.9 at saturation
 *     paced, 8 connections           p50/p99/p99.9 at a fixed rate of BENCH_PACED_SHARE (0.5) of
 *                                    that server's own median closed-loop rate at 8 connections
 *                                    (latency counted from each request's due time)
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchIp } from '../firewall/support.js';
import { dataDirWithListings, freePort, median, processTreeCpuMs, removeDir, runCommand, runCommandJson, startBlockSmith, startDnsServer, waitForPort } from './support.js';

/** What policy-load prints. */
interface ClientResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Paced: requests written more than 1 ms after they were due (every connection busy). */
  readonly late: number;
  readonly timeouts: number;
  readonly errors: number;
  readonly actions: Record<string, number>;
  /** Added here: the server's CPU time (all its threads and processes) per 1,000 answered requests. */
  serverCpuMsPer1000?: number;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const ADDRESSES = 1_000;
const LISTED_EVERY = 10;
const PIN = process.env.BENCH_PIN !== '0';
const SERVER_CPU = '1';
const CLIENT_CPU = '0';
const PACED_SHARE = Number(process.env.BENCH_PACED_SHARE ?? 0.5);
const pinned = (cpu: string, command: string, args: readonly string[]): [string, string[]] => (PIN ? ['taskset', ['-c', cpu, command, ...args]] : [command, [...args]]);

/** buildLoadGenerator - `cc -O2` policy-load.c (from the source tree) next to this compiled script. */
async function buildLoadGenerator(): Promise<string> {
  const sources = [join(process.cwd(), 'bench/fronts/policy-load.c'), fileURLToPath(new URL('../../../bench/fronts/policy-load.c', import.meta.url))];
  const source = sources.find((p) => existsSync(p));
  if (source === undefined) throw new Error(`bench/fronts/policy: policy-load.c not found (looked in ${sources.join(', ')}); run from the repository root`);
  const out = fileURLToPath(new URL('./policy-load', import.meta.url));
  const built = await runCommand('cc', ['-O2', '-o', out, source]).catch((err: unknown) => ({ code: -1, stdout: '', stderr: String(err) }));
  if (built.code !== 0) {
    throw new Error(`bench/fronts/policy needs a C compiler to build its load generator: \`cc -O2 -o ${out} ${source}\` failed (${built.stderr.trim().slice(0, 300) || `exit ${built.code}`}); install one (apt-get install gcc)`);
  }
  return out;
}

const ips = Array.from({ length: ADDRESSES }, (_, i) => benchIp(i));
const listed = ips.filter((_, i) => i % LISTED_EVERY === 0);

const loadGenerator = await buildLoadGenerator();
const dns = await startDnsServer();
const dataDir = await dataDirWithListings(listed);
const bsPort = await freePort();
const blocksmith = startBlockSmith(['--data', dataDir, '--resolver', `127.0.0.1:${dns.port}`, '--bypass', 'none', '--policy', `127.0.0.1:${bsPort}`, '--http', 'none'], {}, PIN ? ['taskset', '-c', SERVER_CPU] : []);

const pfDir = dataDir;
const pfPort = await freePort();
const pfCachePort = await freePort();
chmodSync(pfDir, 0o755); // postfwd2 reads its file table as nobody
writeFileSync(join(pfDir, 'listed.txt'), `${listed.join('\n')}\n`);
const ipsFile = join(pfDir, 'ips.txt');
writeFileSync(ipsFile, `${ips.join('\n')}\n`);
writeFileSync(
  join(pfDir, 'postfwd.cf'),
  `id=LISTED; client_address==file:${join(pfDir, 'listed.txt')}; action=450 4.7.25 Client host [$$client_address] rejected: reverse DNS does not confirm the address\n`,
);
const pfArgs = [
  '-f', join(pfDir, 'postfwd.cf'),
  '--server_socket', `tcp:127.0.0.1:${pfPort}`,
  '--cache_socket', `tcp:127.0.0.1:${pfCachePort}`,
  '-u', 'nobody', '-g', 'nogroup',
  '--pidfile', join(pfDir, 'postfwd.pid'),
  '--min_servers', '105', '--max_servers', '120', '--min_spare_servers', '10', '--max_spare_servers', '110',
];
const started = await runCommand(...pinned(SERVER_CPU, 'postfwd2', [...pfArgs, '-d']));
if (started.code !== 0) throw new Error(`postfwd2 did not start: ${started.stderr}`);

try {
  await waitForPort(bsPort);
  await waitForPort(pfPort);
  const pfPid = Number(readFileSync(join(pfDir, 'postfwd.pid'), 'latin1').trim());
  const bsPid = blocksmith.process.pid ?? 0;
  const client = async (port: number, connections: number, durationMs: number, extra: { maxRequests?: number; rate?: number } = {}): Promise<ClientResult> => {
    const serverPid = port === bsPort ? bsPid : pfPid;
    const cpuBefore = processTreeCpuMs(serverPid);
    const result = await runCommandJson<ClientResult>(
      ...pinned(CLIENT_CPU, loadGenerator, [
        '--port', String(port), '--connections', String(connections), '--duration-ms', String(durationMs), '--ips', ipsFile,
        ...(extra.maxRequests !== undefined ? ['--max-requests', String(extra.maxRequests)] : []),
        ...(extra.rate !== undefined ? ['--rate', String(extra.rate)] : []),
      ]),
    );
    result.serverCpuMsPer1000 = Math.round(((processTreeCpuMs(serverPid) - cpuBefore) / Math.max(1, result.requests)) * 1000 * 10) / 10;
    return result;
  };

  // Warm both: every address decided once (BlockSmith: checks and verdict cache; postfwd: its caches).
  const warmBs = await client(bsPort, 8, 120_000, { maxRequests: ips.length });
  const warmPf = await client(pfPort, 8, 120_000, { maxRequests: ips.length });
  console.log(JSON.stringify({ pinned: PIN ? { servers: SERVER_CPU, loadGenerator: CLIENT_CPU } : false, warmup: { blocksmith: warmBs, postfwd: warmPf } }));
  const results: Record<string, ClientResult[]> = { bs100: [], pf100: [], bs8: [], pf8: [], bsPaced: [], pfPaced: [] };
  for (let round = 0; round < ROUNDS; round++) {
    results.bs100!.push(await client(bsPort, 100, DURATION_MS));
    results.pf100!.push(await client(pfPort, 100, DURATION_MS));
    results.bs8!.push(await client(bsPort, 8, DURATION_MS));
    results.pf8!.push(await client(pfPort, 8, DURATION_MS));
    console.log(JSON.stringify({ round, ...Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v[v.length - 1]])) }));
  }
  const m = (key: string, field: keyof ClientResult): number => median(results[key]!.map((r) => r[field] as number));
  // Paced rounds after the closed-loop ones: each server at a share of its own saturated rate.
  const pacedBs = Math.round(m('bs8', 'rate') * PACED_SHARE);
  const pacedPf = Math.round(m('pf8', 'rate') * PACED_SHARE);
  for (let round = 0; round < ROUNDS; round++) {
    results.bsPaced!.push(await client(bsPort, 8, DURATION_MS, { rate: pacedBs }));
    results.pfPaced!.push(await client(pfPort, 8, DURATION_MS, { rate: pacedPf }));
    console.log(JSON.stringify({ round, paced: { blocksmith: results.bsPaced![round], postfwd: results.pfPaced![round] } }));
  }
  const rows = [
    ['requests/s, 100 connections', m('bs100', 'rate'), m('pf100', 'rate')],
    ['p50 ms, 100 connections', m('bs100', 'p50Ms'), m('pf100', 'p50Ms')],
    ['p99 ms, 100 connections', m('bs100', 'p99Ms'), m('pf100', 'p99Ms')],
    ['server CPU ms per 1,000 requests, 100 connections', m('bs100', 'serverCpuMsPer1000'), m('pf100', 'serverCpuMsPer1000')],
    ['requests/s, 8 connections', m('bs8', 'rate'), m('pf8', 'rate')],
    ['p50 ms, 8 connections', m('bs8', 'p50Ms'), m('pf8', 'p50Ms')],
    ['p99 ms, 8 connections', m('bs8', 'p99Ms'), m('pf8', 'p99Ms')],
    ['p99.9 ms, 8 connections', m('bs8', 'p999Ms'), m('pf8', 'p999Ms')],
    [`paced requests/s, 8 connections (${PACED_SHARE} × own rate)`, m('bsPaced', 'rate'), m('pfPaced', 'rate')],
    ['paced p50 ms, 8 connections', m('bsPaced', 'p50Ms'), m('pfPaced', 'p50Ms')],
    ['paced p99 ms, 8 connections', m('bsPaced', 'p99Ms'), m('pfPaced', 'p99Ms')],
    ['paced p99.9 ms, 8 connections', m('bsPaced', 'p999Ms'), m('pfPaced', 'p999Ms')],
  ] as const;
  console.log(`\n| measure (median of ${ROUNDS} rounds of ${DURATION_MS / 1000} s${PIN ? `; servers on CPU ${SERVER_CPU}, load generator on CPU ${CLIENT_CPU}` : ''}) | BlockSmith | postfwd2 | ratio |`);
  console.log('| --- | --- | --- | --- |');
  for (const [name, bs, pf] of rows) console.log(`| ${name} | ${bs} | ${pf} | ${(bs / pf).toFixed(2)} |`);
  const sum = (key: string, field: 'timeouts' | 'errors' | 'late'): number => results[key]!.reduce((a, r) => a + r[field], 0);
  console.log(`\nrounds' p99 ms, 8 connections: BlockSmith ${results.bs8!.map((r) => r.p99Ms).join(' / ')}, paced ${results.bsPaced!.map((r) => r.p99Ms).join(' / ')}; postfwd2 ${results.pf8!.map((r) => r.p99Ms).join(' / ')}, paced ${results.pfPaced!.map((r) => r.p99Ms).join(' / ')}`);
  console.log(`timeouts / errors (all rounds): BlockSmith ${['bs100', 'bs8', 'bsPaced'].map((k) => sum(k, 'timeouts')).join('+')} / ${['bs100', 'bs8', 'bsPaced'].map((k) => sum(k, 'errors')).join('+')}; postfwd2 ${['pf100', 'pf8', 'pfPaced'].map((k) => sum(k, 'timeouts')).join('+')} / ${['pf100', 'pf8', 'pfPaced'].map((k) => sum(k, 'errors')).join('+')}; paced requests written > 1 ms late: BlockSmith ${sum('bsPaced', 'late')}, postfwd2 ${sum('pfPaced', 'late')}`);
  const actionsBs = results.bs100![0]!.actions;
  const actionsPf = results.pf100![0]!.actions;
  console.log(`\nreplies by action (first round, 100 connections): BlockSmith ${JSON.stringify(actionsBs)}, postfwd2 ${JSON.stringify(actionsPf)}`);
} finally {
  await runCommand('postfwd2', [...pfArgs, '--kill']);
  await blocksmith.stop();
  dns.stop();
  removeDir(dataDir);
}
