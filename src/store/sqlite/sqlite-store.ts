/**
 * NAME
 *   store/sqlite/sqlite-store - the single-node Store: one SQLite file (better-sqlite3)
 *
 * SYNOPSIS
 *   const store = new SqliteStore({ path: 'data/blocksmith.db', now?, pollIntervalMs?, onBackgroundError?,
 *                                   commitWindowMs?, auditMaxEntries? })
 *   await store.open()            creates the directory and file, migrates, starts the event poller
 *   … every method of Store (store/types.ts) …
 *   await store.applyRetention()  delete what is past store/retention.ts (also done hourly by itself)
 *   await store.close()           stops the poller, closes the file; idempotent
 *
 * DESCRIPTION
 *   Settings: WAL journal (readers never block the writer), `synchronous = FULL` (a write whose
 *   promise resolved has been fsynced and survives SIGKILL or power loss), busy_timeout
 *   BUSY_TIMEOUT_MS (another process holding the write lock is waited for, not failed at once),
 *   foreign keys on. Schema: migrations.ts. SQL texts: sql.ts. Rows: rows.ts. Change events:
 *   events.ts. Cursors: cursor.ts. Operator accounts,
 *   console sessions and failed-login counters: accounts.ts.
 *
 *   Atomicity: every write that carries an audit entry writes the record, the audit row (id:
 *   16 crypto-random bytes, hex) and, for listing and allow changes, an `events` row as ONE
 *   unit (a savepoint inside a committed transaction); the own process's listeners hear the
 *   change right after the commit.
 *
 *   Writes run on a thread of their own (write-worker.ts, write-channel.ts) with its own
 *   connection: the writes asked for while a commit is under way go together in the next
 *   transaction (group commit: one fsync for many), and the event loop never waits for an
 *   fsync. A write's promise resolves only after its transaction is committed (synchronous
 *   FULL), as before. Reads stay on the main thread's connection (the driver is synchronous:
 *   each read runs to completion on the event loop): statements are small, prepared once
 *   (cached by their text, built from fixed fragments), and every read is bounded by a page
 *   limit. The firewall keeps its own hot cache; this store serves writes,
 *   start-up loading and the console.
 *
 *   Orders and pages: listings by ip (text order), `within` filtered in JS with BypassList over
 *   chunks of WITHIN_SCAN_CHUNK rows; requests newest first (createdAt, ref); contacts and audit
 *   newest first (at, id). `next` is present exactly when more items match. Cursors: cursor.ts.
 *   stats(from, to): from <= hour < to. A page limit below 1 counts as 1, above
 *   MAX_PAGE_LIMIT as MAX_PAGE_LIMIT; addStats ignores increments that are 0 or not integers.
 *
 *   Retention, as Redis does with key TTLs and its capped audit set (store/retention.ts):
 *   evidence older than 90 days, hourly counters older than 400 days and the audit entries past
 *   the newest auditMaxEntries are deleted once an hour (with the first events pruning
 *   RETENTION_EVERY_MS after open, and so on), RETENTION_CHUNK_ROWS rows a table per transaction on
 *   the writer thread, so that writes queued meanwhile wait for one chunk only; at most
 *   RETENTION_MAX_CHUNKS chunks a run (a backlog drains over the following hours). Every
 *   process on the file does it; the deletes are idempotent.
 *
 * LIMITS
 *   BUSY_TIMEOUT_MS (5 s), DEFAULT_POLL_INTERVAL_MS (250), MIN_POLL_INTERVAL_MS (10),
 *   DEFAULT_PAGE_LIMIT (100), MAX_PAGE_LIMIT (1,000), DEFAULT_ACTIVE_BATCH (500),
 *   WITHIN_SCAN_CHUNK (1,000 rows per query when filtering by range), RETENTION_EVERY_MS (1 hour),
 *   RETENTION_CHUNK_ROWS (2,000), RETENTION_MAX_CHUNKS (500).
 *
 * DIAGNOSTICS
 *   Every driver or file-system failure, and any call before open() or after close(), rejects
 *   with BlockSmithError BS_ERR_STORE_UNAVAILABLE naming the file and the code (driver-errors.ts).
 *   A bad page cursor: BS_ERR_USAGE. A bad `within`: BS_ERR_CIDR_INVALID. Bad constructor
 *   options: BS_ERR_CONFIG_INVALID.
 *
 * SEE ALSO
 *   store/types.ts, docs/storage.md, test/unit/store/contract.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import Database from 'better-sqlite3';

import { normaliseAddress } from '../../check/address.js';
import { BypassList } from '../../check/bypass.js';
import { BlockSmithError } from '../../errors.js';
import type {
  AllowEntry,
  AuditEntry,
  AuditFilter,
  ContactMessage,
  Evidence,
  HourlyStats,
  Listing,
  ListingFilter,
  LoginFailures,
  OperatorAccount,
  Page,
  PutListingOptions,
  RequestState,
  SessionRecord,
  Store,
  StoreEvent,
  WhitelistRequest,
} from '../types.js';
import { AUDIT_MAX_ENTRIES, EVIDENCE_RETENTION_MS, STATS_RETENTION_MS } from '../retention.js';
import { SqliteAccounts } from './accounts.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { guarded, storeUnavailable } from './driver-errors.js';
import { ChangeFeed, eventKey } from './events.js';
import { migrate } from './migrations.js';
import * as rows from './rows.js';
import { SQL, auditQuery, listingsQuery, requestsQuery } from './sql.js';
import { WriteChannel, type WriteCounts } from './write-channel.js';
import type { RetainChunk, RetainCounts, WriteOp, WriteResult, WriteStep } from './write-worker.js';

/** How long a statement waits for another process's write lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;
export const DEFAULT_POLL_INTERVAL_MS = 250;
export const MIN_POLL_INTERVAL_MS = 10;
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_ACTIVE_BATCH = 500;
/** Rows read per query while filtering listings by `within`. */
export const WITHIN_SCAN_CHUNK = 1000;
export const RETENTION_EVERY_MS = 3_600_000;
export const RETENTION_CHUNK_ROWS = 2_000;
export const RETENTION_MAX_CHUNKS = 500;
const AUDIT_ID_BYTES = 16;

