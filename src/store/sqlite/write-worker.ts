/**
 * NAME
 *   store/sqlite/write-worker - the SQLite store's writes, off the event loop, many per commit
 *
 * SYNOPSIS
 *   new Worker(this file, { workerData: { file, busyTimeoutMs } })       (write-channel.ts does this)
 *   → { type: 'ready' } | { type: 'open-error', error }
 *   ← { type: 'batch', id, ops: WriteOp[] }  → { type: 'done', id, results } | { type: 'batch-error', id, error }
 *   ← { type: 'events', id, afterId, limit } → { type: 'events', id, rows } | { type: 'events-error', id, error }
 *   ← { type: 'retain', id, evidenceBefore, statsBefore, auditKeep, chunk }
 *                                            → { type: 'retained', id, result: RetainCounts } | { type: 'retain-error', id, error }
 *   ← { type: 'close' }                      → closes the database, the thread ends
 *
 * DESCRIPTION
 *   better-sqlite3 is synchronous, and with `synchronous = FULL` every commit waits for an fsync
 *   (0.4 ms typical, several ms at the 99th percentile on the benchmark VMs). On the main thread
 *   that held the event loop: decisions waited behind listing writes. This thread owns the
 *   database connection that writes; the main thread keeps its own connection for reads (WAL:
 *   readers never wait for the writer, and see every commit made before they start).
 *
 *   A batch is every write the main thread queued while the previous batch ran (group commit):
 *   ONE `BEGIN IMMEDIATE … COMMIT`, so one fsync for the lot. Each write in it runs inside its
 *   own SAVEPOINT, so one failing write (a constraint) is rolled back alone and reported alone;
 *   the others commit. A write's result is posted only after the COMMIT returned, so the main
 *   thread resolves a write's promise only once it is durable, exactly as before. A COMMIT that
 *   fails fails every write of the batch.
 *
 *   Reading the events table for the change feed happens here too, in order with the batches:
 *   the main thread hears a batch's results (and announces its own events) before it can read
 *   those events back from the table, so its own changes are never announced twice.
 *
 *   A write is data, not code: statements (SQL text from sql.ts and bound parameters), an
 *   optional guard (the first statement changed no row: the write is a no-op, nothing of it is
 *   kept), an optional audit row and an optional event row.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SQL } from './sql.js';

/** One statement of a write: SQL text and the arguments of `run`. */
export interface WriteStep {
  readonly sql: string;
  readonly args: readonly unknown[];
}

export interface WriteOp {
  readonly steps: readonly WriteStep[];
  /** When the first step changes no row, the write is a no-op: rolled back, `changed: false`. */
  readonly guard?: boolean;
  /** Parameters of SQL.auditInsert. */
  readonly audit?: unknown;
  /** [type, key, at] of SQL.eventInsert. */
  readonly event?: readonly [string, string, number];
}

export interface WireError {
  readonly code: string;
  readonly message: string;
}

export type WriteResult =
  | { readonly ok: true; readonly changed: boolean; readonly changes: number; readonly eventId?: number }
  | { readonly ok: false; readonly error: WireError };

/** One chunk of retention (store/retention.ts): what is past it, at most `chunk` rows a table. */
export interface RetainChunk {
  readonly evidenceBefore: number;
  readonly statsBefore: number;
  readonly auditKeep: number;
  readonly chunk: number;
}

/** Rows deleted by one RetainChunk, by table. */
export interface RetainCounts {
  readonly evidence: number;
  readonly stats: number;
  readonly audit: number;
}

export interface WorkerSetup {
  readonly file: string;
  readonly busyTimeoutMs: number;
}

function wire(err: unknown): WireError {
  const code =
    typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
      ? err.code
      : err instanceof Error
        ? err.name
        : 'UNKNOWN';
  return { code, message: err instanceof Error ? err.message : String(err) };
}

