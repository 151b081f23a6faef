/**
 * The operator commands (`list`, `block`, `clear`, `unblock`, `allow`, `requests`, `audit`,
 * `stats`) as an operator runs them: child processes (through tsx, spawned asynchronously so the
 * in-process DNS test server can answer them) on a SQLite store in a temporary directory. Where a
 * test needs state the CLI cannot make (a check listing, a request from the portal) it makes it
 * through an in-process node (startApp) on the same file, as the fronts would.
 *
 * Propagation: `serve` has no front yet and logs nothing when it follows a store event, so its
 * hot cache cannot be observed from outside. The test runs `serve` on the directory (the CLI
 * must work beside it) and checks the same path in a second process: an in-process Firewall on
 * the same SQLite file must reflect each CLI action within a second.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/load.js';
import type { AllowEntry, AuditEntry, Listing, WhitelistRequest } from '../../../src/store/types.js';
import { DnsTestServer } from '../../helpers/dns-test-server.js';

const BIN = new URL('../../../src/cli/bin.ts', import.meta.url).pathname;
/** tsx by absolute URL: the children run in a temporary directory. */
const TSX = import.meta.resolve('tsx');
/** How soon a running node must follow an operator's action. */
const PROPAGATION_MS = 1_000;

let server: DnsTestServer;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A clean environment: no BLOCKSMITH_* variable of the caller leaks into the child. */
function childEnv(): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLOCKSMITH_'))), NO_COLOR: '1' };
}

function run(args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', TSX, BIN, ...args], { cwd, timeout: 90_000, env: childEnv() }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end();
  });
}

function jsonLines<T>(text: string): T[] {
  return text
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}

/** A fresh directory with a `data` store directory inside; `cli(...)` runs there on that store. */
function workspace(): { cwd: string; data: string; cli: (...args: string[]) => Promise<Run> } {
  const cwd = mkdtempSync(join(tmpdir(), 'bs-operator-'));
  const data = join(cwd, 'data');
  return { cwd, data, cli: (...args) => run([...args, '--data', data, '--resolver', server.upstream], cwd) };
}

/** A whole node in this process on the same store (timers off: nothing happens behind the test's back). */
async function openNode(data: string): Promise<App> {
  const config = loadConfig({ overrides: { store: { path: join(data, 'blocksmith.db') }, resolver: { servers: [server.upstream] } } });
  return startApp(config, { timers: false });
}

