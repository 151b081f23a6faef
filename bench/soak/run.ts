/**
 * NAME
 *   bench/soak/run - ten minutes of mixed traffic on every front of one `blocksmith serve`
 *
 * SYNOPSIS
 *   npm run bench:soak                                  # tsc -p tsconfig.bench.json, then this
 *   SOAK_SECONDS=60 node dist-bench/bench/soak/run.js   # a shorter run
 *
 * DESCRIPTION
 *   Issue 8's load and soak test: one `blocksmith serve` (this compiled tree, a fresh SQLite data
 *   directory, --bypass none, soft mode) with the policy service, the DNSBL zone, the HTTP
 *   listener (portal) and the SMTP gate in front of an SMTP sink (bench/gate/sink-server.ts), all on
 *   loopback. Its resolver is the synthetic DNS server with SYNTHETIC_DNS_NO_PTR_EVEN=1: an address
 *   whose last octet is odd is confirmed, an even one has no PTR. So every front sees passing and
 *   failing clients, listings are made all along, and each answer can be checked:
 *
 *     policy  POLICY_RATE requests/s on 4 connections, client addresses from a pool of 4,000
 *             (10.77.x.y; new ones keep appearing during the first minute, so the first minute
 *             has cold checks and new listings; all are known from then on): odd → DUNNO, even
 *             → a 4xx with BlockSmith's URL.
 *     dnsbl   DNSBL_RATE queries/s (UDP) for the same pool: an odd address must never be listed.
 *     gate    GATE_RATE SMTP sessions/s from 4,000 addresses 127.9.x.y in turn: odd → the message is delivered through the
 *             gate (250 after DATA), even → refused with the URL.
 *     portal  PORTAL_RATE requests/s over /, /ip/<even address>, /stats: 200 each.
 *
 *   Every SOAK_SAMPLE_S seconds it samples the server's VmRSS (/proc) and heap used
 *   (/metrics, blocksmith_nodejs_heap_size_used_bytes). At the end it prints one JSON line: per
 *   front the count, errors (any answer that is not the expected one, any socket error or
 *   timeout) and latency p50/p99/max; the samples; and whether memory stayed flat (heap and RSS
 *   of the last minute within 10 % plus 8 MB of the second minute's). Exit status 1 when any
 *   error was counted or memory was not flat.
 *
 *   Bounded: SOAK_SECONDS (600) of load at fixed rates, loopback only; each request times out
 *   after 10 s (counted as an error).
 *
 *   For hunting memory: SOAK_NODE_OPTIONS is given to the server as NODE_OPTIONS, and
 *   SOAK_SNAPSHOT_AT (seconds, comma-separated, e.g. 60,300) sends SIGUSR2 to it at those seconds;
 *   with SOAK_NODE_OPTIONS='--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp/x' each signal
 *   writes a heap snapshot (V8 collects garbage before it writes). Compare two with
 *   bench/soak/heap-diff.mjs. SOAK_POLICY_RATE, SOAK_DNSBL_RATE, SOAK_GATE_RATE and
 *   SOAK_PORTAL_RATE set the rates (0 turns a front's traffic off). SOAK_POOL (4,000 policy/DNSBL
 *   addresses) and SOAK_GATE_SOURCES (4,000 gate source addresses, taken in turn) bound the
 *   distinct clients, so that memory is measured at a steady state: each new address costs about
 *   3 KB in the server's per-address caches (a cached verdict, DNS answers, a refusal episode),
 *   which grow towards their bounds (verdicts 100,000, DNS answers 10,000, episodes 10,000) while
 *   new addresses keep coming — growth, but no leak (SOAK_GATE_SOURCES=62500 shows it: ~6 MB of
 *   RSS a minute over ten minutes, every extra object a cached verdict, DNS answer or episode of
 *   one more address, by heap snapshot).
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import dnsPacket from 'dns-packet';
import { freePort, removeDir, startBlockSmith, startDnsServer, stopChild, waitForPort } from '../fronts/support.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_S ?? 10);
const POLICY_RATE = Number(process.env.SOAK_POLICY_RATE ?? 200);
const DNSBL_RATE = Number(process.env.SOAK_DNSBL_RATE ?? 200);
const GATE_RATE = Number(process.env.SOAK_GATE_RATE ?? 10);
const PORTAL_RATE = Number(process.env.SOAK_PORTAL_RATE ?? 20);
const SNAPSHOT_AT = new Set((process.env.SOAK_SNAPSHOT_AT ?? '').split(',').filter((x) => x !== '').map(Number));
// The distinct client addresses: per-address state (verdict, DNS and page caches, refusal
// episodes, listings) grows with them up to its bounds, so a memory question needs them fixed.
const POOL = Number(process.env.SOAK_POOL ?? 4_000);
const GATE_SOURCES = Number(process.env.SOAK_GATE_SOURCES ?? 4_000);
const TIMEOUT_MS = 10_000;
const ZONE = 'soak.blocksmith.test';
const URL_MARK = /https?:\/\//;

/** Latency and outcome counters of one front. */
class Tally {
  count = 0;
  errors = 0;
  readonly firstErrors: string[] = [];
  private readonly latencies: number[] = [];

