/**
 * `blocksmith check` as a user runs it: a child process (through tsx) against the in-process
 * test DNS server. The child is spawned asynchronously so this process's server can answer it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsTestServer } from '../../helpers/dns-test-server.js';

const BIN = new URL('../../../src/cli/bin.ts', import.meta.url).pathname;
let server: DnsTestServer;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: readonly string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', BIN, ...args],
      { timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

before(async () => {
  server = await DnsTestServer.start({
    records: {
      '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com.' }],
      'mail.example.com': [{ type: 'A', data: '192.0.2.10' }],
      '11.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'other.example.com.' }],
      'other.example.com': [{ type: 'A', data: '198.51.100.99' }],
      '13.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'evil\x1b[31m.example.com' }],
    },
    behaviours: { '12.2.0.192.in-addr.arpa': { servfail: true } },
  });
});
after(async () => {
  await server.stop();
});

describe('blocksmith check', () => {
  test('--json: one object per address per line, in input order, with the documented fields; exit 1 on a fail', async () => {
    const r = await run(['check', '--json', '--resolver', server.upstream, '192.0.2.10', '192.0.2.11', '::ffff:192.0.2.10']);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3);
    assert.deepEqual(lines.map((l) => l.verdict), ['pass', 'fail', 'pass']);
    assert.equal(lines[2]?.input, '::ffff:192.0.2.10');
    assert.equal(lines[2]?.ip, '192.0.2.10');
    for (const key of ['input', 'ip', 'verdict', 'reason', 'names', 'invalidNames', 'confirmed', 'otherAddresses', 'flags', 'trace', 'durationMs']) {
      assert.ok(key in (lines[0] ?? {}), `missing ${key}`);
    }
    assert.deepEqual(lines[0]?.names, ['mail.example.com']);
    assert.deepEqual(lines[1]?.otherAddresses, ['198.51.100.99']);
  });

  test('exit 0 when all pass or are skipped; 75 on a temperror without any fail', async () => {
    assert.equal((await run(['check', '--resolver', server.upstream, '192.0.2.10', '10.0.0.1'])).code, 0);
    const temp = await run(['check', '--json', '--resolver', server.upstream, '192.0.2.10', '192.0.2.12']);
    assert.equal(temp.code, 75);
    assert.match(temp.stdout, /"verdict":"temperror","reason":"dns-temp-ptr"/);
  });

  test('a malformed address is a usage error (64) naming it, and no query is sent', async () => {
    server.resetQueries();
    const r = await run(['check', '--resolver', server.upstream, '192.0.2.10', '192.0.2.999']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /argument 2/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(server.queries.length, 0);
  });

  test('bad flags: unknown option, bad number, bad upstream, bad bypass range → 64', async () => {
    for (const args of [
      ['check', '--frobnicate', '192.0.2.10'],
      ['check', '--timeout', 'soon', '192.0.2.10'],
      ['check', '--timeout', '10', '192.0.2.10'],
      ['check', '--resolver', 'dns.example.com', '192.0.2.10'],
      ['check', '--bypass', '10.0.0.0/33', '192.0.2.10'],
      ['check'],
    ]) {
      const r = await run(args);
      assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^blocksmith: /);
    }
  });

  test('the readable trace names the steps, the verdict and what to fix; PTR data cannot reach the terminal raw', async () => {
    const r = await run(['check', '--resolver', server.upstream, '192.0.2.11', '192.0.2.13']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /1\. PTR\s+11\.2\.0\.192\.in-addr\.arpa/);
    assert.match(r.stdout, /other\.example\.com/);
    assert.match(r.stdout, /Verdict: FAIL \(no-forward-match\)/);
    assert.match(r.stdout, /other\.example\.com\. A 192\.0\.2\.11/);
    assert.ok(!r.stdout.includes('\x1b'), 'an escape sequence from DNS reached the output');
    assert.match(r.stdout, /evil\\x1b\[31m/);
  });

  test('--file: comments and blank lines skipped, one line per address, a summary; - reads stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bs-cli-'));
    const path = join(dir, 'senders.txt');
    writeFileSync(path, '# our senders\n192.0.2.10\n\n192.0.2.11   # the old relay\n');
    const r = await run(['check', '--resolver', server.upstream, '--file', path]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^192\.0\.2\.10\s+pass\s+confirmed/m);
    assert.match(r.stdout, /^192\.0\.2\.11\s+fail\s+no-forward-match/m);
    assert.match(r.stdout, /Summary: 2 addresses/);
    const json = await run(['check', '--json', '--resolver', server.upstream, '--file', '-'], '192.0.2.10\n');
    assert.equal(json.code, 0);
    assert.equal(json.stdout.trim().split('\n').length, 1, 'the summary goes to stderr with --json');
    assert.match(json.stderr, /Summary: 1 address/);
    const bad = await run(['check', '--resolver', server.upstream, '--file', path + '.missing']);
    assert.equal(bad.code, 66);
    writeFileSync(path, '192.0.2.10\nnot-an-ip\n');
    const malformed = await run(['check', '--resolver', server.upstream, '--file', path]);
    assert.equal(malformed.code, 64);
    assert.match(malformed.stderr, /senders\.txt:2/);
  });

  test('--version and --help exit 0', async () => {
    assert.equal((await run(['--version'])).code, 0);
    assert.match((await run(['check', '--help'])).stdout, /--resolver/);
  });
});