export interface SqliteStoreOptions {
  /** The database file; its directory is created when missing. */
  readonly path: string;
  /** Clock for leases and event pruning (ms since the epoch); Date.now by default. */
  readonly now?: () => number;
  /** How often to look for other processes' changes (ms); 250 by default. */
  readonly pollIntervalMs?: number;
  /** Failures off the call path: a throwing listener, a failed poll. Ignored by default. */
  readonly onBackgroundError?: (err: unknown) => void;
  /** The writer thread's commit window (write-channel.ts COMMIT_WINDOW_MS, 4 ms, by default). */
  readonly commitWindowMs?: number;
  /** Audit entries kept (store/retention.ts AUDIT_MAX_ENTRIES by default), as on Redis. */
  readonly auditMaxEntries?: number;
}

type AuditInput = Omit<AuditEntry, 'id'>;

function clampLimit(limit: number | undefined, fallback: number): number {
  if (limit === undefined || Number.isNaN(limit)) return fallback;
  return Math.max(1, Math.min(MAX_PAGE_LIMIT, Math.floor(limit)));
}

function step(sql: string, ...args: unknown[]): WriteStep {
  return { sql, args };
}

/** Audit ids drawn from one randomBytes call: a call per write cost more than the rest of building the write. */
const AUDIT_IDS_PER_POOL = 256;
let auditPool = Buffer.alloc(0);
let auditPoolAt = 0;

function newAuditId(): string {
  if (auditPoolAt + AUDIT_ID_BYTES > auditPool.length) {
    auditPool = randomBytes(AUDIT_ID_BYTES * AUDIT_IDS_PER_POOL);
    auditPoolAt = 0;
  }
  const id = auditPool.toString('hex', auditPoolAt, auditPoolAt + AUDIT_ID_BYTES);
  auditPoolAt += AUDIT_ID_BYTES;
  return id;
}

