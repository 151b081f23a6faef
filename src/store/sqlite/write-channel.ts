/**
 * NAME
 *   store/sqlite/write-channel - the main thread's side of write-worker.ts: queue, batch, answer
 *
 * SYNOPSIS
 *   const channel = new WriteChannel({ file, busyTimeoutMs }, { commitWindowMs? })
 *   await channel.start()                  the thread opened the file (else BS_ERR_STORE_UNAVAILABLE)
 *   await channel.write(doing, op)         WriteResult of that write, once its batch is committed
 *   channel.counts                         { batches, writes, held }: how the writes were grouped
 *   await channel.eventsSince(afterId, limit); await channel.prune(olderThan)
 *   await channel.retain(chunk)            RetainCounts: one chunk of retention, one transaction
 *   await channel.close()                  every queued write done first, then the thread ends
 *
 * DESCRIPTION
 *   Writes queue here while a batch is with the thread; when it answers, everything queued goes
 *   as the next batch (at most BATCH_MAX_OPS): under load, one commit (one fsync) carries many
 *   writes, and the event loop never waits for one. A write's promise settles after its batch's
 *   COMMIT (durable, `synchronous = FULL`), with its own result: a failure of one write in a
 *   batch is that write's alone.
 *
 *   The commit window. A commit with its fsync costs the writer thread about 230 µs of CPU for
 *   one listing write, 120 µs a write for 4 and 67 µs for 16 (2026-11-28, ext4 on the bench
 *   VM): pages shared by the writes (the indexes, the audit and events tables) go to the WAL and
 *   are synced once. When commits are quick, writes that arrive one by one (1,000 listings a
 *   second) would each get a commit of their own, and each a message to the thread and one back
 *   that wakes the event loop. So a batch is not sent sooner than commitWindowMs after the
 *   previous one: a write that finds the thread idle but the last batch sent less than that ago
 *   is held for the rest of the window, with whatever else comes meanwhile (as PostgreSQL's
 *   commit_delay or MySQL's binlog_group_commit_sync_delay).
 *
 *   Holding must pay: a writer that awaits each write before asking the next (a retry queue, a
 *   script) would wait a window for every write and gain nothing. So when a held batch goes with
 *   nothing but the write that was held, the next HOLD_BACKOFF batches are not held; such a
 *   writer loses one window in HOLD_BACKOFF + 1 writes. A full batch, and everything once
 *   close() is called, is never held. A write that finds the channel idle for longer than the
 *   window goes at once, as before; under load the wait is at most the window, below the
 *   commits' own tail. `counts` tells how the writes were grouped (tests and the bench read it).
 *
 *   Messages to and from the thread keep their order, so an events read sent after a batch is
 *   answered after it.
 *
 *   The thread is ref'd only while work is outstanding: an idle store does not keep the process
 *   alive, a pending write does. If the thread dies, everything outstanding rejects with
 *   BS_ERR_STORE_UNAVAILABLE and the next call starts a new thread.
 *
 * LIMITS
 *   BATCH_MAX_OPS (1,000) writes per transaction; COMMIT_WINDOW_MS (4 ms) by default;
 *   HOLD_BACKOFF (64) batches not held after a hold that gathered nothing.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { BlockSmithError } from '../../errors.js';
import { storeUnavailable } from './driver-errors.js';
import type { EventRow } from './events.js';
import type { RetainChunk, RetainCounts, WireError, WriteOp, WriteResult, WorkerSetup } from './write-worker.js';

export const BATCH_MAX_OPS = 1_000;
/** The least time between two batches sent while writes keep coming (see DESCRIPTION). */
export const COMMIT_WINDOW_MS = 4;
/** Batches sent without holding after a held batch gathered no other write. */
export const HOLD_BACKOFF = 64;

export interface WriteChannelOptions {
  /** COMMIT_WINDOW_MS unless given; 0 sends every batch as soon as the thread is free. */
  readonly commitWindowMs?: number;
}

/** How the writes were grouped, since the channel was made. */
export interface WriteCounts {
  /** Batches sent to the thread (one transaction, one fsync each). */
  batches: number;
  /** Writes sent in them. */
  writes: number;
  /** Times a batch waited for the rest of the commit window. */
  held: number;
}

interface Pending {
  readonly doing: string;
  readonly op: WriteOp;
  readonly resolve: (result: WriteResult) => void;
  readonly reject: (err: unknown) => void;
}

