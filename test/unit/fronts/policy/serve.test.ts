/**
 * `blocksmith serve --policy 127.0.0.1:0 --http none` as an operator runs it: a child process
 * (through tsx) whose READY line names the policy endpoint, which answers a request checked
 * against the in-process DNS test server, and which stops cleanly on SIGTERM.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DnsTestServer } from '../../../helpers/dns-test-server.js';
import { IP, startServer } from '../../firewall/helpers.js';
import { PolicyClient } from './helpers.js';

const BIN = new URL('../../../../src/cli/bin.ts', import.meta.url).pathname;
/** tsx by absolute URL: the child runs in a temporary directory, where `--import tsx` would not resolve. */
const TSX = import.meta.resolve('tsx');

let dns: DnsTestServer;
before(async () => {
  dns = await startServer();
});
after(async () => {
  await dns.stop();
});

test('serve --policy 127.0.0.1:0 --http none: READY names the policy endpoint, which answers', { timeout: 60_000 }, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'bs-serve-policy-'));
  const child = spawn(process.execPath, ['--import', TSX, BIN, 'serve', '--policy', '127.0.0.1:0', '--http', 'none', '--resolver', dns.upstream], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const waitFor = (event: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const found = lines.find((l) => l.event === event);
      if (found !== undefined) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`no ${event} (stderr: ${stderr})`)), 30_000);
      const rl = createInterface({ input: child.stdout });
      rl.on('line', (line) => {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          lines.push(parsed);
          if (parsed.event === event) {
            clearTimeout(timer);
            rl.close();
            resolve(parsed);
          }
        } catch {
          // not a log line
        }
      });
    });
  try {
    const ready = await waitFor('READY');
    const fronts = ready.fronts as { name: string; endpoints: string[] }[];
    const policy = fronts.find((f) => f.name === 'policy');
    assert.equal(fronts.some((f) => f.name === 'http'), false);
    const endpoint = policy?.endpoints[0] ?? '';
    const m = /^tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(endpoint);
    assert.ok(m !== null, `policy endpoint: ${endpoint}`);
    const port = Number(m[1]);
    assert.ok(port > 0);
    const client = await PolicyClient.open(port);
    assert.equal(await client.ask({ client_address: IP.pass }), 'DUNNO');
    assert.match((await client.ask({ client_address: IP.noPtr })) ?? '', /^450 4\.7\.25 \[192\.0\.2\.20\] .*\?r=[0-9A-Z]{8}$/);
    client.close();
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
  } finally {
    child.kill('SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  }
});