export class SqliteStore implements Store {
  readonly file: string;
  private readonly now: () => number;
  private readonly pollIntervalMs: number;
  private readonly onBackgroundError: (err: unknown) => void;
  private readonly commitWindowMs: number | undefined;
  private readonly auditMaxEntries: number;
  /** this.now() of the last retention run, or of open(): the first run is an hour after it. */
  private lastRetentionAt = 0;
  private db: Database.Database | undefined;
  private closed = false;
  private feed: ChangeFeed | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  private writer: WriteChannel | undefined;
  /** Accounts, sessions, failed logins (accounts.ts), on this store's read and write paths. */
  private readonly accounts = new SqliteAccounts({
    read: (doing, fn) => this.run(doing, () => fn((sql) => this.stmt(sql))),
    write: async (doing, audit, steps, guard = false) =>
      audit === undefined ? (await this.send(doing, { steps, guard })).changed : this.write(doing, audit, undefined, steps, guard),
  });

  constructor(options: SqliteStoreOptions) {
    if (typeof options.path !== 'string' || options.path === '') {
      throw new BlockSmithError('BS_ERR_CONFIG_INVALID', 'SQLite store: `path` must be a non-empty file name');
    }
    const poll = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    if (!Number.isFinite(poll) || poll < MIN_POLL_INTERVAL_MS) {
      throw new BlockSmithError(
        'BS_ERR_CONFIG_INVALID',
        `SQLite store: pollIntervalMs must be at least ${MIN_POLL_INTERVAL_MS}, got ${String(poll)}`,
      );
    }
    this.file = resolve(options.path);
    this.now = options.now ?? Date.now;
    this.pollIntervalMs = poll;
    this.onBackgroundError = options.onBackgroundError ?? ((): void => undefined);
    const window = options.commitWindowMs;
    if (window !== undefined && !(Number.isFinite(window) && window >= 0)) {
      throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `SQLite store: commitWindowMs must be 0 or more, got ${String(window)}`);
    }
    this.commitWindowMs = window;
    const keep = options.auditMaxEntries ?? AUDIT_MAX_ENTRIES;
    if (!Number.isSafeInteger(keep) || keep < 1) {
      throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `SQLite store: auditMaxEntries must be a whole number of 1 or more, got ${String(keep)}`);
    }
    this.auditMaxEntries = keep;
  }

  /**
   * applyRetention - delete the evidence, hourly counters and audit entries past their retention
   * (store/retention.ts), RETENTION_CHUNK_ROWS rows a table per transaction, at most
   * RETENTION_MAX_CHUNKS transactions; how many rows of each went.
   */
  async applyRetention(): Promise<RetainCounts> {
    await Promise.resolve();
    const writer = this.writerThread('applying retention');
    const now = this.now();
    const chunk: RetainChunk = {
      evidenceBefore: now - EVIDENCE_RETENTION_MS,
      statsBefore: now - STATS_RETENTION_MS,
      auditKeep: this.auditMaxEntries,
      chunk: RETENTION_CHUNK_ROWS,
    };
    const total = { evidence: 0, stats: 0, audit: 0 };
    for (let i = 0; i < RETENTION_MAX_CHUNKS; i++) {
      const done = await writer.retain(chunk);
      total.evidence += done.evidence;
      total.stats += done.stats;
      total.audit += done.audit;
      if (Math.max(done.evidence, done.stats, done.audit) < RETENTION_CHUNK_ROWS) break;
    }
    return total;
  }

  /** How the writer thread's commits grouped the writes (write-channel.ts); undefined before open(). */
  get writeCounts(): Readonly<WriteCounts> | undefined {
    return this.writer?.counts;
  }

  // ---- lifecycle --------------------------------------------------------------------------

  async open(): Promise<void> {
    await Promise.resolve();
    if (this.closed) throw this.unavailable('open', 'the store was closed');
    if (this.db !== undefined) return;
    guarded(this.file, 'creating its directory', () => mkdirSync(dirname(this.file), { recursive: true }));
    const db = guarded(this.file, 'opening', () => new Database(this.file));
    try {
      guarded(this.file, 'setting it up', () => {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL could not be set`);
        db.pragma('synchronous = FULL');
        db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
        db.pragma('foreign_keys = ON');
      });
      migrate(db, this.file);
      this.db = db;
      const lastId = guarded(this.file, 'reading the event position', () =>
        this.stmt(SQL.eventsMaxId).pluck().get(),
      );
      const writer = new WriteChannel(
        { file: this.file, busyTimeoutMs: BUSY_TIMEOUT_MS },
        this.commitWindowMs === undefined ? {} : { commitWindowMs: this.commitWindowMs },
      );
      this.writer = writer;
      await writer.start();
      this.feed = new ChangeFeed(
        {
          // Through the writer thread, in order with the writes (write-worker.ts).
          since: (afterId, limit) => writer.eventsSince(afterId, limit),
          prune: async (olderThan) => {
            await writer.prune(olderThan);
            if (this.now() - this.lastRetentionAt < RETENTION_EVERY_MS) return;
            this.lastRetentionAt = this.now();
            await this.applyRetention();
          },
        },
        { pollIntervalMs: this.pollIntervalMs, now: this.now, onError: this.onBackgroundError },
      );
      this.lastRetentionAt = this.now();
      this.feed.start(Number(lastId));
    } catch (err) {
      this.db = undefined;
      this.statements.clear();
      db.close();
      await this.writer?.close();
      this.writer = undefined;
      throw storeUnavailable(this.file, 'opening', err);
    }
  }

  async close(): Promise<void> {
    await Promise.resolve();
    this.closed = true;
    this.feed?.stop();
    this.feed = undefined;
    // Writes already asked for finish first (each caller awaits its own).
    const writer = this.writer;
    this.writer = undefined;
    await writer?.close();
    const db = this.db;
    this.db = undefined;
    this.statements.clear();
    if (db !== undefined) guarded(this.file, 'closing', () => db.close());
  }

  subscribe(listener: (event: StoreEvent, local: boolean) => void): () => void {
    if (this.feed === undefined) throw this.unavailable('subscribe', 'the store is not open');
    return this.feed.subscribe(listener);
  }

  // ---- listings ---------------------------------------------------------------------------

  async getListing(ip: string): Promise<Listing | undefined> {
    return this.run('reading a listing', () => {
      const row = this.stmt(SQL.listingGet).get(ip) as rows.ListingRow | undefined;
      return row === undefined ? undefined : rows.listingFrom(row);
    });
  }

  async putListing(listing: Listing, audit: AuditInput, options?: PutListingOptions): Promise<boolean> {
    // unlessActive: the conditional upsert is the guard (no row changed: nothing of the write is kept).
    const unlessActive = options?.unlessActive === true;
    const sql = unlessActive ? SQL.listingPutUnlessActive : SQL.listingPut;
    return this.write('writing a listing', audit, { type: 'listing', ip: listing.ip }, [step(sql, rows.listingParams(listing))], unlessActive);
  }

  async activeListings(batch: (listings: readonly Listing[]) => void, batchSize?: number): Promise<void> {
    const size = clampLimit(batchSize, DEFAULT_ACTIVE_BATCH);
    let after = '';
    for (;;) {
      const page = await this.run('reading active listings', () =>
        (this.stmt(SQL.listingsActiveAfter).all(after, size) as rows.ListingRow[]).map(rows.listingFrom),
      );
      const last = page[page.length - 1];
      if (last === undefined) return;
      batch(page);
      if (page.length < size) return;
      after = last.ip;
    }
  }

  async listListings(filter: ListingFilter): Promise<Page<Listing>> {
    const limit = clampLimit(filter.limit, DEFAULT_PAGE_LIMIT);
    const range = filter.within === undefined ? undefined : new BypassList([filter.within]);
    let after = filter.after === undefined ? undefined : decodeCursor('listings', filter.after, ['string'] as const)[0];
    const fetch = (n: number): Promise<rows.ListingRow[]> =>
      this.run('listing listings', () => {
        const q = listingsQuery(filter, after, n);
        return this.stmt(q.sql).all(...q.params) as rows.ListingRow[];
      });
    const toPage = (found: readonly rows.ListingRow[]): Promise<Page<Listing>> =>
      this.run('reading listings', () =>
        this.pageOf(found.slice(0, limit + 1).map(rows.listingFrom), limit, (l) => ['listings', [l.ip]]),
      );

    if (range === undefined) return toPage(await fetch(limit + 1));
    // Range filter in JS over chunks in ip order (text order is not numeric order); each chunk
    // is its own short statement, so the event loop breathes between them.
    const found: rows.ListingRow[] = [];
    for (;;) {
      const chunk = await fetch(WITHIN_SCAN_CHUNK);
      for (const row of chunk) if (inRange(range, row.ip)) found.push(row);
      const last = chunk[chunk.length - 1];
      if (found.length > limit || last === undefined || chunk.length < WITHIN_SCAN_CHUNK) break;
      after = last.ip;
    }
    return toPage(found);
  }

  async dueForRecheck(now: number, limit: number): Promise<readonly Listing[]> {
    const n = clampLimit(limit, DEFAULT_PAGE_LIMIT);
    return this.run('reading due listings', () =>
      (this.stmt(SQL.listingsDue).all(now, n) as rows.ListingRow[]).map(rows.listingFrom),
    );
  }

  // ---- evidence ---------------------------------------------------------------------------

  async putEvidence(evidence: Evidence): Promise<void> {
    await this.send('writing evidence', { steps: [step(SQL.evidencePut, rows.evidenceParams(evidence))] });
  }

  async getEvidence(ref: string): Promise<Evidence | undefined> {
    return this.run('reading evidence', () => {
      const row = this.stmt(SQL.evidenceGet).get(ref) as rows.EvidenceRow | undefined;
      return row === undefined ? undefined : rows.evidenceFrom(row);
    });
  }

  // ---- allowlist --------------------------------------------------------------------------

  async putAllow(entry: AllowEntry, audit: AuditInput): Promise<void> {
    await this.write('writing an allow entry', audit, { type: 'allow', id: entry.id }, [step(SQL.allowPut, rows.allowParams(entry))]);
  }

  async removeAllow(id: string, audit: AuditInput): Promise<boolean> {
    return this.write('removing an allow entry', audit, { type: 'allow', id }, [step(SQL.allowDelete, id)], true);
  }

  async getAllow(id: string): Promise<AllowEntry | undefined> {
    return this.run('reading an allow entry', () => {
      const row = this.stmt(SQL.allowGet).get(id) as rows.AllowRow | undefined;
      return row === undefined ? undefined : rows.allowFrom(row);
    });
  }

  async allAllows(): Promise<readonly AllowEntry[]> {
    return this.run('reading the allowlist', () =>
      (this.stmt(SQL.allowAll).all() as rows.AllowRow[]).map(rows.allowFrom),
    );
  }

  // ---- whitelist requests -----------------------------------------------------------------

  async putRequest(request: WhitelistRequest, audit: AuditInput): Promise<void> {
    await this.write('writing a whitelist request', audit, undefined, [step(SQL.requestPut, rows.requestParams(request))]);
  }

  async getRequest(ref: string): Promise<WhitelistRequest | undefined> {
    return this.run('reading a whitelist request', () => {
      const row = this.stmt(SQL.requestGet).get(ref) as rows.RequestRow | undefined;
      return row === undefined ? undefined : rows.requestFrom(row);
    });
  }

  async listRequests(state: RequestState | undefined, limit: number, after?: string): Promise<Page<WhitelistRequest>> {
    const n = clampLimit(limit, DEFAULT_PAGE_LIMIT);
    const key = after === undefined ? undefined : decodeCursor('requests', after, ['number', 'string'] as const);
    const found = await this.run('listing whitelist requests', () => {
      const q = requestsQuery(state, key, n + 1);
      return (this.stmt(q.sql).all(...q.params) as rows.RequestRow[]).map(rows.requestFrom);
    });
    return this.pageOf(found, n, (q) => ['requests', [q.createdAt, q.ref]]);
  }

  async approveRequest(request: WhitelistRequest, allow: AllowEntry, audit: AuditInput): Promise<void> {
    await this.write('approving a whitelist request', audit, { type: 'allow', id: allow.id }, [
      step(SQL.requestPut, rows.requestParams(request)),
      step(SQL.allowPut, rows.allowParams(allow)),
    ]);
  }

  // ---- contact messages -------------------------------------------------------------------

  async putContact(message: ContactMessage, audit: AuditInput): Promise<void> {
    await this.write('writing a contact message', audit, undefined, [step(SQL.contactPut, rows.contactParams(message))]);
  }

  async listContacts(limit: number, after?: string): Promise<Page<ContactMessage>> {
    const n = clampLimit(limit, DEFAULT_PAGE_LIMIT);
    const key = after === undefined ? undefined : decodeCursor('contacts', after, ['number', 'string'] as const);
    const found = await this.run('listing contact messages', () =>
      (key === undefined
        ? (this.stmt(SQL.contactsFirst).all(n + 1) as rows.ContactRow[])
        : (this.stmt(SQL.contactsAfter).all(...key, n + 1) as rows.ContactRow[])
      ).map(rows.contactFrom),
    );
    return this.pageOf(found, n, (c) => ['contacts', [c.at, c.id]]);
  }

  // ---- audit ------------------------------------------------------------------------------

  async listAudit(filter: AuditFilter): Promise<Page<AuditEntry>> {
    const n = clampLimit(filter.limit, DEFAULT_PAGE_LIMIT);
    const key = filter.after === undefined ? undefined : decodeCursor('audit', filter.after, ['number', 'string'] as const);
    const found = await this.run('reading the audit log', () => {
      const q = auditQuery(filter, key, n + 1);
      return (this.stmt(q.sql).all(...q.params) as rows.AuditRow[]).map(rows.auditFrom);
    });
    return this.pageOf(found, n, (a) => ['audit', [a.at, a.id]]);
  }

  // ---- statistics -------------------------------------------------------------------------

  async addStats(hour: number, increments: Readonly<Record<string, number>>): Promise<void> {
    const entries = Object.entries(increments).filter(([, n]) => Number.isSafeInteger(n) && n !== 0);
    this.database();
    if (entries.length === 0) return;
    await this.send('adding statistics', { steps: entries.map(([name, n]) => step(SQL.statsAdd, hour, name, n)) });
  }

  async stats(fromHour: number, toHour: number): Promise<readonly HourlyStats[]> {
    const found = await this.run('reading statistics', () =>
      this.stmt(SQL.statsRange).all(fromHour, toHour) as { hour: number; name: string; count: number }[],
    );
    const out: HourlyStats[] = [];
    let hour: number | undefined;
    let counters: [string, number][] = [];
    const flush = (): void => {
      if (hour !== undefined) out.push({ hour, counters: Object.fromEntries(counters) });
    };
    for (const row of found) {
      if (row.hour !== hour) {
        flush();
        hour = row.hour;
        counters = [];
      }
      counters.push([row.name, row.count]);
    }
    flush();
    return out;
  }

  // ---- accounts and console sessions (accounts.ts) ---------------------------------------

  addAccount(account: OperatorAccount, audit: AuditInput): Promise<boolean> {
    return this.accounts.addAccount(account, audit);
  }

  putAccount(account: OperatorAccount, audit: AuditInput): Promise<boolean> {
    return this.accounts.putAccount(account, audit);
  }

  getAccount(name: string): Promise<OperatorAccount | undefined> {
    return this.accounts.getAccount(name);
  }

  removeAccount(name: string, audit: AuditInput): Promise<boolean> {
    return this.accounts.removeAccount(name, audit);
  }

  listAccounts(): Promise<readonly OperatorAccount[]> {
    return this.accounts.listAccounts();
  }

  putSession(session: SessionRecord, audit: AuditInput): Promise<void> {
    return this.accounts.putSession(session, audit);
  }

  getSession(idHash: string): Promise<SessionRecord | undefined> {
    return this.accounts.getSession(idHash);
  }

  removeSession(idHash: string, audit: AuditInput): Promise<boolean> {
    return this.accounts.removeSession(idHash, audit);
  }

  addLoginFailure(keys: readonly string[], now: number, windowMs: number, audit: AuditInput): Promise<readonly LoginFailures[]> {
    return this.accounts.addLoginFailure(keys, now, windowMs, audit);
  }

  loginFailures(key: string, now: number): Promise<LoginFailures | undefined> {
    return this.accounts.loginFailures(key, now);
  }

  clearLoginFailures(key: string): Promise<void> {
    return this.accounts.clearLoginFailures(key);
  }

  putAudit(audit: AuditInput): Promise<void> {
    return this.accounts.putAudit(audit);
  }

  // ---- leases -----------------------------------------------------------------------------

  async lease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const result = await this.send('taking a lease', { steps: [step(SQL.leaseTake, name, holder, now + ttlMs, now)] });
    return result.changes > 0;
  }

  // ---- private ----------------------------------------------------------------------------

  private unavailable(doing: string, why: string): BlockSmithError {
    return new BlockSmithError('BS_ERR_STORE_UNAVAILABLE', `SQLite store ${this.file}: ${doing} failed: ${why}`);
  }

  private database(): Database.Database {
    if (this.db === undefined) {
      throw this.unavailable('access', this.closed ? 'the store is closed' : 'the store is not open');
    }
    return this.db;
  }

  /** stmt - the prepared statement for `sql`, prepared on first use. */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.database().prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** run - `fn` against the open database; every failure leaves as BS_ERR_STORE_UNAVAILABLE. */
  private async run<T>(doing: string, fn: () => T): Promise<T> {
    await Promise.resolve();
    return guarded(this.file, doing, fn);
  }

  /** send - one write to the writer thread; settles once its batch is committed. */
  /** writerThread - the writer thread's channel; BS_ERR_STORE_UNAVAILABLE when not open, or closed. */
  private writerThread(doing: string): WriteChannel {
    this.database(); // not open, or closed: BS_ERR_STORE_UNAVAILABLE
    const writer = this.writer;
    if (writer === undefined) throw this.unavailable(doing, 'the store is not open');
    return writer;
  }

  private async send(doing: string, op: WriteOp): Promise<Extract<WriteResult, { ok: true }>> {
    await Promise.resolve();
    const writer = this.writerThread(doing);
    const result = await writer.write(doing, op);
    if (!result.ok) throw this.unavailable(doing, result.error.message);
    return result;
  }

  /**
   * write - `steps` plus the audit row (and the event row when `event` is given) as one unit,
   * committed by the writer thread (write-worker.ts: a savepoint in a group commit). With
   * `guard`, a first step that changes no row makes the whole write a no-op (false), with
   * neither audit nor event. The own listeners hear the event after the commit.
   */
  private async write(doing: string, audit: AuditInput, event: StoreEvent | undefined, steps: WriteStep[], guard = false): Promise<boolean> {
    const result = await this.send(doing, {
      steps,
      guard,
      audit: rows.auditParams(newAuditId(), audit),
      ...(event === undefined ? {} : { event: [event.type, eventKey(event), this.now()] as const }),
    });
    if (!result.changed) return false;
    if (result.eventId !== undefined && event !== undefined) this.feed?.announceLocal(result.eventId, event);
    return true;
  }

  /** pageOf - the first `limit` of `found` (fetched with one extra), and a cursor when more exist. */
  private pageOf<T>(found: readonly T[], limit: number, key: (item: T) => [Parameters<typeof encodeCursor>[0], (string | number)[]]): Page<T> {
    const items = found.slice(0, limit);
    const last = items[items.length - 1];
    if (found.length <= limit || last === undefined) return { items };
    const [kind, k] = key(last);
    return { items, next: encodeCursor(kind, k) };
  }
}

/** inRange - whether a stored (normalised) address lies in the range; unparsable rows never do. */
function inRange(range: BypassList, ip: string): boolean {
  try {
    return range.match(normaliseAddress(ip)) !== null;
  } catch {
    return false;
  }
}
