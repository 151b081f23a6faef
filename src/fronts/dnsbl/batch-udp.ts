/**
 * NAME
 *   fronts/dnsbl/batch-udp - the native UDP path: datagrams read and answered in batches
 *
 * SYNOPSIS
 *   const addon = loadUdpBatch()                  undefined when not built or not loadable
 *   const socket = BatchUdpSocket.open(addon, host, port, { inSlotBytes, outSlotBytes }, onBatch)
 *     onBatch(socket, n): datagram i is socket.message(i); write its reply at socket.outAt(i)
 *                         and set socket.outLens[i] (0 = none); all are sent when it returns
 *   socket.port, socket.sendTo(bytes, port, address), socket.peerAddress(i), socket.close()
 *
 * DESCRIPTION
 *   The addon (native/udp-batch/udp_batch.c, built at npm install by scripts/build-native.mjs)
 *   binds the socket itself and watches it on Node's loop; when readable it reads up to
 *   BATCH_COUNT datagrams with one recvmmsg into buffers made here once and shared with it,
 *   calls onBatch once, and sends the replies written into the shared output buffer with one
 *   sendmmsg. No Buffer, rinfo object or callback per datagram: Node's dgram costs about
 *   12 µs of CPU per datagram before any DNS work (bench/RESULTS.md, bench/fronts).
 *
 *   Peers: 20 octets each in `peers` (family 4|6, 0, port big-endian, 4 or 16 address
 *   octets). Linux only; elsewhere, or when the build failed, loadUdpBatch() is undefined and
 *   the server uses node:dgram (config dnsbl.udpEngine).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Datagrams per recvmmsg / sendmmsg. */
export const BATCH_COUNT = 64;
export const PEER_BYTES = 20;
const ADDON_PATH = ['native', 'udp-batch', 'build', 'Release', 'udp_batch.node'];

type Handle = object;

/** The addon's functions (udp_batch.c). */
export interface UdpBatchAddon {
  open(host: string, port: number, inBuf: Uint8Array, inSlotBytes: number, inLens: Int32Array, peers: Uint8Array, outBuf: Uint8Array, outSlotBytes: number, outLens: Int32Array, onBatch: (n: number) => void): Handle;
  port(handle: Handle): number;
  sendTo(handle: Handle, bytes: Uint8Array, port: number, address: string): number;
  peerAddress(handle: Handle, index: number): string;
  stats(handle: Handle): number[];
  close(handle: Handle): void;
}

/** The loaded addon, or the reason it is not there. */
export type AddonLoad = { readonly addon: UdpBatchAddon; readonly path: string } | { readonly addon: undefined; readonly why: string };

let loaded: AddonLoad | undefined;

/** packageRoot - the nearest folder above this module with a package.json (src/, dist/ or dist-bench/src/ alike). */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** loadUdpBatchAddon - the addon once per process (cached, including a failure and its reason). */
export function loadUdpBatchAddon(): AddonLoad {
  if (loaded !== undefined) return loaded;
  const root = packageRoot();
  const path = root === undefined ? undefined : join(root, ...ADDON_PATH);
  if (process.platform !== 'linux') loaded = { addon: undefined, why: `not built on ${process.platform} (Linux only)` };
  else if (path === undefined || !existsSync(path)) loaded = { addon: undefined, why: 'not built (native/udp-batch/build/Release/udp_batch.node missing; npm ci builds it when a C compiler is there)' };
  else {
    try {
      const addon = createRequire(import.meta.url)(path) as UdpBatchAddon;
      if (typeof addon.open !== 'function' || typeof addon.close !== 'function') throw new Error('not the udp_batch addon');
      loaded = { addon, path };
    } catch (err) {
      loaded = { addon: undefined, why: `cannot load ${path}: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  return loaded;
}

/** loadUdpBatch - the addon, or undefined when it is missing or fails to load. */
export function loadUdpBatch(): UdpBatchAddon | undefined {
  return loadUdpBatchAddon().addon;
}

export interface BatchUdpOptions {
  /** Room per received datagram: one more than the largest accepted query tells oversize ones. */
  readonly inSlotBytes: number;
  /** Room per reply: the largest UDP reply. */
  readonly outSlotBytes: number;
}

export class BatchUdpSocket {
  readonly inBuf: Buffer;
  readonly inLens: Int32Array;
  readonly peers: Uint8Array;
  readonly outBuf: Buffer;
  readonly outLens: Int32Array;
  readonly inSlotBytes: number;
  readonly outSlotBytes: number;
  readonly port: number;
  private readonly addon: UdpBatchAddon;
  private readonly handle: Handle;
  private closed = false;

  private constructor(addon: UdpBatchAddon, host: string, port: number, options: BatchUdpOptions, onBatch: (socket: BatchUdpSocket, n: number) => void) {
    this.addon = addon;
    this.inSlotBytes = options.inSlotBytes;
    this.outSlotBytes = options.outSlotBytes;
    this.inBuf = Buffer.alloc(BATCH_COUNT * options.inSlotBytes);
    this.inLens = new Int32Array(BATCH_COUNT);
    this.peers = new Uint8Array(BATCH_COUNT * PEER_BYTES);
    this.outBuf = Buffer.alloc(BATCH_COUNT * options.outSlotBytes);
    this.outLens = new Int32Array(BATCH_COUNT);
    this.handle = addon.open(host, port, this.inBuf, options.inSlotBytes, this.inLens, this.peers, this.outBuf, options.outSlotBytes, this.outLens, (n) => onBatch(this, n));
    this.port = addon.port(this.handle);
  }

  /** open - bind host:port (an IP literal); throws an Error with `code` (EADDRINUSE, …) as dgram would. */
  static open(addon: UdpBatchAddon, host: string, port: number, options: BatchUdpOptions, onBatch: (socket: BatchUdpSocket, n: number) => void): BatchUdpSocket {
    return new BatchUdpSocket(addon, host, port, options, onBatch);
  }

  /** message - datagram i of the current batch (a view into the shared buffer: valid during onBatch only). */
  message(i: number): Buffer {
    const at = i * this.inSlotBytes;
    return this.inBuf.subarray(at, at + (this.inLens[i] ?? 0));
  }

  /** outAt - where reply i goes in outBuf. */
  outAt(i: number): number {
    return i * this.outSlotBytes;
  }

  peerPort(i: number): number {
    const at = i * PEER_BYTES;
    return ((this.peers[at + 2] ?? 0) << 8) | (this.peers[at + 3] ?? 0);
  }

  /** peerAddress - datagram i's source address as text (dgram's rinfo.address form): for replies sent later. */
  peerAddress(i: number): string {
    return this.addon.peerAddress(this.handle, i);
  }

  /** sendTo - one datagram now (a reply that came later); 0, or the errno number of a failed send. */
  sendTo(bytes: Uint8Array, port: number, address: string): number {
    if (this.closed) return -1;
    return this.addon.sendTo(this.handle, bytes, port, address);
  }

  /** stats - wakeups, batches, datagrams received, sent, send errors. */
  stats(): { wakeups: number; batches: number; received: number; sent: number; sendErrors: number } {
    const [wakeups = 0, batches = 0, received = 0, sent = 0, sendErrors = 0] = this.addon.stats(this.handle);
    return { wakeups, batches, received, sent, sendErrors };
  }

  /** close - stops reading and closes the socket at once (the port can be bound again). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close(this.handle);
  }
}
