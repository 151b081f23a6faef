/**
 * NAME
 *   test/unit/store/sqlite-writer.fixture - a child process that writes listings until killed
 *
 * SYNOPSIS
 *   node --import tsx sqlite-writer.fixture.ts <file> <v4 /24 prefix> <count>
 *
 * DESCRIPTION
 *   Opens a SqliteStore on <file> and puts <count> listings `<prefix>.<n>` one after another,
 *   printing `ACK <ip>` on stdout after each write's promise resolved. sqlite.test.ts kills it
 *   with SIGKILL part-way and checks that every acknowledged listing is in the file.
 */
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import { UniqueKeys, makeAudit, makeListing } from './contract-fixtures.js';

const [file, prefix, countText] = process.argv.slice(2);
if (file === undefined || prefix === undefined || countText === undefined) {
  process.stderr.write('usage: sqlite-writer.fixture.ts <file> <prefix> <count>\n');
  process.exit(64);
}
const keys = new UniqueKeys();
const store = new SqliteStore({ path: file });
await store.open();
for (let n = 1; n <= Number(countText); n++) {
  const ip = `${prefix}.${n}`;
  await store.putListing(makeListing(ip, keys, { full: true }), makeAudit(ip));
  process.stdout.write(`ACK ${ip}\n`);
}
await store.close();
