/**
 * NAME
 *   test/unit/store/sqlite-retention.test - SQLite keeps evidence, counters and audit as Redis does
 *
 * DESCRIPTION
 *   store/retention.ts: evidence older than 90 days, hourly counters older than 400 days and the
 *   audit entries past the newest auditMaxEntries are deleted; listings and everything newer are
 *   kept; a backlog larger than one chunk goes over several transactions; the store does it by
 *   itself with its events pruning, first an hour after open; a file of schema version 2 gets the index retention reads;
 *   a bad auditMaxEntries is refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import Database from 'better-sqlite3';

import { EVENT_PRUNE_EVERY_MS } from '../../../src/store/sqlite/events.js';
import { RETENTION_CHUNK_ROWS, RETENTION_EVERY_MS, SCHEMA_VERSION, SqliteStore } from '../../../src/store/sqlite/index.js';
import { EVIDENCE_RETENTION_MS, STATS_RETENTION_MS } from '../../../src/store/retention.js';
import { UniqueKeys, freshDbPaths, makeAudit, makeEvidence, makeListing, sleep } from './contract-fixtures.js';

const freshPath = freshDbPaths('sqlite-retention-test');
const keys = new UniqueKeys();
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The stores' clock in these tests: a whole hour, so that counter hours line up with it. */
const NOW = Date.UTC(2026, 10, 28, 12);

describe('SqliteStore retention (store/retention.ts)', () => {
  test('evidence past 90 days, counters past 400 days and audit past the newest auditMaxEntries go; the rest stays', async () => {
    const store = new SqliteStore({ path: freshPath(), now: () => NOW, auditMaxEntries: 10 });
    await store.open();
    try {
      const net = keys.v4Net();
      const old = [1, 2, 3].map((n) => makeEvidence(net.ip(n), keys.id('OLD'), true, NOW - EVIDENCE_RETENTION_MS - n * DAY_MS));
      const kept = [4, 5].map((n) => makeEvidence(net.ip(n), keys.id('NEW'), true, NOW - EVIDENCE_RETENTION_MS + n * 1000));
      await Promise.all([...old, ...kept].map((e) => store.putEvidence(e)));
      const oldHour = NOW - STATS_RETENTION_MS - HOUR_MS;
      const keptHour = NOW - STATS_RETENTION_MS + HOUR_MS;
      await store.addStats(oldHour, { 'decision.policy.reject': 3 });
      await store.addStats(keptHour, { 'decision.policy.reject': 4 });
      const listed = Array.from({ length: 15 }, (_, i) => net.ip(20 + i));
      for (const [i, ip] of listed.entries()) await store.putListing(makeListing(ip, keys), makeAudit(ip, { at: NOW - 100 + i }));

      assert.deepEqual(await store.applyRetention(), { evidence: 3, stats: 1, audit: 5 });

      for (const e of old) assert.equal(await store.getEvidence(e.ref), undefined, `${e.ref} is past 90 days`);
      for (const e of kept) assert.deepEqual(await store.getEvidence(e.ref), e);
      assert.deepEqual(
        (await store.stats(oldHour, keptHour + HOUR_MS)).map((h) => h.hour),
        [keptHour],
      );
      const audit = (await store.listAudit({ limit: 100 })).items;
      assert.deepEqual(audit.map((a) => a.target), listed.slice(5).reverse(), 'the newest 10, newest first');
      for (const ip of listed) assert.equal((await store.getListing(ip))?.ip, ip, 'listings are not retention’s');
      assert.deepEqual(await store.applyRetention(), { evidence: 0, stats: 0, audit: 0 }, 'nothing more to do');
    } finally {
      await store.close();
    }
  });

  test('a backlog larger than one chunk is deleted over several transactions', async () => {
    const store = new SqliteStore({ path: freshPath(), now: () => NOW });
    await store.open();
    try {
      const net = keys.v4Net();
      const count = RETENTION_CHUNK_ROWS + 7;
      const at = NOW - EVIDENCE_RETENTION_MS - DAY_MS;
      const refs = Array.from({ length: count }, () => keys.id('B'));
      await Promise.all(refs.map((ref, i) => store.putEvidence(makeEvidence(net.ip(1 + (i % 200)), ref, false, at))));
      assert.equal((await store.applyRetention()).evidence, count);
      assert.equal(await store.getEvidence(refs[0] as string), undefined);
      assert.equal(await store.getEvidence(refs[count - 1] as string), undefined);
    } finally {
      await store.close();
    }
  });

  test('the store applies retention by itself, with its events pruning an hour after open', async () => {
    let now = NOW;
    const store = new SqliteStore({ path: freshPath(), now: () => now, pollIntervalMs: 10 });
    await store.open();
    try {
      const stale = makeEvidence(keys.v4Net().ip(1), keys.id('S'), false, NOW - EVIDENCE_RETENTION_MS - DAY_MS);
      await store.putEvidence(stale);
      assert.deepEqual(await store.getEvidence(stale.ref), stale);
      now = NOW + EVENT_PRUNE_EVERY_MS + 1; // the next poll prunes events, but retention waits an hour
      await sleep(300);
      assert.deepEqual(await store.getEvidence(stale.ref), stale, 'not in the first hour after open');
      now = NOW + RETENTION_EVERY_MS + 1;
      for (let i = 0; i < 200 && (await store.getEvidence(stale.ref)) !== undefined; i++) await sleep(10);
      assert.equal(await store.getEvidence(stale.ref), undefined, 'deleted within 2 s of the pruning being due');
    } finally {
      await store.close();
    }
  });

  test('a file of schema version 2 is migrated: the evidence time index is added, the data kept', async () => {
    const path = freshPath();
    const first = new SqliteStore({ path, now: () => NOW });
    await first.open();
    const evidence = makeEvidence(keys.v4Net().ip(1), keys.id('M'), true, NOW);
    await first.putEvidence(evidence);
    await first.close();
    const db = new Database(path);
    db.exec('DROP INDEX evidence_at');
    db.pragma('user_version = 2');
    db.close();
    const again = new SqliteStore({ path, now: () => NOW });
    await again.open();
    try {
      assert.deepEqual(await again.getEvidence(evidence.ref), evidence);
    } finally {
      await again.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.ok(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'evidence_at'").get(), 'evidence_at exists');
    } finally {
      check.close();
    }
  });

  test('a bad auditMaxEntries is refused, naming it', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new SqliteStore({ path: freshPath(), auditMaxEntries: bad }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'BS_ERR_CONFIG_INVALID');
        assert.match(err.message, /auditMaxEntries/);
        return true;
      });
    }
  });
});
