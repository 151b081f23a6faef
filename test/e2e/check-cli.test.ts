/**
 * NAME
 *   check-cli.test - `blocksmith check` against a real authoritative DNS server
 *
 * DESCRIPTION
 *   Starts NSD with the zones of test/e2e/fixtures (helpers/dns-server.ts), then runs the built
 *   CLI (`node bin/blocksmith.js check --resolver 127.0.0.1:PORT --json ...`) once per fixture
 *   case and holds its JSON line and exit status to the FCrDNS rules (shared/design/FCRDNS.md):
 *   verdict, reason, names, invalid names, flags, confirmed and other addresses.
 *
 *   Beyond the table: IPv6 transport to the server ([::1]), the readable output, several
 *   addresses and the combined exit status, `--file` (path and standard input), temporary
 *   failures from a closed port, a silent server, the whole-check deadline, resolver fail-over,
 *   and usage errors, which must exit 64 before any query reaches the server (counted with
 *   `nsd-control stats_noreset`).
 *
 *   Needs `npm run build` first (`npm run test:e2e` does it) and NSD (`bash .ci/e2e-install.sh`).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BIN = join(ROOT, 'bin', 'blocksmith.js');
/** One CLI run may take this long before it is killed (the slowest case waits for timeouts). */
const CLI_TIMEOUT_MS = 30_000;
/** Per-query timeout given to the CLI where a server answers: generous, it never fires. */
const QUERY_TIMEOUT_MS = 5_000;
/** The table's cases run this many CLIs at once. */
const CASE_CONCURRENCY = 3;

const EXIT_USAGE = 64;
const EXIT_REJECTED = 1;
const EXIT_TEMPFAIL = 75;

type Verdict = 'pass' | 'fail' | 'permerror' | 'temperror' | 'skipped';
const EXIT_FOR: Readonly<Record<Verdict, number>> = { pass: 0, skipped: 0, fail: EXIT_REJECTED, permerror: EXIT_REJECTED, temperror: EXIT_TEMPFAIL };

interface Flags {
  readonly generic: 'none' | 'weak' | 'strong';
  readonly truncated: boolean;
  readonly aliasTarget: boolean;
  readonly underscore: boolean;
  readonly ptrViaCname: boolean;
  readonly multiDomain: boolean;
}
const NO_FLAGS: Flags = { generic: 'none', truncated: false, aliasTarget: false, underscore: false, ptrViaCname: false, multiDomain: false };

/** The fields of one `--json` line that these tests read. */
interface CheckJson {
  readonly input: string;
  readonly ip: string;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly names: readonly string[];
  readonly invalidNames: readonly { readonly name: string; readonly why: string }[];
  readonly confirmed: readonly string[];
  readonly otherAddresses: readonly string[];
  readonly notEvaluated: readonly string[];
  readonly flags: Flags;
  readonly trace: readonly { readonly step?: unknown }[];
  readonly durationMs: number;
}

interface Run {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly elapsedMs: number;
}

function runCli(args: readonly string[], stdin = ''): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.BLOCKSMITH_CONFIG; // a developer's own config must not change the verdicts
  return new Promise((ok, fail) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, timeout: CLI_TIMEOUT_MS, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', fail);
    child.on('close', (status, signal) => ok({ status, signal, stdout, stderr, elapsedMs: Date.now() - started }));
    child.stdin.on('error', () => undefined); // the CLI may exit without reading its input
    child.stdin.end(stdin);
  });
}

