import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../../src/cli/bin.ts', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');

function run(args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TSX, BIN, ...args], { cwd, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

test('blocksmith init writes ./blocksmith.yaml (0600), refuses to overwrite it, --force does; serve reads it', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'bs-init-'));
  const first = await run(['init'], cwd);
  assert.equal(first.code, 0, first.stderr);
  const path = join(cwd, 'blocksmith.yaml');
  assert.match(readFileSync(path, 'utf8'), /# {3}timeoutMs: 2000/);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  writeFileSync(path, 'resolver:\n  tries: 3\n');
  const again = await run(['init'], cwd);
  assert.equal(again.code, 64);
  assert.match(again.stderr, /exists; use --force/);
  assert.equal(readFileSync(path, 'utf8'), 'resolver:\n  tries: 3\n', 'not overwritten');
  assert.equal((await run(['init', '--force'], cwd)).code, 0);
  assert.match(readFileSync(path, 'utf8'), /## blocksmith.yaml/);
  const other = await run(['init', '--output', 'other.yaml'], cwd);
  assert.equal(other.code, 0);
  assert.match(other.stdout, /wrote other\.yaml/);
});
