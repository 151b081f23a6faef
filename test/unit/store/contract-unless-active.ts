/**
 * NAME
 *   test/unit/store/contract-unless-active - Store.putListing with `{ unlessActive: true }`, on any store
 *
 * SYNOPSIS
 *   unlessActiveContract('sqlite', makeSqlite)     (sqlite.test.ts)
 *   unlessActiveContract('redis', makeRedis)       (test/e2e/store/redis.test.ts)
 *
 * DESCRIPTION
 *   The conditional listing write the firewall's manual listing uses (one store call instead of a
 *   read and a write): written, with its audit entry and its event, when the IP has no listing
 *   or an ended one; when the stored listing is active, nothing at all (no record change, no
 *   audit entry, no event) and false. A plain putListing still writes unconditionally (true).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Store, StoreEvent } from '../../../src/store/types.js';
import { UniqueKeys, makeAudit, makeListing, sleep, waitFor } from './contract-fixtures.js';
import type { StoreFactory } from './contract.js';

/** How long an event is waited for (SQLite's own events come at once; Redis's through its subscriber). */
const EVENT_WAIT_MS = 2_000;
/** How long to listen for an event that must not come. */
const NO_EVENT_MS = 300;

export function unlessActiveContract(name: string, makeStore: StoreFactory): void {
  const keys = new UniqueKeys();
  const withStore = (body: (store: Store, events: StoreEvent[]) => Promise<void>) => async (): Promise<void> => {
    const made = await makeStore();
    const events: StoreEvent[] = [];
    const stop = made.store.subscribe((e) => events.push(e));
    try {
      await body(made.store, events);
    } finally {
      stop();
      await made.store.close();
      await made.cleanup();
    }
  };
  const heard = (events: StoreEvent[], ip: string): number => events.filter((e) => e.type === 'listing' && e.ip === ip).length;

  describe(`${name} store: putListing unlessActive`, () => {
    test('no listing yet: written, with its audit entry and its event; true', withStore(async (store, events) => {
      const ip = keys.v4Net().ip(11);
      const listing = makeListing(ip, keys, { reason: 'manual' });
      assert.equal(await store.putListing(listing, makeAudit(ip), { unlessActive: true }), true);
      assert.deepStrictEqual(await store.getListing(ip), listing);
      assert.equal((await store.listAudit({ target: ip })).items.length, 1);
      assert.ok(await waitFor(() => heard(events, ip) === 1, EVENT_WAIT_MS), 'its event');
    }));

    test('an ended listing (cleared, expired) is replaced; true', withStore(async (store) => {
      for (const [n, state] of [[12, 'cleared'], [13, 'expired']] as const) {
        const ip = keys.v4Net().ip(n);
        await store.putListing(makeListing(ip, keys, { state }), makeAudit(ip, { action: 'CLEAR' }));
        const listing = makeListing(ip, keys, { reason: 'manual' });
        assert.equal(await store.putListing(listing, makeAudit(ip), { unlessActive: true }), true, state);
        assert.deepStrictEqual(await store.getListing(ip), listing, state);
        assert.equal((await store.listAudit({ target: ip })).items.length, 2, state);
      }
    }));

    test('an active listing: nothing written (record, audit, event, indexes unchanged); false', withStore(async (store, events) => {
      const ip = keys.v6Net().ip(0x31);
      const active = makeListing(ip, keys, { rejectCount: 7 });
      await store.putListing(active, makeAudit(ip));
      assert.ok(await waitFor(() => heard(events, ip) === 1, EVENT_WAIT_MS), 'the first write is heard');
      const other = makeListing(ip, keys, { reason: 'manual', state: 'active' });
      assert.equal(await store.putListing(other, makeAudit(ip, { detail: 'second' }), { unlessActive: true }), false);
      assert.deepStrictEqual(await store.getListing(ip), active);
      assert.equal((await store.listAudit({ target: ip })).items.length, 1, 'no audit entry');
      assert.deepStrictEqual((await store.listListings({ state: 'active' })).items.filter((l) => l.ip === ip), [active]);
      await sleep(NO_EVENT_MS);
      assert.equal(heard(events, ip), 1, 'no event');
    }));

    test('without the option putListing still overwrites an active listing; true', withStore(async (store) => {
      const ip = keys.v4Net().ip(14);
      await store.putListing(makeListing(ip, keys), makeAudit(ip));
      const next = makeListing(ip, keys, { reason: 'manual' });
      assert.equal(await store.putListing(next, makeAudit(ip)), true);
      assert.equal(await store.putListing(next, makeAudit(ip), { unlessActive: false }), true);
      assert.deepStrictEqual(await store.getListing(ip), next);
    }));

    test('two conditional writes at once for the same IP: exactly one is written', withStore(async (store) => {
      const ip = keys.v4Net().ip(15);
      const a = makeListing(ip, keys, { reason: 'manual' });
      const b = makeListing(ip, keys, { reason: 'manual', rejectCount: 3 });
      const results = await Promise.all([store.putListing(a, makeAudit(ip), { unlessActive: true }), store.putListing(b, makeAudit(ip), { unlessActive: true })]);
      assert.deepStrictEqual([...results].sort(), [false, true]);
      assert.deepStrictEqual(await store.getListing(ip), results[0] ? a : b);
      assert.equal((await store.listAudit({ target: ip })).items.length, 1);
    }));
  });
}