/** Shows a run in an assertion message. */
function show(run: Run): string {
  return `exit ${run.status ?? run.signal}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Parses and shape-checks one `--json` line. */
function parseResult(line: string): CheckJson {
  const value: unknown = JSON.parse(line);
  assert.ok(typeof value === 'object' && value !== null, `not a JSON object: ${line}`);
  const o = value as Record<string, unknown>;
  for (const key of ['input', 'ip', 'verdict', 'reason'] as const) assert.equal(typeof o[key], 'string', `${key} in ${line}`);
  for (const key of ['names', 'confirmed', 'otherAddresses', 'notEvaluated'] as const) assert.ok(isStringArray(o[key]), `${key} in ${line}`);
  assert.ok(Array.isArray(o.invalidNames), `invalidNames in ${line}`);
  assert.ok(Array.isArray(o.trace), `trace in ${line}`);
  assert.equal(typeof o.flags, 'object', `flags in ${line}`);
  assert.equal(typeof o.durationMs, 'number', `durationMs in ${line}`);
  return value as CheckJson;
}

/** Every non-empty stdout line as a result. */
function parseLines(run: Run): CheckJson[] {
  return run.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(parseResult);
}

/** Runs `check --json` on one address and returns the run and its one result. */
async function checkOne(ip: string, resolvers: readonly string[], extra: readonly string[] = []): Promise<{ run: Run; result: CheckJson }> {
  const args = ['check', ...resolvers.flatMap((r) => ['--resolver', r]), '--timeout', String(QUERY_TIMEOUT_MS), '--json', ...extra, '--', ip];
  const run = await runCli(args);
  const results = parseLines(run);
  assert.equal(results.length, 1, `one JSON line expected for ${ip}\n${show(run)}`);
  return { run, result: results[0] as CheckJson };
}

/** A UDP port with nothing behind it: queries get ICMP port-unreachable. */
async function closedUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((ok) => socket.bind(0, '127.0.0.1', () => ok()));
  const { port } = socket.address();
  await new Promise<void>((ok) => socket.close(() => ok()));
  return port;
}

/** A UDP socket that takes every query and never answers: queries time out. */
async function blackHole(): Promise<{ address: string; close: () => Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', () => undefined);
  await new Promise<void>((ok) => socket.bind(0, '127.0.0.1', () => ok()));
  return { address: `127.0.0.1:${socket.address().port}`, close: () => new Promise<void>((ok) => socket.close(() => ok())) };
}

interface Case {
  readonly title: string;
  readonly ip: string;
  readonly verdict: Verdict;
  readonly reason: string;
  /** The normalised address, when it differs from `ip`. */
  readonly normalised?: string;
  readonly names?: readonly string[];
  readonly confirmed?: readonly string[];
  readonly otherAddresses?: readonly string[];
  readonly notEvaluated?: readonly string[];
  /** Invalid names: a piece of the name and why it was dropped. */
  readonly invalid?: readonly (readonly [string, string])[];
  /** Flags to hold; `NO_FLAGS` holds them all. */
  readonly flags?: Partial<Flags>;
  readonly args?: readonly string[];
}

const n = (prefix: string, from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${String(from + i).padStart(2, '0')}.example.com`);

