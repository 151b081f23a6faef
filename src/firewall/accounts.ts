/**
 * NAME
 *   firewall/accounts - operator accounts and console sessions: login, throttle, logout, passwords
 *
 * SYNOPSIS
 *   const accounts = new Accounts({ store, config: config.console, now?, log?, scrypt? })
 *   firewall.accounts                                   the one a Firewall builds (firewall.ts)
 *   await accounts.login(name, password, fromIp)        LoginResult: a session, or invalid / throttled
 *   await accounts.session(id)                          ConsoleSession | undefined (unknown, expired, ended)
 *   await accounts.logout(id)
 *   await accounts.add(name, password, actor)           BS_ERR_ACCOUNT_NAME_INVALID / _PASSWORD_WEAK / _EXISTS
 *   await accounts.remove(name, actor)                  false when there is no such account
 *   await accounts.setPassword(name, password, actor)   ends the account's sessions; BS_ERR_ACCOUNT_UNKNOWN
 *   await accounts.list()                               AccountSummary[] by name (no hashes)
 *   accounts.reconfigure(config.console)                a reload: new TTL and throttle from now on
 *
 * DESCRIPTION
 *   Everything lives in the store (store/types.ts), so every node sharing it shares accounts,
 *   sessions and failed-login counts.
 *
 *   Names: lower-cased, then 1-64 of [a-z0-9._-] starting with a letter or digit. Passwords:
 *   at least 10 characters, at most 1,024 bytes (password.ts), hashed with scrypt.
 *
 *   Sessions: the token handed to the cookie (`id`) is 32 random bytes, base64url; the store
 *   keeps only its SHA-256, so a copy of the store (a backup, a Redis dump) opens no session.
 *   `csrf` is a second random token per session, the console's synchronizer token. A session
 *   ends sessionTtlMs after login, at logout, when its account's password changes or the account
 *   is removed; session() also refuses one older than its account's last password change.
 *
 *   Login, in order: (1) the throttle: when the account has failed loginFailuresPerAccountCount
 *   times, or the address loginFailuresPerAddressCount times, in the current window, the answer
 *   is `throttled` with retryAfterMs, and the password is not looked at; (2) the password,
 *   verified in constant time; an unknown or malformed name spends one scrypt all the same, so
 *   the time taken does not tell which names exist; (3) success clears the account's count and
 *   writes the session with its LOGIN audit entry; failure counts against the account (when the
 *   name is well formed) and the address, with its LOGIN-FAIL entry, and answers `invalid`
 *   whatever was wrong. IPv6 addresses count per /64 (one host has them all).
 *
 *   Attempts for one account, and attempts from one client address (whatever the name), are
 *   taken one at a time on a node, so a burst of parallel guesses cannot all pass the throttle
 *   before the first is counted (nor make one address cost more scrypt work than its limit);
 *   across N nodes at most N are in flight at the threshold.
 *
 *   Audit: LOGIN, LOGIN-FAIL, LOGIN-THROTTLED, LOGOUT, ACCOUNT-ADD, ACCOUNT-REMOVE,
 *   ACCOUNT-PASSWORD. Target: the account name (as tried, printable, at most 64 characters).
 *   Actor: `operator:<name>` when the account exists, else `address:<address>` for login
 *   attempts; the caller's actor for add/remove/setPassword. Detail: `from <address>`. A
 *   throttled attempt is audited once per key and window on a node, not once per attempt (a
 *   flood must not flood the audit log); each one is logged.
 *
 * LIMITS
 *   SESSION_TOKEN_BYTES (32), CSRF_TOKEN_BYTES (32), NAME_MAX_CHARS (64),
 *   THROTTLE_AUDIT_MEMORY_COUNT (10,000 keys remembered as audited).
 *
 * DIAGNOSTICS
 *   BlockSmithError BS_ERR_ACCOUNT_NAME_INVALID, BS_ERR_ACCOUNT_PASSWORD_WEAK (the message never
 *   holds the password), BS_ERR_ACCOUNT_EXISTS, BS_ERR_ACCOUNT_UNKNOWN; BS_ERR_STORE_UNAVAILABLE
 *   from the store. Log events: LOGIN, LOGIN-FAIL, LOGIN-THROTTLED, LOGOUT, ACCOUNT-ADD,
 *   ACCOUNT-REMOVE, ACCOUNT-PASSWORD.
 *
 * SEE ALSO
 *   firewall/password.ts, config/sections/console.ts, cli/user-command.ts, src/web/console/.
 */
