/**
 * NAME
 *   test/unit/store/sqlite.test - the store contract and SQLite-only behaviour of SqliteStore
 *
 * DESCRIPTION
 *   Runs storeContract('sqlite', …) over a fresh file per test under os.tmpdir(), then:
 *   migrations from an empty file, a too-new schema refused, two instances on one file hearing
 *   each other's changes, no double events, failures of the file as BS_ERR_STORE_UNAVAILABLE
 *   (unwritable directory, a directory as the file, a corrupt file, a read-only file), bad
 *   cursors, and durability across a child process SIGKILLed right after acknowledged writes
 *   (sqlite-writer.fixture.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

import Database from 'better-sqlite3';

import { MAX_PAGE_LIMIT, SCHEMA_VERSION, SqliteStore, WITHIN_SCAN_CHUNK } from '../../../src/store/sqlite/index.js';
import { listingParams } from '../../../src/store/sqlite/rows.js';
import type { StoreEvent } from '../../../src/store/types.js';
import { accountsContract } from './contract-accounts.js';
import { unlessActiveContract } from './contract-unless-active.js';
import { storeContract, type StoreFactory } from './contract.js';
import { UniqueKeys, makeAllow, makeAudit, makeListing, sleep, waitFor } from './contract-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'blocksmith-sqlite-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let fileCounter = 0;
/** A fresh file name in a fresh, not yet existing sub-directory (open() must create it). */
function freshPath(): string {
  fileCounter += 1;
  return join(root, `t${fileCounter}`, 'nested', 'blocksmith.db');
}
const FAST_POLL_MS = 50;
const unavailable = { name: 'BlockSmithError', code: 'BS_ERR_STORE_UNAVAILABLE' };

interface Attempt {
  readonly ok?: boolean;
  readonly code?: string;
  readonly message?: string;
}

async function attemptHere(path: string, ip: string): Promise<Attempt> {
  const ro = new SqliteStore({ path });
  try {
    await ro.open();
    await ro.putListing(makeListing(ip, new UniqueKeys()), makeAudit(ip));
    return { ok: true };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { code: e.code, message: e.message };
  } finally {
    await ro.close();
  }
}

function attemptAsNobody(path: string, ip: string): Promise<Attempt> {
  const fixture = fileURLToPath(new URL('./sqlite-readonly.fixture.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', fixture, path, ip], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: '/tmp' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Attempt);
      } catch {
        reject(new Error(`fixture output: ${out} ${err}`));
      }
    });
  });
}

async function openStore(path: string, pollIntervalMs = FAST_POLL_MS): Promise<SqliteStore> {
  const store = new SqliteStore({ path, pollIntervalMs });
  await store.open();
  return store;
}

const makeSqlite: StoreFactory = async () => {
  const path = freshPath();
  const store = await openStore(path);
  return {
    store,
    cleanup: () => {
      rmSync(dirname(dirname(path)), { recursive: true, force: true });
      return Promise.resolve();
    },
    reopen: () => openStore(path),
  };
};
storeContract('sqlite', makeSqlite);
accountsContract('sqlite', makeSqlite);
unlessActiveContract('sqlite', makeSqlite);

