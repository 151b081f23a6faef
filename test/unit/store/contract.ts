/**
 * NAME
 *   test/unit/store/contract - the one contract suite every `Store` implementation passes
 *
 * SYNOPSIS
 *   storeContract(name, makeStore)
 *     makeStore(): Promise<{ store: Store; cleanup(): Promise<void>; reopen?(): Promise<Store> }>
 *
 * DESCRIPTION
 *   Registers node:test `describe`/`test` blocks for every method of `Store` (src/store/types.ts).
 *   `makeStore` is called once per test and returns an OPENED store. The suite closes the store
 *   itself at the end of each test (close is idempotent, so a `cleanup` that closes too is fine),
 *   then calls `cleanup` (remove files, keys). `reopen`, when given, returns a NEW opened store
 *   over the same data; the suite closes the first store before calling it, and closes the new
 *   one itself.
 *
 *   Backend-neutral, and safe on a backend shared between tests: every test writes fresh keys
 *   (its own /24, /64, ids, hours, lease names, actors; contract-fixtures.ts) and asserts only
 *   about its own records. Listings are re-check-due in 2100 unless a test means otherwise.
 *
 *   What the suite pins down, beyond the comments in types.ts (implementations must agree):
 *   - records round-trip exactly (deepStrictEqual): absent optional fields stay absent;
 *   - `put*` upserts by key; `removeAllow` of an unknown id returns false and writes no audit;
 *   - listings pages: `next` is present exactly when more items match (no empty last page);
 *     order is the implementation's, but stable across pages; `within` is an address or CIDR;
 *   - requests, contacts and audit pages are newest first (createdAt / at descending);
 *   - `listAudit` filters combine with AND; `since` is inclusive (at >= since);
 *   - `stats(from, to)`: hours with from <= hour < to (from inclusive, to exclusive), oldest
 *     first, only hours that have counters;
 *   - `lease`: true for a free or expired lease or the same holder (renewed), false otherwise;
 *   - `subscribe`: the writer's own process hears each listing and allow change within 2 s; a
 *     listener that throws neither fails the write nor starves the other listeners;
 *   - after `close`, calls reject with BS_ERR_STORE_UNAVAILABLE.
 *
 * SEE ALSO
 *   contract-fixtures.ts, contract-more.ts (requests, contacts, audit, stats, lease, events),
 *   sqlite.test.ts, redis.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Listing, Store } from '../../../src/store/types.js';
import { registerMoreContract } from './contract-more.js';
import {
  FAR_FUTURE_MS,
  UniqueKeys,
  collectPages,
  makeAllow,
  makeAudit,
  makeEvidence,
  makeListing,
} from './contract-fixtures.js';

export interface StoreFactoryResult {
  readonly store: Store;
  readonly cleanup: () => Promise<void>;
  readonly reopen?: () => Promise<Store>;
}

export type StoreFactory = () => Promise<StoreFactoryResult>;

/** withStore - wraps a test body: a fresh store, always closed and cleaned up afterwards. */
export type WithStore = (body: (store: Store, made: StoreFactoryResult) => Promise<void>) => () => Promise<void>;

