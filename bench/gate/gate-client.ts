/**
 * NAME
 *   bench/gate/gate-client - the load generator of bench/gate, run in its own process
 *
 * SYNOPSIS
 *   node gate-client.js '{"mode":"refuse","port":N,"ips":[...],"concurrency":50,"durationMs":5000}'
 *   node gate-client.js '{"mode":"hold","port":N,"ips":[...],"count":5000,"holdMs":3000}'
 *   node gate-client.js '{"mode":"transfer","port":N,"ip":"127.1.0.1","bytes":10485760,"rcpt":"bob@example.com"}'
 *
 * DESCRIPTION
 *   refuse: `concurrency` loops, each connecting from the next address of `ips` (localAddress),
 *     reading the server's first reply (to its last line) and closing; latency is from connect()
 *     to that reply. Stops after `durationMs` (or `maxConnections`). Prints rate, p50/p99 and the
 *     reply codes seen.
 *   hold: opens `count` connections (at most 200 connecting at once), each from the next address,
 *     waits for every greeting, prints `{"phase":"held",...}`, holds them all `holdMs`, closes
 *     them and prints the summary. Nothing is sent: they are idle SMTP sessions.
 *   transfer: one SMTP session (EHLO, MAIL, RCPT, DATA) carrying a `bytes`-long message of
 *     998-byte lines; the rate is over DATA's 354 → the 250 after the dot.
 *   The last line printed is the JSON result.
 */
import { connect, type Socket } from 'node:net';

interface Args {
  readonly mode: 'refuse' | 'hold' | 'transfer';
  readonly port: number;
  readonly ips?: readonly string[];
  readonly ip?: string;
  readonly concurrency?: number;
  readonly durationMs?: number;
  readonly maxConnections?: number;
  readonly count?: number;
  readonly holdMs?: number;
  readonly bytes?: number;
  readonly rcpt?: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Resolves with the first complete reply ("NNN text" line, after any "NNN-" lines), or rejects. */
function firstReply(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const lines = text.split('\r\n');
      for (const line of lines.slice(0, -1)) {
        if (/^\d{3}( |$)/.test(line)) {
          socket.off('data', onData);
          resolve(text);
          return;
        }
      }
      if (text.length > 65_536) reject(new Error('reply too long'));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed before a reply (${JSON.stringify(text.slice(0, 80))})`)));
  });
}

async function refuse(): Promise<void> {
  const ips = args.ips ?? ['127.0.0.1'];
  const until = performance.now() + (args.durationMs ?? 5_000);
  const max = args.maxConnections ?? Infinity;
  const latencies: number[] = [];
  const codes: Record<string, number> = {};
  let next = 0;
  let started = 0;
  let errors = 0;
  let firstError = '';
  const t0 = performance.now();
  const loop = async (): Promise<void> => {
    while (performance.now() < until && started < max) {
      started++;
      const ip = ips[next++ % ips.length]!;
      const begin = performance.now();
      const socket = connect({ port: args.port, host: '127.0.0.1', localAddress: ip });
      try {
        const reply = await firstReply(socket);
        latencies.push(performance.now() - begin);
        const code = reply.slice(0, 3);
        codes[code] = (codes[code] ?? 0) + 1;
      } catch (error) {
        errors++;
        if (firstError === '') firstError = (error as Error).message;
      } finally {
        socket.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency ?? 50 }, loop));
  const seconds = (performance.now() - t0) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  console.log(JSON.stringify({
    connections: latencies.length,
    seconds: round3(seconds),
    rate: Math.round(latencies.length / seconds),
    p50Ms: round3(percentile(sorted, 0.5)),
    p99Ms: round3(percentile(sorted, 0.99)),
    maxMs: round3(sorted[sorted.length - 1] ?? NaN),
    codes,
    errors,
    firstError,
  }));
}

async function hold(): Promise<void> {
  const ips = args.ips ?? ['127.0.0.1'];
  const count = args.count ?? 5_000;
  const sockets: Socket[] = [];
  const codes: Record<string, number> = {};
  let errors = 0;
  let firstError = '';
  let next = 0;
  let closedEarly = 0;
  const t0 = performance.now();
  const opener = async (): Promise<void> => {
    while (next < count) {
      const ip = ips[next++ % ips.length]!;
      const socket = connect({ port: args.port, host: '127.0.0.1', localAddress: ip });
      try {
        const reply = await firstReply(socket);
        const code = reply.slice(0, 3);
        codes[code] = (codes[code] ?? 0) + 1;
        socket.on('error', () => undefined);
        socket.once('close', () => closedEarly++);
        sockets.push(socket);
      } catch (error) {
        errors++;
        if (firstError === '') firstError = (error as Error).message;
        socket.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: 200 }, opener));
  const openSeconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ phase: 'held', held: sockets.length, codes, errors, firstError, openSeconds: round3(openSeconds) }));
  await new Promise((r) => setTimeout(r, args.holdMs ?? 3_000));
  const stillOpen = sockets.length - closedEarly;
  for (const s of sockets) s.destroy();
  console.log(JSON.stringify({ held: sockets.length, stillOpenAtEnd: stillOpen, codes, errors, firstError, openSeconds: round3(openSeconds) }));
}

async function transfer(): Promise<void> {
  const bytes = args.bytes ?? 10 * 1024 * 1024;
  const socket = connect({ port: args.port, host: '127.0.0.1', ...(args.ip !== undefined ? { localAddress: args.ip } : {}) });
  socket.setNoDelay(true);
  const expect = async (code: string): Promise<void> => {
    const reply = await firstReply(socket);
    const last = reply.trimEnd().split('\r\n').pop() ?? '';
    if (!last.startsWith(code)) throw new Error(`expected ${code}, got ${JSON.stringify(reply.slice(0, 200))}`);
  };
  const t0 = performance.now();
  await expect('220');
  socket.write('EHLO client.bench.test\r\n');
  await expect('250');
  socket.write('MAIL FROM:<sender@bench.test>\r\n');
  await expect('250');
  socket.write(`RCPT TO:<${args.rcpt ?? 'rcpt@bench.test'}>\r\n`);
  await expect('250');
  socket.write('DATA\r\n');
  await expect('354');
  // The message: 998 octets of text and CRLF per line (RFC 5321's limit), in 1 MB writes.
  const line = Buffer.from(`${'x'.repeat(998)}\r\n`, 'latin1');
  const lines = Math.floor(bytes / line.length);
  const body = Buffer.alloc(lines * line.length);
  for (let i = 0; i < lines; i++) line.copy(body, i * line.length);
  const t1 = performance.now();
  const done = expect('250');
  for (let off = 0; off < body.length; off += 1_048_576) {
    if (!socket.write(body.subarray(off, Math.min(body.length, off + 1_048_576)))) await new Promise((r) => socket.once('drain', r));
  }
  socket.write('.\r\n');
  await done;
  const t2 = performance.now();
  socket.write('QUIT\r\n');
  await expect('221').catch(() => undefined);
  socket.destroy();
  const seconds = (t2 - t1) / 1000;
  console.log(JSON.stringify({ bytes: body.length, dataSeconds: round3(seconds), mbPerSecond: round3(body.length / 1_048_576 / seconds), sessionSeconds: round3((t2 - t0) / 1000) }));
}

await (args.mode === 'refuse' ? refuse() : args.mode === 'hold' ? hold() : transfer());
