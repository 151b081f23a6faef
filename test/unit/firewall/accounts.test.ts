/**
 * firewall/accounts: operator accounts and console sessions on a real SQLite store, with a clock
 * the tests move. scrypt runs with a low cost (N = 2^10) except in the timing test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { consoleSchema, type ConsoleConfig } from '../../../src/config/sections/console.js';
import { isBlockSmithError } from '../../../src/errors.js';
import { Accounts, sessionIdHash, type ConsoleSession, type LoginResult } from '../../../src/firewall/accounts.js';
import { verifyPassword } from '../../../src/firewall/password.js';
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import type { AuditEntry } from '../../../src/store/types.js';

const FAST = { N: 2 ** 10, r: 8, p: 1 };
const BASE_MS = Date.UTC(2030, 0, 1);
const PASSWORD = 'correct horse battery';
const WRONG = 'wrong horse battery';
const MIN = 60_000;

let dir: string;
let store: SqliteStore;
let counter = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bs-accounts-'));
  store = new SqliteStore({ path: join(dir, 'blocksmith.db') });
  await store.open();
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh name and a fresh address, so tests sharing the store never meet. */
function fresh(): { name: string; ip: string } {
  counter += 1;
  return { name: `op${counter}-${process.pid}`, ip: `198.51.${Math.floor(counter / 250)}.${(counter % 250) + 1}` };
}

function makeAccounts(config: Partial<ConsoleConfig> = {}): { accounts: Accounts; clock: { t: number } } {
  const clock = { t: BASE_MS + counter * 86_400_000 };
  const accounts = new Accounts({ store, config: consoleSchema.parse(config), now: () => clock.t, scrypt: FAST });
  return { accounts, clock };
}

function session(result: LoginResult): ConsoleSession {
  if (!result.ok) assert.fail(`login should succeed, got ${JSON.stringify(result)}`);
  return result.session;
}

async function auditFor(target: string): Promise<readonly AuditEntry[]> {
  return (await store.listAudit({ target, limit: 100 })).items;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => isBlockSmithError(err) && err.code === code);
}

