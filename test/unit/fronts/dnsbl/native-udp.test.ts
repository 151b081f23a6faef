/**
 * The native UDP path of the DNSBL front (native/udp-batch, src/fronts/dnsbl/batch-udp.ts):
 * batches of datagrams from several clients, IPv6, the size cap, the rate limiter keyed from the
 * peer's octets, dnsbl.udpEngine, and close() under load leaving no handle open. Real sockets on
 * loopback, a real Firewall. Every test asserts the native engine is the one serving: none may
 * pass on a silent fallback to dgram. (The front's other UDP tests run on both engines in
 * dnsbl.test.ts.)
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { configSchema } from '../../../../src/config/schema.js';
import { loadUdpBatchAddon } from '../../../../src/fronts/dnsbl/batch-udp.js';
import { dnsblName, zoneInfo } from '../../../../src/fronts/dnsbl/names.js';
import { networkKey, networkKeyOfBytes } from '../../../../src/fronts/dnsbl/rate-limit.js';
import { Responder } from '../../../../src/fronts/dnsbl/responder.js';
import { chooseUdpEngine, DnsblServer } from '../../../../src/fronts/dnsbl/server.js';
import { ListingView } from '../../../../src/fronts/dnsbl/view.js';
import { normaliseAddress } from '../../../../src/check/address.js';
import { rcodeOf } from '../../../../src/dns/transport.js';
import { IP, useHarness, type Env } from '../../firewall/helpers.js';
import { aValues, FIREWALL, NATIVE_SKIP, query, recordingLogger, recordingMetrics, ZONE_NAME } from './helpers.js';

const h = useHarness('sqlite');

interface Direct {
  readonly env: Env;
  readonly server: DnsblServer;
  readonly port: number;
  readonly events: string[];
  readonly logs: Record<string, unknown>[];
}

/** start - a DnsblServer built as fronts/dnsbl/index.ts builds it, kept at hand for its counters. */
async function start(t: TestContext, dnsbl: Record<string, unknown> = {}, host = '127.0.0.1'): Promise<Direct> {
  const env = await h.env({ firewall: FIREWALL });
  const config = configSchema.parse({ firewall: FIREWALL, dnsbl: { listen: [`${host.includes(':') ? `[${host}]` : host}:0`], zone: ZONE_NAME, udpEngine: 'native', ...dnsbl } });
  const events: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const metrics = recordingMetrics(events);
  const responder = new Responder({ zone: zoneInfo(config.dnsbl), view: new ListingView({ firewall: env.firewall, config }), config: config.dnsbl, metrics });
  const server = new DnsblServer({ responder, config: config.dnsbl, logger: recordingLogger(logs), metrics });
  const endpoints = await server.listen([{ host, port: 0 }]);
  t.after(async () => {
    responder.stop();
    await server.close();
  });
  assert.equal(server.udpEngine, 'native', 'the native UDP path serves (no fallback to dgram)');
  assert.equal(server.nativeSockets.length, 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(logs.find((l) => l.event === 'UDP-ENGINE')?.engine, 'native');
  const port = Number(/:(\d+)$/.exec(endpoints[0] ?? '')?.[1]);
  return { env, server, port, events, logs };
}

/** collect - bind a client socket of `type`, gather what it receives. */
async function client(type: 'udp4' | 'udp6'): Promise<{ socket: dgram.Socket; replies: Buffer[] }> {
  const socket = dgram.createSocket(type);
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((resolve) => socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
  return { socket, replies };
}

async function until(what: string, ok: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('dnsbl native UDP: the addon and dnsbl.udpEngine', () => {
  test('the addon is built and loads here (the native tests never pass on dgram)', { skip: NATIVE_SKIP }, () => {
    const load = loadUdpBatchAddon();
    assert.ok(load.addon !== undefined, load.addon === undefined ? load.why : '');
  });

  test('auto takes native when built; dgram when asked; native when not built is a start-up error naming the key', { skip: NATIVE_SKIP }, () => {
    assert.equal(chooseUdpEngine('auto').engine, 'native');
    assert.equal(chooseUdpEngine('native').engine, 'native');
    assert.equal(chooseUdpEngine('dgram').engine, 'dgram');
    const missing = () => ({ addon: undefined, why: 'not built (test)' }) as const;
    assert.equal(chooseUdpEngine('auto', missing).engine, 'dgram');
    assert.throws(() => chooseUdpEngine('native', missing), (err: Error & { code?: string }) => err.code === 'BS_ERR_CONFIG_INVALID' && /dnsbl\.udpEngine/.test(err.message) && /not built \(test\)/.test(err.message));
  });

  test('a bad udpEngine value is a configuration error', () => {
    assert.throws(() => configSchema.parse({ dnsbl: { udpEngine: 'fast' } }));
    assert.equal(configSchema.parse({}).dnsbl.udpEngine, 'auto');
  });

  test('networkKeyOfBytes gives networkKey of the same address (IPv4, IPv6, IPv4-mapped)', () => {
    for (const ip of ['192.0.2.77', '2001:db8:1234:5678::1', '::ffff:198.51.100.9', '::1']) {
      const bytes = normaliseAddress(ip.startsWith('::ffff:') ? '::' : ip).bytes;
      // The mapped address as the kernel gives it: 16 octets, ::ffff:a.b.c.d.
      const octets = ip.startsWith('::ffff:') ? Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 198, 51, 100, 9]) : bytes;
      const padded = new Uint8Array(octets.length + 7);
      padded.set(octets, 7);
      assert.equal(networkKeyOfBytes(padded, 7, octets.length, 24, 56), networkKey(ip, 24, 56), ip);
      assert.equal(networkKeyOfBytes(padded, 7, octets.length, 32, 128), networkKey(ip, 32, 128), ip);
    }
  });
});

describe('dnsbl native UDP: serving', { skip: NATIVE_SKIP }, () => {
  test('96 queries from 4 client sockets, sent at once, are all answered right, read in batches', async (t) => {
    const { env, server, port } = await start(t, { rateLimitPerSecondCount: 0 });
    await env.firewall.list('198.51.100.77', 'spam run', 'cli:test');
    const clients = await Promise.all([0, 1, 2, 3].map(() => client('udp4')));
    const expected = new Map<number, string[]>();
    let id = 100;
    // All sent before the loop turns: the server finds them queued together.
    // 96 small datagrams stay well inside the default receive buffer (net.core.rmem_default).
    for (let round = 0; round < 24; round++) {
      for (const c of clients) {
        id += 1;
        const listed = id % 2 === 0;
        expected.set(id, listed ? ['127.0.0.4'] : []);
        c.socket.send(query(dnsblName(listed ? '198.51.100.77' : '198.51.100.78', ZONE_NAME), 'A', { id }), port, '127.0.0.1');
      }
    }
    try {
      await until('96 replies', () => clients.reduce((n, c) => n + c.replies.length, 0) >= 96);
      const seen = new Set<number>();
      for (const c of clients) {
        assert.equal(c.replies.length, 24, 'each client gets its own 24 answers back');
        for (const raw of c.replies) {
          const reply = dnsPacket.decode(raw);
          assert.ok(expected.has(reply.id ?? -1), `reply id ${reply.id}`);
          assert.ok(!seen.has(reply.id ?? -1), 'one reply per query');
          seen.add(reply.id ?? -1);
          assert.deepEqual(aValues(reply), expected.get(reply.id ?? -1));
          assert.equal(rcodeOf(reply), expected.get(reply.id ?? -1)?.length === 0 ? 'NXDOMAIN' : 'NOERROR');
        }
      }
      const stats = server.nativeSockets[0]?.stats();
      assert.ok(stats !== undefined);
      assert.equal(stats.received, 96);
      assert.equal(stats.sent, 96);
      assert.equal(stats.sendErrors, 0);
      // All were queued before the loop turned: 64 + 32 (a few more only if the kernel were slow).
      assert.ok(stats.batches <= 4, `read in batches (${stats.batches} recvmmsg calls for 96 datagrams)`);
    } finally {
      for (const c of clients) c.socket.close();
    }
  });

  test('IPv6 loopback: answered, and the rate limiter (keyed from the peer octets) slips and drops', async (t) => {
    const { port, events } = await start(t, { rateLimitPerSecondCount: 1, rateLimitBurstCount: 2, rateLimitSlipCount: 2 }, '::1');
    const c = await client('udp6');
    try {
      for (let i = 0; i < 6; i++) c.socket.send(query(dnsblName('127.0.0.2', ZONE_NAME), 'A', { id: 500 + i }), port, '::1');
      await until('4 replies', () => c.replies.length >= 4);
      await new Promise((r) => setTimeout(r, 100));
      const replies = c.replies.map((m) => dnsPacket.decode(m));
      assert.equal(replies.filter((r) => !r.flag_tc).length, 2);
      for (const r of replies.filter((x) => !x.flag_tc)) assert.deepEqual(aValues(r), ['127.0.0.2']);
      assert.equal(replies.filter((r) => r.flag_tc).length, 2, 'of the 4 over the limit, every 2nd slipped');
      assert.equal(events.filter((e) => e === 'dnsbl:rate-limited-drop').length, 2);
      assert.equal(events.filter((e) => e === 'dnsbl:rate-limited-slip').length, 2);
    } finally {
      c.socket.close();
    }
  });

  test('a datagram over maxQueryBytes is dropped (one octet over, and far over the slot); the next is answered', async (t) => {
    const { port, events, server } = await start(t, { maxQueryBytes: 512 });
    const c = await client('udp4');
    try {
      const base = query(dnsblName('127.0.0.2', ZONE_NAME), 'A', { id: 700 });
      const justOver = Buffer.concat([base, Buffer.alloc(513 - base.length)]);
      const exact = Buffer.concat([query(dnsblName('127.0.0.2', ZONE_NAME), 'A', { id: 701 }), Buffer.alloc(512 - base.length)]);
      c.socket.send(justOver, port, '127.0.0.1');
      c.socket.send(Buffer.alloc(9000, 1), port, '127.0.0.1');
      c.socket.send(exact, port, '127.0.0.1');
      c.socket.send(query(dnsblName('127.0.0.2', ZONE_NAME), 'A', { id: 702 }), port, '127.0.0.1');
      await until('2 replies', () => c.replies.length >= 2);
      await new Promise((r) => setTimeout(r, 100));
      // 512 octets exactly is accepted (trailing bytes after the question are ignored).
      assert.deepEqual(c.replies.map((m) => dnsPacket.decode(m).id).sort(), [701, 702]);
      assert.equal(events.filter((e) => e === 'dnsbl:oversize').length, 2);
      assert.equal(server.nativeSockets[0]?.stats().received, 4);
    } finally {
      c.socket.close();
    }
  });

  test('1,000 random datagrams (0-700 octets, some made from a query) neither crash nor stop it; no BUG logged', async (t) => {
    const { port, logs } = await start(t, { maxQueryBytes: 600, rateLimitPerSecondCount: 0 });
    const c = await client('udp4');
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) >>> 0;
      return seed / 2 ** 32;
    };
    const valid = query(dnsblName('127.0.0.2', ZONE_NAME), 'A', { id: 1 });
    try {
      for (let burst = 0; burst < 10; burst++) {
        for (let i = 0; i < 100; i++) {
          const bytes = random() < 0.5 ? Buffer.from(valid) : Buffer.alloc(Math.floor(random() * 700));
          for (let j = 0; j < bytes.length; j++) if (random() < 0.1) bytes[j] = Math.floor(random() * 256);
          c.socket.send(bytes, port, '127.0.0.1');
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 200));
      const before = c.replies.length;
      c.socket.send(query(dnsblName('127.0.0.2', ZONE_NAME), 'A', { id: 999 }), port, '127.0.0.1');
      await until('the reply to a good query after the noise', () => c.replies.length > before && c.replies.some((m) => m.length >= 2 && m.readUInt16BE(0) === 999));
      assert.equal(logs.filter((l) => l.event === 'BUG').length, 0);
    } finally {
      c.socket.close();
    }
  });

  test('live mode: a reply that comes later goes out through sendTo, to the right client', async (t) => {
    const { port, server, events } = await start(t, { live: true, liveDeadlineMs: 200 });
    const clients = await Promise.all([client('udp4'), client('udp4')]);
    try {
      // IP.timeout: the upstream stays silent, so the answer is the deadline's SERVFAIL, 200 ms later.
      clients[0]?.socket.send(query(dnsblName(IP.timeout, ZONE_NAME), 'A', { id: 801 }), port, '127.0.0.1');
      clients[1]?.socket.send(query(ZONE_NAME, 'SOA', { id: 802 }), port, '127.0.0.1');
      await until('both replies', () => (clients[0]?.replies.length ?? 0) >= 1 && (clients[1]?.replies.length ?? 0) >= 1);
      assert.equal(dnsPacket.decode(clients[1]?.replies[0] as Buffer).id, 802);
      const late = dnsPacket.decode(clients[0]?.replies[0] as Buffer);
      assert.equal(late.id, 801);
      assert.equal(rcodeOf(late), 'SERVFAIL');
      assert.ok(events.includes('dnsbl:live'));
      const stats = server.nativeSockets[0]?.stats();
      // Two sent: one by sendmmsg with its batch, one by sendTo after the check.
      assert.equal(stats?.sent, 2);
    } finally {
      for (const c of clients) c.socket.close();
    }
  });
});