describe('SqliteStore (SQLite specifics)', () => {
  const keys = new UniqueKeys();

  test('an empty file is migrated to the current schema, in WAL mode with synchronous FULL', async () => {
    const path = freshPath();
    const store = await openStore(path);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]);
      for (const t of ['allows', 'audit', 'contacts', 'events', 'evidence', 'leases', 'listings', 'requests', 'stats']) {
        assert.ok(tables.includes(t), `table ${t}`);
      }
      const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'listings'").pluck().all();
      assert.ok(indexes.includes('listings_state_due'));
    } finally {
      db.close();
    }
    const again = await openStore(path);
    await again.close();
  });

  test('a schema version newer than this build is refused with a clear error', async () => {
    const path = freshPath();
    const store = await openStore(path);
    await store.close();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const refused = new SqliteStore({ path });
    await assert.rejects(refused.open(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'BS_ERR_STORE_UNAVAILABLE');
      assert.match(err.message, new RegExp(`schema version ${SCHEMA_VERSION + 1} is newer`));
      assert.ok(err.message.includes(path));
      return true;
    });
    await refused.close();
  });

  test('two instances on one file: a change by one reaches the other within 1 s', async () => {
    const path = freshPath();
    const writer = await openStore(path, 250);
    const reader = await openStore(path, 250);
    const heard: StoreEvent[] = [];
    reader.subscribe((e) => heard.push(e));
    try {
      const ip = keys.v4Net().ip(1);
      const started = Date.now();
      await writer.putListing(makeListing(ip, keys), makeAudit(ip));
      assert.ok(await waitFor(() => heard.some((e) => e.type === 'listing' && e.ip === ip), 1000), 'listing event');
      assert.ok(Date.now() - started <= 1000);
      const allow = makeAllow(keys, ip, false);
      await writer.putAllow(allow, makeAudit(ip, { action: 'ALLOW-ADD' }));
      assert.ok(await waitFor(() => heard.some((e) => e.type === 'allow' && e.id === allow.id), 1000), 'allow event');
      assert.deepStrictEqual(await reader.getAllow(allow.id), allow);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  test('the writer hears its own change exactly once (at once, and not again from the poll)', async () => {
    const path = freshPath();
    const store = await openStore(path, 20);
    const other = await openStore(path, 20);
    const heard: StoreEvent[] = [];
    store.subscribe((e) => heard.push(e));
    try {
      const net = keys.v4Net();
      await other.putListing(makeListing(net.ip(9), keys), makeAudit(net.ip(9))); // interleave a foreign event
      await store.putListing(makeListing(net.ip(1), keys), makeAudit(net.ip(1)));
      assert.equal(heard.filter((e) => e.type === 'listing' && e.ip === net.ip(1)).length, 1, 'heard at once');
      await store.putListing(makeListing(net.ip(2), keys), makeAudit(net.ip(2)));
      await sleep(200);
      const count = (ip: string): number => heard.filter((e) => e.type === 'listing' && e.ip === ip).length;
      assert.deepStrictEqual([count(net.ip(1)), count(net.ip(2)), count(net.ip(9))], [1, 1, 1]);
    } finally {
      await store.close();
      await other.close();
    }
  });

  test('an unwritable location gives BS_ERR_STORE_UNAVAILABLE naming the file, not a crash', async () => {
    const blocker = join(root, `blocker-${keys.id('f')}`);
    writeFileSync(blocker, 'a file, not a directory');
    const underFile = new SqliteStore({ path: join(blocker, 'sub', 'blocksmith.db') });
    await assert.rejects(underFile.open(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'BS_ERR_STORE_UNAVAILABLE');
      assert.match(err.message, /blocker-.*blocksmith\.db.*\((ENOTDIR|EEXIST)\)/);
      return true;
    });
    await underFile.close();

    const dirAsFile = new SqliteStore({ path: root });
    await assert.rejects(dirAsFile.open(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'BS_ERR_STORE_UNAVAILABLE');
      assert.match(err.message, /SQLITE_CANTOPEN/);
      return true;
    });
    await dirAsFile.close();
  });

  test('a file that is not a database gives BS_ERR_STORE_UNAVAILABLE with the SQLite code', async () => {
    const path = join(root, `garbage-${keys.id('f')}.db`);
    writeFileSync(path, Buffer.alloc(8192, 0x5a));
    const store = new SqliteStore({ path });
    await assert.rejects(store.open(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'BS_ERR_STORE_UNAVAILABLE');
      assert.match(err.message, /SQLITE_NOTADB/);
      assert.ok(err.message.includes(path));
      return true;
    });
    await store.close();
  });

  test('pages damaged while closed: reads reject with BS_ERR_STORE_UNAVAILABLE (SQLITE_CORRUPT)', async () => {
    const path = freshPath();
    const store = await openStore(path);
    const net = keys.v4Net();
    for (let i = 1; i <= 200; i++) await store.putListing(makeListing(net.ip(i), keys, { full: true }), makeAudit(net.ip(i)));
    await store.close();
    const pageSize = 4096;
    const fd = openSync(path, 'r+');
    for (let page = 1; page * pageSize < statSync(path).size; page++) {
      writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, page * pageSize);
    }
    closeSync(fd);
    const damaged = new SqliteStore({ path });
    try {
      await damaged.open();
      await damaged.listListings({ limit: 1000 });
      assert.fail('reading a damaged file succeeded');
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'BS_ERR_STORE_UNAVAILABLE');
      assert.match((err as Error).message, /SQLITE_(CORRUPT|NOTADB)/);
    } finally {
      await damaged.close();
    }
  });

  test('a read-only file or directory: open or the first write rejects with SQLITE_READONLY', async () => {
    // Root ignores file modes: as root, the attempt runs in a child process as user nobody.
    const asRoot = process.getuid?.() === 0;
    for (const lock of ['file', 'directory'] as const) {
      const path = freshPath();
      const store = await openStore(path);
      await store.close();
      const locked = lock === 'file' ? path : dirname(path);
      if (asRoot) {
        // Let nobody reach the file: every directory on the way must be searchable.
        for (let dir = dirname(path); dir.startsWith(root); dir = dirname(dir)) chmodSync(dir, 0o755);
        chmodSync(path, 0o644);
      }
      chmodSync(locked, lock === 'file' ? 0o444 : 0o555);
      try {
        const ip = keys.v4Net().ip(1);
        const outcome = asRoot ? await attemptAsNobody(path, ip) : await attemptHere(path, ip);
        assert.equal(outcome.code, 'BS_ERR_STORE_UNAVAILABLE', `${lock}: ${JSON.stringify(outcome)}`);
        assert.match(outcome.message ?? '', /SQLITE_READONLY/, lock);
        assert.ok((outcome.message ?? '').includes(path), lock);
      } finally {
        chmodSync(locked, lock === 'file' ? 0o644 : 0o755);
      }
    }
  });

  test('calls before open reject with BS_ERR_STORE_UNAVAILABLE; bad cursors with BS_ERR_USAGE', async () => {
    const store = new SqliteStore({ path: freshPath() });
    await assert.rejects(store.getListing('192.0.2.1'), unavailable);
    await store.open();
    try {
      for (const after of ['not-a-cursor', Buffer.from('["audit",1,"x"]').toString('base64url'), 'x'.repeat(2000)]) {
        await assert.rejects(store.listListings({ after }), { code: 'BS_ERR_USAGE' });
      }
      await assert.rejects(store.listAudit({ after: 'garbage' }), { code: 'BS_ERR_USAGE' });
      await assert.rejects(store.listListings({ within: '10.0.0.0/33' }), { code: 'BS_ERR_CIDR_INVALID' });
    } finally {
      await store.close();
    }
  });

  test('a write whose audit row fails leaves neither the record nor an event behind', async () => {
    const store = await openStore(freshPath());
    const heard: StoreEvent[] = [];
    store.subscribe((e) => heard.push(e));
    try {
      const ip = keys.v4Net().ip(1);
      const broken = { ...makeAudit(ip), actor: null } as unknown as ReturnType<typeof makeAudit>;
      await assert.rejects(store.putListing(makeListing(ip, keys), broken), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'BS_ERR_STORE_UNAVAILABLE');
        assert.match(err.message, /SQLITE_CONSTRAINT/);
        return true;
      });
      assert.equal(await store.getListing(ip), undefined, 'rolled back');
      const allow = makeAllow(keys, ip, false);
      await assert.rejects(store.putAllow(allow, broken), unavailable);
      assert.equal(await store.getAllow(allow.id), undefined, 'rolled back');
      await sleep(3 * FAST_POLL_MS);
      assert.deepStrictEqual(heard, []);
    } finally {
      await store.close();
    }
  });

  test('`within` finds sparse matches across scan chunks and pages', async () => {
    const path = freshPath();
    const store = await openStore(path);
    const v6 = keys.v6Net();
    const FILLER = WITHIN_SCAN_CHUNK + 100;
    try {
      // IPv4 text sorts before "2001:", so the first chunk holds no match at all.
      const db = new Database(path);
      const insert = db.prepare(
        `INSERT INTO listings (ip, state, verdict, reason, listed_at, listed_by, last_reject_at, reject_count,
           recheck_due_at, first_evidence, latest_evidence, note, cleared_at, cleared_by, clear_cause)
         VALUES (@ip, @state, @verdict, @reason, @listed_at, @listed_by, @last_reject_at, @reject_count,
           @recheck_due_at, @first_evidence, @latest_evidence, @note, @cleared_at, @cleared_by, @clear_cause)`,
      );
      db.transaction(() => {
        for (let i = 0; i < FILLER; i++) {
          insert.run(listingParams(makeListing(`10.${Math.floor(i / 250)}.${i % 250}.1`, keys)));
        }
      })();
      db.close();
      const want = [v6.ip(1), v6.ip(2), v6.ip(3)];
      for (const ip of want) await store.putListing(makeListing(ip, keys), makeAudit(ip));
      const first = await store.listListings({ within: v6.cidr, limit: 2 });
      assert.equal(first.items.length, 2);
      assert.ok(first.next !== undefined);
      const second = await store.listListings({ within: v6.cidr, limit: 2, after: first.next });
      assert.equal(second.next, undefined);
      assert.deepStrictEqual([...first.items, ...second.items].map((l) => l.ip).sort(), [...want].sort());
      const all = await store.listListings({ within: '10.0.0.0/8', limit: MAX_PAGE_LIMIT });
      assert.equal(all.items.length, MAX_PAGE_LIMIT);
      const rest = await store.listListings({ within: '10.0.0.0/8', limit: MAX_PAGE_LIMIT, after: all.next });
      assert.equal(rest.items.length, FILLER - MAX_PAGE_LIMIT);
      assert.equal(rest.next, undefined);
    } finally {
      await store.close();
    }
  });

  test('bad options are refused with BS_ERR_CONFIG_INVALID', () => {
    assert.throws(() => new SqliteStore({ path: '' }), { code: 'BS_ERR_CONFIG_INVALID' });
    assert.throws(() => new SqliteStore({ path: 'x.db', pollIntervalMs: 0 }), { code: 'BS_ERR_CONFIG_INVALID' });
  });

  test('events older than the retention are pruned by the poller', async () => {
    let clock = Date.now();
    const path = freshPath();
    const store = new SqliteStore({ path, pollIntervalMs: 20, now: () => clock });
    await store.open();
    try {
      const ip = keys.v4Net().ip(1);
      await store.putListing(makeListing(ip, keys), makeAudit(ip));
      const db = new Database(path, { readonly: true });
      const count = (): number => Number(db.prepare('SELECT COUNT(*) FROM events').pluck().get());
      try {
        assert.equal(count(), 1);
        clock += 11 * 60_000;
        assert.ok(await waitFor(() => count() === 0, 2000), 'pruned');
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  test('acknowledged writes survive a SIGKILL of the writing process', { timeout: 60_000 }, async () => {
    const path = freshPath();
    const prefix = keys.v4Net().prefix;
    const script = join(dirname(fileURLToPath(import.meta.url)), 'sqlite-writer.fixture.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, path, prefix, '250'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked: string[] = [];
    let buffer = '';
    const KILL_AFTER_ACKS = 40;
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
    const store = await openStore(path);
    try {
      for (const ip of acked) assert.equal((await store.getListing(ip))?.ip, ip, `acknowledged ${ip} survived`);
      for (const ip of acked) assert.equal((await store.listAudit({ target: ip })).items.length, 1, `audit of ${ip}`);
    } finally {
      await store.close();
    }
  });
});
