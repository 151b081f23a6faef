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
 *   reject.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

import { SqliteStore } from '../../../src/store/sqlite/index.js';
import type { StoreEvent } from '../../../src/store/types.js';
import { UniqueKeys, makeAllow, makeAudit, makeListing, sleep } from './contract-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'blocksmith-sqlite-thread-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let fileCounter = 0;
function freshPath(): string {
  fileCounter += 1;
  return join(root, `t${fileCounter}`, 'blocksmith.db');
}
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
