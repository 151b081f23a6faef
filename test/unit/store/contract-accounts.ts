/**
 * NAME
 *   test/unit/store/contract-accounts - the store contract for operator accounts, console sessions
 *   and failed-login counters
 *
 * SYNOPSIS
 *   accountsContract(name, makeStore)      same factory as storeContract (contract.ts)
 *
 * DESCRIPTION
 *   Run on SQLite by test/unit/store/sqlite.test.ts and on Redis by test/e2e/store/redis.test.ts.
 *   What it pins down (store/types.ts):
 *   - accounts round-trip exactly; addAccount never overwrites (false, no audit); putAccount
 *     never creates (false, no audit) and ends every session of that account, no other's;
 *     removeAccount takes the sessions with it; listAccounts is by name;
 *   - sessions round-trip with their audit entry; removeSession answers whether one was there
 *     and audits only then; a session written ends the same account's sessions whose expiresAt
 *     has passed by its createdAt;
 *   - failed-login counters: a window of windowMs from the first failure, counted per key, the
 *     count and resetAt returned in the keys' order; read as undefined once resetAt <= now;
 *     a failure after the window starts a new one; clear forgets; each call one audit entry;
 *   - putAudit writes its entry.
 *   Names, keys and audit targets are unique per test (contract-fixtures.ts), so a shared
 *   backend is fine.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { AuditEntry, OperatorAccount, SessionRecord, Store } from '../../../src/store/types.js';
import type { StoreFactory } from './contract.js';
import { BASE_MS, UniqueKeys, makeAudit } from './contract-fixtures.js';

const HASH = 'scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA$' + 'k'.repeat(43);
const HOUR_MS = 3_600_000;

function account(name: string, at: number = BASE_MS): OperatorAccount {
  return { name, passwordHash: HASH, createdAt: at, passwordChangedAt: at };
}

function session(keys: UniqueKeys, accountName: string, createdAt: number, ttlMs = HOUR_MS): SessionRecord {
  const idHash = keys.id('s').toLowerCase().padEnd(64, '0').slice(0, 64);
  return { idHash, account: accountName, csrf: keys.id('csrf'), createdAt, expiresAt: createdAt + ttlMs };
}

async function auditOf(store: Store, target: string): Promise<readonly AuditEntry[]> {
  return (await store.listAudit({ target, limit: 100 })).items;
}

export function accountsContract(name: string, makeStore: StoreFactory): void {
  const keys = new UniqueKeys();
  const withStore = (body: (store: Store) => Promise<void>) => async (): Promise<void> => {
    const made = await makeStore();
    try {
      await body(made.store);
    } finally {
      await made.store.close();
      await made.cleanup();
    }
  };
  const newName = (): string => keys.id('op-').toLowerCase();

  describe(`${name} store contract: accounts and console sessions`, () => {
    test('addAccount creates once; a second add of the name writes nothing', withStore(async (store) => {
      const n = newName();
      assert.equal(await store.getAccount(n), undefined);
      const first = account(n);
      assert.equal(await store.addAccount(first, makeAudit(n, { action: 'ACCOUNT-ADD' })), true);
      assert.deepStrictEqual(await store.getAccount(n), first);
      const second = { ...first, passwordHash: `${HASH}x`, createdAt: BASE_MS + 5 };
      assert.equal(await store.addAccount(second, makeAudit(n, { action: 'ACCOUNT-ADD' })), false);
      assert.deepStrictEqual(await store.getAccount(n), first, 'not overwritten');
      const audit = await auditOf(store, n);
      assert.deepStrictEqual(audit.map((a) => a.action), ['ACCOUNT-ADD'], 'one audit entry, for the add that happened');
    }));

    test('putAccount replaces an existing account and ends its sessions (only its own)', withStore(async (store) => {
      const n = newName();
      const other = newName();
      const now = Date.now();
      assert.equal(await store.putAccount(account(n), makeAudit(n, { action: 'ACCOUNT-PASSWORD' })), false, 'no account: nothing');
      assert.equal(await store.getAccount(n), undefined);
      assert.deepStrictEqual(await auditOf(store, n), []);

      await store.addAccount(account(n), makeAudit(n, { action: 'ACCOUNT-ADD' }));
      await store.addAccount(account(other), makeAudit(other, { action: 'ACCOUNT-ADD' }));
      const mine = [session(keys, n, now), session(keys, n, now)];
      const theirs = session(keys, other, now);
      for (const s of [...mine, theirs]) await store.putSession(s, makeAudit(s.account, { action: 'LOGIN', at: now }));
      for (const s of mine) assert.deepStrictEqual(await store.getSession(s.idHash), s);

      const changed = { ...account(n), passwordHash: `${HASH}y`, passwordChangedAt: BASE_MS + 10 };
      assert.equal(await store.putAccount(changed, makeAudit(n, { action: 'ACCOUNT-PASSWORD' })), true);
      assert.deepStrictEqual(await store.getAccount(n), changed);
      for (const s of mine) assert.equal(await store.getSession(s.idHash), undefined, 'its sessions ended');
      assert.deepStrictEqual(await store.getSession(theirs.idHash), theirs, "another account's session stays");
      assert.ok((await auditOf(store, n)).some((a) => a.action === 'ACCOUNT-PASSWORD'));
    }));

    test('removeAccount removes the account and its sessions; an unknown name is false with no audit', withStore(async (store) => {
      const n = newName();
      const now = Date.now();
      await store.addAccount(account(n), makeAudit(n, { action: 'ACCOUNT-ADD' }));
      const s = session(keys, n, now);
      await store.putSession(s, makeAudit(n, { action: 'LOGIN', at: now }));
      assert.equal(await store.removeAccount(n, makeAudit(n, { action: 'ACCOUNT-REMOVE' })), true);
      assert.equal(await store.getAccount(n), undefined);
      assert.equal(await store.getSession(s.idHash), undefined);
      assert.equal(await store.removeAccount(n, makeAudit(n, { action: 'ACCOUNT-REMOVE' })), false);
      const removes = (await auditOf(store, n)).filter((a) => a.action === 'ACCOUNT-REMOVE');
      assert.equal(removes.length, 1);
    }));

    test('listAccounts gives every account, by name', withStore(async (store) => {
      const names = [newName(), newName(), newName()];
      for (const n of [...names].reverse()) await store.addAccount(account(n), makeAudit(n, { action: 'ACCOUNT-ADD' }));
      const listed = await store.listAccounts();
      const listedNames = listed.map((a) => a.name);
      assert.deepStrictEqual(listedNames, [...listedNames].sort(), 'ordered by name');
      for (const n of names) assert.deepStrictEqual(listed.find((a) => a.name === n), account(n));
    }));

    test('sessions round-trip with their audit; removeSession answers whether one was there', withStore(async (store) => {
      const n = newName();
      const now = Date.now();
      assert.equal(await store.getSession('0'.repeat(64)), undefined);
      const s = session(keys, n, now);
      await store.putSession(s, makeAudit(n, { action: 'LOGIN', at: now, actor: `operator:${n}`, detail: 'from 192.0.2.1' }));
      assert.deepStrictEqual(await store.getSession(s.idHash), s);
      assert.equal(await store.removeSession(s.idHash, makeAudit(n, { action: 'LOGOUT', at: now + 1 })), true);
      assert.equal(await store.getSession(s.idHash), undefined);
      assert.equal(await store.removeSession(s.idHash, makeAudit(n, { action: 'LOGOUT', at: now + 2 })), false);
      const audit = await auditOf(store, n);
      assert.deepStrictEqual(audit.map((a) => a.action), ['LOGOUT', 'LOGIN'], 'newest first; no audit for the second logout');
      assert.equal(audit[1]?.detail, 'from 192.0.2.1');
    }));

    test("a session written drops the account's sessions that had ended by its createdAt", withStore(async (store) => {
      const n = newName();
      const now = Date.now();
      const old = session(keys, n, now, 1_000);
      const live = session(keys, n, now, HOUR_MS);
      await store.putSession(old, makeAudit(n, { action: 'LOGIN', at: now }));
      await store.putSession(live, makeAudit(n, { action: 'LOGIN', at: now }));
      const later = session(keys, n, now + 2_000);
      await store.putSession(later, makeAudit(n, { action: 'LOGIN', at: now + 2_000 }));
      assert.equal(await store.getSession(old.idHash), undefined, 'ended by then: dropped');
      assert.deepStrictEqual(await store.getSession(live.idHash), live);
      assert.deepStrictEqual(await store.getSession(later.idHash), later);
    }));

    test('failed logins count per key in a window from the first failure', withStore(async (store) => {
      const a = `account:${newName()}`;
      const b = `address:${keys.v4Net().ip(7)}`;
      const target = newName();
      const now = Date.now();
      const window = 60_000;
      assert.equal(await store.loginFailures(a, now), undefined);
      const fail = (at: number, ks: readonly string[]): ReturnType<Store['addLoginFailure']> =>
        store.addLoginFailure(ks, at, window, makeAudit(target, { action: 'LOGIN-FAIL', at }));

      assert.deepStrictEqual(await fail(now, [a, b]), [
        { count: 1, resetAt: now + window },
        { count: 1, resetAt: now + window },
      ]);
      assert.deepStrictEqual(await fail(now + 10, [a, b]), [
        { count: 2, resetAt: now + window },
        { count: 2, resetAt: now + window },
      ]);
      assert.deepStrictEqual(await fail(now + 20, [b]), [{ count: 3, resetAt: now + window }]);
      assert.deepStrictEqual(await store.loginFailures(a, now + 30), { count: 2, resetAt: now + window });
      assert.deepStrictEqual(await store.loginFailures(b, now + window - 1), { count: 3, resetAt: now + window });
      assert.equal(await store.loginFailures(a, now + window), undefined, 'the window has ended');

      // After the window: a new one from that failure.
      assert.deepStrictEqual(await fail(now + window + 5, [a]), [{ count: 1, resetAt: now + 2 * window + 5 }]);

      await store.clearLoginFailures(b);
      assert.equal(await store.loginFailures(b, now + 30), undefined, 'cleared');
      const audit = await auditOf(store, target);
      assert.equal(audit.length, 4, 'one LOGIN-FAIL entry per call');
      assert.ok(audit.every((e) => e.action === 'LOGIN-FAIL'));
    }));

    test('putAudit writes the entry alone', withStore(async (store) => {
      const target = newName();
      const entry = makeAudit(target, { action: 'LOGIN-THROTTLED', actor: 'address:192.0.2.9', at: BASE_MS + 7, detail: 'from 192.0.2.9' });
      await store.putAudit(entry);
      const audit = await auditOf(store, target);
      assert.equal(audit.length, 1);
      const { id, ...rest } = audit[0] as AuditEntry;
      assert.ok(id.length > 0);
      assert.deepStrictEqual(rest, entry);
    }));
  });
}
