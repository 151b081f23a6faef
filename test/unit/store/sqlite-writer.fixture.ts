/**
 * NAME
 *   test/unit/store/sqlite-writer.fixture - a child process that writes listings until killed
 *
 * SYNOPSIS
 *   node --import tsx sqlite-writer.fixture.ts <file> <v4 /24 prefix> <count> [<in flight>]
 *
 * DESCRIPTION
 *   Opens a SqliteStore on <file> and puts <count> listings `<prefix>.<n>`, <in flight> at once
 *   (default 1: one after another; more: the writer thread commits them in shared
 *   transactions), printing `ACK <ip>` on stdout after each write's promise resolved. sqlite.test.ts kills it
 *   with SIGKILL part-way and checks that every acknowledged listing is in the file.
 */
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import { UniqueKeys, makeAudit, makeListing } from './contract-fixtures.js';

const [file, prefix, countText, inFlightText] = process.argv.slice(2);
if (file === undefined || prefix === undefined || countText === undefined) {
  process.stderr.write('usage: sqlite-writer.fixture.ts <file> <prefix> <count>\n');
  process.exit(64);
}
const keys = new UniqueKeys();
const store = new SqliteStore({ path: file });
await store.open();
let next = 1;
const count = Number(countText);
const worker = async (): Promise<void> => {
  while (next <= count) {
    const ip = `${prefix}.${next++}`;
    await store.putListing(makeListing(ip, keys, { full: true }), makeAudit(ip));
    process.stdout.write(`ACK ${ip}\n`);
  }
};
await Promise.all(Array.from({ length: Math.max(1, Number(inFlightText ?? '1')) }, worker));
await store.close();