async function within(ms: number, what: string, condition: () => boolean): Promise<number> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) assert.fail(`${what}: not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

/** Every usage error: exit 64 and exactly one line on stderr matching `message`. */
function assertUsage(r: Run, message: RegExp): void {
  assert.equal(r.code, 64, `exit ${r.code}: ${r.stderr}`);
  const first = r.stderr.split('\n')[0] ?? '';
  assert.match(first, message);
  assert.match(first, /^blocksmith: /);
  assert.equal(r.stdout, '');
}

const FAILING = {
  '20.2.0.192.in-addr.arpa': [{ type: 'PTR' as const, data: 'twenty.example.com' }],
  'twenty.example.com': [{ type: 'A' as const, data: '198.51.100.20' }],
  '21.2.0.192.in-addr.arpa': [{ type: 'PTR' as const, data: 'twentyone.example.com' }],
  'twentyone.example.com': [{ type: 'A' as const, data: '198.51.100.21' }],
  '22.2.0.192.in-addr.arpa': [{ type: 'PTR' as const, data: 'twentytwo.example.com' }],
  'twentytwo.example.com': [{ type: 'A' as const, data: '198.51.100.22' }],
};

before(async () => {
  server = await DnsTestServer.start({ records: FAILING });
});
after(async () => {
  await server.stop();
});

describe('blocksmith allow', () => {
  test('add prints the id; list shows the entry (text and --json); remove takes it away; audit has both', async () => {
    const w = workspace();
    const add = await w.cli('allow', 'add', '192.0.2.0/24', '--note', 'partner relay', '--expires', '30d');
    assert.equal(add.code, 0, add.stderr);
    const id = add.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);

    const [text, json] = await Promise.all([w.cli('allow', 'list'), w.cli('allow', 'list', '--json')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^ID\s+RANGE\s+CREATED\s+BY\s+EXPIRES/);
    assert.match(text.stdout, new RegExp(`${id}\\s+192\\.0\\.2\\.0/24 .*partner relay`));
    const [entry, ...rest] = jsonLines<AllowEntry & { expired: boolean }>(json.stdout);
    assert.equal(rest.length, 0);
    assert.equal(entry?.id, id);
    assert.equal(entry?.range, '192.0.2.0/24');
    assert.equal(entry?.note, 'partner relay');
    assert.match(entry?.author ?? '', /^cli:/);
    assert.equal(entry?.expired, false);
    const days = ((entry?.expiresAt ?? 0) - (entry?.createdAt ?? 0)) / 86_400_000;
    assert.ok(Math.abs(days - 30) < 0.01, `expires after ${days} days`);

    const removed = await w.cli('allow', 'remove', id);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `${id}: removed\n`);
    const again = await w.cli('allow', 'remove', id, '--json');
    assert.equal(again.code, 1);
    assert.deepEqual(JSON.parse(again.stdout), { outcome: 'not-found', id });
    const empty = await w.cli('allow', 'list', '--json');
    assert.equal(empty.stdout, '');

    const audit = jsonLines<AuditEntry>((await w.cli('audit', '--target', '192.0.2.0/24', '--json')).stdout);
    assert.deepEqual(audit.map((a) => a.action), ['ALLOW-REMOVE', 'ALLOW-ADD']);
  });

  test('expired entries are left out (counted on stderr), or shown apart with --all', async () => {
    const w = workspace();
    const node = await openNode(w.data);
    try {
      await node.firewall.allow('203.0.113.0/24', 'old', 'test', Date.now() - 1_000);
      await node.firewall.allow('2001:db8::/32', 'current', 'test');
    } finally {
      await node.stop();
    }
    const [plain, all, json] = await Promise.all([w.cli('allow', 'list'), w.cli('allow', 'list', '--all'), w.cli('allow', 'list', '--all', '--json')]);
    assert.doesNotMatch(plain.stdout, /203\.0\.113/);
    assert.match(plain.stdout, /2001:db8::\/32/);
    assert.match(plain.stderr, /1 expired entry not shown \(--all\)/);
    assert.match(all.stdout, /2001:db8::\/32[\s\S]*\nexpired:\n[^\n]*\n[^\n]*203\.0\.113\.0\/24/);
    assert.equal(all.stderr, '');
    assert.deepEqual(
      jsonLines<AllowEntry & { expired: boolean }>(json.stdout).map((e) => [e.range, e.expired]),
      [
        ['2001:db8::/32', false],
        ['203.0.113.0/24', true],
      ],
    );
  });

  test('usage errors: exit 64, one line naming the argument, nothing opened', async () => {
    const w = workspace();
    const results = await Promise.all([
      w.cli('allow', 'add', '192.0.2.0/33', '--note', 'x'),
      w.cli('allow', 'add', 'mail.example.com', '--note', 'x'),
      w.cli('allow', 'add', '192.0.2.0/24', '--note', 'x', '--expires', '30x'),
      w.cli('allow', 'add', '192.0.2.0/24', '--note', 'x', '--expires', '2001-01-01'),
      w.cli('allow', 'add', '192.0.2.0/24', '--note', ' '),
      w.cli('allow', 'add', '192.0.2.0/24'),
      w.cli('allow', 'remove', 'a b'),
    ]);
    assertUsage(results[0], /RANGE: "192\.0\.2\.0\/33"/);
    assertUsage(results[1], /RANGE: "mail\.example\.com"/);
    assertUsage(results[2], /--expires: "30x" is neither a duration/);
    assertUsage(results[3], /--expires: "2001-01-01" is not in the future/);
    assertUsage(results[4], /--note: must not be empty/);
    assertUsage(results[5], /--note/);
    assertUsage(results[6], /ID: "a b" is not an allow entry id/);
    const list = await w.cli('allow', 'list', '--json');
    assert.equal(list.stdout, '', 'a refused command wrote nothing');
  });
});

describe('blocksmith block, clear and list', () => {
  test('block lists by hand (manual, actor cli:<user>); list shows it; clear ends it; audit has the notes', async () => {
    const w = workspace();
    const block = await w.cli('block', '198.51.100.7', '--note', 'spam run', '--json');
    assert.equal(block.code, 0, block.stderr);
    const blocked = JSON.parse(block.stdout) as { outcome: string; listing: Listing };
    assert.equal(blocked.outcome, 'listed');
    assert.equal(blocked.listing.ip, '198.51.100.7');
    assert.equal(blocked.listing.verdict, 'manual');
    assert.match(blocked.listing.listedBy, /^cli:\S+$/);

    const v6 = await w.cli('block', '2001:DB8::0:1', '--note', 'v6');
    assert.equal(v6.code, 0, v6.stderr);
    assert.match(v6.stdout, /^2001:db8::1: listed by hand/);

    const [text, json, filtered] = await Promise.all([w.cli('list'), w.cli('list', '--json'), w.cli('list', '--within', '198.51.100.0/24', '--reason', 'manual', '--json')]);
    assert.match(text.stdout, /^IP\s+STATE\s+REASON/);
    assert.match(text.stdout, /198\.51\.100\.7\s+active\s+manual\s.*spam run/);
    assert.deepEqual(jsonLines<Listing>(json.stdout).map((l) => l.ip).sort(), ['198.51.100.7', '2001:db8::1']);
    assert.deepEqual(jsonLines<Listing>(filtered.stdout).map((l) => l.ip), ['198.51.100.7']);

    const clear = await w.cli('clear', '198.51.100.7', '--note', 'customer fixed it');
    assert.equal(clear.code, 0, clear.stderr);
    assert.equal(clear.stdout, '198.51.100.7: cleared\n');
    const notListed = await w.cli('clear', '198.51.100.7', '--note', 'again', '--json');
    assert.equal(notListed.code, 0);
    assert.deepEqual(JSON.parse(notListed.stdout), { outcome: 'not-listed', ip: '198.51.100.7' });

    const [active, cleared, all] = await Promise.all([w.cli('list', '--json'), w.cli('list', '--state', 'cleared', '--json'), w.cli('list', '--state', 'all', '--json')]);
    assert.deepEqual(jsonLines<Listing>(active.stdout).map((l) => l.ip), ['2001:db8::1']);
    const [gone] = jsonLines<Listing>(cleared.stdout);
    assert.equal(gone?.ip, '198.51.100.7');
    assert.equal(gone?.clearCause, 'operator');
    assert.equal(jsonLines<Listing>(all.stdout).length, 2);

    const audit = jsonLines<AuditEntry>((await w.cli('audit', '--target', '198.51.100.7', '--json')).stdout);
    assert.deepEqual(
      audit.map((a) => [a.action, a.detail]),
      [
        ['CLEAR', 'customer fixed it'],
        ['LIST', 'spam run'],
      ],
    );
  });

  test('list pages through the store up to --limit and says on stderr when more match', async () => {
    const w = workspace();
    const node = await openNode(w.data);
    try {
      for (let i = 1; i <= 7; i++) await node.firewall.list(`203.0.113.${i}`, `n${i}`, 'test');
    } finally {
      await node.stop();
    }
    const [some, every] = await Promise.all([w.cli('list', '--limit', '5', '--json'), w.cli('list', '--limit', '7', '--json')]);
    assert.equal(jsonLines<Listing>(some.stdout).length, 5);
    assert.match(some.stderr, /more listings match; showing the first 5 \(--limit\)/);
    assert.equal(jsonLines<Listing>(every.stdout).length, 7);
    assert.equal(every.stderr, '');
  });

  test('peer-supplied text reaches the terminal only through printable()', async () => {
    const w = workspace();
    const r = await w.cli('block', '198.51.100.8', '--note', 'evil\x1b[31mred\nnext');
    assert.equal(r.code, 0, r.stderr);
    const text = await w.cli('list');
    assert.ok(!text.stdout.includes('\x1b'), 'no escape character on the terminal');
    assert.match(text.stdout, /evil\\x1b\[31mred\\x0anext/);
    const audit = await w.cli('audit');
    assert.ok(!audit.stdout.includes('\x1b'));
  });

  test('usage errors: exit 64, one line naming the argument', async () => {
    const w = workspace();
    const results = await Promise.all([
      w.cli('block', '198.51.100.777', '--note', 'x'),
      w.cli('block', '198.51.100.7'),
      w.cli('clear', 'not-an-ip', '--note', 'x'),
      w.cli('list', '--state', 'gone'),
      w.cli('list', '--within', '10.0.0.0/40'),
      w.cli('list', '--reason', 'bad'),
      w.cli('list', '--limit', '0'),
      w.cli('list', '--limit', 'ten'),
    ]);
    assertUsage(results[0], /IP: not a valid IP address "198\.51\.100\.777"/);
    assertUsage(results[1], /--note/);
    assertUsage(results[2], /IP: not a valid IP address "not-an-ip"/);
    assertUsage(results[3], /--state: "gone" is not one of active, cleared, expired, all/);
    assertUsage(results[4], /--within: "10\.0\.0\.0\/40"/);
    assertUsage(results[5], /--reason: "bad" is not one of/);
    assertUsage(results[6], /--limit: must be between 1 and/);
    assertUsage(results[7], /--limit: "ten" is not a whole number/);
  });

  test('a store that cannot be opened: exit 75 with the error; an invalid configuration: 78', async () => {
    const w = workspace();
    writeFileSync(join(w.cwd, 'not-a-dir'), 'x');
    const r = await run(['list', '--data', join(w.cwd, 'not-a-dir')], w.cwd);
    assert.equal(r.code, 75, r.stderr);
    assert.match(r.stderr, /^blocksmith: .*not-a-dir/);
    writeFileSync(join(w.cwd, 'blocksmith.yaml'), 'store:\n  backend: postgres\n');
    const bad = await run(['allow', 'list'], w.cwd);
    assert.equal(bad.code, 78, bad.stderr);
    assert.match(bad.stderr, /store\.backend/);
  });
});

describe('blocksmith unblock', () => {
  test('a fresh check: cleared (0), still failing with the step (1), temperror (75), operator listing (1), not listed (0)', async () => {
    const w = workspace();
    server.setZone({ records: FAILING });
    const node = await openNode(w.data);
    try {
      for (const ip of ['192.0.2.20', '192.0.2.21', '192.0.2.22']) {
        const d = await node.firewall.decide({ front: 'policy', ip });
        assert.equal(d.verdict, 'fail', ip);
      }
      await node.firewall.list('192.0.2.23', 'by hand', 'test');
      await node.firewall.flush();
    } finally {
      await node.stop();
    }
    const listed = jsonLines<Listing>((await w.cli('list', '--json')).stdout);
    assert.deepEqual(listed.map((l) => l.ip), ['192.0.2.20', '192.0.2.21', '192.0.2.22', '192.0.2.23']);

    server.setZone({
      records: { ...FAILING, 'twenty.example.com': [{ type: 'A', data: '192.0.2.20' }] },
      behaviours: { '22.2.0.192.in-addr.arpa': { servfail: true } },
    });
    const [cleared, failing, temp, manual, notListed] = await Promise.all([
      w.cli('unblock', '192.0.2.20'),
      w.cli('unblock', '192.0.2.21', '--json'),
      w.cli('unblock', '192.0.2.22', '--json'),
      w.cli('unblock', '192.0.2.23'),
      w.cli('unblock', '192.0.2.99', '--json'),
    ]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.equal(cleared.stdout, '192.0.2.20: cleared (fresh check: pass confirmed)\n');
    assert.equal(failing.code, 1, failing.stderr);
    const f = JSON.parse(failing.stdout) as Record<string, unknown>;
    assert.equal(f.outcome, 'still-failing');
    assert.equal(f.reason, 'no-forward-match');
    assert.match(String(f.step), /twentyone\.example\.com/);
    assert.equal(temp.code, 75, temp.stderr);
    assert.deepEqual(
      { ...(JSON.parse(temp.stdout) as Record<string, unknown>), step: undefined },
      { outcome: 'temperror', ip: '192.0.2.22', verdict: 'temperror', reason: 'dns-temp-ptr', step: undefined },
    );
    assert.equal(manual.code, 1);
    assert.match(manual.stdout, /listed by an operator; not cleared by unblock \(use: blocksmith clear 192\.0\.2\.23/);
    assert.equal(notListed.code, 0);
    assert.deepEqual(JSON.parse(notListed.stdout), { outcome: 'not-listed', ip: '192.0.2.99' });

    const active = jsonLines<Listing>((await w.cli('list', '--json')).stdout);
    assert.deepEqual(active.map((l) => l.ip), ['192.0.2.21', '192.0.2.22', '192.0.2.23']);
    const [audit] = jsonLines<AuditEntry>((await w.cli('audit', '--target', '192.0.2.20', '--action', 'clear', '--json')).stdout);
    assert.match(audit?.actor ?? '', /^cli:/);
    assert.equal(audit?.detail, 'unblock: confirmed');

    assertUsage(await w.cli('unblock', '192.0.2'), /IP: not a valid IP address "192\.0\.2"/);
  });
});

describe('blocksmith requests', () => {
  test('list (pending by default, --state, --json), approve with --expires prints the allow id, deny with a reason', async () => {
    const w = workspace();
    const node = await openNode(w.data);
    let first: WhitelistRequest;
    let second: WhitelistRequest;
    try {
      first = await node.firewall.requestWhitelist({ range: '198.51.100.0/28', domain: 'example.org', contact: 'pm@example.org', why: 'our relay\x1b[2J' });
      second = await node.firewall.requestWhitelist({ range: '203.0.113.9', domain: 'example.net', contact: 'pm@example.net', why: 'please' });
    } finally {
      await node.stop();
    }
    const [text, json] = await Promise.all([w.cli('requests', 'list'), w.cli('requests', 'list', '--json')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^REF\s+STATE\s+CREATED\s+RANGE/);
    assert.ok(!text.stdout.includes('\x1b'), 'visitor text made printable');
    assert.match(text.stdout, /our relay\\x1b\[2J/);
    assert.deepEqual(jsonLines<WhitelistRequest>(json.stdout).map((r) => r.ref).sort(), [first.ref, second.ref].sort());

    const approve = await w.cli('requests', 'approve', first.ref.toLowerCase(), '--expires', '12h');
    assert.equal(approve.code, 0, approve.stderr);
    const allowId = approve.stdout.trim();
    const [allow] = jsonLines<AllowEntry>((await w.cli('allow', 'list', '--json')).stdout);
    assert.equal(allow?.id, allowId);
    assert.equal(allow?.range, '198.51.100.0/28');
    assert.equal(allow?.requestRef, first.ref);
    assert.ok(Math.abs((allow?.expiresAt ?? 0) - (allow?.createdAt ?? 0) - 12 * 3_600_000) < 60_000);

    const deny = await w.cli('requests', 'deny', second.ref, '--reason', 'not a mail server', '--json');
    assert.equal(deny.code, 0, deny.stderr);
    const denied = JSON.parse(deny.stdout) as { outcome: string; request: WhitelistRequest };
    assert.equal(denied.outcome, 'denied');
    assert.equal(denied.request.decisionReason, 'not a mail server');
    assert.match(denied.request.decidedBy ?? '', /^cli:/);

    const twice = await w.cli('requests', 'approve', second.ref);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /already denied/);
    const missing = await w.cli('requests', 'deny', '0000ZZZZ', '--reason', 'x');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no request 0000ZZZZ/);

    const [pending, approved, all] = await Promise.all([
      w.cli('requests', 'list', '--json'),
      w.cli('requests', 'list', '--state', 'approved', '--json'),
      w.cli('requests', 'list', '--state', 'all', '--json'),
    ]);
    assert.equal(pending.stdout, '');
    assert.deepEqual(jsonLines<WhitelistRequest>(approved.stdout).map((r) => r.ref), [first.ref]);
    assert.equal(jsonLines<WhitelistRequest>(all.stdout).length, 2);
  });

  test('usage errors: exit 64, one line naming the argument', async () => {
    const w = workspace();
    const results = await Promise.all([
      w.cli('requests', 'approve', 'ABC'),
      w.cli('requests', 'approve', 'K7Q2M9PX', '--expires', 'tomorrow'),
      w.cli('requests', 'deny', 'K7Q2M9PX'),
      w.cli('requests', 'deny', 'K7Q2M9PI', '--reason', 'x'),
      w.cli('requests', 'list', '--state', 'open'),
    ]);
    assertUsage(results[0], /REF: "ABC" is not a reference/);
    assertUsage(results[1], /--expires: "tomorrow"/);
    assertUsage(results[2], /--reason/);
    assertUsage(results[3], /REF: "K7Q2M9PI" is not a reference/);
    assertUsage(results[4], /--state: "open" is not one of pending, approved, denied, all/);
  });
});

describe('blocksmith audit and stats', () => {
  test('audit filters by target, actor, action and since, newest first, up to --limit', async () => {
    const w = workspace();
    assert.equal((await w.cli('block', '198.51.100.1', '--note', 'one')).code, 0);
    assert.equal((await w.cli('block', '198.51.100.2', '--note', 'two')).code, 0);
    assert.equal((await w.cli('clear', '198.51.100.1', '--note', 'three')).code, 0);
    const [all, lists, limited, old, future, byActor, text] = await Promise.all([
      w.cli('audit', '--json'),
      w.cli('audit', '--action', 'list', '--json'),
      w.cli('audit', '--limit', '1', '--json'),
      w.cli('audit', '--since', '2000-01-01T00:00:00Z', '--json'),
      w.cli('audit', '--since', '1s', '--actor', 'nobody', '--json'),
      w.cli('audit', '--actor', 'self-service', '--json'),
      w.cli('audit'),
    ]);
    const entries = jsonLines<AuditEntry>(all.stdout);
    assert.deepEqual(entries.map((e) => e.detail), ['three', 'two', 'one']);
    for (const key of ['id', 'at', 'actor', 'action', 'target', 'detail']) assert.ok(key in (entries[0] ?? {}), key);
    const actor = entries[0]?.actor ?? '';
    assert.deepEqual(jsonLines<AuditEntry>(lists.stdout).map((e) => e.target), ['198.51.100.2', '198.51.100.1']);
    assert.equal(jsonLines<AuditEntry>(limited.stdout).length, 1);
    assert.match(limited.stderr, /showing the newest 1/);
    assert.equal(jsonLines<AuditEntry>(old.stdout).length, 3);
    assert.equal(future.stdout, '');
    assert.equal(byActor.stdout, '');
    assert.match(text.stdout, /^AT\s+ACTOR\s+ACTION\s+TARGET\s+DETAIL\n/);
    const mine = jsonLines<AuditEntry>((await w.cli('audit', '--actor', actor, '--json')).stdout);
    assert.equal(mine.length, 3);

    const bad = await Promise.all([w.cli('audit', '--since', 'yesterday'), w.cli('audit', '--since', '2999-01-01'), w.cli('audit', '--limit', '-1'), w.cli('audit', '--action', '')]);
    assertUsage(bad[0], /--since: "yesterday"/);
    assertUsage(bad[1], /--since: "2999-01-01" is in the future/);
    assertUsage(bad[2], /--limit/);
    assertUsage(bad[3], /--action: must not be empty/);
  });

  test('stats sums the hourly counters per counter; --json gives the totals and each hour', async () => {
    const w = workspace();
    const node = await openNode(w.data);
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    try {
      await node.store.addStats(hour, { 'decision.policy.reject': 3, 'unblock.tried': 1 });
      await node.store.addStats(hour - 3_600_000, { 'decision.policy.reject': 2 });
      await node.store.addStats(hour - 5 * 3_600_000, { 'decision.policy.reject': 100 });
    } finally {
      await node.stop();
    }
    const [json, text, wide] = await Promise.all([w.cli('stats', '--hours', '2', '--json'), w.cli('stats', '--hours', '2'), w.cli('stats', '--json')]);
    assert.equal(json.code, 0, json.stderr);
    const s = JSON.parse(json.stdout) as { from: string; to: string; totals: Record<string, number>; hours: { hour: string; counters: Record<string, number> }[] };
    assert.deepEqual(s.totals, { 'decision.policy.reject': 5, 'unblock.tried': 1 });
    assert.deepEqual(s.hours.map((h) => h.hour), [new Date(hour - 3_600_000).toISOString().replace('.000', ''), new Date(hour).toISOString().replace('.000', '')]);
    assert.equal(Date.parse(s.to) - Date.parse(s.from), 2 * 3_600_000);
    assert.match(text.stdout, /decision\.policy\.reject\s+5\n/);
    assert.equal((JSON.parse(wide.stdout) as { totals: Record<string, number> }).totals['decision.policy.reject'], 105);
    assertUsage(await w.cli('stats', '--hours', '0'), /--hours: must be between 1 and/);
  });
});

describe('propagation to running nodes', () => {
  test('CLI actions beside a running `serve` reach another node on the same store within a second', async () => {
    const w = workspace();
    const serve = spawn(process.execPath, ['--import', TSX, BIN, 'serve', '--policy', 'none', '--http', 'none', '--data', w.data, '--resolver', server.upstream], {
      cwd: w.cwd,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => serve.on('close', (code) => resolve(code)));
    let observer: App | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('serve: no READY')), 20_000);
        createInterface({ input: serve.stdout }).on('line', (line) => {
          if (line.includes('"event":"READY"')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      observer = await openNode(w.data);
      const fw = observer.firewall;
      assert.equal(fw.status().allows, 0);
      assert.equal(fw.hotListing('198.51.100.7'), undefined);

      const add = await w.cli('allow', 'add', '192.0.2.0/24', '--note', 'x');
      assert.equal(add.code, 0, add.stderr);
      const allowMs = await within(PROPAGATION_MS, 'allow entry', () => fw.status().allows === 1);
      const decision = await fw.decide({ front: 'policy', ip: '192.0.2.77' });
      assert.equal(decision.action, 'accept');
      assert.equal(decision.source, 'allowlist');

      const block = await w.cli('block', '198.51.100.7', '--note', 'y');
      assert.equal(block.code, 0, block.stderr);
      const blockMs = await within(PROPAGATION_MS, 'manual listing', () => fw.hotListing('198.51.100.7')?.verdict === 'manual');
      const refused = await fw.decide({ front: 'policy', ip: '198.51.100.7' });
      assert.equal(refused.source, 'listing');
      assert.equal(refused.action, 'reject');

      const list = await w.cli('list', '--json');
      assert.deepEqual(jsonLines<Listing>(list.stdout).map((l) => l.ip), ['198.51.100.7']);

      const clear = await w.cli('clear', '198.51.100.7', '--note', 'z');
      assert.equal(clear.code, 0, clear.stderr);
      const clearMs = await within(PROPAGATION_MS, 'clear', () => fw.hotListing('198.51.100.7') === undefined);

      const id = add.stdout.trim();
      assert.equal((await w.cli('allow', 'remove', id)).code, 0);
      const removeMs = await within(PROPAGATION_MS, 'allow removal', () => fw.status().allows === 0);
      assert.ok(Math.max(allowMs, blockMs, clearMs, removeMs) < PROPAGATION_MS);

      assert.equal(serve.exitCode, null, 'serve still running');
      serve.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      await observer?.stop();
      serve.kill('SIGKILL');
    }
  });
});