function main(): void {
  const port = parentPort;
  if (port === null) return;
  const setup = workerData as WorkerSetup;
  let db: Database.Database;
  try {
    db = new Database(setup.file);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL could not be set`);
    db.pragma('synchronous = FULL');
    db.pragma(`busy_timeout = ${setup.busyTimeoutMs}`);
    db.pragma('foreign_keys = ON');
  } catch (err) {
    port.postMessage({ type: 'open-error', error: wire(err) });
    return;
  }
  const statements = new Map<string, Database.Statement>();
  const stmt = (sql: string): Database.Statement => {
    let s = statements.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };

  const runOp = (op: WriteOp): WriteResult => {
    db.exec('SAVEPOINT w');
    try {
      let changes = 0;
      for (let i = 0; i < op.steps.length; i++) {
        const step = op.steps[i] as WriteStep;
        changes = stmt(step.sql).run(...step.args).changes;
        if (i === 0 && op.guard === true && changes === 0) {
          db.exec('ROLLBACK TO w');
          db.exec('RELEASE w');
          return { ok: true, changed: false, changes: 0 };
        }
      }
      if (op.audit !== undefined) stmt(SQL.auditInsert).run(op.audit);
      let eventId: number | undefined;
      if (op.event !== undefined) eventId = Number(stmt(SQL.eventInsert).run(...op.event).lastInsertRowid);
      db.exec('RELEASE w');
      return eventId === undefined ? { ok: true, changed: true, changes } : { ok: true, changed: true, changes, eventId };
    } catch (err) {
      try {
        db.exec('ROLLBACK TO w');
        db.exec('RELEASE w');
      } catch {
        // The transaction itself is gone (I/O error, disk full): the COMMIT below reports it.
      }
      return { ok: false, error: wire(err) };
    }
  };

  port.on('message', (msg: { type: string; id?: number; ops?: WriteOp[]; afterId?: number; limit?: number; olderThan?: number; retain?: RetainChunk }) => {
    if (msg.type === 'close') {
      try {
        db.close();
      } finally {
        port.close();
      }
      return;
    }
    if (msg.type === 'events') {
      try {
        const rows = stmt(SQL.eventsSince).all(msg.afterId, msg.limit);
        port.postMessage({ type: 'events', id: msg.id, rows });
      } catch (err) {
        port.postMessage({ type: 'events-error', id: msg.id, error: wire(err) });
      }
      return;
    }
    if (msg.type === 'prune') {
      try {
        stmt(SQL.eventsPrune).run(msg.olderThan);
        port.postMessage({ type: 'pruned', id: msg.id });
      } catch (err) {
        port.postMessage({ type: 'prune-error', id: msg.id, error: wire(err) });
      }
      return;
    }
    if (msg.type === 'retain' && msg.retain !== undefined) {
      // One transaction a chunk: the writes queued behind it wait for one chunk, not for the lot.
      const r = msg.retain;
      try {
        const result: RetainCounts = db.transaction(() => ({
          evidence: stmt(SQL.evidenceRetain).run(r.evidenceBefore, r.chunk).changes,
          stats: stmt(SQL.statsRetain).run(r.statsBefore, r.chunk).changes,
          audit: stmt(SQL.auditRetain).run(r.chunk, r.auditKeep).changes,
        })).immediate();
        port.postMessage({ type: 'retained', id: msg.id, result });
      } catch (err) {
        port.postMessage({ type: 'retain-error', id: msg.id, error: wire(err) });
      }
      return;
    }
    if (msg.type !== 'batch') return;
    const ops = msg.ops ?? [];
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      port.postMessage({ type: 'batch-error', id: msg.id, error: wire(err) });
      return;
    }
    const results = ops.map(runOp);
    try {
      db.exec('COMMIT');
    } catch (err) {
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // Nothing more to undo.
      }
      port.postMessage({ type: 'batch-error', id: msg.id, error: wire(err) });
      return;
    }
    port.postMessage({ type: 'done', id: msg.id, results });
  });
  port.postMessage({ type: 'ready' });
}

main();