interface Request {
  readonly doing: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * spawn - the writer thread: the compiled write-worker.js next to this file; when running from
 * TypeScript source (tests under tsx), a bootstrap that registers tsx in the thread first (on
 * Node 20 the parent's `--import tsx` does not reach a worker's entry module).
 */
function spawn(setup: WorkerSetup): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./write-worker.js', import.meta.url), { workerData: setup });
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./write-worker.ts', import.meta.url).href);
  return new Worker(`import(${api}).then((tsx) => { tsx.register(); return import(${entry}); })`, { eval: true, workerData: setup });
}

function driverError(e: WireError): Error {
  return Object.assign(new Error(e.message), { code: e.code });
}

export class WriteChannel {
  private readonly setup: WorkerSetup;
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private readonly queue: Pending[] = [];
  /** The batch with the thread, by id. */
  private readonly inFlight = new Map<number, Pending[]>();
  private readonly requests = new Map<number, Request>();
  private nextId = 1;
  private closed = false;
  private drained: Array<() => void> = [];
  private readonly commitWindowMs: number;
  /** performance.now() when the last batch was sent. */
  private lastSentAt = -Infinity;
  /** The wait for the rest of the commit window, while one runs. */
  private windowTimer: NodeJS.Timeout | undefined;
  /** Batches still to send without holding (HOLD_BACKOFF after a hold that gathered nothing). */
  private unheld = 0;
  readonly counts: WriteCounts = { batches: 0, writes: 0, held: 0 };
  private readonly windowClosed = (): void => {
    this.windowTimer = undefined;
    this.pump(true);
  };

  constructor(setup: WorkerSetup, options: WriteChannelOptions = {}) {
    this.setup = setup;
    this.commitWindowMs = options.commitWindowMs ?? COMMIT_WINDOW_MS;
  }

  /** start - the thread, with the file open; rejects with BS_ERR_STORE_UNAVAILABLE. */
  async start(): Promise<void> {
    await this.thread();
  }

