/**
 * NAME
 *   test/unit/store/redis.test - RedisStore: the shared contract, plus what only Redis has
 *
 * DESCRIPTION
 *   The contract suite (contract.ts) runs against the machine's Redis (BLOCKSMITH_TEST_REDIS_URL,
 *   default redis://127.0.0.1:6379), each test under its own key prefix
 *   `bstest:<run>:<n>:`, deleted afterwards (SCAN + DEL of that prefix only; never FLUSHALL).
 *
 *   Then the Redis-only behaviour:
 *   - two stores ("nodes") on one Redis: a write on A reaches B's listener within 1 s, and when
 *     B hears it, the record, its indexes and its audit entry are already readable;
 *   - atomicity: a script refused on bad input leaves no key at all; an observer reading in
 *     MULTI never sees a listing without its audit entry; an update moves the index entries;
 *   - the audit cap, the evidence TTL, lease expiry by the store's clock, cursors;
 *   - outages, on a throwaway redis-server this test starts on a free port (never the machine's
 *     Redis): open() against a closed port rejects fast; calls while Redis is down or stalled
 *     (SIGSTOP) reject fast; after a restart both nodes reconnect and events flow again.
 *   Every process started here is killed in `after`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';

import { Redis } from 'ioredis';

import { isBlockSmithError } from '../../../src/errors.js';
import { RedisStore } from '../../../src/store/redis/redis-store.js';
import { EVIDENCE_RETENTION_MS } from '../../../src/store/retention.js';
import type { Listing, StoreEvent, WhitelistRequest } from '../../../src/store/types.js';
import { accountsContract } from '../../unit/store/contract-accounts.js';
import { storeContract, type StoreFactory } from '../../unit/store/contract.js';
import { unlessActiveContract } from '../../unit/store/contract-unless-active.js';
import { UniqueKeys, makeAllow, makeAudit, makeEvidence, makeListing, makeRequest, waitFor } from '../../unit/store/contract-fixtures.js';

const REDIS_URL = process.env.BLOCKSMITH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN_PREFIX = `bstest:${randomBytes(6).toString('hex')}:`;
/** A node must hear another node's write within this (PRODUCT.md: caches follow within a second). */
const CROSS_NODE_EVENT_MS = 1_000;
/** open() against a closed port must give up within this. */
const OPEN_FAIL_MS = 2_000;
/** A call while Redis is down must reject within this. */
const DOWN_CALL_MS = 500;
/** Command deadline used on the stalled Redis, and how long the call may take in all. */
const STALL_TIMEOUT_MS = 300;
const STALL_CALL_MS = 1_500;
/** How long a store may take to reconnect after Redis comes back. */
const RECONNECT_MS = 5_000;
const SERVER_START_MS = 5_000;
const SCAN_COUNT = 1_000;

let prefixCounter = 0;
function freshPrefix(): string {
  prefixCounter += 1;
  return `${RUN_PREFIX}${prefixCounter}:`;
}

/** rawClient - a plain ioredis connection for looking behind the store. */
function rawClient(url: string = REDIS_URL): Redis {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
}

async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', SCAN_COUNT);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** deletePrefix - removes every key under `prefix` (our own test keys only). */
async function deletePrefix(prefix: string): Promise<void> {
  const client = rawClient();
  await client.connect();
  try {
    const keys = await keysUnder(client, prefix);
    if (keys.length > 0) await client.del(...keys);
  } finally {
    client.disconnect();
  }
}

async function openStore(prefix: string, extra: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}): Promise<RedisStore> {
  const store = new RedisStore({ url: REDIS_URL, prefix, ...extra });
  await store.open();
  return store;
}

function isUnavailable(err: unknown): boolean {
  return isBlockSmithError(err) && err.code === 'BS_ERR_STORE_UNAVAILABLE';
}

/** Longest any single timed call is awaited: a hung call fails the test instead of hanging it. */
const HANG_GUARD_MS = 3_000;

