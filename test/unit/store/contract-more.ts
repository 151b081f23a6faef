/**
 * NAME
 *   test/unit/store/contract-more - the second half of the store contract suite
 *
 * SYNOPSIS
 *   registerMoreContract(keys, withStore)     called by storeContract (contract.ts) only
 *
 * DESCRIPTION
 *   Whitelist requests, approveRequest, contact messages, the audit log's filters and pages,
 *   hourly statistics, leases, change events (subscribe) and durability across reopen. The
 *   rules these tests pin down are listed in contract.ts's header.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { StoreEvent, WhitelistRequest } from '../../../src/store/types.js';
import type { WithStore } from './contract.js';
import {
  BASE_MS,
  HOUR_MS,
  collectPages,
  makeAllow,
  makeAudit,
  makeContact,
  makeEvidence,
  makeListing,
  makeRequest,
  sleep,
  waitFor,
} from './contract-fixtures.js';
import type { UniqueKeys } from './contract-fixtures.js';

/** How long a change event may take to reach the writer's own listeners. */
const EVENT_WAIT_MS = 2000;
/** Lease lifetime in the lease tests: short, but well above timer jitter. */
const LEASE_TTL_MS = 600;

export function registerMoreContract(keys: UniqueKeys, withStore: WithStore): void {
  describe('whitelist requests', () => {
    test('full and minimal requests round-trip; putRequest writes its audit', withStore(async (store) => {
      const full = makeRequest(keys, keys.v6Net().cidr, true);
      const minimal = makeRequest(keys, keys.v4Net().ip(1), false);
      await store.putRequest(full, makeAudit(full.ref, { action: 'REQUEST-DENY', actor: 'operator:eve' }));
      await store.putRequest(minimal, makeAudit(minimal.ref, { action: 'REQUEST-CREATE', actor: 'self-service' }));
      assert.deepStrictEqual(await store.getRequest(full.ref), full);
      const got = await store.getRequest(minimal.ref);
      assert.deepStrictEqual(got, minimal);
      assert.deepStrictEqual(Object.keys(got ?? {}).sort(), Object.keys(minimal).sort());
      const audit = await store.listAudit({ target: minimal.ref });
      assert.deepStrictEqual(audit.items.map((a) => [a.action, a.actor]), [['REQUEST-CREATE', 'self-service']]);
    }));

    test('listRequests: state filter, newest first, pages without duplicates or gaps', withStore(async (store) => {
      const range = keys.v4Net().cidr;
      const T = BASE_MS + 7 * HOUR_MS;
      const mine: WhitelistRequest[] = [];
      for (let i = 0; i < 5; i++) {
        const r = makeRequest(keys, range, false, T + i * 1000);
        mine.push(i === 2 ? { ...r, state: 'denied', decidedAt: T + 9000, decidedBy: 'cli' } : r);
      }
      for (const r of mine) await store.putRequest(r, makeAudit(r.ref, { action: 'REQUEST-CREATE' }));
      const refs = new Set(mine.map((r) => r.ref));
      const newestFirst = (rs: readonly WhitelistRequest[]): string[] =>
        [...rs].sort((a, b) => b.createdAt - a.createdAt).map((r) => r.ref);

      const pending = await collectPages((after) => store.listRequests('pending', 2, after));
      const pendingSeen = pending.flatMap((p) => p.items);
      for (const r of pendingSeen) assert.equal(r.state, 'pending');
      const pendingMine = pendingSeen.filter((r) => refs.has(r.ref)).map((r) => r.ref);
      assert.deepStrictEqual(pendingMine, newestFirst(mine.filter((r) => r.state === 'pending')));
      for (const p of pending) assert.ok(p.items.length <= 2);

      const any = (await collectPages((after) => store.listRequests(undefined, 3, after))).flatMap((p) => p.items);
      assert.deepStrictEqual(any.filter((r) => refs.has(r.ref)).map((r) => r.ref), newestFirst(mine));
      assert.equal(new Set(any.map((r) => r.ref)).size, any.length, 'no duplicates');
      const denied = (await collectPages((after) => store.listRequests('denied', 50, after)))
        .flatMap((p) => p.items)
        .filter((r) => refs.has(r.ref));
      assert.deepStrictEqual(denied, [mine[2]]);
    }));

    test('approveRequest stores the decided request, its allow entry and the audit together', withStore(async (store) => {
      const range = keys.v4Net().cidr;
      const request = makeRequest(keys, range, false);
      await store.putRequest(request, makeAudit(request.ref, { action: 'REQUEST-CREATE' }));
      const allow = { ...makeAllow(keys, range, false), requestRef: request.ref };
      const decided: WhitelistRequest = { ...request, state: 'approved', decidedAt: BASE_MS + 1, decidedBy: 'operator:eve', allowId: allow.id };
      const events: StoreEvent[] = [];
      const unsubscribe = store.subscribe((e) => events.push(e));
      try {
        await store.approveRequest(decided, allow, makeAudit(request.ref, { action: 'REQUEST-APPROVE', actor: 'operator:eve' }));
        assert.deepStrictEqual(await store.getRequest(request.ref), decided);
        assert.deepStrictEqual(await store.getAllow(allow.id), allow);
        const audit = await store.listAudit({ target: request.ref, action: 'REQUEST-APPROVE' });
        assert.equal(audit.items.length, 1);
        assert.equal(audit.items[0]?.actor, 'operator:eve');
        assert.ok(await waitFor(() => events.some((e) => e.type === 'allow' && e.id === allow.id), EVENT_WAIT_MS), 'allow event');
      } finally {
        unsubscribe();
      }
    }));
  });

  describe('contact messages', () => {
    test('round trip, audit, newest first across pages', withStore(async (store) => {
      const T = BASE_MS + 3 * HOUR_MS;
      const full = makeContact(keys, true, T + 3000);
      const minimal = makeContact(keys, false, T + 1000);
      const middle = makeContact(keys, false, T + 2000);
      for (const c of [full, minimal, middle]) await store.putContact(c, makeAudit(c.id, { action: 'CONTACT', actor: 'self-service' }));
      const seen = (await collectPages((after) => store.listContacts(1, after))).flatMap((p) => p.items);
      assert.equal(new Set(seen.map((c) => c.id)).size, seen.length, 'no duplicates');
      const mine = seen.filter((c) => [full.id, minimal.id, middle.id].includes(c.id));
      assert.deepStrictEqual(mine, [full, middle, minimal]);
      assert.deepStrictEqual(Object.keys(mine[2] ?? {}).sort(), Object.keys(minimal).sort());
      assert.equal((await store.listAudit({ target: middle.id, action: 'CONTACT' })).items.length, 1);
    }));
  });

  describe('audit log', () => {
    test('filters by target, actor, action and since (inclusive), combined with AND', withStore(async (store) => {
      const net = keys.v4Net();
      const actor = `operator:${keys.id('op')}`;
      const other = `operator:${keys.id('op')}`;
      const ipA = net.ip(1);
      const ipB = net.ip(2);
      await store.putListing(makeListing(ipA, keys), makeAudit(ipA, { actor, action: 'LIST', at: 1000 }));
      await store.putListing(makeListing(ipA, keys, { state: 'cleared' }), makeAudit(ipA, { actor: other, action: 'CLEAR', at: 2000 }));
      await store.putListing(makeListing(ipB, keys), makeAudit(ipB, { actor, action: 'LIST', at: 3000, detail: 'again' }));
      const acts = async (f: Parameters<typeof store.listAudit>[0]): Promise<string[]> =>
        (await store.listAudit(f)).items.map((a) => `${a.target} ${a.action} ${a.at}`);

      assert.deepStrictEqual(await acts({ target: ipA }), [`${ipA} CLEAR 2000`, `${ipA} LIST 1000`]);
      assert.deepStrictEqual(await acts({ actor }), [`${ipB} LIST 3000`, `${ipA} LIST 1000`]);
      assert.deepStrictEqual(await acts({ actor, since: 3000 }), [`${ipB} LIST 3000`]);
      assert.deepStrictEqual(await acts({ actor, since: 3001 }), []);
      assert.deepStrictEqual(await acts({ target: ipA, action: 'CLEAR' }), [`${ipA} CLEAR 2000`]);
      assert.deepStrictEqual(await acts({ target: ipA, actor }), [`${ipA} LIST 1000`]);
      const withDetail = (await store.listAudit({ target: ipB })).items[0];
      assert.equal(withDetail?.detail, 'again');
      const noDetail = (await store.listAudit({ target: ipA, action: 'LIST' })).items[0];
      assert.ok(noDetail !== undefined && !('detail' in noDetail), 'an absent detail stays absent');
    }));

    test('pages: newest first, no duplicates, no gaps, ties on `at` included', withStore(async (store) => {
      const target = keys.v6Net().ip(1);
      const ats = [50, 10, 30, 30, 30, 20, 40];
      for (const at of ats) {
        await store.putListing(makeListing(target, keys), makeAudit(target, { at, detail: `at ${at}` }));
      }
      const pages = await collectPages((after) => store.listAudit({ target, limit: 2, after }));
      assert.equal(pages.length, Math.ceil(ats.length / 2));
      const seen = pages.flatMap((p) => p.items);
      assert.equal(new Set(seen.map((a) => a.id)).size, ats.length);
      assert.deepStrictEqual(seen.map((a) => a.at), [...ats].sort((a, b) => b - a));
    }));
  });

  describe('statistics', () => {
    test('addStats accumulates across calls; hours stay apart', withStore(async (store) => {
      const h = keys.hour();
      await store.addStats(h, { 'decision.policy.reject': 1, 'verdict.no-ptr': 2 });
      await store.addStats(h, { 'decision.policy.reject': 3 });
      await store.addStats(h + HOUR_MS, { 'decision.policy.reject': 5 });
      assert.deepStrictEqual(await store.stats(h, h + 2 * HOUR_MS), [
        { hour: h, counters: { 'decision.policy.reject': 4, 'verdict.no-ptr': 2 } },
        { hour: h + HOUR_MS, counters: { 'decision.policy.reject': 5 } },
      ]);
    }));

    test('stats(from, to): from inclusive, to exclusive, oldest first, empty hours left out', withStore(async (store) => {
      const h = keys.hour();
      await store.addStats(h + 3 * HOUR_MS, { b: 1 });
      await store.addStats(h, { a: 1 });
      assert.deepStrictEqual(await store.stats(h, h + 3 * HOUR_MS), [{ hour: h, counters: { a: 1 } }]);
      assert.deepStrictEqual(
        (await store.stats(h, h + 3 * HOUR_MS + 1)).map((s) => s.hour),
        [h, h + 3 * HOUR_MS],
      );
      assert.deepStrictEqual(await store.stats(h + 1, h + 3 * HOUR_MS), []);
      assert.deepStrictEqual(await store.stats(h, h), []);
    }));
  });

  describe('leases', () => {
    test('acquire, renew by the holder, refused to another while valid, granted after expiry', withStore(async (store) => {
      const name = keys.id('lease-');
      assert.equal(await store.lease(name, 'node-a', LEASE_TTL_MS), true, 'free: acquired');
      assert.equal(await store.lease(name, 'node-b', LEASE_TTL_MS), false, 'held by a');
      await sleep(LEASE_TTL_MS / 2);
      assert.equal(await store.lease(name, 'node-a', LEASE_TTL_MS), true, 'renewed by a');
      await sleep(LEASE_TTL_MS * 0.7);
      assert.equal(await store.lease(name, 'node-b', LEASE_TTL_MS), false, 'the renewal extended it');
      await sleep(LEASE_TTL_MS * 1.5);
      assert.equal(await store.lease(name, 'node-b', LEASE_TTL_MS), true, 'expired: b takes it');
      assert.equal(await store.lease(name, 'node-a', LEASE_TTL_MS), false, 'now held by b');
      assert.equal(await store.lease(keys.id('lease-'), 'node-a', LEASE_TTL_MS), true, 'names are independent');
    }));
  });

  describe('change events', () => {
    test('an event for each listing and allow change; unsubscribe stops them', withStore(async (store) => {
      const ip = keys.v4Net().ip(1);
      const got: StoreEvent[] = [];
      const kept: StoreEvent[] = [];
      const stop = store.subscribe((e) => got.push(e));
      const stopKept = store.subscribe((e) => kept.push(e));
      try {
        const has = (list: StoreEvent[], want: StoreEvent): boolean =>
          list.some((e) => JSON.stringify(e) === JSON.stringify(want));
        await store.putListing(makeListing(ip, keys), makeAudit(ip));
        assert.ok(await waitFor(() => has(got, { type: 'listing', ip }), EVENT_WAIT_MS), 'listing put');
        got.length = 0;
        await store.putListing(makeListing(ip, keys, { state: 'cleared' }), makeAudit(ip, { action: 'CLEAR' }));
        assert.ok(await waitFor(() => has(got, { type: 'listing', ip }), EVENT_WAIT_MS), 'listing cleared');
        const allow = makeAllow(keys, ip, false);
        await store.putAllow(allow, makeAudit(ip, { action: 'ALLOW-ADD' }));
        assert.ok(await waitFor(() => has(got, { type: 'allow', id: allow.id }), EVENT_WAIT_MS), 'allow added');
        got.length = 0;
        await store.removeAllow(allow.id, makeAudit(ip, { action: 'ALLOW-REMOVE' }));
        assert.ok(await waitFor(() => has(got, { type: 'allow', id: allow.id }), EVENT_WAIT_MS), 'allow removed');

        stop();
        got.length = 0;
        kept.length = 0;
        const ip2 = keys.v4Net().ip(2);
        await store.putListing(makeListing(ip2, keys), makeAudit(ip2));
        assert.ok(await waitFor(() => has(kept, { type: 'listing', ip: ip2 }), EVENT_WAIT_MS), 'the other listener hears it');
        await sleep(100);
        assert.equal(got.some((e) => e.type === 'listing' && e.ip === ip2), false, 'unsubscribed: nothing');
      } finally {
        stop();
        stopKept();
      }
    }));

    test('a listener that throws fails neither the write nor the other listeners', withStore(async (store) => {
      const ip = keys.v6Net().ip(1);
      const heard: StoreEvent[] = [];
      const stopBad = store.subscribe(() => {
        throw new Error('listener bug');
      });
      const stopGood = store.subscribe((e) => heard.push(e));
      try {
        await store.putListing(makeListing(ip, keys), makeAudit(ip));
        assert.ok(await waitFor(() => heard.some((e) => e.type === 'listing' && e.ip === ip), EVENT_WAIT_MS));
        assert.equal((await store.getListing(ip))?.ip, ip);
      } finally {
        stopBad();
        stopGood();
      }
    }));
  });

  describe('durability', () => {
    test('every record survives close and reopen (skipped without `reopen`)', withStore(async (store, made) => {
      if (made.reopen === undefined) return;
      const net = keys.v4Net();
      const listing = makeListing(net.ip(1), keys, { full: true });
      const evidence = makeEvidence(net.ip(2), keys.id('E'), true);
      const allow = makeAllow(keys, net.cidr, true);
      const request = makeRequest(keys, net.cidr, true);
      const contact = makeContact(keys, true);
      const h = keys.hour();
      const leaseName = keys.id('lease-');
      await store.putListing(listing, makeAudit(listing.ip));
      await store.putEvidence(evidence);
      await store.putAllow(allow, makeAudit(allow.range, { action: 'ALLOW-ADD' }));
      await store.putRequest(request, makeAudit(request.ref, { action: 'REQUEST-CREATE' }));
      await store.putContact(contact, makeAudit(contact.id, { action: 'CONTACT' }));
      await store.addStats(h, { n: 3 });
      assert.equal(await store.lease(leaseName, 'node-a', 60_000), true);
      await store.close();

      const again = await made.reopen();
      try {
        assert.deepStrictEqual(await again.getListing(listing.ip), listing);
        assert.deepStrictEqual(await again.getEvidence(evidence.ref), evidence);
        assert.deepStrictEqual(await again.getAllow(allow.id), allow);
        assert.deepStrictEqual(await again.getRequest(request.ref), request);
        assert.deepStrictEqual((await again.listContacts(1000)).items.find((c) => c.id === contact.id), contact);
        assert.equal((await again.listAudit({ target: listing.ip })).items.length, 1);
        assert.deepStrictEqual(await again.stats(h, h + HOUR_MS), [{ hour: h, counters: { n: 3 } }]);
        assert.equal(await again.lease(leaseName, 'node-b', 60_000), false, 'the lease survived too');
      } finally {
        await again.close();
      }
    }));
  });
}
