/**
 * NAME
 *   store/redis/accounts - operator accounts, console sessions and failed-login counters on Redis
 *
 * SYNOPSIS
 *   const accounts = new RedisAccounts({ prefix, run, auditArgs })      run/auditArgs: the store's own
 *   accounts.addAccount / putAccount / getAccount / removeAccount / listAccounts
 *   accounts.putSession / getSession / removeSession
 *   accounts.addLoginFailure / loginFailures / clearLoginFailures / putAudit
 *
 * DESCRIPTION
 *   The console's Store methods (store/types.ts) for RedisStore, which only delegates. Every
 *   node of a cluster sees the same accounts, sessions and counters, so a login made on one
 *   node is good on all, a password change ends the sessions everywhere, and the login
 *   throttle counts the failures of every node together. Keys (with `<p>` the prefix; also in
 *   docs/storage.md):
 *
 *     <p>accounts                    hash    name → account JSON (few; read whole for list)
 *     <p>session:<idHash>            string  session JSON, PX until its expiresAt
 *     <p>account-sessions:<name>     zset    score expiresAt, member idHash: an account's sessions
 *     <p>login-failures:<key>        hash    count, resetAt; PX the window
 *
 *   Each audited write is one Lua script with its audit entry (the prelude of scripts.ts): the
 *   account and the removal of its sessions, the session and its LOGIN entry, the counters and
 *   the LOGIN-FAIL entry. A script reads and deletes session keys it builds from the prefix
 *   (ARGV), so like the rest of RedisStore it needs a standalone Redis, not Redis Cluster.
 *
 *   Times are the caller's: a session lives in Redis for expiresAt - createdAt ms; a counter
 *   window ends at the `now + windowMs` the caller gave (the key's PX is the same length, so
 *   Redis forgets it then too).
 *
 * DIAGNOSTICS
 *   As RedisStore: BlockSmithError BS_ERR_STORE_UNAVAILABLE on any failure or a stored value
 *   that is not ours.
 */
import type { Redis } from 'ioredis';

import { BlockSmithError } from '../../errors.js';
import type { AuditEntry, LoginFailures, OperatorAccount, SessionRecord } from '../types.js';
import { encodeRecord } from './codec.js';
import { LuaScript, PRELUDE } from './scripts.js';

type AuditInput = Omit<AuditEntry, 'id'>;

/** ADD_ACCOUNT. KEYS[4] accounts hash. ARGV[6] name, [7] json. 0 (nothing written) when the name exists. */
const ADD_ACCOUNT = new LuaScript(
  'add-account',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
if ARGV[6] == nil or ARGV[6] == '' or ARGV[7] == nil or ARGV[7] == '' then return fail('account name or record is empty') end
if redis.call('HSETNX', KEYS[4], ARGV[6], ARGV[7]) == 0 then return 0 end
appendAudit()
return 1
`,
);

/** Ends every session of the account whose session set is KEYS[5]; ARGV[8] the session key prefix. */
const END_SESSIONS = `
for _, id in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do redis.call('DEL', ARGV[8] .. id) end
redis.call('DEL', KEYS[5])
`;

/**
 * PUT_ACCOUNT. KEYS[4] accounts hash, [5] the account's session set. ARGV[6] name, [7] json,
 * [8] session key prefix. 0 (nothing written) when the account does not exist.
 */
const PUT_ACCOUNT = new LuaScript(
  'put-account',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
if ARGV[6] == nil or ARGV[6] == '' or ARGV[7] == nil or ARGV[7] == '' then return fail('account name or record is empty') end
if redis.call('HEXISTS', KEYS[4], ARGV[6]) == 0 then return 0 end
redis.call('HSET', KEYS[4], ARGV[6], ARGV[7])
${END_SESSIONS}
appendAudit()
return 1
`,
);

/** REMOVE_ACCOUNT. KEYS[4] accounts hash, [5] session set. ARGV[6] name, [8] session key prefix. */
const REMOVE_ACCOUNT = new LuaScript(
  'remove-account',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
if redis.call('HDEL', KEYS[4], ARGV[6]) == 0 then return 0 end
${END_SESSIONS}
appendAudit()
return 1
`,
);

/**
 * PUT_SESSION. KEYS[4] session key, [5] the account's session set. ARGV[6] json, [7] ttl ms,
 * [8] expiresAt, [9] idHash, [10] createdAt (sessions of the set that ended by then are
 * dropped), [11] session key prefix.
 */
const PUT_SESSION = new LuaScript(
  'put-session',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
local ttl = tonumber(ARGV[7])
if ARGV[6] == nil or ARGV[6] == '' then return fail('session record is empty') end
if ttl == nil or ttl < 1 or tonumber(ARGV[8]) == nil or tonumber(ARGV[10]) == nil then return fail('session times are not valid') end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[10])) do redis.call('DEL', ARGV[11] .. id) end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[10])
redis.call('SET', KEYS[4], ARGV[6], 'PX', ttl)
redis.call('ZADD', KEYS[5], ARGV[8], ARGV[9])
if redis.call('PTTL', KEYS[5]) < ttl then redis.call('PEXPIRE', KEYS[5], ttl) end
appendAudit()
return 1
`,
);

