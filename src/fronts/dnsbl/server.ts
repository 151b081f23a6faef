/**
 * NAME
 *   fronts/dnsbl/server - UDP and TCP listeners for the zone: framing, limits, nothing else
 *
 * SYNOPSIS
 *   const server = new DnsblServer({ responder, config: config.dnsbl, logger, metrics })
 *   const endpoints = await server.listen(addresses)   ['udp://h:p', 'tcp://h:p', …]
 *   await server.close()
 *
 * DESCRIPTION
 *   Every listen address gets a UDP socket and a TCP listener on the same port (with port 0
 *   the UDP socket picks the port and TCP takes the same one, retried with a new port a few
 *   times if TCP finds it taken).
 *
 *   UDP: a datagram over dnsbl.maxQueryBytes is dropped; then the rate limiter (rate-limit.ts)
 *   says send, slip (empty TC=1 reply) or drop, before any work is done for the query (a live
 *   check included); the reply is cut to 512 octets, or the EDNS size agreed, with TC=1.
 *   Two engines carry the datagrams (dnsbl.udpEngine): `native` (batch-udp.ts: the addon reads
 *   up to 64 datagrams a syscall, the replies are written into its shared buffer and sent with
 *   one syscall) and `dgram` (node:dgram, a 'message' event and a send each). Both go through the
 *   same steps below (udpParse, udpOutcome); only the peer's form and where the bytes go differ.
 *
 *   TCP (RFC 7766): messages with the 2-octet length prefix, several per connection, answered
 *   in order; a message may arrive split over packets or several in one. A length over
 *   maxQueryBytes closes the connection. The socket is paused while a reply is awaited (live
 *   mode) and while a write waits to drain, so a client cannot make the server buffer without
 *   bound. A connection without a complete query for tcpIdleTimeoutMs is closed; connections
 *   over tcpMaxConnectionsCount (all listeners together) are closed at once.
 *
 *   Nothing a peer sends can throw out of here: parse problems are values (parser.ts), socket
 *   errors are listened for and logged at debug level.
 *
 * DIAGNOSTICS
 *   Log events: LISTEN, UDP-ENGINE (once per start: which engine, and why), SOCKET-ERROR.
 *   Metrics events (frontEvent 'dnsbl'): drop, oversize,
 *   rate-limited-drop, rate-limited-slip, tcp-open, tcp-refused, tcp-idle, tcp-oversize.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { BlockSmithError } from '../../errors.js';
import type { DnsblConfig } from '../../config/schema.js';
import type { Metrics } from '../../metrics/types.js';
import type { Logger } from '../../util/log.js';
import { printable } from '../../util/printable.js';
import { formatListen, type ListenAddress } from '../listen.js';
import { BatchUdpSocket, loadUdpBatchAddon, PEER_BYTES, type AddonLoad, type UdpBatchAddon } from './batch-udp.js';
import { parseQuery, type ParsedQuery } from './parser.js';
import { networkKeyOfBytes, ResponseRateLimiter, type Admission } from './rate-limit.js';
import { renderReply, renderReplyInto, renderSlip, renderSlipInto, TCP_MAX_BYTES, UDP_PLAIN_BYTES, udpLimit } from './render.js';
import { RCODE, type Reply, type Responder } from './responder.js';

const LENGTH_PREFIX_BYTES = 2;
/** pino's number for `debug` (levelVal is a field read; isLevelEnabled() costs a call per datagram). */
const DEBUG_LEVEL_VALUE = 20;
/** Tries to find a port free for both UDP and TCP when the configuration says port 0. */
const EPHEMERAL_PORT_TRIES = 5;
const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
/** In a native peer record: family at 0, port at 2, address octets from 4 (batch-udp.ts). */
const PEER_ADDRESS_OFFSET = 4;

export type UdpEngine = 'native' | 'dgram';

/** One UDP listener, whichever engine carries it. */
interface UdpListener {
  readonly port: number;
  close(): Promise<void>;
}

/** A slipped answer: the rate limiter's empty TC=1 reply, rendered with renderSlip. */
class Slip {
  constructor(readonly reply: Reply) {}
}

type UdpOutcome = Reply | Promise<Reply> | Slip | undefined;

