/**
 * The writer's flushes in slices (writer.ts runLimited): at most FLUSH_STARTS_PER_TURN store
 * calls start before the event loop gets a turn, and every touch and evidence record is still
 * written, with its count, and batched (many calls under way at once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEntry, Evidence, Listing, Store } from '../../../src/store/types.js';
import { FLUSH_STARTS_PER_TURN, Writer } from '../../../src/firewall/writer.js';

const T0 = 1_700_000_000_000;

function evidence(ref: string, ip: string): Evidence {
  return { ref, at: T0, front: 'policy', ip, verdict: 'fail', reason: 'no-ptr' };
}

function listing(ip: string): Listing {
  const e = evidence(`R-${ip}`, ip);
  return { ip, state: 'active', verdict: 'fail', reason: 'no-ptr', listedAt: T0, listedBy: 'check', lastRejectAt: T0, rejectCount: 1, recheckDueAt: T0 + 3_600_000, firstEvidence: e, latestEvidence: e };
}

/** A store of listings in a Map whose calls settle on a later turn (as a store thread's would). */
function memoryStore(ips: readonly string[]): { store: Store; rows: Map<string, Listing>; evidence: Map<string, Evidence>; calls: () => number; maxUnderWay: () => number } {
  const rows = new Map(ips.map((ip) => [ip, listing(ip)]));
  const kept = new Map<string, Evidence>();
  let calls = 0;
  let underWay = 0;
  let maxUnderWay = 0;
  const later = <T>(fn: () => T): Promise<T> => {
    calls++;
    underWay++;
    maxUnderWay = Math.max(maxUnderWay, underWay);
    return new Promise((resolve) =>
      setTimeout(() => {
        underWay--;
        resolve(fn());
      }, 1),
    );
  };
  const store = {
    getListing: (ip: string) => later(() => rows.get(ip)),
    putListing: (l: Listing, _audit: Omit<AuditEntry, 'id'>) => later(() => void rows.set(l.ip, l)),
    putEvidence: (e: Evidence) => later(() => void kept.set(e.ref, e)),
  } as unknown as Store;
  return { store, rows, evidence: kept, calls: () => calls, maxUnderWay: () => maxUnderWay };
}

const ips = Array.from({ length: 300 }, (_, i) => `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`);

test('flushTouches starts at most FLUSH_STARTS_PER_TURN store calls before the loop turns, and writes every touch', async () => {
  const m = memoryStore(ips);
  const writer = new Writer({ store: m.store, now: () => T0 + 10, queueCount: 10_000, log: () => undefined });
  for (const ip of ips) {
    writer.touch(ip, { count: 2, lastRejectAt: T0 + 5 });
    writer.touch(ip, { count: 1, lastRejectAt: T0 + 7 });
  }
  let callsAtFirstTurn = -1;
  setImmediate(() => (callsAtFirstTurn = m.calls()));
  await writer.flushTouches();
  assert.ok(callsAtFirstTurn >= 1 && callsAtFirstTurn <= FLUSH_STARTS_PER_TURN, `store calls before the first turn: ${callsAtFirstTurn}`);
  assert.ok(m.maxUnderWay() > FLUSH_STARTS_PER_TURN, `calls under way at once: ${m.maxUnderWay()} (still batched)`);
  for (const ip of ips) {
    const row = m.rows.get(ip);
    assert.equal(row?.rejectCount, 4, ip);
    assert.equal(row?.lastRejectAt, T0 + 7, ip);
  }
  assert.equal(writer.touchCount, 0);
});

test('flushEvidence starts at most FLUSH_STARTS_PER_TURN writes a turn; every record written, readable until then', async () => {
  const m = memoryStore([]);
  const writer = new Writer({ store: m.store, now: () => T0, queueCount: 10_000, log: () => undefined, evidenceBatchCount: 100_000 });
  for (const ip of ips) writer.putEvidence(evidence(`E-${ip}`, ip));
  let callsAtFirstTurn = -1;
  let readableAtFirstTurn = false;
  setImmediate(() => {
    callsAtFirstTurn = m.calls();
    readableAtFirstTurn = ips.every((ip) => writer.pendingEvidence(`E-${ip}`) !== undefined || m.evidence.has(`E-${ip}`));
  });
  await writer.flushEvidence();
  assert.ok(callsAtFirstTurn >= 1 && callsAtFirstTurn <= FLUSH_STARTS_PER_TURN, `store calls before the first turn: ${callsAtFirstTurn}`);
  assert.ok(readableAtFirstTurn, 'evidence not yet written is answered from memory');
  assert.equal(m.evidence.size, ips.length);
  assert.equal(writer.evidenceCount, 0);
});