  ok(ms: number): void {
    this.count++;
    this.latencies.push(ms);
  }

  error(what: string): void {
    this.count++;
    this.errors++;
    if (this.firstErrors.length < 5) this.firstErrors.push(what.slice(0, 200));
  }

  summary(): Record<string, unknown> {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (p: number): number => (sorted.length === 0 ? 0 : round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!));
    return { count: this.count, errors: this.errors, p50Ms: at(50), p99Ms: at(99), maxMs: round(sorted.at(-1) ?? 0), firstErrors: this.firstErrors };
  }
}

const round = (n: number): number => Math.round(n * 1000) / 1000;
const pool = (n: number): string => `10.77.${Math.floor(n / 250)}.${(n % 250) + 1}`;
const reverse = (ip: string): string => ip.split('.').reverse().join('.');
const isEven = (ip: string): boolean => Number(ip.split('.')[3]) % 2 === 0;

// --- the servers -------------------------------------------------------------------------------
const dns = await startDnsServer({ SYNTHETIC_DNS_NO_PTR_EVEN: '1' });
const sink = spawn(process.execPath, [new URL('../gate/sink-server.js', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
const sinkPorts = await new Promise<{ proxyPort: number }>((resolve) => sink.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString().split('\n')[0]!) as { proxyPort: number })));
const dataDir = mkdtempSync(join(tmpdir(), 'bs-soak-'));
const [policyPort, dnsblPort, httpPort, gatePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
const blocksmith = startBlockSmith(
  [
    '--data', dataDir, '--resolver', `127.0.0.1:${dns.port}`, '--bypass', 'none',
    '--policy', `127.0.0.1:${policyPort}`, '--dnsbl', `127.0.0.1:${dnsblPort}`, '--dnsbl-zone', ZONE,
    '--http', `127.0.0.1:${httpPort}`, '--gate', `127.0.0.1:${gatePort}`, '--gate-backend', `127.0.0.1:${sinkPorts.proxyPort}`, '--gate-proxy', 'v2',
  ],
  // One visitor (this process) asks the portal PORTAL_RATE times a second: the per-visitor
  // limits are raised so the pages themselves are soaked, not the limiter.
  {
    BLOCKSMITH_HTTP_READ_LIMIT_COUNT: '100000', BLOCKSMITH_HTTP_RATE_WINDOW_MS: '1000', BLOCKSMITH_DNSBL_RATE_LIMIT_PER_SECOND_COUNT: '0',
    ...(process.env.SOAK_NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.SOAK_NODE_OPTIONS }),
  },
);
const pid = blocksmith.process.pid ?? 0;
await waitForPort(policyPort);
await waitForPort(httpPort);
await waitForPort(gatePort);

// --- policy ------------------------------------------------------------------------------------
const policy = new Tally();
interface PolicyWaiter { readonly ip: string; readonly at: number; readonly timer: NodeJS.Timeout }
function policyConnection(): (ip: string) => void {
  const socket = connect(policyPort, '127.0.0.1');
  const waiting: PolicyWaiter[] = [];
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('error', (e) => policy.error(`socket: ${e.message}`));
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const reply = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const w = waiting.shift();
      if (w === undefined) continue;
      clearTimeout(w.timer);
      const ms = performance.now() - w.at;
      const expected = isEven(w.ip) ? /^action=4\d\d 4\.7\.\d+ .*https?:\/\//.test(reply) : reply === 'action=DUNNO';
      if (expected) policy.ok(ms);
      else policy.error(`${w.ip}: ${reply}`);
    }
  });
  return (ip: string) => {
    const timer = setTimeout(() => policy.error(`${ip}: no answer in ${TIMEOUT_MS} ms`), TIMEOUT_MS);
    waiting.push({ ip, at: performance.now(), timer });
    socket.write(
      `request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=${ip}\nclient_name=unknown\n` +
        `helo_name=mail.example\nsender=a@example.org\nrecipient=user@example.com\ninstance=soak.${policy.count}\n\n`,
    );
  };
}
const policySenders = Array.from({ length: 4 }, policyConnection);

