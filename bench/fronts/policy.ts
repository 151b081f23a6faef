/**
 * NAME
 *   bench/fronts/policy - BlockSmith's policy service against postfwd2, side by side, one run
 *
 * SYNOPSIS
 *   bash bench/fronts/install.sh      # postfwd, rbldnsd, dnsperf from Debian's packages
 *   npm run bench:fronts:policy
 *
 * DESCRIPTION
 *   The same requests, from the same load generator (policy-client.ts, its own process), to
 *   BlockSmith's policy front and to postfwd2 (Debian's postfwd package) with one equivalent
 *   rule: 1,000 client addresses, one in ten listed. BlockSmith refuses those from its listings
 *   (warm: the run starts after every address has been decided once) and accepts the rest from
 *   cached `pass` verdicts; postfwd2 matches the listed ones against a file table and answers
 *   DUNNO for the rest. postfwd2 runs with its defaults (request cache on) and enough preforked
 *   children for every connection (a child serves one connection at a time, and Postfix keeps
 *   policy connections open), as an operator would run it for 100 smtpd processes.
 *
 *   Rounds alternate the two servers; figures are medians over rounds. Measures: requests per
 *   second at 100 connections, p50/p99 latency at 8 connections (and at 100).
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchIp } from '../firewall/support.js';
import { dataDirWithListings, freePort, median, removeDir, runCommand, runJson, startBlockSmith, startDnsServer, waitForPort } from './support.js';

interface ClientResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly actions: Record<string, number>;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const ADDRESSES = 1_000;
const LISTED_EVERY = 10;

const ips = Array.from({ length: ADDRESSES }, (_, i) => benchIp(i));
const listed = ips.filter((_, i) => i % LISTED_EVERY === 0);

const dns = await startDnsServer();
const dataDir = await dataDirWithListings(listed);
const bsPort = await freePort();
const blocksmith = startBlockSmith(['--data', dataDir, '--resolver', `127.0.0.1:${dns.port}`, '--bypass', 'none', '--policy', `127.0.0.1:${bsPort}`, '--http', 'none']);

const pfDir = dataDir;
const pfPort = await freePort();
const pfCachePort = await freePort();
chmodSync(pfDir, 0o755); // postfwd2 reads its file table as nobody
writeFileSync(join(pfDir, 'listed.txt'), `${listed.join('\n')}\n`);
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
const started = await runCommand('postfwd2', [...pfArgs, '-d']);
if (started.code !== 0) throw new Error(`postfwd2 did not start: ${started.stderr}`);

try {
  await waitForPort(bsPort);
  await waitForPort(pfPort);
  const client = (port: number, connections: number, durationMs: number, maxRequests?: number): Promise<ClientResult> =>
    runJson<ClientResult>('./policy-client.js', [JSON.stringify({ port, connections, durationMs, ips, ...(maxRequests !== undefined ? { maxRequests } : {}) })]);

  // Warm both: every address decided once (BlockSmith: checks and verdict cache; postfwd: its caches).
  const warmBs = await client(bsPort, 8, 120_000, ips.length);
  const warmPf = await client(pfPort, 8, 120_000, ips.length);
  console.log(JSON.stringify({ warmup: { blocksmith: warmBs, postfwd: warmPf } }));
  const results: Record<string, ClientResult[]> = { bs100: [], pf100: [], bs8: [], pf8: [] };
  for (let round = 0; round < ROUNDS; round++) {
    results.bs100!.push(await client(bsPort, 100, DURATION_MS));
    results.pf100!.push(await client(pfPort, 100, DURATION_MS));
    results.bs8!.push(await client(bsPort, 8, DURATION_MS));
    results.pf8!.push(await client(pfPort, 8, DURATION_MS));
    console.log(JSON.stringify({ round, ...Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v[v.length - 1]])) }));
  }
  const m = (key: string, field: keyof ClientResult): number => median(results[key]!.map((r) => r[field] as number));
  const rows = [
    ['requests/s, 100 connections', m('bs100', 'rate'), m('pf100', 'rate')],
    ['p50 ms, 100 connections', m('bs100', 'p50Ms'), m('pf100', 'p50Ms')],
    ['p99 ms, 100 connections', m('bs100', 'p99Ms'), m('pf100', 'p99Ms')],
    ['requests/s, 8 connections', m('bs8', 'rate'), m('pf8', 'rate')],
    ['p50 ms, 8 connections', m('bs8', 'p50Ms'), m('pf8', 'p50Ms')],
    ['p99 ms, 8 connections', m('bs8', 'p99Ms'), m('pf8', 'p99Ms')],
  ] as const;
  console.log(`\n| measure (median of ${ROUNDS} rounds of ${DURATION_MS / 1000} s) | BlockSmith | postfwd2 | ratio |`);
  console.log('| --- | --- | --- | --- |');
  for (const [name, bs, pf] of rows) console.log(`| ${name} | ${bs} | ${pf} | ${(bs / pf).toFixed(2)} |`);
  const actionsBs = results.bs100![0]!.actions;
  const actionsPf = results.pf100![0]!.actions;
  console.log(`\nreplies by action (first round, 100 connections): BlockSmith ${JSON.stringify(actionsBs)}, postfwd2 ${JSON.stringify(actionsPf)}`);
} finally {
  await runCommand('postfwd2', [...pfArgs, '--kill']);
  await blocksmith.stop();
  dns.stop();
  removeDir(dataDir);
}