import { createHash, randomBytes } from 'node:crypto';

import { formatAddress, normaliseAddress } from '../check/address.js';
import { consoleSchema, type ConsoleConfig } from '../config/sections/console.js';
import { BlockSmithError } from '../errors.js';
import type { AuditEntry, LoginFailures, OperatorAccount, Store } from '../store/types.js';
import { printable } from '../util/printable.js';
import { PASSWORD_MAX_BYTES, SCRYPT_DEFAULTS, burnPassword, hashPassword, passwordProblem, verifyPassword, type ScryptParams } from './password.js';
import type { FirewallLogger } from './types.js';

export interface ConsoleSession {
  readonly id: string;
  readonly account: string;
  readonly csrf: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export type LoginResult =
  | { readonly ok: true; readonly session: ConsoleSession }
  | { readonly ok: false; readonly reason: 'invalid' | 'throttled'; readonly retryAfterMs?: number };

export interface AccountSummary {
  readonly name: string;
  readonly createdAt: number;
  readonly passwordChangedAt: number;
}

export interface AccountsOptions {
  readonly store: Store;
  /** The console section; its defaults when absent. */
  readonly config?: ConsoleConfig;
  readonly now?: () => number;
  readonly log?: FirewallLogger;
  /** scrypt cost of new hashes (tests lower it); SCRYPT_DEFAULTS otherwise. */
  readonly scrypt?: ScryptParams;
}

export const SESSION_TOKEN_BYTES = 32;
export const CSRF_TOKEN_BYTES = 32;
export const NAME_MAX_CHARS = 64;
export const THROTTLE_AUDIT_MEMORY_COUNT = 10_000;
/** base64url of SESSION_TOKEN_BYTES bytes, without padding. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const IPV6_PREFIX_BYTES = 8;
const ADDRESS_MAX_CHARS = 64;

type AuditInput = Omit<AuditEntry, 'id'>;

/** accountName - the account name `name` stands for (lower case), or undefined when malformed. */
export function accountName(name: string): string | undefined {
  if (typeof name !== 'string' || name.length > NAME_MAX_CHARS) return undefined;
  const lower = name.toLowerCase();
  return NAME_PATTERN.test(lower) ? lower : undefined;
}

/** sessionIdHash - what the store keeps of a session token: its SHA-256, hex. */
export function sessionIdHash(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/** addressKey - the throttle's view of a client: the address, an IPv6 one as its /64. */
function clientKey(fromIp: string): string {
  try {
    const addr = normaliseAddress(fromIp);
    if (addr.family === 4) return addr.ip;
    const net = Uint8Array.from(addr.bytes);
    net.fill(0, IPV6_PREFIX_BYTES);
    return `${formatAddress(net)}/64`;
  } catch {
    return printable(String(fromIp), ADDRESS_MAX_CHARS);
  }
}

export class Accounts {
  private readonly store: Store;
  private config: ConsoleConfig;
  private readonly now: () => number;
  private readonly log: FirewallLogger;
  private readonly scrypt: ScryptParams;
  /** Attempts in progress per account and per address key on this node: each waits for the one before. */
  private readonly attempts = new Map<string, Promise<unknown>>();
  /** Throttle keys already audited as LOGIN-THROTTLED, with the end of their window. */
  private readonly throttleAudited = new Map<string, number>();

  constructor(options: AccountsOptions) {
    this.store = options.store;
    this.config = options.config ?? consoleSchema.parse({});
    this.now = options.now ?? Date.now;
    this.log = options.log ?? ((): void => undefined);
    this.scrypt = options.scrypt ?? SCRYPT_DEFAULTS;
  }

  /** reconfigure - a reload: session TTL and throttle settings apply to logins from now on. */
  reconfigure(config: ConsoleConfig): void {
    this.config = config;
  }

  async login(name: string, password: string, fromIp: string): Promise<LoginResult> {
    const account = accountName(name);
    // One attempt at a time per account and per client address on this node (see DESCRIPTION).
    const keys = [`address:${clientKey(fromIp)}`, ...(account === undefined ? [] : [`account:${account}`])];
    const before = Promise.all(keys.map((k) => (this.attempts.get(k) ?? Promise.resolve()).catch(() => undefined)));
    const mine = before.then(() => this.attempt(account, account ?? String(name), password, fromIp));
    for (const k of keys) this.attempts.set(k, mine);
    try {
      return await mine;
    } finally {
      for (const k of keys) if (this.attempts.get(k) === mine) this.attempts.delete(k);
    }
  }

  async session(id: string): Promise<ConsoleSession | undefined> {
    if (typeof id !== 'string' || !TOKEN_PATTERN.test(id)) return undefined;
    const record = await this.store.getSession(sessionIdHash(id));
    if (record === undefined || record.expiresAt <= this.now()) return undefined;
    const account = await this.store.getAccount(record.account);
    if (account === undefined || account.passwordChangedAt > record.createdAt) return undefined;
    return { id, account: record.account, csrf: record.csrf, createdAt: record.createdAt, expiresAt: record.expiresAt };
  }

  async logout(id: string): Promise<void> {
    if (typeof id !== 'string' || !TOKEN_PATTERN.test(id)) return;
    const idHash = sessionIdHash(id);
    const record = await this.store.getSession(idHash);
    if (record === undefined) return;
    const actor = `operator:${record.account}`;
    if (await this.store.removeSession(idHash, this.audit(actor, 'LOGOUT', record.account))) {
      this.log({ event: 'LOGOUT', detail: `account ${record.account}` });
    }
  }

  async add(name: string, password: string, actor: string): Promise<void> {
    const account = this.validName(name);
    this.validPassword(password);
    if ((await this.store.getAccount(account)) !== undefined) throw exists(account);
    const now = this.now();
    const record: OperatorAccount = { name: account, passwordHash: await hashPassword(password, this.scrypt), createdAt: now, passwordChangedAt: now };
    if (!(await this.store.addAccount(record, this.audit(actor, 'ACCOUNT-ADD', account, undefined, now)))) throw exists(account);
    this.log({ event: 'ACCOUNT-ADD', detail: `account ${account} by ${printable(actor, NAME_MAX_CHARS)}` });
  }

  async remove(name: string, actor: string): Promise<boolean> {
    const account = accountName(name);
    if (account === undefined) return false;
    const removed = await this.store.removeAccount(account, this.audit(actor, 'ACCOUNT-REMOVE', account));
    if (removed) this.log({ event: 'ACCOUNT-REMOVE', detail: `account ${account} by ${printable(actor, NAME_MAX_CHARS)}` });
    return removed;
  }

  async setPassword(name: string, password: string, actor: string): Promise<void> {
    const account = this.validName(name);
    this.validPassword(password);
    const existing = await this.store.getAccount(account);
    if (existing === undefined) throw unknown(account);
    const passwordHash = await hashPassword(password, this.scrypt);
    const now = this.now();
    const record: OperatorAccount = { ...existing, passwordHash, passwordChangedAt: now };
    if (!(await this.store.putAccount(record, this.audit(actor, 'ACCOUNT-PASSWORD', account, 'sessions ended', now)))) throw unknown(account);
    // An operator's reset also lifts the account's throttle.
    await this.store.clearLoginFailures(`account:${account}`);
    this.log({ event: 'ACCOUNT-PASSWORD', detail: `account ${account} by ${printable(actor, NAME_MAX_CHARS)}` });
  }

  async list(): Promise<readonly AccountSummary[]> {
    const all = await this.store.listAccounts();
    return all.map(({ name, createdAt, passwordChangedAt }) => ({ name, createdAt, passwordChangedAt }));
  }

  // ---- private ------------------------------------------------------------------------------

  /**
   * attempt - one login: throttle, password, count or session. `account` is the well-formed
   * name (undefined when malformed); `tried` the name as given, for the audit.
   */
  private async attempt(account: string | undefined, tried: string, password: string, fromIp: string): Promise<LoginResult> {
    const now = this.now();
    const client = clientKey(fromIp);
    const addressKey = `address:${client}`;
    const accountKey = account === undefined ? undefined : `account:${account}`;
    const target = printable(tried, NAME_MAX_CHARS);
    const detail = `from ${client}`;
    const [byAddress, byAccount, record] = await Promise.all([
      this.store.loginFailures(addressKey, now),
      accountKey === undefined ? undefined : this.store.loginFailures(accountKey, now),
      account === undefined ? undefined : this.store.getAccount(account),
    ]);
    const actor = record === undefined ? `address:${client}` : `operator:${record.name}`;

    const blocked = this.blockedBy([
      [accountKey, byAccount, this.config.loginFailuresPerAccountCount],
      [addressKey, byAddress, this.config.loginFailuresPerAddressCount],
    ]);
    if (blocked !== undefined) {
      const retryAfterMs = Math.max(0, blocked.resetAt - now);
      if (this.firstThrottle(blocked.key, blocked.resetAt)) {
        await this.store.putAudit(this.audit(actor, 'LOGIN-THROTTLED', target, `${detail}; ${blocked.key.split(':')[0] ?? ''} limit; retry in ${Math.ceil(retryAfterMs / 1000)} s`));
      }
      this.log({ event: 'LOGIN-THROTTLED', detail: `${target} ${detail}` });
      return { ok: false, reason: 'throttled', retryAfterMs };
    }

    const fits = typeof password === 'string' && Buffer.byteLength(password, 'utf8') <= PASSWORD_MAX_BYTES;
    let ok = false;
    if (record !== undefined && fits) ok = await verifyPassword(password, record.passwordHash);
    else await burnPassword(fits ? password : '', this.scrypt);

    if (ok && record !== undefined && accountKey !== undefined) {
      const createdAt = this.now();
      const id = randomBytes(SESSION_TOKEN_BYTES).toString('base64url');
      const session: ConsoleSession = {
        id,
        account: record.name,
        csrf: randomBytes(CSRF_TOKEN_BYTES).toString('base64url'),
        createdAt,
        expiresAt: createdAt + this.config.sessionTtlMs,
      };
      if (byAccount !== undefined) await this.store.clearLoginFailures(accountKey);
      const { csrf, expiresAt } = session;
      await this.store.putSession({ idHash: sessionIdHash(id), account: record.name, csrf, createdAt, expiresAt }, this.audit(actor, 'LOGIN', record.name, detail, createdAt));
      this.log({ event: 'LOGIN', detail: `account ${record.name} ${detail}` });
      return { ok: true, session };
    }

    const why = record === undefined ? 'unknown account' : 'wrong password';
    const keys = accountKey === undefined ? [addressKey] : [accountKey, addressKey];
    await this.store.addLoginFailure(keys, now, this.config.loginWindowMs, this.audit(actor, 'LOGIN-FAIL', target, `${detail}; ${why}`));
    this.log({ event: 'LOGIN-FAIL', detail: `${target} ${detail}` });
    return { ok: false, reason: 'invalid' };
  }

  /** blockedBy - the key past its limit whose window ends last, if any. */
  private blockedBy(
    checks: readonly (readonly [string | undefined, LoginFailures | undefined, number])[],
  ): { key: string; resetAt: number } | undefined {
    let found: { key: string; resetAt: number } | undefined;
    for (const [key, failures, limit] of checks) {
      if (key === undefined || failures === undefined || failures.count < limit) continue;
      if (found === undefined || failures.resetAt > found.resetAt) found = { key, resetAt: failures.resetAt };
    }
    return found;
  }

  /** firstThrottle - true once per key and window on this node (the audit entry is written then). */
  private firstThrottle(key: string, resetAt: number): boolean {
    if (this.throttleAudited.get(key) === resetAt) return false;
    if (this.throttleAudited.size >= THROTTLE_AUDIT_MEMORY_COUNT) this.throttleAudited.clear();
    this.throttleAudited.set(key, resetAt);
    return true;
  }

  private audit(actor: string, action: string, target: string, detail?: string, at: number = this.now()): AuditInput {
    return detail === undefined ? { at, actor, action, target } : { at, actor, action, target, detail };
  }

  private validName(name: string): string {
    const account = accountName(name);
    if (account === undefined) {
      throw new BlockSmithError(
        'BS_ERR_ACCOUNT_NAME_INVALID',
        `account name "${printable(String(name), NAME_MAX_CHARS)}": 1-${NAME_MAX_CHARS} letters, digits, ".", "_", "-", starting with a letter or digit`,
      );
    }
    return account;
  }

  private validPassword(password: string): void {
    const problem = passwordProblem(password);
    if (problem !== undefined) throw new BlockSmithError('BS_ERR_ACCOUNT_PASSWORD_WEAK', problem);
  }
}

function exists(account: string): BlockSmithError {
  return new BlockSmithError('BS_ERR_ACCOUNT_EXISTS', `there is an account "${account}" already`);
}

function unknown(account: string): BlockSmithError {
  return new BlockSmithError('BS_ERR_ACCOUNT_UNKNOWN', `there is no account "${account}"`);
}
