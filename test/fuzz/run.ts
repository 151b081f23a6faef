/**
 * NAME
 *   test/fuzz/run - run one fuzz target and print its result as one JSON line
 *
 * SYNOPSIS
 *   node --import tsx test/fuzz/run.ts --target NAME [--runs N] [--seed S] [--slow-ms MS] [--time-limit-s S]
 *
 * DESCRIPTION
 *   Called by scripts/fuzz.mjs once per target (one process each: a hang or a crash stays with
 *   its target). The last line of stdout is the FuzzResult as JSON; exit status 1 on a finding.
 */
import { parseArgs } from 'node:util';
import { runTarget, type FuzzTarget } from './harness.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    runs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    'slow-ms': { type: 'string', default: '5000' },
    'time-limit-s': { type: 'string' },
  },
});
if (values.target === undefined || !/^[a-z-]+$/.test(values.target)) {
  console.error('usage: run.ts --target NAME [--runs N] [--seed S] [--slow-ms MS]');
  process.exit(64);
}
const mod = (await import(`./targets/${values.target}.js`)) as { target: FuzzTarget<unknown> };
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const limit = values['time-limit-s'];
const result = await runTarget(mod.target, {
  runs: Number(values.runs),
  seed,
  slowMs: Number(values['slow-ms']),
  ...(limit === undefined ? {} : { timeLimitMs: Number(limit) * 1000 }),
});
console.log(JSON.stringify(result));
process.exit(result.finding === undefined ? 0 : 1);
