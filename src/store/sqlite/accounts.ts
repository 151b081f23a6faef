/**
 * NAME
 *   store/sqlite/accounts - operator accounts, console sessions and failed-login counters in SQLite
 *
 * SYNOPSIS
 *   const accounts = new SqliteAccounts(access)          access: the store's read and write paths
 *   accounts.addAccount / putAccount / getAccount / removeAccount / listAccounts
 *   accounts.putSession / getSession / removeSession
 *   accounts.addLoginFailure / loginFailures / clearLoginFailures / putAudit
 *
 * DESCRIPTION
 *   The Store methods of store/types.ts for the console (firewall/accounts.ts), kept apart from
 *   sqlite-store.ts, which only delegates. Tables: migration 2 (migrations.ts).
 *
 *   Writes go the way every write of the store goes (sqlite-store.ts `write`): one op to the
 *   writer thread (write-worker.ts), its statements, audit row and nothing else as one savepoint
 *   in a group commit, resolved only after the COMMIT (durable: synchronous FULL). A guarded op
 *   (`addAccount`, `putAccount`, `removeAccount`, `removeSession`) whose first statement
 *   changes no row is a no-op: neither the record nor the audit row is kept, and it answers
 *   false. Reads run on the main connection, which sees every commit the writer made before.
 *
 *   Times are the caller's: a session's createdAt is the `now` below which stored sessions are
 *   pruned (expires_at <= it) when a session is written; `now` of addLoginFailure likewise
 *   prunes ended windows. So a caller with its own clock (tests, a skewed node) sees exactly
 *   what it wrote.
 *
 *   addLoginFailure counts in the writer thread (an upsert: a new window at `now` when the old
 *   one ended), then reads the counts back on the main connection; another node's failure in
 *   between can only make them larger.
 *
 * SEE ALSO
 *   store/types.ts, sqlite-store.ts, store/redis/accounts.ts (the same on Redis).
 */
import type Database from 'better-sqlite3';

import type { AuditEntry, LoginFailures, OperatorAccount, SessionRecord } from '../types.js';
import type { WriteStep } from './write-worker.js';

type AuditInput = Omit<AuditEntry, 'id'>;

/** The store's own paths for reads and writes (sqlite-store.ts hands them over). */
export interface SqliteAccess {
  /** `fn` on the main connection with its statement cache; failures as BS_ERR_STORE_UNAVAILABLE. */
  read<T>(doing: string, fn: (stmt: (sql: string) => Database.Statement) => T): Promise<T>;
  /** `steps` (and the audit row) as one committed unit; false when guarded and the first step changed nothing. */
  write(doing: string, audit: AuditInput | undefined, steps: WriteStep[], guard?: boolean): Promise<boolean>;
}

export const ACCOUNT_SQL = Object.freeze({
  accountAdd: 'INSERT OR IGNORE INTO accounts (name, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?)',
  accountUpdate: 'UPDATE accounts SET password_hash = ?, created_at = ?, password_changed_at = ? WHERE name = ?',
  accountDelete: 'DELETE FROM accounts WHERE name = ?',
  accountGet: 'SELECT * FROM accounts WHERE name = ?',
  accountsAll: 'SELECT * FROM accounts ORDER BY name',
  sessionPut: 'INSERT OR REPLACE INTO sessions (id_hash, account, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
  sessionsPrune: 'DELETE FROM sessions WHERE expires_at <= ?',
  sessionsOfAccountDelete: 'DELETE FROM sessions WHERE account = ?',
  sessionGet: 'SELECT * FROM sessions WHERE id_hash = ?',
  sessionDelete: 'DELETE FROM sessions WHERE id_hash = ?',
  failureAdd:
    'INSERT INTO login_failures (key, count, reset_at) VALUES (@key, 1, @resetAt) ' +
    'ON CONFLICT (key) DO UPDATE SET ' +
    'count = CASE WHEN reset_at <= @now THEN 1 ELSE count + 1 END, ' +
    'reset_at = CASE WHEN reset_at <= @now THEN @resetAt ELSE reset_at END',
  failuresPrune: 'DELETE FROM login_failures WHERE reset_at <= ?',
  failureGet: 'SELECT count, reset_at FROM login_failures WHERE key = ? AND reset_at > ?',
  failureClear: 'DELETE FROM login_failures WHERE key = ?',
});

interface AccountRow {
  name: string;
  password_hash: string;
  created_at: number;
  password_changed_at: number;
}

interface SessionRow {
  id_hash: string;
  account: string;
  csrf: string;
  created_at: number;
  expires_at: number;
}

