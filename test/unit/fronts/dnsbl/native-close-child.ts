/**
 * Child process of native-udp.test.ts ("close() under load"): a DnsblServer on the native UDP
 * path answers a flood from a dgram client; it is closed while the flood runs; then a bare
 * BatchUdpSocket is closed from inside its own batch callback. Prints a JSON report and must
 * then exit by itself: a handle left open would keep it alive and the test would time out.
 */
import dgram from 'node:dgram';
import { configSchema } from '../../../../src/config/schema.js';
import { BatchUdpSocket, loadUdpBatch } from '../../../../src/fronts/dnsbl/batch-udp.js';
import { zoneInfo } from '../../../../src/fronts/dnsbl/names.js';
import { Responder } from '../../../../src/fronts/dnsbl/responder.js';
import { DnsblServer } from '../../../../src/fronts/dnsbl/server.js';
import type { ListingView } from '../../../../src/fronts/dnsbl/view.js';
import { noMetrics } from '../../../../src/metrics/types.js';
import { silentLogger } from '../../../../src/util/log.js';
import { query } from './helpers.js';

const ZONE = 'bl.example.test';
const config = configSchema.parse({ dnsbl: { listen: ['127.0.0.1:0'], zone: ZONE, udpEngine: 'native', rateLimitPerSecondCount: 0 } });
// Apex SOA queries only: the listing view is never asked.
const responder = new Responder({ zone: zoneInfo(config.dnsbl), view: {} as ListingView, config: config.dnsbl, metrics: noMetrics });
const server = new DnsblServer({ responder, config: config.dnsbl, logger: silentLogger, metrics: noMetrics });
const endpoints = await server.listen([{ host: '127.0.0.1', port: 0 }]);
const port = Number(/:(\d+)$/.exec(endpoints[0] ?? '')?.[1]);

const flood = dgram.createSocket('udp4');
let answered = 0;
flood.on('message', () => (answered += 1));
await new Promise<void>((resolve) => flood.bind(0, '127.0.0.1', resolve));
const message = query(ZONE, 'SOA', { id: 4242 });
let flooding = true;
const pump = (): void => {
  if (!flooding) return;
  for (let i = 0; i < 50; i++) flood.send(message, port, '127.0.0.1');
  setImmediate(pump);
};
pump();
while (answered < 300) await new Promise((r) => setTimeout(r, 5));
const answeredBeforeClose = answered;
await server.close();
// The port is free as soon as close() resolved.
const probe = dgram.createSocket('udp4');
const rebound = await new Promise<boolean>((resolve) => {
  probe.once('error', () => resolve(false));
  probe.bind(port, '127.0.0.1', () => resolve(true));
});
probe.close();
await new Promise((r) => setTimeout(r, 100));
flooding = false;
flood.close();

// close() from inside the batch callback: no more callbacks, nothing sent, no crash.
const addon = loadUdpBatch();
if (addon === undefined) throw new Error('the addon does not load');
let batches = 0;
const inner = BatchUdpSocket.open(addon, '127.0.0.1', 0, { inSlotBytes: 513, outSlotBytes: 512 }, (socket, n) => {
  batches += 1;
  for (let i = 0; i < n; i++) socket.outLens[i] = 12;
  socket.close();
});
const sender = dgram.createSocket('udp4');
await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
for (let i = 0; i < 10; i++) sender.send(message, inner.port, '127.0.0.1');
await new Promise((r) => setTimeout(r, 200));
sender.close();
const closedInBatch = batches === 1;

process.stdout.write(`${JSON.stringify({ engine: server.udpEngine, answeredBeforeClose, rebound, closedInBatch })}\n`);
