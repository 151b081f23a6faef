/**
 * HotCache's listings (struct of arrays, hot-cache.ts): what goes in comes out, slots freed by a
 * removal are reused, growth past the first arrays keeps every value, non-active states remove,
 * touches count, and the removal hook fires.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HotCache } from '../../../src/firewall/hot-cache.js';
import type { Listing } from '../../../src/store/types.js';

const T0 = Date.UTC(2030, 0, 1);

function listing(n: number, extra: Partial<Listing> = {}): Listing {
  const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const evidence = { ref: 'AAAAAAAA', at: T0, front: 'policy' as const, ip, verdict: 'fail' as const, reason: 'no-ptr' as const };
  return {
    ip,
    state: 'active',
    verdict: n % 3 === 0 ? 'permerror' : n % 3 === 1 ? 'fail' : 'manual',
    reason: n % 3 === 0 ? 'no-ptr' : n % 3 === 1 ? 'no-forward-match' : 'manual',
    listedAt: T0,
    listedBy: 'check',
    lastRejectAt: T0 + n,
    rejectCount: n,
    recheckDueAt: n % 3 === 2 ? Number.MAX_SAFE_INTEGER : T0 + 1_000_000 + n,
    firstEvidence: evidence,
    latestEvidence: evidence,
    ...extra,
  };
}

describe('HotCache listings', () => {
  test('5,000 listings in, every value back; removals free slots that are reused', () => {
    const removed: string[] = [];
    const hot = new HotCache({ now: () => T0, log: () => undefined, onRemove: (ip) => removed.push(ip) });
    const all = Array.from({ length: 5_000 }, (_, n) => listing(n));
    for (const l of all) hot.putListing(l);
    assert.equal(hot.listingCount, 5_000);
    for (const l of all) {
      assert.deepEqual(hot.listing(l.ip), {
        verdict: l.verdict,
        reason: l.reason,
        recheckDueAt: l.recheckDueAt,
        lastRejectAt: l.lastRejectAt,
        rejectCount: l.rejectCount,
      });
    }
    for (const l of all.slice(0, 2_500)) hot.removeListing(l.ip);
    assert.equal(hot.listingCount, 2_500);
    assert.equal(removed.length, 2_500);
    assert.equal(hot.listing(all[0]!.ip), undefined);
    // Put back under other numbers: the freed slots are reused and hold the new values.
    for (const l of all.slice(0, 2_500)) hot.putListing({ ...l, rejectCount: l.rejectCount + 7 });
    assert.equal(hot.listingCount, 5_000);
    for (const l of all.slice(0, 2_500)) assert.equal(hot.listing(l.ip)?.rejectCount, l.rejectCount + 7);
    for (const l of all.slice(2_500)) assert.equal(hot.listing(l.ip)?.rejectCount, l.rejectCount);
    assert.equal(hot.listings().length, 5_000);
    assert.equal([...hot.listedIps()].length, 5_000);
  });

  test('a non-active state removes; a touch counts, moves lastRejectAt forward only, and may set the due time', () => {
    const removed: string[] = [];
    const hot = new HotCache({ now: () => T0, log: () => undefined, onRemove: (ip) => removed.push(ip) });
    const l = listing(4);
    hot.putListing(l);
    hot.touch(l.ip, T0 + 100);
    hot.touch(l.ip, T0 + 1, T0 + 5_000);
    assert.deepEqual(hot.listing(l.ip), { verdict: 'fail', reason: 'no-forward-match', recheckDueAt: T0 + 5_000, lastRejectAt: T0 + 100, rejectCount: 6 });
    hot.touch('10.9.9.9', T0); // not listed: nothing happens
    assert.equal(hot.listing('10.9.9.9'), undefined);
    hot.putListing({ ...l, state: 'cleared' });
    assert.equal(hot.listing(l.ip), undefined);
    assert.deepEqual(removed, [l.ip]);
  });

  test('a view handed out is a copy: changing it changes nothing', () => {
    const hot = new HotCache({ now: () => T0, log: () => undefined });
    const l = listing(1);
    hot.putListing(l);
    const view = hot.listing(l.ip) as { rejectCount: number };
    view.rejectCount = 99;
    assert.equal(hot.listing(l.ip)?.rejectCount, l.rejectCount);
  });
});
