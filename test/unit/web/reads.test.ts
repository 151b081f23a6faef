/**
 * The portal's short-lived copies of store reads (web/reads.ts) and the kept address pages
 * (web/pages/ip.ts): a copy is used only while the hot cache says the same and for at most its
 * TTL; a kept page differs per view in its CSRF token only, and a clear shows at once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Firewall } from '../../../src/firewall/index.js';
import type { Evidence, Listing } from '../../../src/store/types.js';
import { PortalReads, type HotView } from '../../../src/web/reads.js';
import { IP, useHarness } from '../firewall/helpers.js';
import { portalEnv, visibleText } from './helpers.js';

function fakeFirewall(state: { listing: Listing | undefined; hot: HotView; reads: number; evidenceReads: number }): Firewall {
  return {
    records: {
      listing: (): Promise<Listing | undefined> => {
        state.reads++;
        return Promise.resolve(state.listing);
      },
      evidence: (): Promise<Evidence | undefined> => {
        state.evidenceReads++;
        return Promise.resolve(undefined);
      },
    },
    hotListing: (): HotView => state.hot,
  } as unknown as Firewall;
}

const ACTIVE = { ip: '192.0.2.9', state: 'active' } as unknown as Listing;
const HOT: HotView = { verdict: 'fail', recheckDueAt: 1_000, rejectCount: 1 };

describe('web/reads', () => {
  test('a listing is read again after the TTL, when the hot cache moves, and never kept when the two disagree', async () => {
    let clock = 0;
    const state = { listing: ACTIVE as Listing | undefined, hot: HOT as HotView, reads: 0, evidenceReads: 0 };
    const reads = new PortalReads(fakeFirewall(state), { ttlMs: 1_000, clock: () => clock });
    assert.equal(await reads.listing(ACTIVE.ip, state.hot), ACTIVE);
    assert.equal(await reads.listing(ACTIVE.ip, state.hot), ACTIVE);
    assert.equal(state.reads, 1, 'the second view is answered from the copy');
    clock = 1_000;
    await reads.listing(ACTIVE.ip, state.hot);
    assert.equal(state.reads, 2, 'after the TTL the store is read again');
    state.hot = { ...HOT, rejectCount: 2 };
    await reads.listing(ACTIVE.ip, state.hot);
    assert.equal(state.reads, 3, 'a rejection counted in the hot cache makes the copy stale');
    // A clear: the hot cache forgets the address before the store write lands.
    state.hot = undefined;
    assert.equal(await reads.listing(ACTIVE.ip, state.hot), ACTIVE);
    assert.equal(await reads.listing(ACTIVE.ip, state.hot), ACTIVE);
    assert.equal(state.reads, 5, 'a store answer the hot cache disagrees with is not kept');
    assert.equal(reads.size.listings, 0);
  });

  test('evidence is kept by reference for the TTL', async () => {
    let clock = 0;
    const state = { listing: undefined, hot: undefined as HotView, reads: 0, evidenceReads: 0 };
    const reads = new PortalReads(fakeFirewall(state), { ttlMs: 1_000, clock: () => clock });
    await reads.evidence('ABCD1234');
    await reads.evidence('ABCD1234');
    assert.equal(state.evidenceReads, 1);
    clock = 2_000;
    await reads.evidence('ABCD1234');
    assert.equal(state.evidenceReads, 2);
  });
});

describe('web/pages/ip: kept pages', () => {
  const harness = useHarness('sqlite');

  test('two views differ in the CSRF token only (each valid); a clear shows on the next view', async () => {
    const p = await portalEnv(harness);
    try {
      await p.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      await p.env.firewall.flush();
      const a = await p.form(`/ip/${IP.noPtr}`);
      const b = await p.form(`/ip/${IP.noPtr}`);
      assert.match(visibleText(a.res.body), /Refused now/);
      assert.notEqual(a.token, b.token);
      assert.equal(a.res.body.replace(a.token, 'T'), b.res.body.replace(b.token, 'T'));
      assert.ok(!a.res.body.includes('<!--'), 'no slot left in the page');
      await p.env.firewall.clear(IP.noPtr, 'test', 'operator:ops');
      const after = visibleText((await p.get(`/ip/${IP.noPtr}`)).body);
      assert.match(after, /Not refused/);
      assert.doesNotMatch(after, /Refused now/);
    } finally {
      await p.close();
    }
  });
});
