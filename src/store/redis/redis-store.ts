/**
 * NAME
 *   store/redis/redis-store - the Store on Redis, shared by several MX nodes
 *
 * SYNOPSIS
 *   const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix?, now?, commandTimeoutMs?, nodeId?,
 *                                  auditMaxEntries? })                  throws RangeError on a bad number
 *   await store.open()                   throws BS_ERR_STORE_UNAVAILABLE (unreachable within OPEN_TIMEOUT_MS)
 *   every Store method (store/types.ts)
 *   store.isAvailable(): boolean         connected and ready right now
 *   store.nodeId: string                 sent with each event this node publishes
 *
 * DESCRIPTION
 *   Keys: store/redis/keys.ts (and docs/storage.md, ## Redis). Records are whole JSON values
 *   (codec.ts). Each audited write (putListing, putAllow, removeAllow, putRequest,
 *   approveRequest, putContact) is ONE Lua script (scripts.ts): record, indexes, audit entry
 *   and, for listings and allow entries, the PUBLISH on `<prefix>events`, all or nothing.
 *   addStats is one MULTI/EXEC. Accounts, console sessions and failed-login counters: accounts.ts. Reads of a page take the index, then the records (pages.ts), and
 *   re-check the filter on each record.
 *
 *   Two connections: one for commands, one in subscriber mode for `<prefix>events`. Every node
 *   hears every event, its own included. After an outage ioredis reconnects both and the
 *   subscriber re-subscribes; events published while a node was cut off are lost to it (the
 *   firewall reloads what it needs when the store is back).
 *
 *   Redis down: calls reject at once (or after commandTimeoutMs when Redis stalls) with
 *   BS_ERR_STORE_UNAVAILABLE naming the URL; nothing queues, nothing hangs (connection.ts).
 *
 *   Durability is Redis's own: with no persistence configured a Redis restart loses the data.
 *   Run Redis with AOF (appendonly yes) for listings to survive it.
 *
 *   Times: `now` (default Date.now) is the clock of lease expiry; record times are the caller's.
 *
 * LIMITS
 *   store/retention.ts: evidence 90 days (key TTL), an hour's counters 400 days after their last
 *   increment (key TTL), AUDIT_MAX_ENTRIES 250,000 (oldest dropped);
 *   ACTIVE_BATCH_DEFAULT 1,000; page limits in pages.ts; timeouts in connection.ts.
 *
 * DIAGNOSTICS
 *   BlockSmithError BS_ERR_STORE_UNAVAILABLE: not open / closed, Redis unreachable, a command
 *   refused (a script's `BSERR` answer on bad input), a stored value not ours. RangeError: a
 *   page cursor that is not ours, a lease ttl or a stats increment that is not a positive /
 *   whole number. A listener that throws: process.emitWarning BS_STORE_LISTENER (events.ts).
 *
 * SEE ALSO
 *   store/types.ts (the contract), test/unit/store/redis.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import type { Redis } from 'ioredis';

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
import { RedisAccounts } from './accounts.js';
import {
  decodeAllow,
  decodeAudit,
  decodeContact,
  decodeEvidence,
  decodeListing,
  decodeRequest,
  encodeAudit,
  encodeRecord,
} from './codec.js';
import { COMMAND_TIMEOUT_MS_DEFAULT, OPEN_TIMEOUT_MS, connectClient, createClient, safeUrl, storeError } from './connection.js';
import { EventListeners, encodeEvent, parseEvent } from './events.js';
import { RedisKeys, memberId, orderMember, timePad } from './keys.js';
import { clampLimit, scanBatches, scanPage } from './pages.js';
import { APPROVE_REQUEST, LEASE, PUT_ALLOW, PUT_CONTACT, PUT_LISTING, PUT_REQUEST, REMOVE_ALLOW } from './scripts.js';

/** activeListings batch size when the caller gives none. */
export const ACTIVE_BATCH_DEFAULT = 1_000;
export const DEFAULT_PREFIX = 'blocksmith:';

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` */
  readonly url: string;
  /** Put before every key and the channel (default `blocksmith:`). */
  readonly prefix?: string;
  /** Clock for lease expiry (default Date.now). */
  readonly now?: () => number;
  /** Deadline of one command (default COMMAND_TIMEOUT_MS_DEFAULT). */
  readonly commandTimeoutMs?: number;
  /** This node's name in published events (default `<hostname>:<pid>:<random>`). */
  readonly nodeId?: string;
  /** Audit entries kept (default AUDIT_MAX_ENTRIES); the oldest by `at` are dropped. */
  readonly auditMaxEntries?: number;
}

type Phase = 'new' | 'open' | 'closed';
type AuditInput = Omit<AuditEntry, 'id'>;

const NODE_ID_RANDOM_BYTES = 4;

/** RedisStore - Store on one Redis (standalone; not Redis Cluster). */
export class RedisStore implements Store {
  readonly nodeId: string;
  private readonly url: string;
  private readonly safeUrl: string;
  private readonly keys: RedisKeys;
  private readonly now: () => number;
  private readonly commandTimeoutMs: number;
  private readonly auditMaxEntries: number;
  private readonly listeners = new EventListeners();
  private phase: Phase = 'new';
  private main: Redis | undefined;
  private sub: Redis | undefined;
  private opening: Promise<void> | undefined;
  /** Accounts, sessions, failed logins (accounts.ts), on this store's connection and audit log. */
  private readonly accounts: RedisAccounts;

  constructor(options: RedisStoreOptions) {
    this.url = options.url;
    this.safeUrl = safeUrl(options.url);
    this.keys = new RedisKeys(options.prefix ?? DEFAULT_PREFIX);
    this.now = options.now ?? Date.now;
    this.commandTimeoutMs = options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS_DEFAULT;
    this.auditMaxEntries = options.auditMaxEntries ?? AUDIT_MAX_ENTRIES;
    if (!Number.isSafeInteger(this.commandTimeoutMs) || this.commandTimeoutMs < 1) {
      throw new RangeError(`commandTimeoutMs ${this.commandTimeoutMs} is not a positive whole number`);
    }
    if (!Number.isSafeInteger(this.auditMaxEntries) || this.auditMaxEntries < 1) {
      throw new RangeError(`auditMaxEntries ${this.auditMaxEntries} is not a positive whole number`);
    }
    this.nodeId = options.nodeId ?? `${hostname()}:${process.pid}:${randomBytes(NODE_ID_RANDOM_BYTES).toString('hex')}`;
    this.accounts = new RedisAccounts({
      prefix: this.keys.prefix,
      run: (what, fn) => this.run(what, fn),
      auditArgs: (audit) => this.auditArgs(audit),
      auditKeys: this.keys.auditKeys,
    });
  }

  async open(): Promise<void> {
    if (this.phase === 'open') return;
    if (this.phase === 'closed') throw this.unavailable('open', 'the store was closed; make a new one');
    // Two overlapping open() calls share one attempt.
    this.opening ??= this.connect().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async connect(): Promise<void> {
    const name = `blocksmith-${this.nodeId}`.replace(/[^\x21-\x7e]/g, '_');
    const main = createClient(this.url, { commandTimeoutMs: this.commandTimeoutMs, name });
    const sub = createClient(this.url, { commandTimeoutMs: this.commandTimeoutMs, name: `${name}-sub` });
    // Errors surface through the calls (and isAvailable); the listeners stop ioredis printing them.
    main.on('error', () => undefined);
    sub.on('error', () => undefined);
    sub.on('message', (channel: string, message: string) => this.deliver(channel, message));
    try {
      await connectClient(main, this.safeUrl, OPEN_TIMEOUT_MS);
      await connectClient(sub, this.safeUrl, OPEN_TIMEOUT_MS);
      await sub.subscribe(this.keys.events);
    } catch (err) {
      main.disconnect(false);
      sub.disconnect(false);
      throw storeError(this.safeUrl, 'open', err);
    }
    if (this.phase === 'closed') {
      // close() was called while connecting.
      main.disconnect(false);
      sub.disconnect(false);
      throw this.unavailable('open', 'the store was closed while opening');
    }
    this.main = main;
    this.sub = sub;
    this.phase = 'open';
  }

  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    const clients = [this.main, this.sub];
    this.main = undefined;
    this.sub = undefined;
    await Promise.all(
      clients.map(async (client) => {
        if (client === undefined) return;
        try {
          await client.quit();
        } catch {
          // Redis is down: nothing to say goodbye to.
        }
        client.disconnect(false);
      }),
    );
  }

  /** isAvailable - open, and the command connection is up and ready right now. */
  isAvailable(): boolean {
    return this.phase === 'open' && this.main?.status === 'ready';
  }

  // ---- listings ----------------------------------------------------------------------------

  async getListing(ip: string): Promise<Listing | undefined> {
    return this.run('getListing', async (r) => {
      const key = this.keys.listing(ip);
      const text = await r.hget(key, 'json');
      return text === null ? undefined : decodeListing(text, key);
    });
  }

  async putListing(listing: Listing, audit: AuditInput, options?: PutListingOptions): Promise<boolean> {
    const k = this.keys;
    const written = await this.run('putListing', (r) =>
      PUT_LISTING.run(
        r,
        [...k.auditKeys, k.listing(listing.ip), k.listingsAll, ...k.listingStateKeys, k.listingsDue],
        [
          ...this.auditArgs(audit, { type: 'listing', ip: listing.ip }),
          encodeRecord(listing),
          listing.state,
          orderMember(listing.listedAt, listing.ip),
          String(listing.recheckDueAt),
          listing.ip,
          options?.unlessActive === true ? '1' : '0',
        ],
      ),
    );
    // The script answers the audit id when it wrote, 0 when `unlessActive` found an active listing.
    return written !== 0;
  }

  async activeListings(batch: (listings: readonly Listing[]) => void, batchSize: number = ACTIVE_BATCH_DEFAULT): Promise<void> {
    const size = Math.max(1, Math.floor(batchSize));
    await this.run('activeListings', (r) =>
      scanBatches<Listing>({
        redis: r,
        key: this.keys.listingsByState('active'),
        size,
        fetch: (members) => this.fetchListings(r, members.map(memberId)),
        accept: (l) => l.state === 'active',
        batch,
      }),
    );
  }

  async listListings(filter: ListingFilter): Promise<Page<Listing>> {
    const { state, reason, within } = filter;
    const range = within === undefined ? undefined : new BypassList([within]);
    const inRange = (ip: string): boolean => {
      if (range === undefined) return true;
      try {
        return range.match(normaliseAddress(ip)) !== null;
      } catch {
        return false;
      }
    };
    return this.run('listListings', (r) =>
      scanPage<Listing>({
        redis: r,
        key: state === undefined ? this.keys.listingsAll : this.keys.listingsByState(state),
        descending: true,
        after: filter.after,
        limit: clampLimit(filter.limit),
        filtering: range !== undefined || reason !== undefined,
        fetch: (members) => this.fetchListings(r, members.map(memberId)),
        accept: (l) => (state === undefined || l.state === state) && (reason === undefined || l.reason === reason) && inRange(l.ip),
      }),
    );
  }

  async dueForRecheck(now: number, limit: number): Promise<readonly Listing[]> {
    return this.run('dueForRecheck', async (r) => {
      const count = Math.floor(limit);
      if (!(count >= 1)) return [];
      const ips = await r.zrangebyscore(this.keys.listingsDue, '-inf', String(now), 'LIMIT', 0, count);
      const listings = await this.fetchListings(r, ips);
      return listings.filter((l): l is Listing => l !== undefined && l.state === 'active' && l.recheckDueAt <= now);
    });
  }

  // ---- evidence ----------------------------------------------------------------------------

  async putEvidence(evidence: Evidence): Promise<void> {
    await this.run('putEvidence', (r) => r.set(this.keys.evidence(evidence.ref), encodeRecord(evidence), 'PX', EVIDENCE_RETENTION_MS));
  }

  async getEvidence(ref: string): Promise<Evidence | undefined> {
    return this.run('getEvidence', async (r) => {
      const key = this.keys.evidence(ref);
      const text = await r.get(key);
      return text === null ? undefined : decodeEvidence(text, key);
    });
  }

  // ---- allowlist ---------------------------------------------------------------------------

  async putAllow(entry: AllowEntry, audit: AuditInput): Promise<void> {
    await this.run('putAllow', (r) =>
      PUT_ALLOW.run(
        r,
        [...this.keys.auditKeys, this.keys.allow],
        [...this.auditArgs(audit, { type: 'allow', id: entry.id }), entry.id, encodeRecord(entry)],
      ),
    );
  }

  async removeAllow(id: string, audit: AuditInput): Promise<boolean> {
    return this.run('removeAllow', async (r) => {
      const removed = await REMOVE_ALLOW.run(r, [...this.keys.auditKeys, this.keys.allow], [...this.auditArgs(audit, { type: 'allow', id }), id]);
      return removed === 1;
    });
  }

  async getAllow(id: string): Promise<AllowEntry | undefined> {
    return this.run('getAllow', async (r) => {
      const text = await r.hget(this.keys.allow, id);
      return text === null ? undefined : decodeAllow(text, `${this.keys.allow} ${id}`);
    });
  }

  async allAllows(): Promise<readonly AllowEntry[]> {
    return this.run('allAllows', async (r) => {
      const all = await r.hgetall(this.keys.allow);
      return Object.entries(all)
        .map(([id, text]) => decodeAllow(text, `${this.keys.allow} ${id}`))
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  // ---- whitelist requests ------------------------------------------------------------------

  async putRequest(request: WhitelistRequest, audit: AuditInput): Promise<void> {
    await this.run('putRequest', (r) => PUT_REQUEST.run(r, this.requestKeys(request.ref), [...this.auditArgs(audit), ...this.requestArgs(request)]));
  }

  async getRequest(ref: string): Promise<WhitelistRequest | undefined> {
    return this.run('getRequest', async (r) => {
      const key = this.keys.request(ref);
      const text = await r.hget(key, 'json');
      return text === null ? undefined : decodeRequest(text, key);
    });
  }

  async listRequests(state: RequestState | undefined, limit: number, after?: string): Promise<Page<WhitelistRequest>> {
    return this.run('listRequests', (r) =>
      scanPage<WhitelistRequest>({
        redis: r,
        key: state === undefined ? this.keys.requestsAll : this.keys.requestsByState(state),
        descending: true,
        after,
        limit: clampLimit(limit),
        filtering: false,
        fetch: (members) => this.fetchJson(r, members.map((m) => this.keys.request(memberId(m))), decodeRequest),
        accept: (q) => state === undefined || q.state === state,
      }),
    );
  }

  async approveRequest(request: WhitelistRequest, allow: AllowEntry, audit: AuditInput): Promise<void> {
    await this.run('approveRequest', (r) =>
      APPROVE_REQUEST.run(
        r,
        [...this.requestKeys(request.ref), this.keys.allow],
        [...this.auditArgs(audit, { type: 'allow', id: allow.id }), ...this.requestArgs(request), allow.id, encodeRecord(allow)],
      ),
    );
  }

  // ---- contact messages --------------------------------------------------------------------

  async putContact(message: ContactMessage, audit: AuditInput): Promise<void> {
    await this.run('putContact', (r) =>
      PUT_CONTACT.run(
        r,
        [...this.keys.auditKeys, this.keys.contact(message.id), this.keys.contacts],
        [...this.auditArgs(audit), encodeRecord(message), orderMember(message.at, message.id)],
      ),
    );
  }

  async listContacts(limit: number, after?: string): Promise<Page<ContactMessage>> {
    return this.run('listContacts', (r) =>
      scanPage<ContactMessage>({
        redis: r,
        key: this.keys.contacts,
        descending: true,
        after,
        limit: clampLimit(limit),
        filtering: false,
        fetch: (members) => this.fetchJson(r, members.map((m) => this.keys.contact(memberId(m))), decodeContact),
        accept: () => true,
      }),
    );
  }

  // ---- audit -------------------------------------------------------------------------------

  async listAudit(filter: AuditFilter): Promise<Page<AuditEntry>> {
    const { target, actor, action, since } = filter;
    const data = this.keys.auditData;
    return this.run('listAudit', (r) =>
      scanPage<AuditEntry>({
        redis: r,
        key: this.keys.auditOrder,
        descending: true,
        after: filter.after,
        limit: clampLimit(filter.limit),
        filtering: target !== undefined || actor !== undefined || action !== undefined || since !== undefined,
        lowest: since === undefined ? undefined : `[${timePad(since)}`,
        fetch: async (members) => {
          const ids = members.map(memberId);
          const texts = await r.hmget(data, ...ids);
          return texts.map((text, i) => (text === null ? undefined : decodeAudit(ids[i] ?? '', text, `${data} ${ids[i] ?? ''}`)));
        },
        accept: (e) =>
          (target === undefined || e.target === target) &&
          (actor === undefined || e.actor === actor) &&
          (action === undefined || e.action === action) &&
          (since === undefined || e.at >= since),
      }),
    );
  }

  // ---- statistics --------------------------------------------------------------------------

  async addStats(hour: number, increments: Readonly<Record<string, number>>): Promise<void> {
    const entries = Object.entries(increments).filter(([, n]) => n !== 0);
    for (const [name, n] of entries) {
      if (!Number.isSafeInteger(n)) throw new RangeError(`stats counter ${JSON.stringify(name)}: ${n} is not a whole number`);
    }
    await this.run('addStats', async (r) => {
      if (entries.length === 0) return;
      const key = this.keys.stats(hour);
      const multi = r.multi();
      for (const [name, n] of entries) multi.hincrby(key, name, n);
      multi.pexpire(key, STATS_RETENTION_MS);
      multi.zadd(this.keys.statsHours, hour, String(hour));
      const results = await multi.exec();
      const failed = results?.find(([err]) => err !== null);
      if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('transaction discarded');
    });
  }

  async stats(fromHour: number, toHour: number): Promise<readonly HourlyStats[]> {
    return this.run('stats', async (r) => {
      const hours = await r.zrangebyscore(this.keys.statsHours, String(fromHour), `(${toHour}`);
      if (hours.length === 0) return [];
      const pipeline = r.pipeline();
      for (const h of hours) pipeline.hgetall(this.keys.stats(Number(h)));
      const results = (await pipeline.exec()) ?? [];
      const out: HourlyStats[] = [];
      results.forEach(([err, value], i) => {
        if (err !== null) throw err;
        const counters: Record<string, number> = {};
        for (const [name, count] of Object.entries(value as Record<string, string>)) counters[name] = Number(count);
        // An hour whose counters expired is still in the index until then: skip it.
        if (Object.keys(counters).length > 0) out.push({ hour: Number(hours[i]), counters });
      });
      return out;
    });
  }

  // ---- accounts and console sessions (accounts.ts) -----------------------------------------

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

  // ---- lease and events --------------------------------------------------------------------

  async lease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError(`lease ttl ${ttlMs} ms is not a positive whole number`);
    return this.run('lease', async (r) => {
      const now = Math.floor(this.now());
      const got = await LEASE.run(r, [this.keys.lease(name)], [holder, now, ttlMs, String(now + ttlMs)]);
      return got === 1;
    });
  }

  subscribe(listener: (event: StoreEvent, local: boolean) => void): () => void {
    return this.listeners.add(listener);
  }

  // ---- private -----------------------------------------------------------------------------

  /** run - the open command connection, or BS_ERR_STORE_UNAVAILABLE; any failure mapped likewise. */
  private async run<T>(what: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
    const main = this.main;
    if (this.phase !== 'open' || main === undefined) {
      throw this.unavailable(what, this.phase === 'closed' ? 'the store is closed' : 'the store is not open');
    }
    try {
      return await fn(main);
    } catch (err) {
      throw storeError(this.safeUrl, what, err);
    }
  }

  private unavailable(what: string, why: string): BlockSmithError {
    return new BlockSmithError('BS_ERR_STORE_UNAVAILABLE', `redis ${this.safeUrl}: ${what} failed: ${why}`);
  }

  /** auditArgs - ARGV[1..5] of every audited script (see scripts.ts). */
  private auditArgs(audit: AuditInput, event?: StoreEvent): (string | number)[] {
    const message = event === undefined ? '' : encodeEvent(event, this.nodeId);
    return [timePad(audit.at), encodeAudit(audit), this.auditMaxEntries, this.keys.events, message];
  }

  private requestKeys(ref: string): string[] {
    return [...this.keys.auditKeys, this.keys.request(ref), this.keys.requestsAll, ...this.keys.requestStateKeys];
  }

  private requestArgs(request: WhitelistRequest): string[] {
    return [encodeRecord(request), request.state, orderMember(request.createdAt, request.ref)];
  }

  private fetchListings(r: Redis, ips: readonly string[]): Promise<(Listing | undefined)[]> {
    return this.fetchJson(r, ips.map((ip) => this.keys.listing(ip)), decodeListing);
  }

  /** fetchJson - the `json` field of several record hashes, decoded; undefined where absent. */
  private async fetchJson<T>(r: Redis, keys: readonly string[], decode: (text: string, key: string) => T): Promise<(T | undefined)[]> {
    if (keys.length === 0) return [];
    const pipeline = r.pipeline();
    for (const key of keys) pipeline.hget(key, 'json');
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, text], i) => {
      if (err !== null) throw err;
      return typeof text === 'string' ? decode(text, keys[i] ?? '') : undefined;
    });
  }

  /** deliver - a message from our channel to every listener. */
  private deliver(channel: string, message: string): void {
    if (channel !== this.keys.events) return;
    const parsed = parseEvent(message, this.nodeId);
    if (parsed !== undefined) this.listeners.deliver(parsed.event, parsed.local);
  }
}