/** elapsedOf - how long a promise took to settle (at most HANG_GUARD_MS), and its error if it rejected. */
async function elapsedOf(p: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${HANG_GUARD_MS} ms`)), HANG_GUARD_MS);
  });
  p.catch(() => undefined);
  try {
    await Promise.race([p, guard]);
    return { ms: Date.now() - start, error: undefined };
  } catch (error) {
    return { ms: Date.now() - start, error };
  } finally {
    clearTimeout(timer);
  }
}

after(async () => {
  await deletePrefix(RUN_PREFIX);
});

const makeRedis: StoreFactory = async () => {
  const prefix = freshPrefix();
  const store = await openStore(prefix);
  return {
    store,
    cleanup: () => deletePrefix(prefix),
    reopen: () => openStore(prefix),
  };
};
storeContract('redis', makeRedis);
unlessActiveContract('redis', makeRedis);
accountsContract('redis', makeRedis);

// ---- a throwaway redis-server ---------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** OwnRedis - a redis-server child on a fixed port, without persistence; start, kill, stop/continue. */
class OwnRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), SERVER_START_MS);
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    child.stdout?.resume();
    child.stderr?.resume();
    if (!ready) throw new Error(`redis-server on port ${this.port} did not start`);
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }
}

// ---- Redis-only tests -------------------------------------------------------------------------

describe('redis store: two nodes on one Redis', () => {
  test('a write on node A reaches node B within 1 s, and B can already read it all', async () => {
    const keys = new UniqueKeys();
    const prefix = freshPrefix();
    const a = await openStore(prefix, { nodeId: 'node-a' });
    const b = await openStore(prefix, { nodeId: 'node-b' });
    try {
      const ip = keys.v4Net().ip(9);
      const listing = makeListing(ip, keys);
      const heard: { event: StoreEvent; at: number; listing: Listing | undefined; audits: number }[] = [];
      const reads: Promise<void>[] = [];
      const stop = b.subscribe((event) => {
        const at = Date.now();
        reads.push(
          (async () => {
            const seen = event.type === 'listing' ? await b.getListing(event.ip) : undefined;
            const audits = (await b.listAudit({ target: ip })).items.length;
            heard.push({ event, at, listing: seen, audits });
          })(),
        );
      });
      const start = Date.now();
      await a.putListing(listing, makeAudit(ip));
      assert.ok(await waitFor(() => heard.length > 0, CROSS_NODE_EVENT_MS), 'B heard A within 1 s');
      await Promise.all(reads);
      const first = heard[0];
      assert.ok(first !== undefined);
      assert.deepStrictEqual(first.event, { type: 'listing', ip }, 'exactly a StoreEvent (no node id leaks)');
      assert.ok(first.at - start <= CROSS_NODE_EVENT_MS);
      assert.deepStrictEqual(first.listing, listing, 'the record is readable when the event arrives');
      assert.equal(first.audits, 1, 'and so is its audit entry');

      const allow = makeAllow(keys, keys.v6Net().cidr, false);
      await a.putAllow(allow, makeAudit(allow.range, { action: 'ALLOW-ADD' }));
      assert.ok(await waitFor(() => heard.some((h) => h.event.type === 'allow' && h.event.id === allow.id), CROSS_NODE_EVENT_MS));
      stop();
      await Promise.all(reads);
    } finally {
      await a.close();
      await b.close();
      await deletePrefix(prefix);
    }
  });
});

describe('redis store: atomic writes', () => {
  test('a listing refused by the script (bad state) leaves no key behind', async () => {
    const keys = new UniqueKeys();
    const prefix = freshPrefix();
    const store = await openStore(prefix);
    const raw = rawClient();
    await raw.connect();
    try {
      const ip = keys.v4Net().ip(1);
      const bad = { ...makeListing(ip, keys), state: 'suspended' } as unknown as Listing;
      await assert.rejects(store.putListing(bad, makeAudit(ip)), (err: unknown) => isUnavailable(err) && /BSERR.*state/.test(String(err)));
      const badRequest = { ...makeRequest(keys, ip, false), state: 'maybe' } as unknown as WhitelistRequest;
      await assert.rejects(store.putRequest(badRequest, makeAudit(badRequest.ref)), (err: unknown) => isUnavailable(err) && /BSERR/.test(String(err)));
      assert.deepStrictEqual(await keysUnder(raw, prefix), [], 'no record, no index, no audit, no sequence');
      assert.equal(await store.getListing(ip), undefined);

      // The same write with a good state goes through whole.
      await store.putListing(makeListing(ip, keys), makeAudit(ip));
      assert.equal((await store.listAudit({ target: ip })).items.length, 1);
    } finally {
      raw.disconnect();
      await store.close();
      await deletePrefix(prefix);
    }
  });

  test('an observer reading in MULTI never sees a listing without its audit entry', async () => {
    const keys = new UniqueKeys();
    const prefix = freshPrefix();
    const store = await openStore(prefix);
    const raw = rawClient();
    await raw.connect();
    const WRITES = 60;
    try {
      const net = keys.v4Net();
      let done = false;
      const mismatches: string[] = [];
      let observations = 0;
      const observer = (async () => {
        while (!done) {
          const res = await raw.multi().zcard(`${prefix}listings`).hlen(`${prefix}audit:data`).zcard(`${prefix}listings:due`).exec();
          const [listings, audits, due] = (res ?? []).map(([, v]) => Number(v));
          observations += 1;
          if (listings !== audits || listings !== due) mismatches.push(`${listings}/${audits}/${due}`);
        }
      })();
      await Promise.all(Array.from({ length: WRITES }, (_, i) => store.putListing(makeListing(net.ip(i + 1), keys), makeAudit(net.ip(i + 1)))));
      done = true;
      await observer;
      assert.ok(observations > 0);
      assert.deepStrictEqual(mismatches, []);
      assert.equal(await raw.zcard(`${prefix}listings`), WRITES);
    } finally {
      raw.disconnect();
      await store.close();
      await deletePrefix(prefix);
    }
  });

  test('an update moves the listing between state sets and out of the due set', async () => {
    const keys = new UniqueKeys();
    const prefix = freshPrefix();
    const store = await openStore(prefix);
    const raw = rawClient();
    await raw.connect();
    try {
      const ip = keys.v6Net().ip(5);
      await store.putListing(makeListing(ip, keys, { recheckDueAt: 5 }), makeAudit(ip));
      assert.equal(await raw.zcard(`${prefix}listings:active`), 1);
      assert.equal(await raw.zscore(`${prefix}listings:due`, ip), '5');
      assert.deepStrictEqual((await store.dueForRecheck(10, 10)).map((l) => l.ip), [ip]);

      await store.putListing(makeListing(ip, keys, { state: 'cleared', recheckDueAt: 5 }), makeAudit(ip, { action: 'CLEAR' }));
      assert.equal(await raw.zcard(`${prefix}listings:active`), 0);
      assert.equal(await raw.zcard(`${prefix}listings:cleared`), 1);
      assert.equal(await raw.zcard(`${prefix}listings`), 1, 'one member per listing, whatever its history');
      assert.equal(await raw.zscore(`${prefix}listings:due`, ip), null);
      assert.deepStrictEqual(await store.dueForRecheck(10, 10), []);
    } finally {
      raw.disconnect();
      await store.close();
      await deletePrefix(prefix);
    }
  });
});

describe('redis store: limits and details', () => {
  test('the audit log keeps the newest auditMaxEntries entries', async () => {
    const keys = new UniqueKeys();
    const prefix = freshPrefix();
    const CAP = 5;
    const store = await openStore(prefix, { auditMaxEntries: CAP });
    const raw = rawClient();
    await raw.connect();
    try {
      const ip = keys.v4Net().ip(1);
      for (let at = 1; at <= CAP + 3; at++) await store.putListing(makeListing(ip, keys), makeAudit(ip, { at }));
      const page = await store.listAudit({ target: ip, limit: 100 });
      assert.deepStrictEqual(page.items.map((e) => e.at), [8, 7, 6, 5, 4]);
      assert.equal(await raw.hlen(`${prefix}audit:data`), CAP, 'trimmed entries leave no data behind');
    } finally {
      raw.disconnect();
      await store.close();
      await deletePrefix(prefix);
    }
  });

  test('overlapping open() calls make one pair of connections (named after the node)', async () => {
    const prefix = freshPrefix();
    const nodeId = `twice-${randomBytes(4).toString('hex')}`;
    const store = new RedisStore({ url: REDIS_URL, prefix, nodeId });
    const raw = rawClient();
    await raw.connect();
    try {
      await Promise.all([store.open(), store.open()]);
      await store.open();
      const list = String(await raw.call('CLIENT', 'LIST'));
      const mine = list.split('\n').filter((line) => line.includes(`name=blocksmith-${nodeId}`));
      assert.equal(mine.length, 2, 'one command connection, one subscriber');
      assert.equal(store.isAvailable(), true);
      await store.close();
      assert.equal(store.isAvailable(), false);
      await assert.rejects(store.open(), { code: 'BS_ERR_STORE_UNAVAILABLE' });
    } finally {
      raw.disconnect();
      await store.close();
      await deletePrefix(prefix);
    }
  });

  test('evidence expires after EVIDENCE_RETENTION_MS', async () => {
    const keys = new UniqueKeys();
    const prefix = freshPrefix();
    const store = await openStore(prefix);
    const raw = rawClient();
    await raw.connect();
    try {
      const evidence = makeEvidence(keys.v4Net().ip(1), keys.id('E'), false);
      await store.putEvidence(evidence);
      const ttl = await raw.pttl(`${prefix}evidence:${evidence.ref}`);
      assert.ok(ttl > EVIDENCE_RETENTION_MS - 60_000 && ttl <= EVIDENCE_RETENTION_MS, `pttl ${ttl}`);
    } finally {
      raw.disconnect();
      await store.close();
      await deletePrefix(prefix);
    }
  });

  test('a lease expires by the store clock (`now`), not only by Redis time', async () => {
    const keys = new UniqueKeys();
    const prefix = freshPrefix();
    let clock = 1_700_000_000_000;
    const store = await openStore(prefix, { now: () => clock });
    try {
      const name = keys.id('lease-');
      assert.equal(await store.lease(name, 'a', 60_000), true);
      assert.equal(await store.lease(name, 'b', 60_000), false);
      clock += 59_999;
      assert.equal(await store.lease(name, 'b', 60_000), false);
      clock += 2;
      assert.equal(await store.lease(name, 'b', 60_000), true, 'expired by the store clock');
      await assert.rejects(store.lease(name, 'b', 0), RangeError);
    } finally {
      await store.close();
      await deletePrefix(prefix);
    }
  });

  test('a cursor that is not ours is a RangeError; cursors are opaque text', async () => {
    const keys = new UniqueKeys();
    const prefix = freshPrefix();
    const store = await openStore(prefix);
    try {
      await assert.rejects(store.listListings({ after: 'not a cursor!' }), RangeError);
      await assert.rejects(store.listAudit({ after: Buffer.from('12|x').toString('base64url') }), RangeError);
      const net = keys.v4Net();
      for (const n of [1, 2, 3]) await store.putListing(makeListing(net.ip(n), keys), makeAudit(net.ip(n)));
      const page = await store.listListings({ limit: 2 });
      assert.equal(page.items.length, 2);
      assert.ok(page.next !== undefined && /^[A-Za-z0-9_-]+$/.test(page.next));
      assert.ok(!page.next.includes(net.prefix), 'the cursor does not show the key');
    } finally {
      await store.close();
      await deletePrefix(prefix);
    }
  });
});

describe('redis store: outages (own redis-server)', () => {
  const started: OwnRedis[] = [];
  after(async () => {
    for (const server of started) {
      server.resume();
      await server.kill();
    }
  });

  test('open() against a closed port rejects fast with BS_ERR_STORE_UNAVAILABLE naming the URL', async () => {
    const port = await freePort();
    const store = new RedisStore({ url: `redis://:secret-pw@127.0.0.1:${port}`, prefix: freshPrefix() });
    const { ms, error } = await elapsedOf(store.open());
    assert.ok(isUnavailable(error), `got ${String(error)}`);
    assert.ok(ms < OPEN_FAIL_MS, `took ${ms} ms`);
    const message = error instanceof Error ? error.message : '';
    assert.match(message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.doesNotMatch(message, /secret-pw/, 'the password is not in the message');
    await assert.rejects(store.getListing('192.0.2.1'), { code: 'BS_ERR_STORE_UNAVAILABLE' });
    await store.close();
  });

  test('down: calls reject fast; stalled: calls reject after commandTimeoutMs; back: reconnect and events flow', async () => {
    const server = new OwnRedis(await freePort());
    started.push(server);
    await server.start();
    const keys = new UniqueKeys();
    const prefix = freshPrefix();
    const a = new RedisStore({ url: server.url, prefix, nodeId: 'a', commandTimeoutMs: STALL_TIMEOUT_MS });
    // B keeps the default command deadline (2 s): its calls while Redis is down must still fail
    // at once, from not queueing, not from a deadline.
    const b = new RedisStore({ url: server.url, prefix, nodeId: 'b' });
    await a.open();
    await b.open();
    try {
      const heard: StoreEvent[] = [];
      b.subscribe((e) => heard.push(e));
      const ip1 = keys.v4Net().ip(1);
      await a.putListing(makeListing(ip1, keys), makeAudit(ip1));
      assert.ok(await waitFor(() => heard.length === 1, CROSS_NODE_EVENT_MS), 'events flow before the outage');

      // Stalled (the process is frozen, the socket stays open): the command deadline applies.
      server.pause();
      const stalled = await elapsedOf(a.getListing(ip1));
      server.resume();
      assert.ok(isUnavailable(stalled.error), `stalled: got ${String(stalled.error)}`);
      assert.ok(stalled.ms < STALL_CALL_MS, `stalled call took ${stalled.ms} ms`);
      assert.ok(await waitFor(() => a.isAvailable(), RECONNECT_MS));
      assert.equal((await a.getListing(ip1))?.ip, ip1, 'works again once it answers');

      // Down.
      await server.kill();
      assert.ok(await waitFor(() => !a.isAvailable() && !b.isAvailable(), CROSS_NODE_EVENT_MS), 'both notice');
      for (const store of [a, b]) {
        const calls = [store.getListing(ip1), store.putListing(makeListing(ip1, keys), makeAudit(ip1)), store.lease('x', 'a', 1000), store.stats(0, 1)];
        for (const call of calls) {
          const { ms, error } = await elapsedOf(call);
          assert.ok(isUnavailable(error), `down: got ${String(error)}`);
          assert.ok(ms < DOWN_CALL_MS, `down call took ${ms} ms`);
          assert.match(String(error), new RegExp(`127\\.0\\.0\\.1:${server.port}`));
        }
      }

      // Back (empty: no persistence). Both nodes reconnect on their own, B re-subscribes.
      await server.start();
      assert.ok(await waitFor(() => a.isAvailable() && b.isAvailable(), RECONNECT_MS), 'reconnected');
      const ip2 = keys.v4Net().ip(2);
      heard.length = 0;
      // The subscriber may re-subscribe a moment after its connection is ready: write until heard.
      const until = Date.now() + RECONNECT_MS;
      while (!heard.some((e) => e.type === 'listing' && e.ip === ip2) && Date.now() < until) {
        await a.putListing(makeListing(ip2, keys), makeAudit(ip2));
        await waitFor(() => heard.length > 0, 200);
      }
      assert.ok(heard.some((e) => e.type === 'listing' && e.ip === ip2), 'B hears A again after the restart');
      assert.equal((await b.getListing(ip2))?.ip, ip2);
    } finally {
      await a.close();
      await b.close();
      await server.kill();
    }
  });
});