/**
 * chooseUdpEngine - dnsbl.udpEngine against what is built: `auto` takes the addon when it loads;
 * `native` without it is a start-up error naming the key.
 */
export function chooseUdpEngine(setting: DnsblConfig['udpEngine'], loader: () => AddonLoad = loadUdpBatchAddon): { engine: UdpEngine; addon: UdpBatchAddon | undefined; why: string } {
  if (setting === 'dgram') return { engine: 'dgram', addon: undefined, why: 'dnsbl.udpEngine is "dgram"' };
  const load = loader();
  if (load.addon !== undefined) return { engine: 'native', addon: load.addon, why: `dnsbl.udpEngine is "${setting}"; ${load.path}` };
  if (setting === 'native') throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `dnsbl.udpEngine is "native" but the native UDP path is not available: ${load.why}; set dnsbl.udpEngine to "auto" or "dgram", or build it (npm ci with a C compiler)`);
  return { engine: 'dgram', addon: undefined, why: `dnsbl.udpEngine is "auto" and the native path is ${load.why}` };
}

export interface DnsblServerOptions {
  readonly responder: Responder;
  readonly config: DnsblConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * literalLookup - dgram's address lookup: an IP literal (every reply goes to rinfo.address, and
 * binds are to listen addresses) is handed back at once. dns.lookup would defer even a literal
 * to the next tick, a measured third of the cost of each send; anything else still goes to it.
 */
function literalLookup(hostname: string, options: dns.LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = net.isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dns.lookup(hostname, options, callback);
}

function errorText(err: unknown): string {
  return printable(err instanceof Error ? err.message : String(err));
}

export class DnsblServer {
  private readonly responder: Responder;
  private readonly config: DnsblConfig;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly limiter: ResponseRateLimiter;
  private readonly udpSockets: UdpListener[] = [];
  private readonly addon: UdpBatchAddon | undefined;
  private readonly engineWhy: string;
  /** Which engine carries UDP (dnsbl.udpEngine and what is built); fixed at construction. */
  readonly udpEngine: UdpEngine;
  /** The native listeners (tests read their counters). */
  readonly nativeSockets: BatchUdpSocket[] = [];
  private readonly tcpServers: net.Server[] = [];
  private readonly connections = new Set<TcpConnection>();
  private closed = false;

  constructor(options: DnsblServerOptions) {
    this.responder = options.responder;
    this.config = options.config;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.limiter = new ResponseRateLimiter({ config: options.config });
    const chosen = chooseUdpEngine(options.config.udpEngine);
    this.udpEngine = chosen.engine;
    this.addon = chosen.addon;
    this.engineWhy = chosen.why;
  }

  async listen(addresses: readonly ListenAddress[]): Promise<string[]> {
    const endpoints: string[] = [];
    this.logger.info({ front: 'dnsbl', event: 'UDP-ENGINE', engine: this.udpEngine, why: printable(this.engineWhy) }, 'UDP-ENGINE');
    try {
      for (const address of addresses) {
        const port = await this.bindPair(address);
        const where = formatListen(address.host, port);
        endpoints.push(`udp://${where}`, `tcp://${where}`);
        this.logger.info({ front: 'dnsbl', event: 'LISTEN', endpoint: where }, 'LISTEN');
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    return endpoints;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const conn of this.connections) conn.destroy();
    this.connections.clear();
    const udp = this.udpSockets.splice(0).map((s) => s.close());
    const tcp = this.tcpServers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    await Promise.all([...udp, ...tcp]);
  }

  // ---- binding

  private async bindPair(address: ListenAddress): Promise<number> {
    const tries = address.port === 0 ? EPHEMERAL_PORT_TRIES : 1;
    let lastError: unknown;
    for (let i = 0; i < tries; i++) {
      const udp = this.addon === undefined ? await this.bindUdp(address) : this.bindNative(this.addon, address);
      const port = udp.port;
      try {
        const tcp = await this.bindTcp(address.host, port);
        this.udpSockets.push(udp);
        this.tcpServers.push(tcp);
        return port;
      } catch (err) {
        lastError = err;
        await udp.close();
      }
    }
    throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `dnsbl.listen: cannot listen on tcp ${formatListen(address.host, address.port)}: ${errorText(lastError)}`);
  }