// The fixture zones say the same, case by case, in their comments.
const CASES: readonly Case[] = [
  // pass
  { title: 'pass: PTR -> name -> A', ip: '192.0.2.10', verdict: 'pass', reason: 'confirmed', names: ['mail.example.com'], confirmed: ['mail.example.com'], otherAddresses: [], notEvaluated: [], invalid: [], flags: NO_FLAGS, args: ['--no-cache'] },
  { title: 'pass IPv6: nibble PTR -> AAAA', ip: '2001:db8::25', verdict: 'pass', reason: 'confirmed', names: ['mail6.example.com'], confirmed: ['mail6.example.com'], otherAddresses: [], invalid: [], flags: NO_FLAGS },
  { title: 'pass IPv6 given long-hand and upper-case', ip: '2001:DB8:0:0:0:0:0:25', normalised: '2001:db8::25', verdict: 'pass', reason: 'confirmed', names: ['mail6.example.com'] },
  { title: 'pass given as IPv4-mapped IPv6: checked as IPv4', ip: '::ffff:192.0.2.10', normalised: '192.0.2.10', verdict: 'pass', reason: 'confirmed', names: ['mail.example.com'] },
  { title: 'pass: name with A and AAAA, IPv4 client', ip: '203.0.113.25', verdict: 'pass', reason: 'confirmed', names: ['dual.example.net'], confirmed: ['dual.example.net'], flags: NO_FLAGS },
  { title: 'pass: name with A and AAAA, IPv6 client', ip: '2001:db8::26', verdict: 'pass', reason: 'confirmed', names: ['dual.example.net'], confirmed: ['dual.example.net'], flags: NO_FLAGS },
  {
    title: 'pass: three PTR names in three domains, only one confirms',
    ip: '192.0.2.20', verdict: 'pass', reason: 'confirmed',
    names: ['a.example.com', 'b.example.net', 'c.example.org'], confirmed: ['b.example.net'], otherAddresses: ['192.0.2.21'],
    flags: { multiDomain: true, truncated: false },
  },
  {
    title: 'pass: invalid names (bad characters, bad syntax) dropped, the valid one confirms',
    ip: '192.0.2.52', verdict: 'pass', reason: 'confirmed', names: ['good52.example.com'], confirmed: ['good52.example.com'],
    invalid: [['name.example.com', 'bad-characters'], ['-dash.example.com', 'bad-syntax']],
  },
  { title: 'pass: RFC 2317 classless delegation (PTR through a CNAME)', ip: '192.0.2.5', verdict: 'pass', reason: 'confirmed', names: ['host5.example.org'], confirmed: ['host5.example.org'], flags: { ptrViaCname: true, aliasTarget: false } },
  { title: 'pass: forward name is a CNAME into another zone', ip: '192.0.2.60', verdict: 'pass', reason: 'confirmed', names: ['alias.example.com'], confirmed: ['alias.example.com'], flags: { aliasTarget: true, ptrViaCname: false } },
  { title: 'pass: forward name is a CNAME inside its zone', ip: '192.0.2.61', verdict: 'pass', reason: 'confirmed', names: ['alias61.example.com'], confirmed: ['alias61.example.com'], flags: { aliasTarget: true } },
  { title: 'pass: generic name with the address in it (flag only)', ip: '198.51.100.7', verdict: 'pass', reason: 'confirmed', names: ['host-198-51-100-7.example.net'], confirmed: ['host-198-51-100-7.example.net'], flags: { generic: 'strong' } },
  {
    title: 'pass: twelve PTR names, ten evaluated (truncated), the first confirms',
    ip: '192.0.2.80', verdict: 'pass', reason: 'confirmed',
    names: n('n', 1, 12), confirmed: ['n01.example.com'], notEvaluated: ['n11.example.com', 'n12.example.com'], otherAddresses: ['198.51.100.80'],
    flags: { truncated: true, multiDomain: false },
  },
  { title: 'pass: underscore name (flag only)', ip: '192.0.2.90', verdict: 'pass', reason: 'confirmed', names: ['mail_90.example.com'], confirmed: ['mail_90.example.com'], flags: { underscore: true } },
  {
    title: 'pass: one name confirms while the other gets a referral',
    ip: '198.51.100.79', verdict: 'pass', reason: 'confirmed', names: ['host79.lame.example.org', 'ok79.example.net'], confirmed: ['ok79.example.net'],
  },

  // fail
  { title: 'fail no-forward-match: A points elsewhere', ip: '192.0.2.30', verdict: 'fail', reason: 'no-forward-match', names: ['elsewhere.example.com'], confirmed: [], otherAddresses: ['198.51.100.30'], flags: NO_FLAGS },
  { title: 'fail no-forward-match IPv6: AAAA points elsewhere', ip: '2001:db8::33', verdict: 'fail', reason: 'no-forward-match', names: ['other6.example.com'], confirmed: [], otherAddresses: ['2001:db8::34'] },
  { title: 'fail forward-nodata: name has only AAAA, IPv4 client', ip: '192.0.2.31', verdict: 'fail', reason: 'forward-nodata', names: ['v6only.example.com'], confirmed: [], otherAddresses: [] },
  { title: 'fail forward-nodata IPv6: name has only A, IPv6 client', ip: '2001:db8::32', verdict: 'fail', reason: 'forward-nodata', names: ['v4only.example.com'], confirmed: [], otherAddresses: [] },
  { title: 'fail forward-nodata: AAAA ::ffff:192.0.2.100 does not confirm 192.0.2.100', ip: '192.0.2.100', verdict: 'fail', reason: 'forward-nodata', names: ['mapped.example.com'], confirmed: [] },
  { title: 'fail forward-nodata: forward name is a CNAME loop', ip: '192.0.2.70', verdict: 'fail', reason: 'forward-nodata', names: ['loop.example.com'], confirmed: [] },
  {
    title: 'fail forward-nodata: the only confirming name is past the cap of ten',
    ip: '192.0.2.81', verdict: 'fail', reason: 'forward-nodata', names: n('m', 1, 11), confirmed: [], notEvaluated: ['m11.example.com'], flags: { truncated: true },
  },

  // permerror
  { title: 'permerror no-ptr: NXDOMAIN', ip: '192.0.2.40', verdict: 'permerror', reason: 'no-ptr', names: [], confirmed: [], invalid: [] },
  { title: 'permerror no-ptr: NODATA (TXT, no PTR)', ip: '192.0.2.41', verdict: 'permerror', reason: 'no-ptr', names: [], invalid: [] },
  { title: 'permerror no-ptr IPv6: NXDOMAIN', ip: '2001:db8::40', verdict: 'permerror', reason: 'no-ptr', names: [] },
  { title: 'permerror no-ptr IPv6: NODATA', ip: '2001:db8::41', verdict: 'permerror', reason: 'no-ptr', names: [] },
  { title: 'permerror no-ptr: PTR CNAME into the classless zone leads nowhere', ip: '192.0.2.6', verdict: 'permerror', reason: 'no-ptr', names: [] },
  { title: 'permerror no-ptr: PTR CNAME loop', ip: '192.0.2.71', verdict: 'permerror', reason: 'no-ptr', names: [] },
  {
    title: 'permerror no-valid-ptr: IP literal, single label, localhost, .arpa',
    ip: '192.0.2.50', verdict: 'permerror', reason: 'no-valid-ptr', names: [], confirmed: [],
    invalid: [['192.0.2.9', 'ip-literal'], ['mailhost', 'single-label'], ['localhost', 'localhost'], ['50.2.0.192.in-addr.arpa', 'arpa']],
  },
  { title: 'permerror no-valid-ptr IPv6: localhost, single label', ip: '2001:db8::50', verdict: 'permerror', reason: 'no-valid-ptr', names: [], invalid: [['localhost', 'localhost'], ['ip6host', 'single-label']] },

  // temperror from the server itself
  { title: 'temperror dns-temp-ptr: the reverse name is delegated away (referral, AA clear)', ip: '198.51.100.77', verdict: 'temperror', reason: 'dns-temp-ptr', names: [] },
  { title: 'temperror dns-temp-forward: the forward name is delegated away (referral)', ip: '198.51.100.78', verdict: 'temperror', reason: 'dns-temp-forward', names: ['host78.lame.example.org'], confirmed: [] },
  { title: 'temperror dns-temp-ptr: REFUSED for a zone the server does not serve (--bypass none)', ip: '10.1.2.3', verdict: 'temperror', reason: 'dns-temp-ptr', args: ['--bypass', 'none'] },

  // skipped
  { title: 'skipped: RFC 1918 by default', ip: '10.0.0.1', verdict: 'skipped', reason: 'bypass', names: [] },
  { title: 'skipped: loopback by default', ip: '127.0.0.1', verdict: 'skipped', reason: 'bypass' },
  { title: 'skipped: CGNAT by default', ip: '100.64.0.1', verdict: 'skipped', reason: 'bypass' },
  { title: 'skipped: link-local by default', ip: '169.254.10.20', verdict: 'skipped', reason: 'bypass' },
  { title: 'skipped: IPv6 loopback by default', ip: '::1', verdict: 'skipped', reason: 'bypass' },
  { title: 'skipped: ULA by default', ip: 'fd00::1', verdict: 'skipped', reason: 'bypass' },
  { title: 'skipped: a documentation range made a bypass with --bypass', ip: '192.0.2.10', verdict: 'skipped', reason: 'bypass', args: ['--bypass', '192.0.2.0/24,2001:db8::/32'] },
];

