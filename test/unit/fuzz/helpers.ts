/**
 * The fuzz targets (test/fuzz/targets) as unit tests: a short, seeded run of each, so that
 * `npm test` keeps every parser's contract; `npm run fuzz` is the long run (docs/FUZZING.md).
 * A failure prints fast-check's shrunk input and the seed that replays it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTarget, type FuzzTarget } from '../../fuzz/harness.js';

/** The seed of the unit-test runs: fixed, so a red test is the same red test on every machine. */
export const CI_SEED = 20_261_128;

export function fuzzTest<T>(target: FuzzTarget<T>, runs: number): void {
  test(`fuzz ${target.name}: ${runs} seeded inputs keep the contract of ${target.parser}`, async () => {
    const result = await runTarget(target, { runs, seed: CI_SEED, slowMs: 5_000 });
    const f = result.finding;
    assert.equal(f, undefined, f === undefined ? '' : `input ${f.counterexample}\n(replay: npm run fuzz -- --target ${target.name} --seed ${CI_SEED} --runs ${runs})\n${f.error}`);
    assert.equal(result.runs, runs);
  });
}