  write(doing: string, op: WriteOp): Promise<WriteResult> {
    if (this.closed) return Promise.reject(this.unavailable(doing, 'the store is closed'));
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ doing, op, resolve, reject });
      this.pump();
    });
  }

  eventsSince(afterId: number, limit: number): Promise<EventRow[]> {
    return this.request('reading events', { type: 'events', afterId, limit }) as Promise<EventRow[]>;
  }

  prune(olderThan: number): Promise<void> {
    return this.request('pruning events', { type: 'prune', olderThan }).then(() => undefined);
  }

  retain(chunk: RetainChunk): Promise<RetainCounts> {
    return this.request('deleting what is past its retention', { type: 'retain', retain: chunk }) as Promise<RetainCounts>;
  }

  /** close - after every queued write has settled; idempotent. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.pump(); // a batch waiting for its window goes now
      if (this.queue.length > 0 || this.inFlight.size > 0 || this.requests.size > 0) {
        await new Promise<void>((resolve) => this.drained.push(resolve));
      }
    }
    const worker = this.worker ?? (await this.starting?.catch(() => undefined));
    this.worker = undefined;
    this.starting = undefined;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage({ type: 'close' });
    await exited;
  }

  // ---- private

  private unavailable(doing: string, why: string): BlockSmithError {
    return new BlockSmithError('BS_ERR_STORE_UNAVAILABLE', `SQLite store ${this.setup.file}: ${doing} failed: ${why}`);
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.inFlight.size === 0 && this.requests.size === 0;
  }

  private settleIdle(): void {
    if (!this.idle()) return;
    this.worker?.unref();
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private thread(): Promise<Worker> {
    if (this.worker !== undefined) return Promise.resolve(this.worker);
    if (this.starting !== undefined) return this.starting;
    const starting = new Promise<Worker>((resolve, reject) => {
      let worker: Worker;
      try {
        worker = spawn(this.setup);
      } catch (err) {
        reject(storeUnavailable(this.setup.file, 'starting its writer thread', err));
        return;
      }
      let ready = false;
      worker.on('message', (msg: { type: string; id?: number; error?: WireError; results?: WriteResult[]; rows?: EventRow[]; result?: RetainCounts }) => {
        if (msg.type === 'ready') {
          ready = true;
          this.worker = worker;
          if (this.idle()) worker.unref();
          resolve(worker);
          return;
        }
        if (msg.type === 'open-error') {
          reject(storeUnavailable(this.setup.file, 'opening', driverError(msg.error ?? { code: 'UNKNOWN', message: 'open failed' })));
          return;
        }
        this.onMessage(msg);
      });
      worker.on('error', (err) => {
        if (!ready) reject(storeUnavailable(this.setup.file, 'starting its writer thread', err));
        this.lost(worker, err);
      });
      worker.on('exit', (code) => {
        if (!ready) reject(this.unavailable('opening', `the writer thread exited (${code})`));
        this.lost(worker, new Error(`the writer thread exited (${code})`));
      });
    });
    this.starting = starting;
    starting.then(
      () => {
        if (this.starting === starting) this.starting = undefined;
      },
      () => {
        if (this.starting === starting) this.starting = undefined;
      },
    );
    return starting;
  }

  /** lost - the thread is gone: everything outstanding fails; the next call starts another. */
  private lost(worker: Worker, err: unknown): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const [, batch] of this.inFlight) for (const p of batch) p.reject(storeUnavailable(this.setup.file, p.doing, err));
    this.inFlight.clear();
    for (const [, r] of this.requests) r.reject(storeUnavailable(this.setup.file, r.doing, err));
    this.requests.clear();
    this.pump();
    this.settleIdle();
  }

  private onMessage(msg: { type: string; id?: number; error?: WireError; results?: WriteResult[]; rows?: EventRow[]; result?: RetainCounts }): void {
    const id = msg.id ?? 0;
    if (msg.type === 'done' || msg.type === 'batch-error') {
      const batch = this.inFlight.get(id);
      this.inFlight.delete(id);
      batch?.forEach((p, i) => {
        if (msg.type === 'batch-error') {
          p.reject(storeUnavailable(this.setup.file, p.doing, driverError(msg.error ?? { code: 'UNKNOWN', message: 'batch failed' })));
          return;
        }
        const result = msg.results?.[i];
        if (result === undefined) p.reject(this.unavailable(p.doing, 'no result from the writer thread'));
        else if (result.ok) p.resolve(result);
        else p.reject(storeUnavailable(this.setup.file, p.doing, driverError(result.error)));
      });
      this.pump();
      this.settleIdle();
      return;
    }
    const request = this.requests.get(id);
    if (request === undefined) return;
    this.requests.delete(id);
    if (msg.type.endsWith('-error')) request.reject(storeUnavailable(this.setup.file, request.doing, driverError(msg.error ?? { code: 'UNKNOWN', message: 'failed' })));
    else request.resolve(msg.rows ?? msg.result);
    this.settleIdle();
  }

  /**
   * pump - send everything queued as one batch, unless a batch is already with the thread or
   * the commit window since the last batch is still open (then once it closes: `released`).
   */
  private pump(released = false): void {
    if (this.inFlight.size > 0 || this.queue.length === 0) return;
    const full = this.queue.length >= BATCH_MAX_OPS;
    let held = released;
    if (this.windowTimer !== undefined) {
      if (!full && !this.closed) return;
      clearTimeout(this.windowTimer);
      this.windowTimer = undefined;
      held = true;
    }
    const wait = this.lastSentAt + this.commitWindowMs - performance.now();
    if (!held && wait > 0 && !full && !this.closed) {
      if (this.unheld === 0) {
        this.counts.held++;
        this.windowTimer = setTimeout(this.windowClosed, wait);
        return;
      }
      this.unheld--;
    }
    const worker = this.worker;
    if (worker === undefined) {
      this.thread().then(
        () => this.pump(),
        (err: unknown) => {
          for (const p of this.queue.splice(0)) p.reject(err);
          this.settleIdle();
        },
      );
      return;
    }
    const batch = this.queue.splice(0, BATCH_MAX_OPS);
    if (held && batch.length === 1) this.unheld = HOLD_BACKOFF;
    this.lastSentAt = performance.now();
    this.counts.batches++;
    this.counts.writes += batch.length;
    const id = this.nextId++;
    this.inFlight.set(id, batch);
    worker.ref();
    worker.postMessage({ type: 'batch', id, ops: batch.map((p) => p.op) });
  }

  private request(doing: string, message: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(this.unavailable(doing, 'the store is closed'));
    return this.thread().then(
      (worker) =>
        new Promise<unknown>((resolve, reject) => {
          const id = this.nextId++;
          this.requests.set(id, { doing, resolve, reject });
          worker.ref();
          worker.postMessage({ ...message, id });
        }),
    );
  }
}