// --- DNSBL -------------------------------------------------------------------------------------
const dnsbl = new Tally();
const dnsblSocket = createSocket('udp4');
const dnsblWaiting = new Map<number, { readonly ip: string; readonly at: number; readonly timer: NodeJS.Timeout }>();
let dnsblId = 0;
dnsblSocket.on('message', (message) => {
  let packet: dnsPacket.Packet;
  try {
    packet = dnsPacket.decode(message);
  } catch (e) {
    dnsbl.error(`undecodable answer: ${(e as Error).message}`);
    return;
  }
  const w = dnsblWaiting.get(packet.id ?? -1);
  if (w === undefined) return;
  dnsblWaiting.delete(packet.id!);
  clearTimeout(w.timer);
  const listed = (packet.answers ?? []).some((a) => a.type === 'A' && /^127\.0\.0\.\d+$/.test(String(a.data)));
  const rcode = (packet.flags ?? 0) & 0x0f; // 0 NOERROR, 3 NXDOMAIN
  if (rcode !== 0 && rcode !== 3) dnsbl.error(`${w.ip}: rcode ${rcode}`);
  else if (listed && !isEven(w.ip)) dnsbl.error(`${w.ip}: a confirmed address is listed`);
  else dnsbl.ok(performance.now() - w.at);
});
function dnsblQuery(ip: string): void {
  const id = (dnsblId = (dnsblId + 1) & 0xffff);
  const timer = setTimeout(() => {
    dnsblWaiting.delete(id);
    dnsbl.error(`${ip}: no answer in ${TIMEOUT_MS} ms`);
  }, TIMEOUT_MS);
  dnsblWaiting.set(id, { ip, at: performance.now(), timer });
  dnsblSocket.send(dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: `${reverse(ip)}.${ZONE}`, type: 'A', class: 'IN' }] }), dnsblPort, '127.0.0.1');
}

// --- gate --------------------------------------------------------------------------------------
const gate = new Tally();
let gateSessions = 0;
const MESSAGE = `Subject: soak\r\n\r\n${'The quick brown fox jumps over the lazy dog.\r\n'.repeat(40)}`;
function gateSession(): void {
  const n = gateSessions++ % GATE_SOURCES;
  const source = `127.9.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
  const started = performance.now();
  const socket: Socket = connect({ port: gatePort, host: '127.0.0.1', localAddress: source });
  let buffer = '';
  let step = 'greeting';
  let done = false;
  /** 'ok', or what went wrong. */
  const finish = (outcome: string): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (outcome === 'ok') gate.ok(performance.now() - started);
    else gate.error(`${source}: ${outcome}`);
    socket.end('QUIT\r\n');
  };
  const timer = setTimeout(() => finish(`no end in ${TIMEOUT_MS} ms at ${step}`), TIMEOUT_MS);
  socket.setEncoding('utf8');
  socket.on('error', (e) => finish(`socket at ${step}: ${e.message}`));
  socket.on('close', () => finish(`closed at ${step}`));
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\r\n')) !== -1) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (line[3] === '-') continue; // a continuation line
      const code = Number(line.slice(0, 3));
      if (code >= 400) {
        // The even (no-PTR) sources must be refused, with the URL; nobody else.
        finish(isEven(source) && URL_MARK.test(line) ? 'ok' : `refused at ${step}: ${line}`);
        return;
      }
      switch (step) {
        case 'greeting': step = 'ehlo'; socket.write('EHLO soak.example\r\n'); break;
        case 'ehlo': step = 'mail'; socket.write('MAIL FROM:<a@example.org>\r\n'); break;
        case 'mail': step = 'rcpt'; socket.write('RCPT TO:<user@example.com>\r\n'); break;
        case 'rcpt': step = 'data'; socket.write('DATA\r\n'); break;
        case 'data': step = 'body'; socket.write(`${MESSAGE}.\r\n`); break;
        case 'body': finish(isEven(source) ? `delivered from a source without PTR: ${line}` : 'ok'); return;
        default: finish(`unexpected ${line}`); return;
      }
    }
  });
}

// --- portal ------------------------------------------------------------------------------------
const portal = new Tally();
let portalN = 0;
async function portalRequest(): Promise<void> {
  const n = portalN++;
  const path = n % 3 === 0 ? '/' : n % 3 === 1 ? `/ip/10.77.0.${2 * (n % 100) + 2}` : '/stats';
  const started = performance.now();
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}${path}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = await response.text();
    if (response.status === 200 && body.includes('</html>')) portal.ok(performance.now() - started);
    else portal.error(`${path}: ${response.status}`);
  } catch (e) {
    portal.error(`${path}: ${(e as Error).message}`);
  }
}

// --- samples -----------------------------------------------------------------------------------
interface Sample { readonly s: number; readonly rssMb: number; readonly heapMb: number; readonly heapTotalMb: number; readonly externalMb: number; readonly handles: number }
const samples: Sample[] = [];
async function sample(s: number): Promise<void> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const metric = (name: string): number => Number(new RegExp(`^blocksmith_${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? 0);
  const mib = (bytes: number): number => round(bytes / 1048576);
  samples.push({
    s,
    rssMb: round(rssKb / 1024),
    heapMb: mib(metric('nodejs_heap_size_used_bytes')),
    heapTotalMb: mib(metric('nodejs_heap_size_total_bytes')),
    externalMb: mib(metric('nodejs_external_memory_bytes')),
    handles: metric('nodejs_active_handles_total'),
  });
}