export function storeContract(name: string, makeStore: StoreFactory): void {
  const keys = new UniqueKeys();
  const withStore: WithStore = (body) => async () => {
    const made = await makeStore();
    try {
      await body(made.store, made);
    } finally {
      await made.store.close();
      await made.cleanup();
    }
  };

  describe(`${name} store contract`, () => {
    describe('lifecycle', () => {
      test('unknown keys read as undefined, not as errors', withStore(async (store) => {
        const net = keys.v4Net();
        assert.equal(await store.getListing(net.ip(1)), undefined);
        assert.equal(await store.getEvidence(keys.id('E')), undefined);
        assert.equal(await store.getAllow(keys.id('A')), undefined);
        assert.equal(await store.getRequest(keys.id('R')), undefined);
      }));

      test('after close every call rejects with BS_ERR_STORE_UNAVAILABLE; close again is harmless', withStore(async (store) => {
        const net = keys.v4Net();
        await store.close();
        const unavailable = { name: 'BlockSmithError', code: 'BS_ERR_STORE_UNAVAILABLE' };
        await assert.rejects(store.getListing(net.ip(1)), unavailable);
        await assert.rejects(store.putListing(makeListing(net.ip(1), keys), makeAudit(net.ip(1))), unavailable);
        await assert.rejects(store.listListings({}), unavailable);
        await assert.rejects(store.addStats(keys.hour(), { x: 1 }), unavailable);
        await assert.rejects(store.lease(keys.id('L'), 'a', 1000), unavailable);
        await store.close();
      }));
    });

    describe('listings', () => {
      test('a listing with every optional field round-trips exactly', withStore(async (store) => {
        const ip = keys.v4Net().ip(7);
        const listing = makeListing(ip, keys, { full: true, state: 'cleared' });
        assert.ok(listing.note !== undefined && listing.clearCause !== undefined && listing.latestEvidence.trace !== undefined);
        await store.putListing(listing, makeAudit(ip, { action: 'CLEAR' }));
        assert.deepStrictEqual(await store.getListing(ip), listing);
      }));

      test('a listing with only required fields round-trips without extra keys', withStore(async (store) => {
        const ip = keys.v6Net().ip(0x25);
        const listing = makeListing(ip, keys);
        assert.equal(listing.note, undefined);
        await store.putListing(listing, makeAudit(ip));
        const got = await store.getListing(ip);
        assert.deepStrictEqual(got, listing);
        assert.deepStrictEqual(Object.keys(got ?? {}).sort(), Object.keys(listing).sort());
      }));

      test('putListing upserts: the latest write wins', withStore(async (store) => {
        const ip = keys.v4Net().ip(9);
        await store.putListing(makeListing(ip, keys), makeAudit(ip));
        const updated = makeListing(ip, keys, { state: 'expired', rejectCount: 42, reason: 'no-ptr' });
        await store.putListing(updated, makeAudit(ip, { action: 'EXPIRE', actor: 'expiry' }));
        assert.deepStrictEqual(await store.getListing(ip), updated);
      }));

      test('putListing writes its audit entry, each with its own id', withStore(async (store) => {
        const ip = keys.v4Net().ip(3);
        const audit = makeAudit(ip, { actor: 'operator:eve', action: 'LIST', at: 1_700_000_000_000, detail: 'by hand' });
        await store.putListing(makeListing(ip, keys, { reason: 'manual' }), audit);
        await store.putListing(makeListing(ip, keys, { reason: 'manual' }), audit);
        const page = await store.listAudit({ target: ip });
        assert.equal(page.items.length, 2);
        for (const entry of page.items) {
          assert.equal(typeof entry.id, 'string');
          assert.ok(entry.id.length > 0);
          assert.deepStrictEqual({ ...entry, id: 'x' }, { ...audit, id: 'x' });
        }
        assert.notEqual(page.items[0]?.id, page.items[1]?.id);
      }));
    });

    describe('listListings', () => {
      /** putAll - stores listings (with audit) and returns them by ip. */
      async function putAll(store: Store, listings: readonly Listing[]): Promise<void> {
        for (const l of listings) await store.putListing(l, makeAudit(l.ip));
      }
      const ips = (items: readonly Listing[]): string[] => items.map((l) => l.ip).sort();

      test('within a v4 CIDR, combined with a state filter', withStore(async (store) => {
        const net = keys.v4Net();
        const other = keys.v4Net();
        const clearedOne = makeListing(net.ip(2), keys, { state: 'cleared', full: true });
        await putAll(store, [
          makeListing(net.ip(1), keys),
          clearedOne,
          makeListing(net.ip(200), keys),
          makeListing(other.ip(1), keys),
        ]);
        const all = await store.listListings({ within: net.cidr, limit: 50 });
        assert.deepStrictEqual(ips(all.items), [net.ip(1), net.ip(2), net.ip(200)].sort());
        assert.equal(all.next, undefined);
        const active = await store.listListings({ within: net.cidr, state: 'active', limit: 50 });
        assert.deepStrictEqual(ips(active.items), [net.ip(1), net.ip(200)].sort());
        const cleared = await store.listListings({ within: net.cidr, state: 'cleared' });
        assert.deepStrictEqual(ips(cleared.items), [net.ip(2)]);
        assert.deepStrictEqual(cleared.items[0], clearedOne, 'pages hold whole listings');
      }));

      test('within a single address, and within a narrower v4 range', withStore(async (store) => {
        const net = keys.v4Net();
        await putAll(store, [makeListing(net.ip(1), keys), makeListing(net.ip(130), keys), makeListing(net.ip(131), keys)]);
        const one = await store.listListings({ within: net.ip(130) });
        assert.deepStrictEqual(ips(one.items), [net.ip(130)]);
        const upper = await store.listListings({ within: `${net.prefix}.128/25` });
        assert.deepStrictEqual(ips(upper.items), [net.ip(130), net.ip(131)].sort());
      }));

      test('within a v6 CIDR: only that /64, never IPv4', withStore(async (store) => {
        const net = keys.v6Net();
        const other = keys.v6Net();
        const v4 = keys.v4Net();
        await putAll(store, [
          makeListing(net.ip(1), keys),
          makeListing(net.ip(0xbeef), keys),
          makeListing(other.ip(1), keys),
          makeListing(v4.ip(1), keys),
        ]);
        const got = await store.listListings({ within: net.cidr });
        assert.deepStrictEqual(ips(got.items), [net.ip(1), net.ip(0xbeef)].sort());
        const host = await store.listListings({ within: `${net.ip(0xbeef)}/128` });
        assert.deepStrictEqual(ips(host.items), [net.ip(0xbeef)]);
      }));

      test('filter by reason', withStore(async (store) => {
        const net = keys.v4Net();
        await putAll(store, [
          makeListing(net.ip(1), keys, { reason: 'no-ptr' }),
          makeListing(net.ip(2), keys, { reason: 'manual' }),
          makeListing(net.ip(3), keys, { reason: 'no-ptr', state: 'expired' }),
        ]);
        const noPtr = await store.listListings({ within: net.cidr, reason: 'no-ptr' });
        assert.deepStrictEqual(ips(noPtr.items), [net.ip(1), net.ip(3)].sort());
        const manualActive = await store.listListings({ within: net.cidr, reason: 'manual', state: 'active' });
        assert.deepStrictEqual(ips(manualActive.items), [net.ip(2)]);
        const none = await store.listListings({ within: net.cidr, reason: 'forward-nodata' });
        assert.deepStrictEqual(none.items, []);
        assert.equal(none.next, undefined);
      }));

      test('pages of 2 over 5 and over 4 items: no duplicates, no gaps, no empty last page', withStore(async (store) => {
        for (const count of [5, 4]) {
          const net = keys.v4Net();
          const want = Array.from({ length: count }, (_, i) => net.ip(i * 37 + 1));
          await putAll(store, want.map((ip) => makeListing(ip, keys)));
          const pages = await collectPages((after) => store.listListings({ within: net.cidr, limit: 2, after }));
          assert.equal(pages.length, Math.ceil(count / 2), `pages for ${count} items`);
          for (const p of pages) assert.ok(p.items.length >= 1 && p.items.length <= 2);
          const seen = pages.flatMap((p) => p.items.map((l) => l.ip));
          assert.equal(new Set(seen).size, seen.length, 'no duplicates');
          assert.deepStrictEqual([...seen].sort(), [...want].sort());
        }
      }));

      test('pages with a state filter skip the other states across page borders', withStore(async (store) => {
        const net = keys.v6Net();
        const all = Array.from({ length: 9 }, (_, i) =>
          makeListing(net.ip(i + 1), keys, { state: i % 3 === 1 ? 'cleared' : 'active' }),
        );
        await putAll(store, all);
        const pages = await collectPages((after) => store.listListings({ within: net.cidr, state: 'active', limit: 2, after }));
        const seen = pages.flatMap((p) => p.items.map((l) => l.ip));
        assert.equal(new Set(seen).size, seen.length);
        assert.deepStrictEqual([...seen].sort(), ips(all.filter((l) => l.state === 'active')));
        assert.equal(pages.length, 3);
      }));

      test('pages without `within` still hold every one of this test\'s listings exactly once', withStore(async (store) => {
        const net = keys.v4Net();
        const want = [net.ip(5), net.ip(6), net.ip(7)];
        await putAll(store, want.map((ip) => makeListing(ip, keys, { reason: 'forward-nodata' })));
        const pages = await collectPages((after) => store.listListings({ reason: 'forward-nodata', limit: 2, after }));
        const seen = pages.flatMap((p) => p.items.map((l) => l.ip)).filter((ip) => want.includes(ip));
        assert.deepStrictEqual(seen.sort(), [...want].sort());
      }));
    });

    describe('activeListings and dueForRecheck', () => {
      test('activeListings: batches of at most batchSize, every active listing once, no cleared one', withStore(async (store) => {
        const net = keys.v4Net();
        const active = Array.from({ length: 7 }, (_, i) => makeListing(net.ip(i + 1), keys));
        const cleared = makeListing(net.ip(100), keys, { state: 'cleared' });
        for (const l of [...active, cleared]) await store.putListing(l, makeAudit(l.ip));
        const batches: Listing[][] = [];
        await store.activeListings((b) => batches.push([...b]), 3);
        for (const b of batches) assert.ok(b.length >= 1 && b.length <= 3, `batch of ${b.length}`);
        const ours = batches.flat().filter((l) => l.ip.startsWith(`${net.prefix}.`));
        assert.deepStrictEqual(ours.map((l) => l.ip).sort(), active.map((l) => l.ip).sort());
        for (const l of ours) assert.deepStrictEqual(l, active.find((a) => a.ip === l.ip));
        const seen = batches.flat().map((l) => l.ip);
        assert.equal(new Set(seen).size, seen.length, 'no listing twice');
        for (const l of batches.flat()) assert.equal(l.state, 'active');
      }));

      test('dueForRecheck: active and due only, oldest first, at most `limit`', withStore(async (store) => {
        const net = keys.v4Net();
        const T = 1_000_000;
        const spec: [number, number, Listing['state']][] = [
          [1, T + 30, 'active'],
          [2, T + 10, 'active'],
          [3, T + 20, 'active'],
          [4, T + 5, 'cleared'],
          [5, T + 100, 'active'],
          [6, T + 40, 'active'],
        ];
        const listings = spec.map(([n, due, state]) => makeListing(net.ip(n), keys, { recheckDueAt: due, state }));
        for (const l of listings) await store.putListing(l, makeAudit(l.ip));
        try {
          const due = await store.dueForRecheck(T + 40, 10);
          assert.deepStrictEqual(due.map((l) => l.ip), [net.ip(2), net.ip(3), net.ip(1), net.ip(6)]);
          assert.deepStrictEqual(due[0], listings[1]);
          const two = await store.dueForRecheck(T + 40, 2);
          assert.deepStrictEqual(two.map((l) => l.ip), [net.ip(2), net.ip(3)]);
          assert.deepStrictEqual(await store.dueForRecheck(T + 9, 10), []);
          const boundary = await store.dueForRecheck(T + 10, 10);
          assert.deepStrictEqual(boundary.map((l) => l.ip), [net.ip(2)], 'recheckDueAt <= now');
        } finally {
          // Leave nothing due behind on a shared backend.
          for (const l of listings) {
            await store.putListing({ ...l, recheckDueAt: FAR_FUTURE_MS }, makeAudit(l.ip));
          }
        }
      }));
    });

    describe('evidence', () => {
      test('full and minimal evidence round-trip by ref, trace included', withStore(async (store) => {
        const net = keys.v6Net();
        const full = makeEvidence(net.ip(1), keys.id('E'), true);
        const minimal = makeEvidence(net.ip(2), keys.id('E'), false);
        await store.putEvidence(full);
        await store.putEvidence(minimal);
        assert.deepStrictEqual(await store.getEvidence(full.ref), full);
        const got = await store.getEvidence(minimal.ref);
        assert.deepStrictEqual(got, minimal);
        assert.deepStrictEqual(Object.keys(got ?? {}).sort(), Object.keys(minimal).sort());
      }));
    });

    describe('allowlist', () => {
      test('entries with and without optional fields round-trip; allAllows has them', withStore(async (store) => {
        const full = makeAllow(keys, keys.v6Net().cidr, true);
        const minimal = makeAllow(keys, keys.v4Net().ip(1), false);
        await store.putAllow(full, makeAudit(full.range, { action: 'ALLOW-ADD' }));
        await store.putAllow(minimal, makeAudit(minimal.range, { action: 'ALLOW-ADD' }));
        assert.deepStrictEqual(await store.getAllow(full.id), full);
        assert.deepStrictEqual(await store.getAllow(minimal.id), minimal);
        const all = await store.allAllows();
        assert.deepStrictEqual(all.find((a) => a.id === full.id), full);
        assert.deepStrictEqual(all.find((a) => a.id === minimal.id), minimal);
      }));

      test('allAllows includes expired entries', withStore(async (store) => {
        const expired = { ...makeAllow(keys, keys.v4Net().cidr, false), expiresAt: 1 };
        await store.putAllow(expired, makeAudit(expired.range, { action: 'ALLOW-ADD' }));
        assert.deepStrictEqual((await store.allAllows()).find((a) => a.id === expired.id), expired);
      }));

      test('removeAllow: true and gone, with both audit entries; false for an unknown id, no audit', withStore(async (store) => {
        const entry = makeAllow(keys, keys.v4Net().cidr, false);
        const actor = `operator:${keys.id('op')}`;
        await store.putAllow(entry, makeAudit(entry.range, { action: 'ALLOW-ADD', actor }));
        assert.equal(await store.removeAllow(entry.id, makeAudit(entry.range, { action: 'ALLOW-REMOVE', actor, at: 2 })), true);
        assert.equal(await store.getAllow(entry.id), undefined);
        assert.equal((await store.allAllows()).some((a) => a.id === entry.id), false);
        const audit = await store.listAudit({ actor });
        assert.deepStrictEqual(audit.items.map((a) => a.action).sort(), ['ALLOW-ADD', 'ALLOW-REMOVE']);

        const unknown = keys.id('A');
        assert.equal(await store.removeAllow(unknown, makeAudit(unknown, { action: 'ALLOW-REMOVE' })), false);
        assert.equal(await store.removeAllow(entry.id, makeAudit(entry.range, { action: 'ALLOW-REMOVE', actor })), false);
        assert.deepStrictEqual((await store.listAudit({ target: unknown })).items, []);
        assert.equal((await store.listAudit({ actor })).items.length, 2);
      }));
    });

    registerMoreContract(keys, withStore);
  });
}