/** runNode - a node child on `code` (ESM); its exit code, or null when killed at the deadline. */
async function runNode(code: string, args: string[] = [], ms = 20_000): Promise<{ code: number | null; out: string; err: string }> {
  const proc = spawn(process.execPath, [...args, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      resolve(null);
    }, ms);
    proc.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code: exit, out, err };
}

describe('dnsbl native UDP: close', { skip: NATIVE_SKIP }, () => {
  test('a worker thread ending with its socket open (traffic flowing), or just closed, does not crash the process', async () => {
    const load = loadUdpBatchAddon();
    assert.ok(load.addon !== undefined);
    // The worker's environment ends while the socket is open: the addon closes it before Node
    // unloads the library (an async cleanup hook), or the close callback would run unmapped code.
    const worker = `
      const addon = require(${JSON.stringify(load.path)});
      const dgram = require('node:dgram');
      const { parentPort, workerData } = require('node:worker_threads');
      const h = addon.open('127.0.0.1', 0, Buffer.alloc(64 * 513), 513, new Int32Array(64), new Uint8Array(64 * 20), Buffer.alloc(64 * 512), 512, new Int32Array(64), () => undefined);
      const port = addon.port(h);
      const s = dgram.createSocket('udp4');
      setInterval(() => { for (let i = 0; i < 20; i++) s.send(Buffer.alloc(20), port, '127.0.0.1'); }, 1);
      setTimeout(() => { if (workerData.closeFirst) addon.close(h); parentPort.postMessage('ready'); }, 50);
    `;
    const code = `
      import { Worker } from 'node:worker_threads';
      for (let round = 0; round < 6; round++) {
        const w = new Worker(${JSON.stringify(worker)}, { eval: true, execArgv: [], workerData: { closeFirst: round % 2 === 1 } });
        await new Promise((r) => w.once('message', r));
        await w.terminate();
      }
      console.log('ok');
    `;
    const run = await runNode(code);
    assert.equal(run.code, 0, `exit ${String(run.code)}: ${run.err}`);
    assert.equal(run.out.trim(), 'ok');
  });

  test('close() while a flood is being answered leaves no handle open: the process exits by itself', async () => {
    const child = fileURLToPath(new URL('./native-close-child.ts', import.meta.url));
    const proc = spawn(process.execPath, ['--import', 'tsx', child], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      proc.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 0, `the child exits on its own with 0 (stdout: ${out} stderr: ${err})`);
    const report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { engine?: string; answeredBeforeClose?: number; rebound?: boolean; closedInBatch?: boolean };
    assert.equal(report.engine, 'native');
    assert.ok((report.answeredBeforeClose ?? 0) > 0, 'traffic was flowing when close() came');
    assert.equal(report.rebound, true, 'the port is free once close() returns');
    assert.equal(report.closedInBatch, true, 'close() from inside a batch callback');
  });
});
