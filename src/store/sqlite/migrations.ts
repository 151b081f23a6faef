/**
 * NAME
 *   store/sqlite/migrations - the versioned schema of the SQLite store
 *
 * SYNOPSIS
 *   MIGRATIONS: readonly Migration[]       version 1, 2, … in order
 *   SCHEMA_VERSION: number                 the newest version this build knows
 *   migrate(db, file): { from, to }        brings the file up to SCHEMA_VERSION
 *
 * DESCRIPTION
 *   The schema version lives in SQLite's own header field `PRAGMA user_version` (0 for a new,
 *   empty file). Each migration runs in its own IMMEDIATE transaction together with the bump of
 *   user_version, so a crash leaves the file at the old or the new version, never between; the
 *   version is read again inside the transaction, so two processes opening one new file at once
 *   do not both apply it. A migration is never edited once released: add a new one.
 *
 *   A file whose version is newer than SCHEMA_VERSION (written by a later BlockSmith) is refused
 *   rather than guessed at.
 *
 * DIAGNOSTICS
 *   BlockSmithError('BS_ERR_STORE_UNAVAILABLE', 'SQLite store <file>: schema version <n> is newer
 *   than this BlockSmith knows (<m>); …'); driver failures as in driver-errors.ts.
 */
import type Database from 'better-sqlite3';

import { BlockSmithError } from '../../errors.js';
import { guarded } from './driver-errors.js';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: 'listings, evidence, allowlist, requests, contacts, audit, stats, leases, events',
    sql: `
      CREATE TABLE listings (
        ip              TEXT    NOT NULL PRIMARY KEY,
        state           TEXT    NOT NULL,
        verdict         TEXT    NOT NULL,
        reason          TEXT    NOT NULL,
        listed_at       INTEGER NOT NULL,
        listed_by       TEXT    NOT NULL,
        last_reject_at  INTEGER NOT NULL,
        reject_count    INTEGER NOT NULL,
        recheck_due_at  INTEGER NOT NULL,
        first_evidence  TEXT    NOT NULL,
        latest_evidence TEXT    NOT NULL,
        note            TEXT,
        cleared_at      INTEGER,
        cleared_by      TEXT,
        clear_cause     TEXT
      );
      CREATE INDEX listings_state_due ON listings (state, recheck_due_at);
      CREATE INDEX listings_state_ip ON listings (state, ip);

      CREATE TABLE evidence (
        ref  TEXT    NOT NULL PRIMARY KEY,
        at   INTEGER NOT NULL,
        ip   TEXT    NOT NULL,
        body TEXT    NOT NULL
      );

      CREATE TABLE allows (
        id          TEXT    NOT NULL PRIMARY KEY,
        range       TEXT    NOT NULL,
        note        TEXT    NOT NULL,
        author      TEXT    NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        request_ref TEXT
      );

      CREATE TABLE requests (
        ref             TEXT    NOT NULL PRIMARY KEY,
        range           TEXT    NOT NULL,
        domain          TEXT    NOT NULL,
        contact         TEXT    NOT NULL,
        rejection_ref   TEXT,
        why             TEXT    NOT NULL,
        state           TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        decided_at      INTEGER,
        decided_by      TEXT,
        decision_reason TEXT,
        allow_id        TEXT,
        from_ip         TEXT
      );
      CREATE INDEX requests_created ON requests (created_at, ref);
      CREATE INDEX requests_state_created ON requests (state, created_at, ref);

      CREATE TABLE contacts (
        id      TEXT    NOT NULL PRIMARY KEY,
        at      INTEGER NOT NULL,
        email   TEXT    NOT NULL,
        subject TEXT    NOT NULL,
        body    TEXT    NOT NULL,
        name    TEXT,
        ip      TEXT,
        ref     TEXT
      );
      CREATE INDEX contacts_at ON contacts (at, id);

      CREATE TABLE audit (
        id     TEXT    NOT NULL PRIMARY KEY,
        at     INTEGER NOT NULL,
        actor  TEXT    NOT NULL,
        action TEXT    NOT NULL,
        target TEXT    NOT NULL,
        detail TEXT
      );
      CREATE INDEX audit_at ON audit (at, id);
      CREATE INDEX audit_target_at ON audit (target, at, id);
      CREATE INDEX audit_actor_at ON audit (actor, at, id);

      CREATE TABLE stats (
        hour  INTEGER NOT NULL,
        name  TEXT    NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (hour, name)
      );

      CREATE TABLE leases (
        name       TEXT    NOT NULL PRIMARY KEY,
        holder     TEXT    NOT NULL,
        expires_at INTEGER NOT NULL
      );

      CREATE TABLE events (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT    NOT NULL,
        key  TEXT    NOT NULL,
        at   INTEGER NOT NULL
      );
      CREATE INDEX events_at ON events (at);
    `,
  },
  {
    version: 2,
    description: 'operator accounts, console sessions, failed-login counters',
    sql: `
      CREATE TABLE accounts (
        name                TEXT    NOT NULL PRIMARY KEY,
        password_hash       TEXT    NOT NULL,
        created_at          INTEGER NOT NULL,
        password_changed_at INTEGER NOT NULL
      );

      CREATE TABLE sessions (
        id_hash    TEXT    NOT NULL PRIMARY KEY,
        account    TEXT    NOT NULL,
        csrf       TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX sessions_account ON sessions (account);
      CREATE INDEX sessions_expires ON sessions (expires_at);

      CREATE TABLE login_failures (
        key      TEXT    NOT NULL PRIMARY KEY,
        count    INTEGER NOT NULL,
        reset_at INTEGER NOT NULL
      );
      CREATE INDEX login_failures_reset ON login_failures (reset_at);
    `,
  },
  {
    version: 3,
    description: 'evidence by time, for retention (store/retention.ts)',
    sql: `
      CREATE INDEX evidence_at ON evidence (at);
    `,
  },
]);

export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** userVersion - the file's schema version (PRAGMA user_version). */
export function userVersion(db: Database.Database): number {
  const v = db.pragma('user_version', { simple: true });
  return typeof v === 'number' ? v : Number(v);
}

function tooNew(file: string, version: number): BlockSmithError {
  return new BlockSmithError(
    'BS_ERR_STORE_UNAVAILABLE',
    `SQLite store ${file}: schema version ${version} is newer than this BlockSmith knows (${SCHEMA_VERSION}); ` +
      'run the BlockSmith release that wrote it, or restore a backup',
  );
}

/** migrate - applies every pending migration, each in its own transaction. */
export function migrate(db: Database.Database, file: string): { from: number; to: number } {
  const from = guarded(file, 'reading the schema version', () => userVersion(db));
  if (from > SCHEMA_VERSION) throw tooNew(file, from);
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    const apply = db.transaction(() => {
      const current = userVersion(db);
      if (current > SCHEMA_VERSION) throw tooNew(file, current);
      if (current >= m.version) return; // another process got there first
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    });
    guarded(file, `migration ${m.version} (${m.description})`, () => apply.immediate());
  }
  return { from, to: SCHEMA_VERSION };
}