// --- the run: one tick a second, each front's share spread over it -----------------------------
const spread = (count: number, job: () => void): void => {
  for (let i = 0; i < count; i++) setTimeout(job, Math.floor((i * 1000) / count));
};
let policyN = 0;
let dnsblN = 0;
const startedAt = Date.now();
await sample(0);
for (let second = 1; second <= SECONDS; second++) {
  // New addresses keep coming during the first minute (cold checks, new listings), then all are known.
  const reach = Math.min(POOL, 200 + second * 64); // the whole pool by the first minute's end
  spread(POLICY_RATE, () => policySenders[policyN % 4]!(pool(policyN++ % reach)));
  spread(DNSBL_RATE, () => dnsblQuery(pool(dnsblN++ % reach)));
  spread(GATE_RATE, gateSession);
  spread(PORTAL_RATE, () => void portalRequest());
  await new Promise((r) => setTimeout(r, startedAt + second * 1000 - Date.now()));
  if (second % SAMPLE_S === 0) await sample(second);
  if (SNAPSHOT_AT.has(second)) process.kill(pid, 'SIGUSR2');
}
await new Promise((r) => setTimeout(r, 3_000)); // the last answers

const minute = (from: number, to: number): Sample[] => samples.filter((x) => x.s > from && x.s <= to);
const avg = (xs: Sample[], key: 'rssMb' | 'heapMb'): number => round(xs.reduce((a, x) => a + x[key], 0) / Math.max(1, xs.length));
const early = minute(60, 120);
const late = minute(SECONDS - 60, SECONDS);
const flat = (key: 'rssMb' | 'heapMb'): boolean => avg(late, key) <= avg(early, key) * 1.1 + 8;
const result = {
  seconds: SECONDS,
  rates: { policy: POLICY_RATE, dnsbl: DNSBL_RATE, gate: GATE_RATE, portal: PORTAL_RATE },
  policy: policy.summary(),
  dnsbl: dnsbl.summary(),
  gate: gate.summary(),
  portal: portal.summary(),
  memory: { secondMinute: { rssMb: avg(early, 'rssMb'), heapMb: avg(early, 'heapMb') }, lastMinute: { rssMb: avg(late, 'rssMb'), heapMb: avg(late, 'heapMb') }, flatRss: flat('rssMb'), flatHeap: flat('heapMb') },
  samples,
};
console.log(JSON.stringify(result));

await blocksmith.stop();
dns.stop();
await stopChild(sink);
dnsblSocket.close();
removeDir(dataDir);
const errors = policy.errors + dnsbl.errors + gate.errors + portal.errors;
process.exit(errors === 0 && SECONDS >= 120 && result.memory.flatRss && result.memory.flatHeap ? 0 : 1);
