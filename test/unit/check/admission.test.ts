/** Admission: how many checks run at once, and what happens to the others. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, type Refusal, type Ticket } from '../../../src/check/admission.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A ticket of the tests: a name, and what the admission did with it. */
interface TestTicket extends Ticket {
  readonly name: string;
  readonly gate: ReturnType<typeof deferred<void>>;
  startedAfterMs?: number;
  refused?: Refusal;
}

interface Harness {
  readonly admission: Admission<TestTicket>;
  /** Names in the order they started. */
  readonly started: string[];
  /** `name:why` in the order they were refused. */
  readonly refused: string[];
  ticket(name: string): TestTicket;
}

function harness(options: { maxRunning: number; maxWaiting: number; deadlineMs: number; minRunMs: number; now: () => number }, start?: (t: TestTicket) => Promise<unknown>): Harness {
  const started: string[] = [];
  const refused: string[] = [];
  const admission = new Admission<TestTicket>({
    ...options,
    start: (t, waitedMs) => {
      started.push(t.name);
      t.startedAfterMs = waitedMs;
      return start !== undefined ? start(t) : t.gate.promise;
    },
    refuse: (t, why) => {
      refused.push(`${t.name}:${why}`);
      t.refused = why;
    },
  });
  return {
    admission,
    started,
    refused,
    ticket: (name) => ({ name, gate: deferred<void>(), enqueuedAt: options.now(), queued: false }),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Admission', () => {
  test('runs at most maxRunning at once, the rest in FIFO order, reporting the time waited', async () => {
    let clock = 0;
    const h = harness({ maxRunning: 2, maxWaiting: 10, deadlineMs: 10_000, minRunMs: 0, now: () => clock });
    const tickets = ['a', 'b', 'c', 'd', 'e'].map((n) => h.ticket(n));
    for (const t of tickets) h.admission.submit(t);
    assert.deepEqual(h.started, ['a', 'b']);
    assert.equal(h.admission.waitingCount, 3);
    assert.equal(h.admission.runningCount, 2);
    assert.deepEqual(
      tickets.map((t) => t.queued),
      [false, false, true, true, true],
    );
    clock = 40;
    tickets[0]?.gate.resolve();
    await tick();
    assert.deepEqual(h.started, ['a', 'b', 'c']);
    assert.equal(tickets[2]?.startedAfterMs, 40);
    assert.equal(tickets[2]?.queued, false);
    for (const t of tickets.slice(1)) t.gate.resolve();
    await tick();
    await tick();
    assert.deepEqual(h.started, ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(h.refused, []);
    assert.equal(h.admission.runningCount, 0);
    assert.equal(h.admission.waitingCount, 0);
  });

  test('a waiter past its deadline is refused without running; one timer serves the queue', async () => {
    const h = harness({ maxRunning: 1, maxWaiting: 10, deadlineMs: 30, minRunMs: 0, now: Date.now });
    const first = h.ticket('first');
    h.admission.submit(first);
    const late = ['x', 'y', 'z'].map((n) => h.ticket(n));
    for (const t of late) h.admission.submit(t);
    await new Promise((r) => setTimeout(r, 80));
    assert.deepEqual(h.refused, ['x:deadline', 'y:deadline', 'z:deadline']);
    assert.deepEqual(h.started, ['first']);
    assert.equal(h.admission.waitingCount, 0);
    first.gate.resolve();
    await tick();
    assert.equal(h.admission.runningCount, 0);
  });

  test('a waiter whose deadline passed while the queue was busy is refused when a slot frees, not started', async () => {
    let clock = 0;
    const h = harness({ maxRunning: 1, maxWaiting: 10, deadlineMs: 100, minRunMs: 0, now: () => clock });
    const first = h.ticket('first');
    h.admission.submit(first);
    const old = h.ticket('old');
    h.admission.submit(old);
    clock = 150;
    const fresh = h.ticket('fresh');
    h.admission.submit(fresh);
    first.gate.resolve();
    await tick();
    assert.deepEqual(h.refused, ['old:deadline']);
    assert.deepEqual(h.started, ['first', 'fresh']);
    fresh.gate.resolve();
  });

  test('a waiter with less than minRunMs of its deadline left is refused, not started with a sliver of time', async () => {
    let clock = 0;
    const h = harness({ maxRunning: 1, maxWaiting: 10, deadlineMs: 100, minRunMs: 10, now: () => clock });
    const first = h.ticket('first');
    h.admission.submit(first);
    const tooLate = h.ticket('tooLate'); // asked at 0
    clock = 5;
    const inTime = h.ticket('inTime'); // asked at 5
    h.admission.submit(tooLate);
    h.admission.submit(inTime);
    clock = 92; // tooLate has 8 ms left, inTime 13 ms
    first.gate.resolve();
    await tick();
    assert.deepEqual(h.refused, ['tooLate:deadline']);
    assert.deepEqual(h.started, ['first', 'inTime']);
    assert.equal(inTime.startedAfterMs, 87);
    inTime.gate.resolve();
  });

  test('past maxWaiting a ticket is refused at once as overload', async () => {
    const h = harness({ maxRunning: 1, maxWaiting: 2, deadlineMs: 10_000, minRunMs: 0, now: Date.now });
    const tickets = ['a', 'b', 'c', 'd'].map((n) => h.ticket(n));
    for (const t of tickets) h.admission.submit(t);
    assert.deepEqual(h.refused, ['d:overload']);
    assert.equal(tickets[3]?.queued, false);
    for (const t of tickets) t.gate.resolve();
    await tick();
    await tick();
    assert.deepEqual(h.started, ['a', 'b', 'c']);
  });

  test('a cancelled waiter leaves the queue; the others go on; cancel after start does nothing', async () => {
    const h = harness({ maxRunning: 1, maxWaiting: 10, deadlineMs: 10_000, minRunMs: 0, now: Date.now });
    const [first, cancelled, third] = ['first', 'cancelled', 'third'].map((n) => h.ticket(n)) as [TestTicket, TestTicket, TestTicket];
    for (const t of [first, cancelled, third]) h.admission.submit(t);
    h.admission.cancel(cancelled);
    h.admission.cancel(cancelled);
    assert.deepEqual(h.refused, ['cancelled:aborted']);
    assert.equal(h.admission.waitingCount, 1);
    h.admission.cancel(first); // running: not refused
    first.gate.resolve();
    await tick();
    assert.deepEqual(h.started, ['first', 'third']);
    assert.deepEqual(h.refused, ['cancelled:aborted']);
    third.gate.resolve();
  });

  test('work that rejects or throws frees its slot', async () => {
    const h = harness({ maxRunning: 1, maxWaiting: 10, deadlineMs: 10_000, minRunMs: 0, now: Date.now }, (t) => {
      if (t.name === 'throws') throw new Error('sync boom');
      if (t.name === 'rejects') return Promise.reject(new Error('boom'));
      return Promise.resolve();
    });
    for (const n of ['rejects', 'throws', 'next']) h.admission.submit(h.ticket(n));
    await tick();
    await tick();
    assert.deepEqual(h.started, ['rejects', 'throws', 'next']);
    assert.equal(h.admission.runningCount, 0);
  });

  test('20,000 waiting tickets drain in order through a bounded number of runs', async () => {
    const h = harness({ maxRunning: 8, maxWaiting: 100_000, deadlineMs: 60_000, minRunMs: 0, now: Date.now }, () => Promise.resolve());
    let peak = 0;
    const count = 20_000;
    for (let i = 0; i < count; i++) h.admission.submit(h.ticket(String(i)));
    while (h.started.length < count) {
      peak = Math.max(peak, h.admission.runningCount);
      await tick();
    }
    assert.ok(peak <= 8);
    assert.equal(h.started[0], '0');
    assert.equal(h.started[count - 1], String(count - 1));
    assert.ok(h.started.every((name, i) => name === String(i)), 'FIFO');
    assert.equal(h.admission.waitingCount, 0);
  });
});
