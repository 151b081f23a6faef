/**
 * NAME
 *   test/unit/store/contract-unless-active.test - putListing `unlessActive` on the SQLite store
 *
 * DESCRIPTION
 *   contract-unless-active.ts against a fresh SQLite file per test. The Redis store runs the same
 *   suite from test/e2e/store/redis.test.ts (unit tests need no Redis).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

import { SqliteStore } from '../../../src/store/sqlite/index.js';
import type { StoreFactory } from './contract.js';
import { unlessActiveContract } from './contract-unless-active.js';

const root = mkdtempSync(join(tmpdir(), 'blocksmith-unless-active-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

const makeSqlite: StoreFactory = async () => {
  counter += 1;
  const path = join(root, `t${counter}`, 'blocksmith.db');
  const store = new SqliteStore({ path });
  await store.open();
  return { store, cleanup: () => Promise.resolve() };
};

unlessActiveContract('sqlite', makeSqlite);