  private bindNative(addon: UdpBatchAddon, address: ListenAddress): UdpListener {
    let socket: BatchUdpSocket;
    try {
      socket = BatchUdpSocket.open(
        addon,
        address.host,
        address.port,
        // One octet more than the largest query: a datagram that fills its slot is oversize.
        { inSlotBytes: this.config.maxQueryBytes + 1, outSlotBytes: Math.max(UDP_PLAIN_BYTES, this.config.ednsUdpBytes) },
        this.onBatch,
      );
    } catch (err) {
      throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `dnsbl.listen: cannot listen on udp ${formatListen(address.host, address.port)}: ${errorText(err)}`);
    }
    this.nativeSockets.push(socket);
    return {
      port: socket.port,
      close: () => {
        socket.close();
        const at = this.nativeSockets.indexOf(socket);
        if (at >= 0) this.nativeSockets.splice(at, 1);
        return Promise.resolve();
      },
    };
  }

  private bindUdp(address: ListenAddress): Promise<UdpListener> {
    const socket = dgram.createSocket({ type: net.isIPv6(address.host) ? 'udp6' : 'udp4', lookup: literalLookup });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(new BlockSmithError('BS_ERR_CONFIG_INVALID', `dnsbl.listen: cannot listen on udp ${formatListen(address.host, address.port)}: ${errorText(err)}`));
      };
      socket.once('error', onError);
      socket.bind(address.port, address.host, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.logger.warn({ front: 'dnsbl', event: 'SOCKET-ERROR', err: errorText(err) }, 'SOCKET-ERROR'));
        socket.on('message', (msg, rinfo) => this.onDatagram(socket, msg, rinfo));
        resolve({ port: socket.address().port, close: () => new Promise<void>((done) => socket.close(() => done())) });
      });
    });
  }

  private bindTcp(host: string, port: number): Promise<net.Server> {
    const server = net.createServer((socket) => this.onConnection(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.warn({ front: 'dnsbl', event: 'SOCKET-ERROR', err: errorText(err) }, 'SOCKET-ERROR'));
        resolve(server);
      });
    });
  }

  // ---- UDP: the steps both engines share

  /** udpParse - the size cap, then the parse; undefined (counted) when the datagram is dropped. */
  private udpParse(msg: Uint8Array): Exclude<ParsedQuery, { kind: 'drop' }> | undefined {
    if (msg.length > this.config.maxQueryBytes) {
      this.metrics.frontEvent('dnsbl', 'oversize');
      return undefined;
    }
    const parsed = parseQuery(msg);
    if (parsed.kind === 'drop') {
      this.metrics.frontEvent('dnsbl', 'drop');
      return undefined;
    }
    return parsed;
  }

  /** udpOutcome - after the rate limiter's word: nothing, a slip, or the responder's reply (now or later). */
  private udpOutcome(parsed: Exclude<ParsedQuery, { kind: 'drop' }>, admission: Admission): UdpOutcome {
    if (admission !== 'send') {
      this.metrics.frontEvent('dnsbl', admission === 'slip' ? 'rate-limited-slip' : 'rate-limited-drop');
      return admission === 'slip' ? new Slip(slipReply(parsed)) : undefined;
    }
    return safeRespond(this.responder, parsed, this.logger);
  }

  // ---- UDP over node:dgram

  private onDatagram(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const parsed = this.udpParse(msg);
    if (parsed === undefined) return;
    const out = this.udpOutcome(parsed, this.limiter.take(rinfo.address));
    if (out === undefined) return;
    if (out instanceof Slip) this.sendUdp(socket, renderSlip(out.reply), rinfo);
    // The common case (no live check) answers synchronously: no closure, no promise.
    else if (out instanceof Promise) void out.then((reply) => this.sendReply(socket, reply, rinfo));
    else this.sendReply(socket, out, rinfo);
  }

  private sendReply(socket: dgram.Socket, reply: Reply, rinfo: dgram.RemoteInfo): void {
    try {
      this.sendUdp(socket, renderReply(reply, udpLimit(reply)), rinfo);
    } catch (err) {
      this.logger.error({ front: 'dnsbl', event: 'BUG', err: errorText(err) }, 'BUG');
    }
  }

  // ---- UDP over the native path (batch-udp.ts)

  /**
   * onBatch - n datagrams read at once: each reply is written into the shared output buffer
   * (outLens[i] its length, 0 = none) and the addon sends them all when this returns. A reply
   * that comes later (live mode) goes out alone with sendTo.
   */
  private readonly onBatch = (socket: BatchUdpSocket, n: number): void => {
    const { outBuf, outLens, outSlotBytes, peers } = socket;
    const limiting = this.limiter.enabled;
    const c = this.config;
    for (let i = 0; i < n; i++) {
      try {
        const parsed = this.udpParse(socket.message(i));
        if (parsed === undefined) continue;
        let admission: Admission = 'send';
        if (limiting) {
          const at = i * PEER_BYTES;
          const size = peers[at] === 4 ? IPV4_BYTES : IPV6_BYTES;
          admission = this.limiter.takeNetwork(networkKeyOfBytes(peers, at + PEER_ADDRESS_OFFSET, size, c.rateLimitIpv4PrefixLength, c.rateLimitIpv6PrefixLength));
        }
        const out = this.udpOutcome(parsed, admission);
        if (out === undefined) continue;
        if (out instanceof Promise) {
          this.replyLater(socket, out, socket.peerPort(i), socket.peerAddress(i));
          continue;
        }
        const slip = out instanceof Slip;
        const reply = slip ? out.reply : out;
        const length = slip ? renderSlipInto(reply, outBuf, socket.outAt(i), outSlotBytes) : renderReplyInto(reply, udpLimit(reply), outBuf, socket.outAt(i), outSlotBytes);
        // Over its slot (never: a slot holds the largest UDP reply): sent alone.
        if (length >= 0) outLens[i] = length;
        else this.sendNative(socket, slip ? renderSlip(reply) : renderReply(reply, udpLimit(reply)), socket.peerPort(i), socket.peerAddress(i));
      } catch (err) {
        outLens[i] = 0;
        this.logger.error({ front: 'dnsbl', event: 'BUG', err: errorText(err) }, 'BUG');
      }
    }
  };

  private replyLater(socket: BatchUdpSocket, out: Promise<Reply>, port: number, address: string): void {
    void out.then((reply) => {
      try {
        this.sendNative(socket, renderReply(reply, udpLimit(reply)), port, address);
      } catch (err) {
        this.logger.error({ front: 'dnsbl', event: 'BUG', err: errorText(err) }, 'BUG');
      }
    });
  }

  private sendNative(socket: BatchUdpSocket, bytes: Buffer, port: number, address: string): void {
    if (this.closed) return;
    const errno = socket.sendTo(bytes, port, address);
    if (errno !== 0 && this.logger.levelVal <= DEBUG_LEVEL_VALUE) this.logger.debug({ front: 'dnsbl', event: 'SOCKET-ERROR', err: `sendto errno ${errno}` }, 'SOCKET-ERROR');
  }

  /**
   * sendUdp - one datagram out. The completion callback is passed only when its one use, a debug
   * log line for a failed send, can be written: dgram defers every callback to a process.nextTick
   * even when the send completed at once, a measured 7 % of a bare Node UDP echo's CPU per query.
   * Without it a failed send is dropped silently, like a datagram lost on the way (the client
   * asks again).
   */
  private sendUdp(socket: dgram.Socket, bytes: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    if (this.logger.levelVal <= DEBUG_LEVEL_VALUE) socket.send(bytes, rinfo.port, rinfo.address, this.onSent);
    else socket.send(bytes, rinfo.port, rinfo.address);
  }

  /** One callback for every send, not a closure per datagram. */
  private readonly onSent = (err: Error | null): void => {
    if (err) this.logger.debug({ front: 'dnsbl', event: 'SOCKET-ERROR', err: errorText(err) }, 'SOCKET-ERROR');
  };

  // ---- TCP

  private onConnection(socket: net.Socket): void {
    socket.on('error', (err) => this.logger.debug({ front: 'dnsbl', event: 'SOCKET-ERROR', err: errorText(err) }, 'SOCKET-ERROR'));
    if (this.closed || this.connections.size >= this.config.tcpMaxConnectionsCount) {
      this.metrics.frontEvent('dnsbl', 'tcp-refused');
      socket.destroy();
      return;
    }
    this.metrics.frontEvent('dnsbl', 'tcp-open');
    const conn = new TcpConnection(socket, this.responder, this.config, this.metrics, this.logger);
    this.connections.add(conn);
    socket.on('close', () => {
      conn.destroy();
      this.connections.delete(conn);
    });
  }
}