describe('Accounts', () => {
  test('add, then login gives a session; the store keeps only the token hash and a scrypt hash', async () => {
    const { accounts, clock } = makeAccounts();
    const { name, ip } = fresh();
    await accounts.add(name.toUpperCase(), PASSWORD, 'cli:test');
    const stored = await store.getAccount(name);
    assert.ok(stored, 'stored under the lower-cased name');
    assert.match(stored.passwordHash, /^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.ok(!stored.passwordHash.includes(PASSWORD));
    assert.equal(await verifyPassword(PASSWORD, stored.passwordHash), true);

    const s = session(await accounts.login(name, PASSWORD, ip));
    assert.match(s.id, /^[A-Za-z0-9_-]{43}$/);
    assert.match(s.csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(s.id, s.csrf);
    assert.equal(s.account, name);
    assert.equal(s.createdAt, clock.t);
    assert.equal(s.expiresAt, clock.t + consoleSchema.parse({}).sessionTtlMs);
    assert.deepStrictEqual(await accounts.session(s.id), s);
    assert.equal(await store.getSession(s.id), undefined, 'the raw token is not a key');
    assert.equal((await store.getSession(sessionIdHash(s.id)))?.account, name);

    const s2 = session(await accounts.login(name, PASSWORD, ip));
    assert.notEqual(s2.id, s.id, 'every login its own token');
    assert.notEqual(s2.csrf, s.csrf);

    const audit = await auditFor(name);
    const login = audit.find((a) => a.action === 'LOGIN');
    assert.equal(login?.actor, `operator:${name}`);
    assert.equal(login?.detail, `from ${ip}`);
    assert.equal(audit.find((a) => a.action === 'ACCOUNT-ADD')?.actor, 'cli:test');
  });

  test('a wrong password and an unknown name are both "invalid", each audited LOGIN-FAIL', async () => {
    const { accounts, clock } = makeAccounts();
    const { name, ip } = fresh();
    const ghost = fresh().name;
    await accounts.add(name, PASSWORD, 'cli:test');
    assert.deepStrictEqual(await accounts.login(name, WRONG, ip), { ok: false, reason: 'invalid' });
    assert.deepStrictEqual(await accounts.login(ghost, PASSWORD, ip), { ok: false, reason: 'invalid' });
    assert.deepStrictEqual(await accounts.login('bad name!', PASSWORD, ip), { ok: false, reason: 'invalid' });
    assert.deepStrictEqual(await accounts.login(name, 'x'.repeat(5_000), ip), { ok: false, reason: 'invalid' });

    const mine = (await auditFor(name)).filter((a) => a.action === 'LOGIN-FAIL');
    assert.equal(mine.length, 2);
    assert.ok(mine.every((a) => a.actor === `operator:${name}` && a.detail === `from ${ip}; wrong password`));
    const theirs = (await auditFor(ghost)).filter((a) => a.action === 'LOGIN-FAIL');
    assert.equal(theirs.length, 1);
    assert.equal(theirs[0]?.actor, `address:${ip}`, 'no account: the address acts');
    assert.equal(theirs[0]?.detail, `from ${ip}; unknown account`);
    assert.equal((await store.loginFailures(`address:${ip}`, clock.t))?.count, 4, 'every failure counts against the address');
    assert.equal((await store.loginFailures(`account:${name}`, clock.t))?.count, 2);
  });

  test('five failures for an account: the sixth attempt is throttled, even with the right password, until the window ends', async () => {
    const { accounts, clock } = makeAccounts({ loginWindowMs: 15 * MIN });
    const { name } = fresh();
    await accounts.add(name, PASSWORD, 'cli:test');
    for (let i = 0; i < 5; i++) {
      // Different addresses: the account's own count is what throttles.
      assert.deepStrictEqual(await accounts.login(name, WRONG, `192.0.2.${i + 1}`), { ok: false, reason: 'invalid' }, `attempt ${i + 1}`);
      clock.t += MIN;
    }
    const throttled = await accounts.login(name, PASSWORD, '192.0.2.99');
    assert.equal(throttled.ok, false);
    assert.equal(!throttled.ok && throttled.reason, 'throttled');
    assert.equal(!throttled.ok && throttled.retryAfterMs, 10 * MIN, 'window began at the first failure');
    clock.t += 9 * MIN;
    assert.equal((await accounts.login(name, PASSWORD, '192.0.2.99')).ok, false, 'still within the window');
    const entries = (await auditFor(name)).filter((a) => a.action === 'LOGIN-THROTTLED');
    assert.equal(entries.length, 1, 'audited once per window, not per attempt');
    assert.match(entries[0]?.detail ?? '', /^from 192\.0\.2\.99; account limit; retry in 600 s$/);

    clock.t += MIN;
    session(await accounts.login(name, PASSWORD, '192.0.2.99'));
    assert.equal(await store.loginFailures(`account:${name}`, clock.t), undefined, 'success cleared the count');
  });

  test('parallel guesses for one account: no more than the limit reach the password check', async () => {
    const { accounts } = makeAccounts();
    const { name, ip } = fresh();
    await accounts.add(name, PASSWORD, 'cli:test');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => accounts.login(name, WRONG, i === 0 ? ip : fresh().ip)));
    const reasons = results.map((r) => (r.ok ? 'ok' : r.reason));
    assert.deepStrictEqual(reasons, ['invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'throttled', 'throttled', 'throttled']);
  });

  test('per address: past the limit every account is refused from there (IPv6 by /64), other addresses are not', async () => {
    const { accounts, clock } = makeAccounts({ loginFailuresPerAddressCount: 3, loginWindowMs: 5 * MIN });
    const { name } = fresh();
    await accounts.add(name, PASSWORD, 'cli:test');
    const attacker = '2001:db8:77:1::10';
    for (let i = 0; i < 3; i++) {
      assert.deepStrictEqual(await accounts.login(fresh().name, WRONG, attacker), { ok: false, reason: 'invalid' });
    }
    const sameNet = await accounts.login(name, PASSWORD, '2001:db8:77:1::ffff');
    assert.equal(!sameNet.ok && sameNet.reason, 'throttled', 'the same /64');
    assert.equal(!sameNet.ok && sameNet.retryAfterMs, 5 * MIN);
    session(await accounts.login(name, PASSWORD, '2001:db8:77:2::10'));
    const entry = (await auditFor(name)).find((a) => a.action === 'LOGIN-THROTTLED');
    assert.match(entry?.detail ?? '', /^from 2001:db8:77:1::\/64; address limit/);
    clock.t += 5 * MIN;
    session(await accounts.login(name, PASSWORD, attacker));
  });

  test('a session ends at its expiry, at logout, at a new password and with its account', async () => {
    const { accounts, clock } = makeAccounts({ sessionTtlMs: 10 * MIN });
    const { name, ip } = fresh();
    await accounts.add(name, PASSWORD, 'cli:test');

    const a = session(await accounts.login(name, PASSWORD, ip));
    clock.t += 10 * MIN - 1;
    assert.ok(await accounts.session(a.id), 'alive until its expiry');
    clock.t += 1;
    assert.equal(await accounts.session(a.id), undefined, 'expired');

    const b = session(await accounts.login(name, PASSWORD, ip));
    await accounts.logout(b.id);
    assert.equal(await accounts.session(b.id), undefined);
    await accounts.logout(b.id);
    const logouts = (await auditFor(name)).filter((e) => e.action === 'LOGOUT');
    assert.equal(logouts.length, 1, 'a second logout changes and audits nothing');
    assert.equal(logouts[0]?.actor, `operator:${name}`);

    const c = session(await accounts.login(name, PASSWORD, ip));
    const d = session(await accounts.login(name, PASSWORD, ip));
    clock.t += 1;
    await accounts.setPassword(name, 'a brand new secret', 'operator:boss');
    assert.equal(await accounts.session(c.id), undefined, 'ended by the new password');
    assert.equal(await accounts.session(d.id), undefined);
    assert.deepStrictEqual(await accounts.login(name, PASSWORD, ip), { ok: false, reason: 'invalid' }, 'old password refused');
    const e = session(await accounts.login(name, 'a brand new secret', ip));
    assert.equal((await auditFor(name)).find((x) => x.action === 'ACCOUNT-PASSWORD')?.actor, 'operator:boss');

    assert.equal(await accounts.remove(name, 'cli:test'), true);
    assert.equal(await accounts.session(e.id), undefined, 'ended with its account');
    assert.equal(await accounts.remove(name, 'cli:test'), false);
    assert.deepStrictEqual(await accounts.login(name, 'a brand new secret', ip), { ok: false, reason: 'invalid' });
  });

  test('setPassword lifts the account throttle', async () => {
    const { accounts } = makeAccounts({ loginFailuresPerAccountCount: 2 });
    const { name, ip } = fresh();
    await accounts.add(name, PASSWORD, 'cli:test');
    await accounts.login(name, WRONG, ip);
    await accounts.login(name, WRONG, fresh().ip);
    const elsewhere = fresh().ip;
    assert.equal((await accounts.login(name, PASSWORD, elsewhere)).ok, false);
    await accounts.setPassword(name, 'the operator reset', 'cli:test');
    session(await accounts.login(name, 'the operator reset', elsewhere));
  });

  test('malformed tokens, names and passwords', async () => {
    const { accounts } = makeAccounts();
    const { name } = fresh();
    for (const id of ['', 'short', 'x'.repeat(43) + '=', '../../etc', 'A'.repeat(44)]) assert.equal(await accounts.session(id), undefined);
    await accounts.logout('not a token');
    await rejectsWith(accounts.add('bad name', PASSWORD, 'cli:test'), 'BS_ERR_ACCOUNT_NAME_INVALID');
    await rejectsWith(accounts.add('-dash', PASSWORD, 'cli:test'), 'BS_ERR_ACCOUNT_NAME_INVALID');
    await rejectsWith(accounts.add('x'.repeat(65), PASSWORD, 'cli:test'), 'BS_ERR_ACCOUNT_NAME_INVALID');
    await rejectsWith(accounts.add(name, '123456789', 'cli:test'), 'BS_ERR_ACCOUNT_PASSWORD_WEAK');
    await rejectsWith(accounts.add(name, 'é'.repeat(600), 'cli:test'), 'BS_ERR_ACCOUNT_PASSWORD_WEAK');
    await accounts.add(name, '1234567890', 'cli:test');
    await rejectsWith(accounts.add(name, PASSWORD, 'cli:test'), 'BS_ERR_ACCOUNT_EXISTS');
    await rejectsWith(accounts.setPassword(fresh().name, PASSWORD, 'cli:test'), 'BS_ERR_ACCOUNT_UNKNOWN');
    const listed = (await accounts.list()).find((a) => a.name === name);
    assert.ok(listed);
    assert.deepStrictEqual(Object.keys(listed).sort(), ['createdAt', 'name', 'passwordChangedAt'], 'no hash in summaries');
    assert.equal(await accounts.remove('bad name', 'cli:test'), false);
  });

  test('an unknown name costs a scrypt, like a wrong password (names cannot be told by timing)', async () => {
    const cost = { N: 2 ** 14, r: 8, p: 1 };
    const clock = { t: BASE_MS };
    const accounts = new Accounts({ store, config: consoleSchema.parse({ loginFailuresPerAccountCount: 1000, loginFailuresPerAddressCount: 1000 }), now: () => clock.t, scrypt: cost });
    const { name } = fresh();
    await accounts.add(name, PASSWORD, 'cli:test');
    // Interleaved, so that load from elsewhere on the machine falls on both alike.
    const knownTimes: number[] = [];
    const unknownTimes: number[] = [];
    const timed = async (fn: () => Promise<unknown>, into: number[]): Promise<void> => {
      const t0 = performance.now();
      await fn();
      into.push(performance.now() - t0);
    };
    for (let i = 0; i < 7; i++) {
      await timed(() => accounts.login(name, WRONG, fresh().ip), knownTimes);
      await timed(() => accounts.login(fresh().name, WRONG, fresh().ip), unknownTimes);
    }
    const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
    // The store work is the same on both paths (reads, one counted failure); scrypt is the difference.
    const known = median(knownTimes);
    const unknown = median(unknownTimes);
    const t0 = performance.now();
    await verifyPassword(WRONG, (await store.getAccount(name))?.passwordHash ?? '');
    const oneScrypt = performance.now() - t0;
    console.log(`login medians: known name ${known.toFixed(1)} ms, unknown name ${unknown.toFixed(1)} ms; one scrypt ${oneScrypt.toFixed(1)} ms`);
    assert.ok(unknown >= oneScrypt * 0.5, `the unknown-name path (${unknown.toFixed(1)} ms) spent no scrypt (${oneScrypt.toFixed(1)} ms)`);
    assert.ok(unknown >= known * 0.5 && unknown <= known * 2, `known ${known.toFixed(1)} ms vs unknown ${unknown.toFixed(1)} ms`);
  });
});
