/**
 * NAME
 *   store/sqlite/sql - every SQL text of the SQLite store, and the builders of the filtered pages
 *
 * SYNOPSIS
 *   SQL.<name>                                      fixed statements
 *   listingsQuery(filter, after, n) / requestsQuery(state, after, n) / auditQuery(filter, after, n)
 *     → { sql, params }                             a page query built from fixed fragments
 *
 * DESCRIPTION
 *   The store prepares each text once and caches it by text (sqlite-store.ts `stmt`). Builders
 *   join only the fragments below, so the set of distinct texts is small and fixed (at most 8
 *   listing, 4 request and 32 audit variants); user values are always bound, never spliced in.
 *   Each page query asks for `n` rows: callers pass limit + 1 to learn whether more follow.
 *   Orders: listings by ip; requests by (created_at, ref) descending; audit and contacts by
 *   (at, id) descending; row-value comparisons give keyset paging that the indexes serve.
 */
import type { AuditFilter, ListingFilter, RequestState } from '../types.js';

export type Param = string | number | null;
export interface Query {
  readonly sql: string;
  readonly params: readonly Param[];
}

const LISTING_COLUMNS =
  'ip, state, verdict, reason, listed_at, listed_by, last_reject_at, reject_count, recheck_due_at, ' +
  'first_evidence, latest_evidence, note, cleared_at, cleared_by, clear_cause';
const REQUEST_COLUMNS =
  'ref, range, domain, contact, rejection_ref, why, state, created_at, decided_at, decided_by, decision_reason, allow_id, from_ip';

/** excludedSet - `b = excluded.b, …` for an upsert of every column but the key. */
function excludedSet(columns: string): string {
  return columns
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== 'ip')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
}

/** named - `@a, @b, …` for a column list. */
function named(columns: string): string {
  return columns
    .split(',')
    .map((c) => `@${c.trim()}`)
    .join(', ');
}

