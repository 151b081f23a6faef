/**
 * NAME
 *   test/unit/store/sqlite-readonly.fixture - try to write to a store the process may not write
 *
 * SYNOPSIS
 *   node --import tsx sqlite-readonly.fixture.ts <file> <ip>
 *
 * DESCRIPTION
 *   Opens a SqliteStore on <file> and puts one listing; prints one JSON line: `{"ok":true}` or
 *   `{"code":…,"message":…}` from the error. sqlite.test.ts runs it as an unprivileged user
 *   (setpriv) when the tests run as root, because root ignores file modes.
 */
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import { UniqueKeys, makeAudit, makeListing } from './contract-fixtures.js';

const [file, ip] = process.argv.slice(2);
if (file === undefined || ip === undefined) {
  process.stderr.write('usage: sqlite-readonly.fixture.ts <file> <ip>\n');
  process.exit(64);
}
const store = new SqliteStore({ path: file });
try {
  await store.open();
  await store.putListing(makeListing(ip, new UniqueKeys()), makeAudit(ip));
  process.stdout.write(JSON.stringify({ ok: true }) + '\n');
} catch (err) {
  const e = err as Error & { code?: string };
  process.stdout.write(JSON.stringify({ code: e.code, message: e.message }) + '\n');
} finally {
  await store.close().catch(() => undefined);
}
