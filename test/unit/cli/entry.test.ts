/**
 * cli/entry: the exit status follows the command's promise; a promise that never settles (the
 * event loop empties first) ends the process with 70 and a message, never with 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const ENTRY = new URL('../../../src/cli/entry.ts', import.meta.url).href;

function run(body: string): { status: number | null; stderr: string } {
  const script = `import { runEntry } from ${JSON.stringify(ENTRY)};\n${body}\n`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  return { status: child.status, stderr: child.stderr };
}

test('the exit status is the code the command resolves with', () => {
  assert.equal(run('runEntry(async () => 3);').status, 3);
  assert.equal(run('runEntry(async () => 0);').status, 0);
});

test('a command that rejects ends with 70 and its error on stderr', () => {
  const { status, stderr } = run("runEntry(async () => { throw new Error('boom'); });");
  assert.equal(status, 70);
  assert.match(stderr, /internal error: Error: boom/);
});

test('a command whose promise never settles ends with 70, not 0', () => {
  const { status, stderr } = run('runEntry(() => new Promise(() => {}));');
  assert.equal(status, 70);
  assert.match(stderr, /ended before it finished/);
});
