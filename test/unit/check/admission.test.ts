/** Admission: how many checks run at once, and what waiting checks cost. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, type Refusal } from '../../../src/check/admission.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const refused = (why: Refusal): string => `refused:${why}`;

describe('Admission', () => {
  test('runs at most maxRunning at once, the rest in FIFO order, reporting the time waited', async () => {
    let clock = 0;
    const admission = new Admission({ maxRunning: 2, maxWaiting: 10, deadlineMs: 10_000, now: () => clock });
    const gates = Array.from({ length: 5 }, () => deferred<string>());
    const started: number[] = [];
    const waited: number[] = [];
    const results = gates.map((gate, i) =>
      admission.run(
        (w) => {
          started.push(i);
          waited.push(w);
          return gate.promise;
        },
        refused,
      ),
    );
    assert.deepEqual(started, [0, 1]);
    assert.equal(admission.waitingCount, 3);
    clock = 40;
    gates[0]?.resolve('a');
    await results[0];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 2]);
    assert.equal(waited[2], 40);
    for (const gate of gates.slice(1)) gate.resolve('x');
    assert.deepEqual(await Promise.all(results), ['a', 'x', 'x', 'x', 'x']);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(admission.runningCount, 0);
  });

  test('a waiter past its deadline is refused without running; one timer serves the queue', async () => {
    const admission = new Admission({ maxRunning: 1, maxWaiting: 10, deadlineMs: 30, now: Date.now });
    const gate = deferred<string>();
    let ran = 0;
    const first = admission.run(() => gate.promise, refused);
    const late = Array.from({ length: 3 }, () =>
      admission.run(() => {
        ran++;
        return Promise.resolve('ran');
      }, refused),
    );
    assert.deepEqual(await Promise.all(late), ['refused:deadline', 'refused:deadline', 'refused:deadline']);
    assert.equal(ran, 0);
    gate.resolve('first');
    assert.equal(await first, 'first');
  });

  test('past maxWaiting a check is refused at once as overload', async () => {
    const admission = new Admission({ maxRunning: 1, maxWaiting: 2, deadlineMs: 10_000, now: Date.now });
    const gate = deferred<string>();
    const all = [0, 1, 2, 3].map(() => admission.run(() => gate.promise, refused));
    assert.equal(await all[3], 'refused:overload');
    gate.resolve('done');
    assert.deepEqual(await Promise.all(all.slice(0, 3)), ['done', 'done', 'done']);
  });

  test('an aborted waiter leaves the queue; the others go on', async () => {
    const admission = new Admission({ maxRunning: 1, maxWaiting: 10, deadlineMs: 10_000, now: Date.now });
    const gate = deferred<string>();
    const controller = new AbortController();
    const first = admission.run(() => gate.promise, refused);
    const aborted = admission.run(() => Promise.resolve('should not run'), refused, controller.signal);
    const third = admission.run(() => Promise.resolve('third'), refused);
    controller.abort();
    assert.equal(await aborted, 'refused:aborted');
    assert.equal(admission.waitingCount, 1);
    gate.resolve('first');
    assert.deepEqual([await first, await third], ['first', 'third']);
  });

  test('work that throws or rejects frees its slot', async () => {
    const admission = new Admission({ maxRunning: 1, maxWaiting: 10, deadlineMs: 10_000, now: Date.now });
    await assert.rejects(admission.run(() => Promise.reject(new Error('boom')), refused), /boom/);
    await assert.rejects(
      admission.run(() => {
        throw new Error('sync boom');
      }, refused),
      /sync boom/,
    );
    assert.equal(await admission.run(() => Promise.resolve('next'), refused), 'next');
    assert.equal(admission.runningCount, 0);
  });
});
