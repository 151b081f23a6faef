/**
 * NAME
 *   bench/fronts/policy-client - a Postfix-like policy load generator, run as its own process
 *
 * SYNOPSIS
 *   node dist-bench/bench/fronts/policy-client.js '{"port":10057,"connections":100,"durationMs":5000,"ips":[...]}'
 *
 * DESCRIPTION
 *   Opens `connections` TCP connections and, on each, does what a Postfix smtpd process does:
 *   one request, wait for its `action=…` reply (ended by an empty line), the next request. The
 *   client addresses cycle through `ips`. Latency is from the write of a request to the end of
 *   its reply, kept in 10 µs buckets up to 1 s (a histogram: no per-request allocation). Prints
 *   one JSON line: requests, seconds, rate, p50/p99/max in ms, replies by action prefix.
 */
import { connect, type Socket } from 'node:net';

interface Options {
  readonly host?: string;
  readonly port: number;
  readonly connections: number;
  readonly durationMs: number;
  readonly ips: readonly string[];
  /** Stop after this many requests have been sent (warm-up: every address once), or at durationMs. */
  readonly maxRequests?: number;
}

const BUCKET_US = 10;
const BUCKETS = 100_000; // 1 s
const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const histogram = new Uint32Array(BUCKETS + 1);
const actions = new Map<string, number>();
let completed = 0;
let nextIp = 0;
let stopping = false;
let maxNs = 0n;

function request(ip: string): string {
  return (
    'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n' +
    `client_address=${ip}\nclient_name=unknown\nreverse_client_name=unknown\nhelo_name=mail.example.net\n` +
    'sender=bounce@example.net\nrecipient=user@example.org\nrecipient_count=0\nqueue_id=\ninstance=123.456.789.0\n' +
    'size=0\netrn_domain=\nstress=\nsasl_method=\nsasl_username=\nsasl_sender=\nccert_subject=\nccert_issuer=\n' +
    'ccert_fingerprint=\nencryption_protocol=\nencryption_cipher=\nencryption_keysize=0\n\n'
  );
}

function run(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let sentAt = 0n;
    const send = (): void => {
      if (stopping || (options.maxRequests !== undefined && nextIp >= options.maxRequests)) {
        socket.end();
        resolve();
        return;
      }
      const ip = options.ips[nextIp++ % options.ips.length]!;
      sentAt = process.hrtime.bigint();
      socket.write(request(ip));
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n\n');
      if (end === -1) return;
      const reply = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const ns = process.hrtime.bigint() - sentAt;
      if (ns > maxNs) maxNs = ns;
      histogram[Math.min(BUCKETS, Number(ns / 1000n) / BUCKET_US | 0)]!++;
      const kind = reply.slice(7, 12).trim();
      actions.set(kind, (actions.get(kind) ?? 0) + 1);
      completed++;
      send();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
    send();
  });
}

function percentile(p: number): number {
  const target = Math.ceil((p / 100) * completed);
  let seen = 0;
  for (let i = 0; i <= BUCKETS; i++) {
    seen += histogram[i]!;
    if (seen >= target) return ((i + 1) * BUCKET_US) / 1000;
  }
  return Number.NaN;
}

const sockets = await Promise.all(
  Array.from(
    { length: options.connections },
    () =>
      new Promise<Socket>((resolve, reject) => {
        const s = connect(options.port, options.host ?? '127.0.0.1', () => resolve(s));
        s.setNoDelay(true);
        s.once('error', reject);
      }),
  ),
);
const started = process.hrtime.bigint();
const stop = setTimeout(() => (stopping = true), options.durationMs);
// A connection still waiting for a reply long after the end is cut (a server that never
// answers must not hang the benchmark); its request is not counted.
const cut = setTimeout(() => sockets.forEach((s) => s.destroy()), options.durationMs + 5_000);
await Promise.all(sockets.map(run));
clearTimeout(cut);
clearTimeout(stop); // a warm-up ends at maxRequests, long before durationMs
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(
  `${JSON.stringify({
    requests: completed,
    seconds: Math.round(seconds * 1000) / 1000,
    rate: Math.round(completed / seconds),
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    maxMs: Number(maxNs / 1000n) / 1000,
    actions: Object.fromEntries(actions),
  })}\n`,
);