function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

function assertCase(c: Case, run: Run, r: CheckJson): void {
  const where = `${c.ip}\n${show(run)}`;
  assert.equal(r.input, c.ip, where);
  assert.equal(r.ip, c.normalised ?? c.ip, where);
  assert.equal(r.verdict, c.verdict, where);
  assert.equal(r.reason, c.reason, where);
  assert.equal(run.status, EXIT_FOR[c.verdict], `exit status for ${c.verdict}\n${where}`);
  if (c.names !== undefined) assert.deepEqual(r.names, c.names, `names (sorted, lower-case, no trailing dot)\n${where}`);
  if (c.confirmed !== undefined) assert.deepEqual(sorted(r.confirmed), sorted(c.confirmed), `confirmed\n${where}`);
  if (c.otherAddresses !== undefined) assert.deepEqual(sorted([...new Set(r.otherAddresses)]), sorted(c.otherAddresses), `otherAddresses\n${where}`);
  if (c.notEvaluated !== undefined) assert.deepEqual(sorted(r.notEvaluated), sorted(c.notEvaluated), `notEvaluated\n${where}`);
  if (c.invalid !== undefined) {
    assert.equal(r.invalidNames.length, c.invalid.length, `invalidNames\n${where}`);
    for (const [piece, why] of c.invalid) {
      assert.ok(
        r.invalidNames.some((i) => i.name.toLowerCase().includes(piece) && i.why === why),
        `invalidNames should hold ${piece} (${why})\n${where}`,
      );
    }
  }
  for (const [flag, value] of Object.entries(c.flags ?? {})) {
    assert.equal(r.flags[flag as keyof Flags], value, `flags.${flag}\n${where}`);
  }
  assert.ok(r.durationMs >= 0, where);
  if (c.verdict === 'skipped') return;
  const steps = r.trace.map((s) => s.step);
  assert.ok(steps.includes('ptr'), `the trace shows the PTR query\n${where}`);
}

