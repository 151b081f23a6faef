/**
 * NAME
 *   test/unit/store/sqlite-writer-thread.test - SqliteStore's writes on their own thread, many per commit
 *
 * DESCRIPTION
 *   Writes asked for at once are committed together (write-worker.ts, write-channel.ts); these
 *   check what that must not change: a failing write in a shared transaction is rolled back
 *   alone and reported alone, the others land with their audit and exactly one event each;
 *   every acknowledged write is readable at once; acknowledged writes survive a SIGKILL when
 *   many were in flight; close() waits for the writes already asked for; calls after close()
 *   reject. The commit window: writes that arrive one by one while commits are frequent share
 *   commits; a writer awaiting each write in turn is held once, then not for HOLD_BACKOFF
 *   writes; close() sends a held batch at once; a bad window is refused.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

import { SqliteStore } from '../../../src/store/sqlite/index.js';
import { HOLD_BACKOFF } from '../../../src/store/sqlite/write-channel.js';
import type { StoreEvent } from '../../../src/store/types.js';
import { UniqueKeys, freshDbPaths, makeAllow, makeAudit, makeListing, sleep } from './contract-fixtures.js';

const freshPath = freshDbPaths('sqlite-thread-test');
const keys = new UniqueKeys();
const unavailable = { name: 'BlockSmithError', code: 'BS_ERR_STORE_UNAVAILABLE' };

describe('SqliteStore writer thread', () => {
  test('a failing write among many at once is rolled back alone; the others land, each with its audit and one event', async () => {
    const store = new SqliteStore({ path: freshPath(), pollIntervalMs: 20 });
    await store.open();
    const heard: StoreEvent[] = [];
    store.subscribe((e) => heard.push(e));
    try {
      const net = keys.v4Net();
      const good = Array.from({ length: 50 }, (_, i) => net.ip(i + 1));
      const badIp = net.ip(200);
      const broken = { ...makeAudit(badIp), actor: null } as unknown as ReturnType<typeof makeAudit>;
      const allow = makeAllow(keys, net.ip(201), false);
      const outcomes = await Promise.allSettled([
        ...good.slice(0, 25).map((ip) => store.putListing(makeListing(ip, keys), makeAudit(ip))),
        store.putListing(makeListing(badIp, keys), broken),
        store.putAllow(allow, makeAudit(net.ip(201), { action: 'ALLOW-ADD' })),
        ...good.slice(25).map((ip) => store.putListing(makeListing(ip, keys), makeAudit(ip))),
        store.removeAllow('no-such-id', makeAudit('none', { action: 'ALLOW-REMOVE' })),
      ]);
      const rejected = outcomes.filter((o) => o.status === 'rejected');
      assert.equal(rejected.length, 1, 'only the broken write fails');
      const reason = (rejected[0] as PromiseRejectedResult).reason as Error & { code?: string };
      assert.equal(reason.code, 'BS_ERR_STORE_UNAVAILABLE');
      assert.match(reason.message, /SQLITE_CONSTRAINT/);
      assert.equal((outcomes[outcomes.length - 1] as PromiseFulfilledResult<boolean>).value, false, 'removing nothing is a no-op');
      assert.equal(await store.getListing(badIp), undefined, 'rolled back');
      for (const ip of good) {
        assert.equal((await store.getListing(ip))?.ip, ip);
        assert.equal((await store.listAudit({ target: ip })).items.length, 1, `audit of ${ip}`);
      }
      assert.equal((await store.getAllow(allow.id))?.id, allow.id);
      assert.equal((await store.listAudit({ action: 'ALLOW-REMOVE' })).items.length, 0, 'a no-op writes no audit');
      await sleep(150); // several polls: no event twice
      const listingEvents = heard.filter((e) => e.type === 'listing').map((e) => (e.type === 'listing' ? e.ip : ''));
      assert.deepEqual([...listingEvents].sort(), [...good].sort(), 'one event per landed listing, none for the failed one');
      assert.equal(heard.filter((e) => e.type === 'allow').length, 1);
    } finally {
      await store.close();
    }
  });

  test('close() waits for the writes already asked for; later calls reject', async () => {
    const path = freshPath();
    const store = new SqliteStore({ path });
    await store.open();
    const net = keys.v4Net();
    const ips = Array.from({ length: 30 }, (_, i) => net.ip(i + 1));
    const writes = ips.map((ip) => store.putListing(makeListing(ip, keys), makeAudit(ip)));
    await store.close();
    await Promise.all(writes);
    await assert.rejects(store.putListing(makeListing(net.ip(99), keys), makeAudit(net.ip(99))), unavailable);
    await assert.rejects(store.putEvidence(makeListing(net.ip(98), keys).firstEvidence), unavailable);
    const again = new SqliteStore({ path });
    await again.open();
    try {
      for (const ip of ips) assert.equal((await again.getListing(ip))?.ip, ip);
    } finally {
      await again.close();
    }
  });

  test('writes arriving one by one share commits (the commit window); each lands', async () => {
    // A window far longer than a commit, so that the grouping does not hang on this machine's speed.
    const store = new SqliteStore({ path: freshPath(), commitWindowMs: 200 });
    await store.open();
    try {
      const net = keys.v4Net();
      const ips = Array.from({ length: 40 }, (_, i) => net.ip(i + 1));
      const before = { ...(store.writeCounts ?? assert.fail('open: counts')) };
      const writes: Promise<boolean>[] = [];
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const ip = ips[writes.length] as string;
          writes.push(store.putListing(makeListing(ip, keys), makeAudit(ip)));
          if (writes.length === ips.length) {
            clearInterval(timer);
            resolve();
          }
        }, 5);
      });
      assert.deepEqual(await Promise.all(writes), ips.map(() => true));
      const after = store.writeCounts ?? assert.fail('counts');
      const batches = after.batches - before.batches;
      assert.equal(after.writes - before.writes, ips.length);
      assert.ok(after.held > before.held, 'some batches waited for their window');
      // One write every 5 ms, a commit at most every 200 ms: a few commits; one each was the old way.
      assert.ok(batches <= ips.length / 4, `${ips.length} writes took ${batches} commits`);
      for (const ip of ips) assert.equal((await store.getListing(ip))?.ip, ip);
    } finally {
      await store.close();
    }
  });

  test('a writer awaiting each write in turn is held once, then not again for HOLD_BACKOFF writes', async () => {
    const store = new SqliteStore({ path: freshPath(), commitWindowMs: 50 });
    await store.open();
    try {
      const net = keys.v4Net();
      const writes = HOLD_BACKOFF + 20;
      const started = performance.now();
      for (let i = 1; i <= writes; i++) {
        const ip = net.ip(i);
        assert.equal(await store.putListing(makeListing(ip, keys), makeAudit(ip)), true);
        assert.equal((await store.getListing(ip))?.ip, ip);
      }
      const counts = store.writeCounts ?? assert.fail('counts');
      // The 2nd write is held (nothing joins it), the next HOLD_BACKOFF are not, then one more is
      // (fewer when a commit outlasts the window).
      assert.ok(counts.held <= Math.ceil(writes / (HOLD_BACKOFF + 1)), `held ${counts.held} times in ${writes} writes`);
      assert.equal(counts.batches, counts.writes);
      assert.ok(performance.now() - started < writes * 50, 'not a window per write');
    } finally {
      await store.close();
    }
  });

  test('close() sends a batch waiting for its window at once; an invalid window is refused', async () => {
    const path = freshPath();
    const store = new SqliteStore({ path, commitWindowMs: 60_000 });
    await store.open();
    const net = keys.v4Net();
    await store.putListing(makeListing(net.ip(1), keys), makeAudit(net.ip(1)));
    // Within the window after the first batch: held.
    await sleep(5);
    const held = store.putListing(makeListing(net.ip(2), keys), makeAudit(net.ip(2)));
    await sleep(20);
    assert.equal(store.writeCounts?.held, 1, 'the second write waits for the window');
    const started = Date.now();
    await store.close();
    assert.equal(await held, true);
    assert.ok(Date.now() - started < 10_000, 'close() did not wait for the 60 s window');
    const again = new SqliteStore({ path });
    await again.open();
    try {
      assert.equal((await again.getListing(net.ip(2)))?.ip, net.ip(2));
    } finally {
      await again.close();
    }
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new SqliteStore({ path, commitWindowMs: bad }), { code: 'BS_ERR_CONFIG_INVALID' });
    }
  });

  test('acknowledged writes survive a SIGKILL with many writes in flight', { timeout: 60_000 }, async () => {
    const path = freshPath();
    const prefix = keys.v4Net().prefix;
    const script = join(dirname(fileURLToPath(import.meta.url)), 'sqlite-writer.fixture.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, path, prefix, '250', '16'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: string[] = [];
    let buffer = '';
    const KILL_AFTER_ACKS = 60;
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('ACK ')) acked.push(line.slice(4));
        if (acked.length === KILL_AFTER_ACKS) child.kill('SIGKILL');
      }
    });
    const signal = await exited;
    assert.equal(signal, 'SIGKILL', 'the writer was killed mid-way, not finished');
    assert.ok(acked.length >= KILL_AFTER_ACKS && acked.length < 250, `acks: ${acked.length}`);
    const store = new SqliteStore({ path });
    await store.open();
    try {
      for (const ip of acked) assert.equal((await store.getListing(ip))?.ip, ip, `acknowledged ${ip} survived`);
      for (const ip of acked) assert.equal((await store.listAudit({ target: ip })).items.length, 1, `audit of ${ip}`);
    } finally {
      await store.close();
    }
  });
});
