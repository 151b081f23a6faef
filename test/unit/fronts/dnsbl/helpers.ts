/**
 * Shared set-up of the DNSBL front tests: the front on loopback over a real Firewall
 * (test/unit/firewall/helpers.ts: SQLite store, real checker, the in-process DNS test server),
 * metrics that keep their events, and a small DNS client (dns-packet) over real UDP and TCP
 * sockets.
 */
import dgram from 'node:dgram';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet, Question } from 'dns-packet';
import { configSchema, type Config } from '../../../../src/config/schema.js';
import { loadUdpBatchAddon } from '../../../../src/fronts/dnsbl/batch-udp.js';
import { startDnsblFront } from '../../../../src/fronts/dnsbl/index.js';
import type { RunningFront } from '../../../../src/fronts/types.js';
import type { Metrics } from '../../../../src/metrics/types.js';
import { createLogger, type Logger } from '../../../../src/util/log.js';
import type { Env } from '../../firewall/helpers.js';

export const ZONE_NAME = 'bl.example.test';
export const PORTAL = 'https://portal.example.test';
export const ORG = 'Example Org';

export interface Running {
  readonly front: RunningFront;
  readonly config: Config;
  /** Front events counted, in order (`dnsbl:<event>`). */
  readonly events: string[];
  readonly port: number;
  /** The UDP engine the front logged (UDP-ENGINE): tests fail if the native path fell back to dgram. */
  readonly udpEngine: string | undefined;
}

/** The UDP engines the UDP tests run against (dnsbl.udpEngine). */
export const UDP_ENGINES = ['native', 'dgram'] as const;
export type UdpEngineName = (typeof UDP_ENGINES)[number];

/**
 * NATIVE_SKIP - false where the native UDP path must be tested: it is built, or this is CI (where a
 * failed build must fail its tests, not skip them: .ci/run fails on any skip). On a machine
 * without a C compiler, outside CI, the native tests are skipped with the reason.
 */
const nativeLoad = loadUdpBatchAddon();
export const NATIVE_SKIP: string | false = nativeLoad.addon === undefined && process.env.CI !== 'true' ? `the native UDP path is not built here: ${nativeLoad.why}` : false;

/** skipFor - the node:test skip option for suites on `engine`. */
export function skipFor(engine: UdpEngineName): string | false {
  return engine === 'native' ? NATIVE_SKIP : false;
}

/** recordingLogger - a real logger (info) whose JSON lines are kept in `lines`, parsed. */
export function recordingLogger(lines: Record<string, unknown>[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return createLogger('info', sink);
}

export function recordingMetrics(events: string[]): Metrics {
  return {
    contentType: 'text/plain',
    render: () => Promise.resolve(''),
    frontEvent: (front, event) => {
      events.push(`${front}:${event}`);
    },
  };
}

/** The firewall settings both the env and the front's config use (TXT text). */
export const FIREWALL = { portalUrl: PORTAL, organisation: { name: ORG } } as const;

export async function startFront(env: Env, dnsbl: Record<string, unknown> = {}, firewall: Record<string, unknown> = FIREWALL): Promise<Running> {
  const events: string[] = [];
  const config = configSchema.parse({ firewall, dnsbl: { listen: ['127.0.0.1:0'], zone: ZONE_NAME, ...dnsbl } });
  const lines: Record<string, unknown>[] = [];
  const front = await startDnsblFront({ config, firewall: env.firewall, logger: recordingLogger(lines), metrics: recordingMetrics(events) });
  if (front === undefined) throw new Error('the dnsbl front did not start');
  const udp = front.endpoints.find((e) => e.startsWith('udp://'));
  const port = Number(/:(\d+)$/.exec(udp ?? '')?.[1]);
  // pino writes through a stream: the UDP-ENGINE line is there once the event loop has turned.
  await new Promise((r) => setImmediate(r));
  const engineLine = lines.find((l) => l.event === 'UDP-ENGINE');
  return { front, config, events, port, udpEngine: typeof engineLine?.engine === 'string' ? engineLine.engine : undefined };
}

let nextId = 1;

/** query - a query message; `edns` adds an OPT record. */
export function query(name: string, type: Question['type'] = 'A', options: { id?: number; edns?: boolean } = {}): Buffer {
  const packet: Packet = {
    type: 'query',
    id: options.id ?? (nextId = (nextId % 65_535) + 1),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
  };
  if (options.edns === true) packet.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
  return dnsPacket.encode(packet);
}

/** udp - send datagrams from one socket; every reply received within `waitMs` of the last send. */
export async function udpExchange(port: number, messages: readonly Buffer[], waitMs = 400): Promise<Buffer[]> {
  const socket = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  for (const m of messages) socket.send(m, port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, waitMs));
  socket.close();
  return replies;
}

/** ask - one query over UDP, its decoded reply (fails when none comes within 2 s). */
export async function ask(port: number, message: Buffer): Promise<DecodedPacket> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<DecodedPacket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP reply')), 2_000);
      socket.on('message', (m) => {
        clearTimeout(timer);
        resolve(dnsPacket.decode(m));
      });
      socket.send(message, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

/** frame - a message with its TCP length prefix. */
export function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length, 0);
  return Buffer.concat([prefix, message]);
}

/**
 * tcpExchange - connect, write each chunk (with `gapMs` between them), read framed replies
 * until `expect` of them arrived or the server closed; returns them and whether it closed.
 */
export async function tcpExchange(
  port: number,
  chunks: readonly Buffer[],
  expect: number,
  gapMs = 0,
): Promise<{ replies: DecodedPacket[]; closed: boolean }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let buffer = Buffer.alloc(0);
  const replies: DecodedPacket[] = [];
  let closed = false;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3_000);
    const finish = (): void => {
      clearTimeout(timer);
      resolve();
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        const len = buffer.readUInt16BE(0);
        replies.push(dnsPacket.decode(buffer.subarray(2, 2 + len)));
        buffer = buffer.subarray(2 + len);
      }
      if (replies.length >= expect) finish();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  for (const c of chunks) {
    socket.write(c);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  await done;
  socket.destroy();
  return { replies, closed };
}

/** The A data of a reply's answers. */
export function aValues(reply: DecodedPacket): string[] {
  return (reply.answers ?? []).flatMap((a) => (a.type === 'A' ? [a.data] : []));
}

/** The TXT text of a reply's answers (strings joined as MTAs join them). */
export function txtValues(reply: DecodedPacket): string[] {
  return (reply.answers ?? []).flatMap((a) => {
    if (a.type !== 'TXT') return [];
    const data = a.data;
    return [(Array.isArray(data) ? data : [data]).map((d) => d.toString()).join('')];
  });
}