let dns: DnsServer;

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: run `npm run build` (npm run test:e2e does)');
  dns = await startDnsServer();
});

after(async () => {
  await dns?.stop();
});

describe('blocksmith check: fixture verdicts over UDP to 127.0.0.1', { concurrency: CASE_CONCURRENCY }, () => {
  for (const c of CASES) {
    test(`${c.ip}: ${c.title}`, async () => {
      const { run, result } = await checkOne(c.ip, [dns.resolver4], c.args);
      assertCase(c, run, result);
    });
  }
});

describe('blocksmith check: transports, output forms and exit status', { concurrency: CASE_CONCURRENCY }, () => {
  test('asks the server over IPv6 ([::1]:PORT)', async () => {
    assert.ok(dns.resolver6 !== undefined, 'this machine has no IPv6 loopback, which the e2e tests need');
    const run = await runCli(['check', '--resolver', dns.resolver6, '--json', '192.0.2.10', '2001:db8::25', '192.0.2.30']);
    const results = parseLines(run);
    assert.deepEqual(
      results.map((r) => [r.ip, r.verdict, r.reason, r.names]),
      [
        ['192.0.2.10', 'pass', 'confirmed', ['mail.example.com']],
        ['2001:db8::25', 'pass', 'confirmed', ['mail6.example.com']],
        ['192.0.2.30', 'fail', 'no-forward-match', ['elsewhere.example.com']],
      ],
      show(run),
    );
    assert.equal(run.status, EXIT_REJECTED, show(run));
  });

  test('readable output names the verdict and the PTR name', async () => {
    const ok = await runCli(['check', '--resolver', dns.resolver4, '192.0.2.10']);
    assert.equal(ok.status, 0, show(ok));
    assert.match(ok.stdout, /\bpass\b/i, show(ok));
    assert.match(ok.stdout, /mail\.example\.com/, show(ok));
    assert.notEqual(ok.stdout.trim()[0], '{', 'not JSON without --json');

    const bad = await runCli(['check', '--resolver', dns.resolver4, '192.0.2.30']);
    assert.equal(bad.status, EXIT_REJECTED, show(bad));
    assert.match(bad.stdout, /\bfail\b/i, show(bad));
    assert.match(bad.stdout, /elsewhere\.example\.com/, show(bad));
    assert.match(bad.stdout, /198\.51\.100\.30/, show(bad));
  });

  test('several addresses: one line each, in order; the exit status combines them', async () => {
    const combos: readonly (readonly [readonly string[], number])[] = [
      [['192.0.2.10', '10.0.0.1', '2001:db8::25'], 0],
      [['192.0.2.10', '198.51.100.77'], EXIT_TEMPFAIL],
      [['192.0.2.30', '198.51.100.77'], EXIT_REJECTED],
      [['198.51.100.77', '192.0.2.40'], EXIT_REJECTED],
    ];
    for (const [ips, status] of combos) {
      const run = await runCli(['check', '--resolver', dns.resolver4, '--json', ...ips]);
      assert.deepEqual(parseLines(run).map((r) => r.input), ips, show(run));
      assert.equal(run.status, status, `${ips.join(' ')}\n${show(run)}`);
    }
  });

  test('--file FILE: comments and blank lines skipped, one JSON line per address', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'blocksmith-e2e-'));
    try {
      const file = join(dir, 'ips.txt');
      await writeFile(file, '# clients seen today\n\n192.0.2.10\n   \n  192.0.2.30   # the one with a stale A\n# 192.0.2.40\n2001:db8::25\n10.0.0.1\n');
      const run = await runCli(['check', '--resolver', dns.resolver4, '--json', '--file', file]);
      const results = parseLines(run);
      assert.deepEqual(
        results.map((r) => [r.input, r.verdict, r.reason]),
        [
          ['192.0.2.10', 'pass', 'confirmed'],
          ['192.0.2.30', 'fail', 'no-forward-match'],
          ['2001:db8::25', 'pass', 'confirmed'],
          ['10.0.0.1', 'skipped', 'bypass'],
        ],
        show(run),
      );
      assert.equal(run.status, EXIT_REJECTED, show(run));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('--file - reads standard input', async () => {
    const run = await runCli(['check', '--resolver', dns.resolver4, '--json', '--file', '-'], '# from a pipe\n192.0.2.5\n\n198.51.100.7\n');
    assert.deepEqual(
      parseLines(run).map((r) => [r.input, r.verdict]),
      [
        ['192.0.2.5', 'pass'],
        ['198.51.100.7', 'pass'],
      ],
      show(run),
    );
    assert.equal(run.status, 0, show(run));
  });
});