export const SQL = Object.freeze({
  eventsMaxId: 'SELECT COALESCE(MAX(id), 0) FROM events',
  eventsSince: 'SELECT id, type, key FROM events WHERE id > ? ORDER BY id LIMIT ?',
  eventsPrune: 'DELETE FROM events WHERE at < ?',
  /** Retention (store/retention.ts), a chunk of rows at a time: (before, chunk). */
  evidenceRetain: 'DELETE FROM evidence WHERE rowid IN (SELECT rowid FROM evidence WHERE at < ? LIMIT ?)',
  statsRetain: 'DELETE FROM stats WHERE rowid IN (SELECT rowid FROM stats WHERE hour < ? LIMIT ?)',
  /** (chunk, keep): up to `chunk` of the entries past the newest `keep`. */
  auditRetain: 'DELETE FROM audit WHERE rowid IN (SELECT rowid FROM audit ORDER BY at DESC, id DESC LIMIT ? OFFSET ?)',
  eventInsert: 'INSERT INTO events (type, key, at) VALUES (?, ?, ?)',
  auditInsert: 'INSERT INTO audit (id, at, actor, action, target, detail) VALUES (@id, @at, @actor, @action, @target, @detail)',

  listingGet: 'SELECT * FROM listings WHERE ip = ?',
  listingPut: `INSERT OR REPLACE INTO listings (${LISTING_COLUMNS}) VALUES (${named(LISTING_COLUMNS)})`,
  /** The same row, unless the IP's stored listing is active: then no row changes (putListing `unlessActive`). */
  listingPutUnlessActive:
    `INSERT INTO listings (${LISTING_COLUMNS}) VALUES (${named(LISTING_COLUMNS)}) ` +
    `ON CONFLICT (ip) DO UPDATE SET ${excludedSet(LISTING_COLUMNS)} WHERE listings.state <> 'active'`,
  listingsActiveAfter: "SELECT * FROM listings WHERE state = 'active' AND ip > ? ORDER BY ip LIMIT ?",
  listingsDue: "SELECT * FROM listings WHERE state = 'active' AND recheck_due_at <= ? ORDER BY recheck_due_at, ip LIMIT ?",

  evidencePut: 'INSERT OR REPLACE INTO evidence (ref, at, ip, body) VALUES (@ref, @at, @ip, @body)',
  evidenceGet: 'SELECT body FROM evidence WHERE ref = ?',

  allowPut:
    'INSERT OR REPLACE INTO allows (id, range, note, author, created_at, expires_at, request_ref) ' +
    'VALUES (@id, @range, @note, @author, @created_at, @expires_at, @request_ref)',
  allowDelete: 'DELETE FROM allows WHERE id = ?',
  allowGet: 'SELECT * FROM allows WHERE id = ?',
  allowAll: 'SELECT * FROM allows ORDER BY created_at, id',

  requestPut: `INSERT OR REPLACE INTO requests (${REQUEST_COLUMNS}) VALUES (${named(REQUEST_COLUMNS)})`,
  requestGet: 'SELECT * FROM requests WHERE ref = ?',

  contactPut:
    'INSERT OR REPLACE INTO contacts (id, at, email, subject, body, name, ip, ref) ' +
    'VALUES (@id, @at, @email, @subject, @body, @name, @ip, @ref)',
  contactsFirst: 'SELECT * FROM contacts ORDER BY at DESC, id DESC LIMIT ?',
  contactsAfter: 'SELECT * FROM contacts WHERE (at, id) < (?, ?) ORDER BY at DESC, id DESC LIMIT ?',

  statsAdd:
    'INSERT INTO stats (hour, name, count) VALUES (?, ?, ?) ' +
    'ON CONFLICT (hour, name) DO UPDATE SET count = count + excluded.count',
  statsRange: 'SELECT hour, name, count FROM stats WHERE hour >= ? AND hour < ? ORDER BY hour, name',

  /** Acquire, or renew by the same holder, or take over an expired lease: changes = 1 when granted. */
  leaseTake:
    'INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ' +
    'ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at ' +
    'WHERE leases.holder = excluded.holder OR leases.expires_at <= ?',
});

function whereOf(clauses: readonly string[]): string {
  return clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
}

export function listingsQuery(filter: Pick<ListingFilter, 'state' | 'reason'>, afterIp: string | undefined, n: number): Query {
  const where: string[] = [];
  const params: Param[] = [];
  if (filter.state !== undefined) {
    where.push('state = ?');
    params.push(filter.state);
  }
  if (filter.reason !== undefined) {
    where.push('reason = ?');
    params.push(filter.reason);
  }
  if (afterIp !== undefined) {
    where.push('ip > ?');
    params.push(afterIp);
  }
  return { sql: `SELECT * FROM listings ${whereOf(where)} ORDER BY ip LIMIT ?`, params: [...params, n] };
}

export function requestsQuery(state: RequestState | undefined, after: readonly [number, string] | undefined, n: number): Query {
  const where: string[] = [];
  const params: Param[] = [];
  if (state !== undefined) {
    where.push('state = ?');
    params.push(state);
  }
  if (after !== undefined) {
    where.push('(created_at, ref) < (?, ?)');
    params.push(...after);
  }
  return { sql: `SELECT * FROM requests ${whereOf(where)} ORDER BY created_at DESC, ref DESC LIMIT ?`, params: [...params, n] };
}

export function auditQuery(filter: AuditFilter, after: readonly [number, string] | undefined, n: number): Query {
  const where: string[] = [];
  const params: Param[] = [];
  for (const column of ['target', 'actor', 'action'] as const) {
    const value = filter[column];
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  if (filter.since !== undefined) {
    where.push('at >= ?');
    params.push(filter.since);
  }
  if (after !== undefined) {
    where.push('(at, id) < (?, ?)');
    params.push(...after);
  }
  return { sql: `SELECT * FROM audit ${whereOf(where)} ORDER BY at DESC, id DESC LIMIT ?`, params: [...params, n] };
}
