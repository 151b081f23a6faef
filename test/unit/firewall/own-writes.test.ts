/**
 * NAME
 *   test/unit/firewall/own-writes.test - which store events the firewall may leave unread
 *
 * DESCRIPTION
 *   firewall/own-writes.ts lets the firewall skip reading back the event of a listing write it
 *   made itself. What must hold: its own event is claimed (SQLite: before the write resolves;
 *   Redis: after, marked local); another node's event is never skipped for good (claimed in
 *   place of ours, ours is then read back; our write failing makes a read-back at once); a
 *   late claim needs the store's `local` mark and ends after LATE_EVENT_MS.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LATE_EVENT_MS, OwnWrites } from '../../../src/firewall/own-writes.js';
import type { AuditEntry, Listing, Store } from '../../../src/store/types.js';

const IP = '192.0.2.7';
const AUDIT: Omit<AuditEntry, 'id'> = { at: 1, actor: 'test', action: 'LIST', target: IP };

function listing(state: Listing['state'] = 'active'): Listing {
  const evidence = { ref: 'AAAAAAAA', at: 1, front: 'cli' as const, ip: IP, verdict: 'fail' as const, reason: 'manual' as const };
  return {
    ip: IP,
    state,
    verdict: 'manual',
    reason: 'manual',
    listedAt: 1,
    listedBy: 'test',
    lastRejectAt: 1,
    rejectCount: 0,
    recheckDueAt: Number.MAX_SAFE_INTEGER,
    firstEvidence: evidence,
    latestEvidence: evidence,
  };
}

/** A store whose putListing waits for `release()`, and runs `during` while under way. */
function heldStore(): { store: Store; release: (err?: Error) => void; started: Promise<void> } {
  let release: (err?: Error) => void = () => undefined;
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const store = {
    putListing: () =>
      new Promise<void>((resolve, reject) => {
        release = (err) => (err === undefined ? resolve() : reject(err));
        markStarted();
      }),
  } as unknown as Store;
  return { store, release: (err) => release(err), started };
}

function setup(): { own: OwnWrites; ended: string[]; rereads: string[]; clock: { now: number } } {
  const ended: string[] = [];
  const rereads: string[] = [];
  const clock = { now: 1_000 };
  const own = new OwnWrites({ ended: (ip) => ended.push(ip), reread: (ip) => rereads.push(ip), now: () => clock.now });
  return { own, ended, rereads, clock };
}

describe('OwnWrites', () => {
  test('an event while the own write is under way is claimed, one per write; none is left after', async () => {
    const { own } = setup();
    const held = heldStore();
    const write = own.putListing(held.store, listing(), AUDIT);
    await held.started;
    assert.equal(own.claim(IP, true), true, 'our own event (SQLite announces it before the write resolves)');
    assert.equal(own.claim(IP, false), false, 'a second event is not ours: read back');
    held.release();
    await write;
    assert.equal(own.claim(IP, true), false, 'nothing left to claim');
    assert.equal(own.size, 0);
  });

  test("another node's event claimed in place of ours leaves ours to be read back", async () => {
    const { own } = setup();
    const held = heldStore();
    const write = own.putListing(held.store, listing(), AUDIT);
    await held.started;
    assert.equal(own.claim(IP, false), true, 'the first event is taken for ours');
    assert.equal(own.claim(IP, true), false, 'so our own event is read back, and reads the newest state');
    held.release();
    await write;
    assert.equal(own.claim(IP, true), false);
  });

  test('an own write that fails after a claim makes the IP read back at once', async () => {
    const { own, rereads } = setup();
    const held = heldStore();
    const write = own.putListing(held.store, listing(), AUDIT);
    await held.started;
    assert.equal(own.claim(IP, false), true);
    held.release(new Error('store away'));
    await assert.rejects(write, /store away/);
    assert.deepEqual(rereads, [IP], 'the claimed event was not ours: followed now');
    assert.equal(own.size, 0);
  });

  test('an event after the write is done is claimed only when local, within LATE_EVENT_MS', async () => {
    const { own, clock } = setup();
    const first = heldStore();
    const w1 = own.putListing(first.store, listing(), AUDIT);
    await first.started;
    first.release();
    await w1;
    assert.equal(own.claim(IP, false), false, "another node's event after our write: read back");
    assert.equal(own.claim(IP, true), true, 'our own, marked local by the store (Redis: after the reply)');
    assert.equal(own.claim(IP, true), false, 'only once');

    const second = heldStore();
    const w2 = own.putListing(second.store, listing(), AUDIT);
    await second.started;
    second.release();
    await w2;
    clock.now += LATE_EVENT_MS + 1;
    assert.equal(own.claim(IP, true), false, 'too late: read back');
    assert.equal(own.size, 0);
  });

  test('an own write that ends a listing calls `ended` once done, not when it fails', async () => {
    const { own, ended } = setup();
    const ok = heldStore();
    const w1 = own.putListing(ok.store, listing('cleared'), AUDIT);
    await ok.started;
    ok.release();
    await w1;
    assert.deepEqual(ended, [IP]);
    const bad = heldStore();
    const w2 = own.putListing(bad.store, listing('expired'), AUDIT);
    await bad.started;
    bad.release(new Error('no'));
    await assert.rejects(w2);
    assert.deepEqual(ended, [IP]);
  });
});