describe('blocksmith check: unreachable and silent resolvers', { concurrency: CASE_CONCURRENCY }, () => {
  test('a closed port: temperror dns-temp-ptr, exit 75', async () => {
    const dead = `127.0.0.1:${await closedUdpPort()}`;
    const run = await runCli(['check', '--resolver', dead, '--timeout', '300', '--json', '192.0.2.10']);
    const [r] = parseLines(run);
    assert.equal(r?.verdict, 'temperror', show(run));
    assert.equal(r?.reason, 'dns-temp-ptr', show(run));
    assert.equal(run.status, EXIT_TEMPFAIL, show(run));
  });

  test('a server that never answers: temperror dns-temp-ptr after the query timeouts', async () => {
    const hole = await blackHole();
    try {
      const run = await runCli(['check', '--resolver', hole.address, '--timeout', '200', '--json', '2001:db8::25']);
      const [r] = parseLines(run);
      assert.equal(r?.verdict, 'temperror', show(run));
      assert.equal(r?.reason, 'dns-temp-ptr', show(run));
      assert.equal(run.status, EXIT_TEMPFAIL, show(run));
    } finally {
      await hole.close();
    }
  });

  test('the whole-check deadline ends a check that waits on a silent server', async () => {
    const hole = await blackHole();
    try {
      const run = await runCli(['check', '--resolver', hole.address, '--timeout', '5000', '--deadline', '300', '--json', '192.0.2.10']);
      const [r] = parseLines(run);
      assert.equal(r?.verdict, 'temperror', show(run));
      assert.equal(r?.reason, 'deadline', show(run));
      assert.equal(run.status, EXIT_TEMPFAIL, show(run));
      assert.ok((r?.durationMs ?? Infinity) < 3_000, `the deadline, not the 5 s timeout, ended it\n${show(run)}`);
    } finally {
      await hole.close();
    }
  });

  test('a dead first resolver falls over to the second', async () => {
    const dead = `127.0.0.1:${await closedUdpPort()}`;
    const run = await runCli(['check', '--resolver', dead, '--resolver', dns.resolver4, '--timeout', '500', '--json', '192.0.2.10']);
    const [r] = parseLines(run);
    assert.equal(r?.verdict, 'pass', show(run));
    assert.equal(run.status, 0, show(run));
  });
});

