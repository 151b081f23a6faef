#!/usr/bin/env node
// The fuzz run (docs/FUZZING.md): every target in test/fuzz/targets for --runs inputs each
// (1,000,000 by default), one process per target (test/fuzz/run.ts through tsx), --jobs at a
// time. Prints one line per target as it ends, then a table (target, inputs, time, slowest
// input, findings) and each finding with its seed and shrunk input. Exit status 1 on a finding.
//
//   npm run fuzz                                   all targets, 1e6 inputs each
//   npm run fuzz -- --target dnsbl --runs 50000 --seed 42
//   npm run fuzz -- --jobs 2 --time-limit-s 1800 --out /tmp/fuzz.json
import { readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    target: { type: 'string', multiple: true },
    runs: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    jobs: { type: 'string', default: '1' },
    'slow-ms': { type: 'string', default: '5000' },
    'time-limit-s': { type: 'string' },
    out: { type: 'string' },
  },
});

const all = readdirSync(new URL('../test/fuzz/targets/', import.meta.url))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const targets = values.target === undefined ? all : values.target.flatMap((t) => t.split(','));
for (const t of targets) {
  if (!all.includes(t)) {
    console.error(`no such target: ${t} (targets: ${all.join(', ')})`);
    process.exit(64);
  }
}

function runOne(name) {
  const args = ['--import', 'tsx', 'test/fuzz/run.ts', '--target', name, '--runs', values.runs, '--seed', values.seed, '--slow-ms', values['slow-ms']];
  if (values['time-limit-s'] !== undefined) args.push('--time-limit-s', values['time-limit-s']);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      let result;
      try {
        result = JSON.parse(last);
      } catch {
        result = { name, runs: 0, ms: Date.now() - started, slowestMs: 0, finding: { error: `the target process ended with ${signal ?? code} and no result (a crash or a hang?)`, counterexample: '', path: '' } };
      }
      const status = result.finding === undefined ? 'ok' : 'FINDING';
      console.log(`${name}: ${result.runs} inputs in ${(result.ms / 1000).toFixed(1)} s (${status})`);
      if (result.finding !== undefined) console.log(`  input: ${result.finding.counterexample}\n  ${result.finding.error.split('\n').slice(0, 8).join('\n  ')}`);
      resolve(result);
    });
  });
}

const queue = [...targets];
const results = [];
await Promise.all(
  Array.from({ length: Math.max(1, Number(values.jobs)) }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) results.push(await runOne(name));
  }),
);
results.sort((a, b) => a.name.localeCompare(b.name));

const rows = [['target', 'inputs', 'time', 'inputs/s', 'slowest input', 'findings']];
for (const r of results) {
  rows.push([r.name, String(r.runs), `${(r.ms / 1000).toFixed(1)} s`, String(Math.round(r.runs / (r.ms / 1000))), `${r.slowestMs.toFixed(1)} ms`, r.finding === undefined ? '0' : '1']);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
console.log(`\nseed ${values.seed}, ${values.runs} inputs per target${values['time-limit-s'] === undefined ? '' : `, at most ${values['time-limit-s']} s each`}`);
for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i])).join('  '));
for (const r of results.filter((x) => x.finding !== undefined)) {
  console.log(`\nFINDING in ${r.name} (replay: npm run fuzz -- --target ${r.name} --seed ${r.seed})\n  input: ${r.finding.counterexample}\n  ${r.finding.error.split('\n').join('\n  ')}`);
}
if (values.out !== undefined) writeFileSync(values.out, JSON.stringify({ seed: values.seed, runs: Number(values.runs), results }, null, 2));
process.exit(results.some((r) => r.finding !== undefined) ? 1 : 0);
