/**
 * `blocksmith serve` as an operator runs it: a child process (through tsx), its log lines, its
 * signals and its exit status.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = new URL('../../../src/cli/bin.ts', import.meta.url).pathname;
/** tsx by absolute URL: the child runs in a temporary directory, where `--import tsx` would not resolve. */
const TSX = import.meta.resolve('tsx');

interface Node {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with the first log line whose event is `event`. */
  waitFor(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exit: Promise<number | null>;
}

function startServe(args: readonly string[], cwd: string): Node {
  const child = spawn(process.execPath, ['--import', TSX, BIN, 'serve', '--policy', 'none', '--http', 'none', ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const seen: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    seen.push(parsed);
    for (const w of waiters.filter((w) => w.event === parsed.event)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(parsed);
    }
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    exit,
    waitFor(event, timeoutMs = 20_000) {
      const already = seen.find((l) => l.event === event);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ event, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

describe('blocksmith serve', () => {
  test('starts on the embedded defaults (SQLite under ./data), reloads on SIGHUP, stops cleanly on SIGTERM', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'bs-serve-'));
    const node = startServe(['--resolver', '127.0.0.1:9'], cwd);
    try {
      const ready = await node.waitFor('READY');
      assert.equal(ready.store, './data/blocksmith.db');
      assert.ok(existsSync(join(cwd, 'data', 'blocksmith.db')));
      writeFileSync(join(cwd, 'blocksmith.yaml'), 'firewall:\n  mode: hard\n');
      node.child.kill('SIGHUP');
      const reload = await node.waitFor('RELOAD');
      assert.deepEqual(reload.changed, ['firewall.mode']);
      writeFileSync(join(cwd, 'blocksmith.yaml'), 'firewall:\n  mood: hard\n');
      node.child.kill('SIGHUP');
      const bad = await node.waitFor('RELOAD-ERROR');
      assert.match(String(bad.err), /mood/);
      node.child.kill('SIGTERM');
      await node.waitFor('STOPPED');
      assert.equal(await node.exit, 0);
    } finally {
      node.child.kill('SIGKILL');
    }
  });

  test('an invalid configuration stops start-up with exit 78 and a message naming the key', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'bs-serve-'));
    writeFileSync(join(cwd, 'blocksmith.yaml'), 'store:\n  backend: postgres\n');
    const node = startServe([], cwd);
    let stderr = '';
    node.child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    assert.equal(await node.exit, 78);
    assert.match(stderr, /store\.backend/);
  });

  test('a store that cannot be opened stops start-up with exit 75', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'bs-serve-'));
    writeFileSync(join(cwd, 'not-a-dir'), 'x');
    const node = startServe(['--data', join(cwd, 'not-a-dir'), '--resolver', '127.0.0.1:9'], cwd);
    let stderr = '';
    node.child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    assert.equal(await node.exit, 75);
    assert.match(stderr, /not-a-dir/);
  });
});