interface FailureRow {
  count: number;
  reset_at: number;
}

function accountFrom(row: AccountRow): OperatorAccount {
  return { name: row.name, passwordHash: row.password_hash, createdAt: row.created_at, passwordChangedAt: row.password_changed_at };
}

function sessionFrom(row: SessionRow): SessionRecord {
  return { idHash: row.id_hash, account: row.account, csrf: row.csrf, createdAt: row.created_at, expiresAt: row.expires_at };
}

function step(sql: string, ...args: unknown[]): WriteStep {
  return { sql, args };
}

export class SqliteAccounts {
  constructor(private readonly db: SqliteAccess) {}

  addAccount(account: OperatorAccount, audit: AuditInput): Promise<boolean> {
    const a = account;
    return this.db.write('adding an account', audit, [step(ACCOUNT_SQL.accountAdd, a.name, a.passwordHash, a.createdAt, a.passwordChangedAt)], true);
  }

  putAccount(account: OperatorAccount, audit: AuditInput): Promise<boolean> {
    const a = account;
    return this.db.write(
      'writing an account',
      audit,
      [step(ACCOUNT_SQL.accountUpdate, a.passwordHash, a.createdAt, a.passwordChangedAt, a.name), step(ACCOUNT_SQL.sessionsOfAccountDelete, a.name)],
      true,
    );
  }

  getAccount(name: string): Promise<OperatorAccount | undefined> {
    return this.db.read('reading an account', (stmt) => {
      const row = stmt(ACCOUNT_SQL.accountGet).get(name) as AccountRow | undefined;
      return row === undefined ? undefined : accountFrom(row);
    });
  }

  removeAccount(name: string, audit: AuditInput): Promise<boolean> {
    return this.db.write('removing an account', audit, [step(ACCOUNT_SQL.accountDelete, name), step(ACCOUNT_SQL.sessionsOfAccountDelete, name)], true);
  }

  listAccounts(): Promise<readonly OperatorAccount[]> {
    return this.db.read('listing accounts', (stmt) => (stmt(ACCOUNT_SQL.accountsAll).all() as AccountRow[]).map(accountFrom));
  }

  async putSession(session: SessionRecord, audit: AuditInput): Promise<void> {
    const s = session;
    await this.db.write('writing a session', audit, [
      step(ACCOUNT_SQL.sessionPut, s.idHash, s.account, s.csrf, s.createdAt, s.expiresAt),
      step(ACCOUNT_SQL.sessionsPrune, s.createdAt),
    ]);
  }

  getSession(idHash: string): Promise<SessionRecord | undefined> {
    return this.db.read('reading a session', (stmt) => {
      const row = stmt(ACCOUNT_SQL.sessionGet).get(idHash) as SessionRow | undefined;
      return row === undefined ? undefined : sessionFrom(row);
    });
  }

  removeSession(idHash: string, audit: AuditInput): Promise<boolean> {
    return this.db.write('removing a session', audit, [step(ACCOUNT_SQL.sessionDelete, idHash)], true);
  }

  async addLoginFailure(keys: readonly string[], now: number, windowMs: number, audit: AuditInput): Promise<readonly LoginFailures[]> {
    const resetAt = now + windowMs;
    await this.db.write('counting a failed login', audit, [
      ...keys.map((key) => step(ACCOUNT_SQL.failureAdd, { key, now, resetAt })),
      step(ACCOUNT_SQL.failuresPrune, now),
    ]);
    return this.db.read('reading failed logins', (stmt) =>
      keys.map((key) => {
        const row = stmt(ACCOUNT_SQL.failureGet).get(key, now) as FailureRow | undefined;
        // Cleared by another node between the write and this read: our own failure still counts.
        return row === undefined ? { count: 1, resetAt } : { count: row.count, resetAt: row.reset_at };
      }),
    );
  }

  loginFailures(key: string, now: number): Promise<LoginFailures | undefined> {
    return this.db.read('reading failed logins', (stmt) => {
      const row = stmt(ACCOUNT_SQL.failureGet).get(key, now) as FailureRow | undefined;
      return row === undefined ? undefined : { count: row.count, resetAt: row.reset_at };
    });
  }

  async clearLoginFailures(key: string): Promise<void> {
    await this.db.write('clearing failed logins', undefined, [step(ACCOUNT_SQL.failureClear, key)]);
  }

  async putAudit(audit: AuditInput): Promise<void> {
    await this.db.write('writing an audit entry', audit, []);
  }
}