/**
 * safeRespond - the responder's reply; a throw (a bug: peer input cannot cause one by design)
 * becomes SERVFAIL and a BUG log line, never a crash and never "listed".
 */
function safeRespond(responder: Responder, parsed: ParsedQuery, logger: Logger): Reply | Promise<Reply> | undefined {
  if (parsed.kind === 'drop') return undefined;
  const fail = (err: unknown): Reply => {
    logger.error({ front: 'dnsbl', event: 'BUG', err: errorText(err) }, 'BUG');
    return { ...slipReply(parsed), rcode: RCODE.SERVFAIL, event: 'servfail' };
  };
  try {
    const out = responder.respond(parsed);
    return out instanceof Promise ? out.catch(fail) : out;
  } catch (err) {
    return fail(err);
  }
}

/** slipReply - what a slipped answer says: the question and TC=1, nothing else. */
function slipReply(parsed: Exclude<ParsedQuery, { kind: 'drop' }>): Reply {
  return {
    id: parsed.id,
    rd: parsed.rd,
    aa: false,
    rcode: 0,
    question: parsed.kind === 'formerr' ? undefined : parsed.question,
    answers: [],
    authorities: [],
    edns: undefined,
    event: 'nodata',
  };
}

/** One TCP client: framing in, replies out in order, idle timer. */
class TcpConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private busy = false;
  private done = false;
  private idle: NodeJS.Timeout | undefined;
  private readonly maxBuffered: number;

  constructor(
    private readonly socket: net.Socket,
    private readonly responder: Responder,
    private readonly config: DnsblConfig,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.maxBuffered = 2 * (LENGTH_PREFIX_BYTES + config.maxQueryBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => socket.end());
    this.armIdle();
  }

  destroy(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.idle);
    this.socket.destroy();
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.metrics.frontEvent('dnsbl', 'tcp-idle');
      this.destroy();
    }, this.config.tcpIdleTimeoutMs);
    this.idle.unref();
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.buffer.length > this.maxBuffered) this.socket.pause();
    this.pump().catch((err: unknown) => {
      this.logger.error({ front: 'dnsbl', event: 'BUG', err: errorText(err) }, 'BUG');
      this.destroy();
    });
  }

  /** nextMessage - one whole message off the buffer, undefined if none yet; closes on an oversize length. */
  private nextMessage(): Buffer | undefined {
    if (this.buffer.length < LENGTH_PREFIX_BYTES) return undefined;
    const length = this.buffer.readUInt16BE(0);
    if (length > this.config.maxQueryBytes) {
      this.metrics.frontEvent('dnsbl', 'tcp-oversize');
      this.destroy();
      return undefined;
    }
    if (this.buffer.length < LENGTH_PREFIX_BYTES + length) return undefined;
    const message = this.buffer.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length);
    this.buffer = this.buffer.subarray(LENGTH_PREFIX_BYTES + length);
    return message;
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (;;) {
        if (this.done) return;
        const message = this.nextMessage();
        if (message === undefined) break;
        this.armIdle();
        const parsed = parseQuery(message);
        if (parsed.kind === 'drop') this.metrics.frontEvent('dnsbl', 'drop');
        let out = safeRespond(this.responder, parsed, this.logger);
        if (out === undefined) continue;
        if (out instanceof Promise) {
          this.socket.pause();
          out = await out;
        }
        if (this.done) return;
        const bytes = renderReply(out, TCP_MAX_BYTES);
        const prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
        prefix.writeUInt16BE(bytes.length, 0);
        if (!this.socket.write(Buffer.concat([prefix, bytes]))) {
          this.socket.pause();
          await new Promise<void>((resolve) => {
            this.socket.once('drain', resolve);
            this.socket.once('close', resolve);
          });
        }
      }
      if (!this.done && this.buffer.length <= this.maxBuffered) this.socket.resume();
    } finally {
      this.busy = false;
    }
  }
}