/** REMOVE_SESSION. KEYS[4] session key. ARGV[6] session-set key prefix, [7] idHash. 0 when absent. */
const REMOVE_SESSION = new LuaScript(
  'remove-session',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
local text = redis.call('GET', KEYS[4])
if not text then return 0 end
local ok, record = pcall(cjson.decode, text)
if ok and type(record) == 'table' and type(record.account) == 'string' then
  redis.call('ZREM', ARGV[6] .. record.account, ARGV[7])
end
redis.call('DEL', KEYS[4])
appendAudit()
return 1
`,
);

/**
 * ADD_LOGIN_FAILURE. KEYS[4..] counter hashes. ARGV[6] now, [7] window ms, [8] now + window.
 * Returns count and resetAt of each key, flat, in order.
 */
const ADD_LOGIN_FAILURE = new LuaScript(
  'add-login-failure',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
local now = tonumber(ARGV[6])
local window = tonumber(ARGV[7])
if now == nil or window == nil or window < 1 or tonumber(ARGV[8]) == nil then return fail('failure window is not valid') end
local out = {}
for i = 4, #KEYS do
  local cur = redis.call('HMGET', KEYS[i], 'count', 'resetAt')
  local reset = tonumber(cur[2])
  if cur[1] == false or reset == nil or reset <= now then
    redis.call('HSET', KEYS[i], 'count', 1, 'resetAt', ARGV[8])
    redis.call('PEXPIRE', KEYS[i], window)
    table.insert(out, '1')
    table.insert(out, ARGV[8])
  else
    table.insert(out, tostring(redis.call('HINCRBY', KEYS[i], 'count', 1)))
    table.insert(out, cur[2])
  end
end
appendAudit()
return out
`,
);