/**
 * A usage error: its first stderr line names the bad argument (one of `named`); a hint may follow
 * (commander adds `(run with --help for usage)`), a stack trace may not.
 */
function assertUsageError(run: Run, named: readonly string[]): void {
  const lines = run.stderr.trim().split('\n');
  assert.ok(named.some((a) => lines[0]?.includes(a)), `the first stderr line names ${named.join(' or ')}\n${show(run)}`);
  assert.ok(lines.length <= 2, `a short error, not a report\n${show(run)}`);
  assert.doesNotMatch(run.stderr, /^\s+at /m, `no stack trace\n${show(run)}`);
}

// These count the queries NSD receives, so they run one at a time, after the others.
describe('blocksmith check: usage errors send no query', () => {
  const BAD: readonly (readonly [string, readonly string[], string])[] = [
    ['an octet over 255', ['192.0.2.256'], '192.0.2.256'],
    ['a leading zero', ['192.0.2.010'], '192.0.2.010'],
    ['a host name', ['mail.example.com'], 'mail.example.com'],
    ['bad IPv6', ['2001:db8::zz'], '2001:db8::zz'],
    ['a valid address before a bad one (all are checked first)', ['192.0.2.10', '198.51.100.300'], '198.51.100.300'],
  ];
  for (const [title, ips, named] of BAD) {
    test(`malformed IP, ${title}: exit 64, an error naming it, no query`, async () => {
      const before = await dns.queryCount();
      const run = await runCli(['check', '--resolver', dns.resolver4, '--json', ...ips]);
      assert.equal(run.status, EXIT_USAGE, show(run));
      assert.equal(run.stdout, '', show(run));
      assertUsageError(run, [named]);
      assert.equal(await dns.queryCount(), before, `no query reached the server\n${show(run)}`);
    });
  }

  test('malformed IP in --file: exit 64 naming file and line, no query', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'blocksmith-e2e-'));
    try {
      const file = join(dir, 'ips.txt');
      await writeFile(file, '192.0.2.10\n# ok so far\n192.0.2.999\n');
      const before = await dns.queryCount();
      const run = await runCli(['check', '--resolver', dns.resolver4, '--json', '--file', file]);
      assert.equal(run.status, EXIT_USAGE, show(run));
      assert.match(run.stderr, /ips\.txt:3/, show(run));
      assert.equal(await dns.queryCount(), before, show(run));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const BAD_OPTIONS: readonly (readonly [string, readonly string[]])[] = [
    ['an unknown option', ['--bogus']],
    ['a timeout that is not a number', ['--timeout', 'soon']],
    ['a resolver that is not an address', ['--resolver', 'dns.example.com']],
    ['a bypass range that is not a CIDR', ['--bypass', '192.0.2.0/33']],
  ];
  for (const [title, args] of BAD_OPTIONS) {
    test(`${title}: exit 64, an error naming it, no query`, async () => {
      const before = await dns.queryCount();
      const run = await runCli(['check', '--resolver', dns.resolver4, '--json', ...args, '192.0.2.10']);
      assert.equal(run.status, EXIT_USAGE, show(run));
      assert.equal(run.stdout, '', show(run));
      assertUsageError(run, args); // the option or its value
      assert.equal(await dns.queryCount(), before, show(run));
    });
  }

  test('a bypassed address sends no query', async () => {
    const before = await dns.queryCount();
    const { run, result } = await checkOne('10.0.0.1', [dns.resolver4]);
    assert.equal(result.verdict, 'skipped', show(run));
    assert.equal(await dns.queryCount(), before, show(run));
  });

  test('a cold check of one name costs two queries: PTR, then A', async () => {
    // --file: a batch, so no diagnostics beyond the check itself (no other-family look-up)
    const before = await dns.queryCount();
    const run = await runCli(['check', '--resolver', dns.resolver4, '--json', '--file', '-'], '192.0.2.10\n');
    assert.equal(parseLines(run)[0]?.verdict, 'pass', show(run));
    assert.equal((await dns.queryCount()) - before, 2, show(run));
  });
});
