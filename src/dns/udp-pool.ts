/**
 * NAME
 *   dns/udp-pool - UDP sockets to the upstreams, each reused for a bounded number of questions
 *
 * SYNOPSIS
 *   const pool = new UdpPool(queriesPerSocket)
 *   const cancel = pool.send(upstream, (id) => encode(id), { onReply, onError })
 *   pool.close()
 *   decodeReply(msg): DecodedPacket | undefined     dns-packet's decode; undefined for garbage
 *
 * DESCRIPTION
 *   Creating, binding, connecting and closing a socket for every question costs more than the
 *   question itself (bench/check: about 0.2 ms a question on loopback). A pool keeps one current
 *   socket per upstream, `connect()`ed to it (the kernel drops datagrams from anyone else and
 *   reports ICMP unreachable as ECONNREFUSED), on an OS-chosen random port. Concurrent questions
 *   share it, told apart by a crypto-random 16-bit id that no other pending question on that
 *   socket holds. After `queriesPerSocket` questions the socket is retired (closed once its last
 *   pending question ends) and a new one, on a new random port, takes over: an off-path spoofer
 *   must still guess a port and an id, and the port changes often. `queriesPerSocket: 1` is one
 *   socket per question.
 *
 *   A datagram that does not decode, or whose id matches no pending question, is ignored. A reply
 *   is handed to the question holding its id, which decides (question section) whether to accept
 *   it or keep waiting. A socket error fails every question pending on that socket (they all went
 *   to the same upstream) and retires the socket.
 *
 *   Sockets are unref()ed: a pending question keeps the process alive through its own timer, an
 *   idle pool never does.
 *
 * LIMITS
 *   resolver.udpQueriesPerSocketCount (queries per socket before it is replaced).
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import type { Upstream } from './types.js';

const ID_SPACE = 0x1_0000;
const HEADER_BYTES = 12;
/** The smallest question (root name, type, class) and resource record (… ttl, rdlength). */
const MIN_QUESTION_BYTES = 5;
const MIN_RECORD_BYTES = 11;

/**
 * decodeReply - a received message decoded, or undefined when it does not decode. Header counts
 * the message is too short to hold are refused before dns-packet sees them: its decoder
 * allocates an array of each count first (12 bytes of 0xff cost four 65535-slot arrays and
 * milliseconds of CPU; found by test/fuzz). Such a message never decodes anyway.
 */
export function decodeReply(msg: Buffer): DecodedPacket | undefined {
  if (msg.length < HEADER_BYTES) return undefined;
  const records = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  if (msg.readUInt16BE(4) * MIN_QUESTION_BYTES + records * MIN_RECORD_BYTES > msg.length - HEADER_BYTES) return undefined;
  try {
    return dnsPacket.decode(msg);
  } catch {
    return undefined;
  }
}

export interface PendingHandlers {
  /** A decoded reply with this question's id. */
  onReply(packet: DecodedPacket): void;
  /** The socket failed (e.g. ECONNREFUSED); the question is over. */
  onError(detail: string): void;
}

class PooledSocket {
  readonly socket: dgram.Socket;
  readonly pending = new Map<number, PendingHandlers>();
  served = 0;
  retired = false;
  private connected = false;
  private closed = false;
  private readonly outbox: Buffer[] = [];

  constructor(
    upstream: Upstream,
    private readonly onDead: (s: PooledSocket) => void,
  ) {
    this.socket = dgram.createSocket(isIPv6(upstream.host) ? 'udp6' : 'udp4');
    this.socket.unref();
    this.socket.on('error', (err) => this.fail(errorCode(err)));
    this.socket.on('message', (msg) => this.receive(msg));
    this.socket.connect(upstream.port, upstream.host, () => {
      this.connected = true;
      for (const buf of this.outbox.splice(0)) this.transmit(buf);
    });
  }

  /** A fresh id no pending question on this socket holds. */
  freeId(): number {
    for (;;) {
      const id = randomInt(0, ID_SPACE);
      if (!this.pending.has(id)) return id;
    }
  }

  send(buf: Buffer): void {
    if (this.connected) this.transmit(buf);
    else this.outbox.push(buf);
  }

  release(id: number): void {
    this.pending.delete(id);
    this.closeIfDone();
  }

  retire(): void {
    this.retired = true;
    this.closeIfDone();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  private transmit(buf: Buffer): void {
    try {
      this.socket.send(buf, (err) => {
        if (err) this.fail(errorCode(err));
      });
    } catch (err) {
      this.fail(errorCode(err));
    }
  }

  private receive(msg: Buffer): void {
    const packet = decodeReply(msg);
    if (packet === undefined) return; // garbage: the questions keep waiting
    if (packet.type !== 'response' || packet.id === undefined) return;
    this.pending.get(packet.id)?.onReply(packet);
  }

  private fail(detail: string): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    this.retired = true;
    this.onDead(this);
    this.close();
    for (const handlers of waiting) handlers.onError(detail);
  }

  private closeIfDone(): void {
    if (this.retired && this.pending.size === 0) this.close();
  }
}

export class UdpPool {
  private readonly current = new Map<string, PooledSocket>();
  private closed = false;

  constructor(private readonly queriesPerSocket: number) {}

  /**
   * Send one question. `encode(id)` builds the datagram with the id the pool chose. Returns the
   * function that ends the question (on reply, timeout or abort): call it exactly when done.
   */
  send(upstream: Upstream, encode: (id: number) => Buffer, handlers: PendingHandlers): { id: number; done: () => void } {
    if (this.closed) {
      handlers.onError('resolver closed');
      return { id: -1, done: () => undefined };
    }
    const pooled = this.socketFor(upstream);
    const id = pooled.freeId();
    pooled.pending.set(id, handlers);
    pooled.served++;
    if (pooled.served >= this.queriesPerSocket) this.rotate(upstream, pooled);
    pooled.send(encode(id));
    return { id, done: () => pooled.release(id) };
  }

  /** Close every socket; questions still pending end through their own timers or aborts. */
  close(): void {
    this.closed = true;
    for (const pooled of this.current.values()) pooled.retire();
    this.current.clear();
  }

  private socketFor(upstream: Upstream): PooledSocket {
    const key = `${upstream.host}|${upstream.port}`;
    let pooled = this.current.get(key);
    if (pooled === undefined || pooled.retired) {
      pooled = new PooledSocket(upstream, (dead) => {
        if (this.current.get(key) === dead) this.current.delete(key);
      });
      this.current.set(key, pooled);
    }
    return pooled;
  }

  private rotate(upstream: Upstream, pooled: PooledSocket): void {
    const key = `${upstream.host}|${upstream.port}`;
    if (this.current.get(key) === pooled) this.current.delete(key);
    pooled.retire();
  }
}

function errorCode(err: unknown): string {
  if (err instanceof Error) {
    return 'code' in err && typeof err.code === 'string' ? err.code : err.message.slice(0, 80);
  }
  return 'error';
}
