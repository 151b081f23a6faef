/**
 * NAME
 *   bench/firewall/arrivals - decisions asked for from outside, at a steady rate, over TCP
 *
 * SYNOPSIS
 *   node arrivals.js <port> <per-second> <milliseconds>
 *
 * DESCRIPTION
 *   For bench/firewall/run.ts section 2, run as its own process so that the asking does not
 *   share the event loop being measured, and so that nothing in the measured process spins:
 *   it waits in epoll, as a server does. Connects to 127.0.0.1:<port> (no Nagle) and, every
 *   millisecond or so, writes the records that are due: 12 bytes each, the sequence number
 *   (uint32 LE) and the time of sending (float64 LE, performance.timeOrigin + performance.now(),
 *   in ms: the same clock as the receiver's). TCP, not UDP: while the receiver's event loop is
 *   held by a synchronous store write, nothing is dropped, it queues, and the wait is measured.
 *   Prints `{"sent":N}` and exits when done.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { RECORD_BYTES } from './support.js';

const [port, perSecond, ms] = process.argv.slice(2).map(Number) as [number, number, number];
const socket = connect({ port, host: '127.0.0.1', noDelay: true });
await new Promise<void>((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('error', reject);
});
const start = performance.now();
let sent = 0;
for (;;) {
  const now = performance.now();
  if (now - start >= ms) break;
  const due = Math.floor(((now - start) * perSecond) / 1000);
  if (due > sent) {
    const chunk = Buffer.allocUnsafe((due - sent) * RECORD_BYTES);
    for (let at = 0; sent < due; sent++, at += RECORD_BYTES) {
      chunk.writeUInt32LE(sent, at);
      chunk.writeDoubleLE(performance.timeOrigin + performance.now(), at + 4);
    }
    socket.write(chunk);
  }
  await sleep(1);
}
await new Promise<void>((resolve) => socket.end(resolve));
process.stdout.write(JSON.stringify({ sent }) + '\n');
