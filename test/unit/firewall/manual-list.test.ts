/**
 * NAME
 *   test/unit/firewall/manual-list.test - Firewall.list: one conditional store write, the note of an active listing
 *
 * DESCRIPTION
 *   firewall.list writes a new manual listing with `putListing(…, { unlessActive: true })` (no
 *   read first); when the IP is listed already, only that listing's note changes. On the store
 *   of BLOCKSMITH_TEST_STORE (SQLite by default; `redis` runs it on the machine's Redis).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Store } from '../../../src/store/types.js';
import { defaultStoreKind, eventually, IP, useHarness } from './helpers.js';

const h = useHarness(defaultStoreKind());

/** LIST audit entries of an IP in the store. */
function audits(store: Store, ip: string): Promise<number> {
  return store.listAudit({ target: ip }).then((page) => page.items.filter((a) => a.action === 'LIST').length);
}

describe(`Firewall.list (${h.kind})`, () => {
  test('a new IP: a manual listing, one LIST audit entry, in the hot cache at once', async () => {
    const e = await h.env();
    const listed = await e.firewall.list(IP.pass, 'spam run', 'operator:alice');
    assert.equal(listed.verdict, 'manual');
    assert.equal(listed.note, 'spam run');
    assert.deepStrictEqual(await e.store.getListing(IP.pass), listed);
    assert.equal(await audits(e.store, IP.pass), 1);
    assert.equal(e.firewall.hotListing(IP.pass)?.verdict, 'manual');
    assert.equal((await e.firewall.decide({ front: 'policy', ip: IP.pass })).source, 'listing');
  });

  test('an IP listed already: only its note changes (same evidence, same time listed), one more audit entry', async () => {
    const e = await h.env();
    const first = await e.firewall.list(IP.pass, 'spam run', 'operator:alice');
    e.clock.t += 60_000;
    const again = await e.firewall.list(IP.pass, 'still spamming', 'operator:bob');
    assert.deepStrictEqual(again, { ...first, note: 'still spamming' });
    assert.deepStrictEqual(await e.store.getListing(IP.pass), again);
    assert.equal(await audits(e.store, IP.pass), 2);
    assert.equal(e.firewall.hotListing(IP.pass)?.verdict, 'manual');
    assert.equal(e.logs.filter((l) => l.event === 'EVENT-ERROR').length, 0);
  });

  test('an IP listed by a check keeps its verdict and evidence; the operator note is added', async () => {
    const e = await h.env();
    const refused = await e.firewall.decide({ front: 'policy', ip: IP.noPtr });
    assert.equal(refused.action, 'reject');
    await e.firewall.flush();
    const byCheck = await e.store.getListing(IP.noPtr);
    assert.equal(byCheck?.state, 'active');
    const noted = await e.firewall.list(IP.noPtr, 'confirmed by hand', 'operator:alice');
    assert.deepStrictEqual(noted, { ...byCheck, note: 'confirmed by hand' });
    assert.equal((await e.store.getListing(IP.noPtr))?.verdict, byCheck?.verdict);
  });

  test('an IP cleared before: listed again as a new manual listing', async () => {
    const e = await h.env();
    const first = await e.firewall.list(IP.pass, 'spam run', 'operator:alice');
    await e.firewall.clear(IP.pass, 'sorry', 'operator:alice');
    assert.equal(e.firewall.hotListing(IP.pass), undefined);
    e.clock.t += 60_000;
    const again = await e.firewall.list(IP.pass, 'again', 'operator:alice');
    assert.equal(again.state, 'active');
    assert.notEqual(again.firstEvidence.ref, first.firstEvidence.ref);
    assert.equal(again.listedAt, e.clock.t);
    assert.deepStrictEqual(await e.store.getListing(IP.pass), again);
    assert.equal(e.firewall.hotListing(IP.pass)?.verdict, 'manual');
  });

  test('the same IP listed twice at once: one listing, both calls answer it, both audited', async () => {
    const e = await h.env();
    const [a, b] = await Promise.all([e.firewall.list(IP.pass6, 'one', 'operator:alice'), e.firewall.list(IP.pass6, 'two', 'operator:bob')]);
    const stored = await e.store.getListing(IP.pass6);
    assert.equal(stored?.state, 'active');
    assert.equal(a.firstEvidence.ref, b.firstEvidence.ref, 'the second noted the first one');
    assert.equal(stored?.firstEvidence.ref, a.firstEvidence.ref);
    assert.equal(await audits(e.store, IP.pass6), 2);
    await eventually(() => e.firewall.hotListing(IP.pass6)?.verdict === 'manual');
  });
});