/** PUT_AUDIT. The audit entry alone. */
const PUT_AUDIT = new LuaScript(
  'put-audit',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
appendAudit()
return 1
`,
);

export interface RedisAccountsAccess {
  readonly prefix: string;
  /** The store's command connection (or BS_ERR_STORE_UNAVAILABLE), failures mapped likewise. */
  run<T>(what: string, fn: (redis: Redis) => Promise<T>): Promise<T>;
  /** ARGV[1..5] of an audited script. */
  auditArgs(audit: AuditInput): (string | number)[];
  /** KEYS[1..3] of an audited script. */
  readonly auditKeys: readonly string[];
}

function corrupt(key: string, problem: string): BlockSmithError {
  return new BlockSmithError('BS_ERR_STORE_UNAVAILABLE', `redis record ${key} is not valid: ${problem}`);
}

/** parseRecord - JSON whose listed fields are strings or numbers as given. */
function parseRecord<T>(text: string, key: string, fields: Readonly<Record<string, 'string' | 'number'>>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt(key, 'not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(key, 'not a JSON object');
  const record = value as Record<string, unknown>;
  for (const [field, type] of Object.entries(fields)) {
    if (typeof record[field] !== type) throw corrupt(key, `field "${field}" is not a ${type}`);
  }
  return record as T;
}

const ACCOUNT_FIELDS = { name: 'string', passwordHash: 'string', createdAt: 'number', passwordChangedAt: 'number' } as const;
const SESSION_FIELDS = { idHash: 'string', account: 'string', csrf: 'string', createdAt: 'number', expiresAt: 'number' } as const;

export class RedisAccounts {
  private readonly accounts: string;
  private readonly sessionPrefix: string;
  private readonly accountSessionsPrefix: string;
  private readonly failurePrefix: string;

  constructor(private readonly store: RedisAccountsAccess) {
    this.accounts = `${store.prefix}accounts`;
    this.sessionPrefix = `${store.prefix}session:`;
    this.accountSessionsPrefix = `${store.prefix}account-sessions:`;
    this.failurePrefix = `${store.prefix}login-failures:`;
  }

  async addAccount(account: OperatorAccount, audit: AuditInput): Promise<boolean> {
    return this.store.run('addAccount', async (r) => {
      const done = await ADD_ACCOUNT.run(r, [...this.store.auditKeys, this.accounts], [...this.store.auditArgs(audit), account.name, encodeRecord(account)]);
      return done === 1;
    });
  }

  async putAccount(account: OperatorAccount, audit: AuditInput): Promise<boolean> {
    return this.store.run('putAccount', async (r) => {
      const done = await PUT_ACCOUNT.run(
        r,
        [...this.store.auditKeys, this.accounts, this.accountSessionsPrefix + account.name],
        [...this.store.auditArgs(audit), account.name, encodeRecord(account), this.sessionPrefix],
      );
      return done === 1;
    });
  }

  async getAccount(name: string): Promise<OperatorAccount | undefined> {
    return this.store.run('getAccount', async (r) => {
      const text = await r.hget(this.accounts, name);
      return text === null ? undefined : parseRecord<OperatorAccount>(text, `${this.accounts} ${name}`, ACCOUNT_FIELDS);
    });
  }

  async removeAccount(name: string, audit: AuditInput): Promise<boolean> {
    return this.store.run('removeAccount', async (r) => {
      const done = await REMOVE_ACCOUNT.run(
        r,
        [...this.store.auditKeys, this.accounts, this.accountSessionsPrefix + name],
        [...this.store.auditArgs(audit), name, '', this.sessionPrefix],
      );
      return done === 1;
    });
  }

  async listAccounts(): Promise<readonly OperatorAccount[]> {
    return this.store.run('listAccounts', async (r) => {
      const all = await r.hgetall(this.accounts);
      return Object.entries(all)
        .map(([name, text]) => parseRecord<OperatorAccount>(text, `${this.accounts} ${name}`, ACCOUNT_FIELDS))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  async putSession(session: SessionRecord, audit: AuditInput): Promise<void> {
    const ttl = Math.max(1, Math.floor(session.expiresAt - session.createdAt));
    await this.store.run('putSession', (r) =>
      PUT_SESSION.run(
        r,
        [...this.store.auditKeys, this.sessionPrefix + session.idHash, this.accountSessionsPrefix + session.account],
        [
          ...this.store.auditArgs(audit),
          encodeRecord(session),
          ttl,
          timeText(session.expiresAt),
          session.idHash,
          timeText(session.createdAt),
          this.sessionPrefix,
        ],
      ),
    );
  }

  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    return this.store.run('getSession', async (r) => {
      const key = this.sessionPrefix + idHash;
      const text = await r.get(key);
      return text === null ? undefined : parseRecord<SessionRecord>(text, key, SESSION_FIELDS);
    });
  }

  async removeSession(idHash: string, audit: AuditInput): Promise<boolean> {
    return this.store.run('removeSession', async (r) => {
      const done = await REMOVE_SESSION.run(
        r,
        [...this.store.auditKeys, this.sessionPrefix + idHash],
        [...this.store.auditArgs(audit), this.accountSessionsPrefix, idHash],
      );
      return done === 1;
    });
  }

  async addLoginFailure(keys: readonly string[], now: number, windowMs: number, audit: AuditInput): Promise<readonly LoginFailures[]> {
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError(`login failure window ${windowMs} ms is not a positive whole number`);
    return this.store.run('addLoginFailure', async (r) => {
      const out = await ADD_LOGIN_FAILURE.run(
        r,
        [...this.store.auditKeys, ...keys.map((k) => this.failurePrefix + k)],
        [...this.store.auditArgs(audit), timeText(now), windowMs, timeText(now + windowMs)],
      );
      if (!Array.isArray(out) || out.length !== keys.length * 2) throw new Error('add-login-failure: unexpected answer');
      return keys.map((_, i) => ({ count: Number(out[2 * i]), resetAt: Number(out[2 * i + 1]) }));
    });
  }

  async loginFailures(key: string, now: number): Promise<LoginFailures | undefined> {
    return this.store.run('loginFailures', async (r) => {
      const [count, resetAt] = await r.hmget(this.failurePrefix + key, 'count', 'resetAt');
      if (count === null || resetAt === null) return undefined;
      const found = { count: Number(count), resetAt: Number(resetAt) };
      if (!Number.isFinite(found.count) || !Number.isFinite(found.resetAt)) throw corrupt(this.failurePrefix + key, 'count or resetAt is not a number');
      return found.resetAt <= now ? undefined : found;
    });
  }

  async clearLoginFailures(key: string): Promise<void> {
    await this.store.run('clearLoginFailures', (r) => r.del(this.failurePrefix + key));
  }

  async putAudit(audit: AuditInput): Promise<void> {
    await this.store.run('putAudit', (r) => PUT_AUDIT.run(r, this.store.auditKeys, this.store.auditArgs(audit)));
  }
}

/** timeText - a time as decimal digits (Lua 5.1 would print large numbers in exponent form). */
function timeText(ms: number): string {
  return String(Math.max(0, Math.floor(ms)));
}
