/**
 * NAME
 *   faults/sqlite-disk-full.test - the SQLite store's file system fills up: operator actions get
 *   a clear error, decisions go on, nothing crashes, and writes work again once space returns
 *
 * DESCRIPTION
 *   `blocksmith serve` runs in a mount namespace of its own (`unshare --mount --propagation
 *   private`) where its data directory is a tmpfs of TMPFS_SIZE; the test reaches into that
 *   namespace with `nsenter --mount` to fill the file system (dd until ENOSPC), to run the CLI
 *   on the same file, and to free the space again. Nothing outside the namespace sees the mount,
 *   and it goes away with the node.
 *
 *   Before the fill: addresses with no PTR are refused (and listed), an operator listing is
 *   acknowledged. While full: operator actions through the API answer 503 BS_API_UNAVAILABLE
 *   (the message names the store and SQLITE_FULL or ENOSPC) or, while SQLite still has room in
 *   pages it already owns, succeed; at least one must be refused, and no answer may be a 500.
 *   The CLI's `block` exits 75 with `blocksmith: ...`. Policy requests go on: listed addresses
 *   are refused from the hot cache, new addresses with no PTR are refused by a live check (their
 *   listings wait in the firewall's retry queue), good ones accepted; the node keeps running.
 *   After the space is freed: an operator action succeeds, the listings made while full reach
 *   the file, and everything acknowledged before (and during) the outage is still there.
 *
 *   Needs root (unshare, mount, nsenter).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { DnsTestServer, type ZoneRecord } from '../../helpers/dns-test-server.js';
import {
  BIN,
  PolicyClient,
  api,
  askOnce,
  childEnv,
  classify,
  jsonLines,
  newApiKey,
  policyRequest,
  sleep,
  startNode,
  tempDir,
  writeApiConfig,
  type ApiKey,
  type ApiReply,
  type NodeProcess,
} from '../helpers/node-process.js';

const TMPFS_SIZE = '4m';
const RETRY_EVERY_MS = 400;
/** Operator actions tried while full, at most: the first refusal ends the run. */
const MAX_ACTIONS_WHILE_FULL = 400;
const WRITE_BACK_MS = 15_000;

const PASSING = ['192.0.2.10', '192.0.2.11'];
const LISTED_BEFORE = ['192.0.2.40', '192.0.2.41', '192.0.2.42'];
/** New addresses with no PTR, refused while the disk is full. */
const FRESH = Array.from({ length: 30 }, (_, i) => `2001:db8:f011::${(i + 1).toString(16)}`);

const isRoot = process.getuid?.() === 0;
const cleanups: (() => Promise<void>)[] = [];
let dns: DnsTestServer;
let node: NodeProcess | undefined;
let key: ApiKey;
let dataDir: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** inNamespace - a command in the node's mount namespace (so it sees the tmpfs). */
function inNamespace(pid: number, command: readonly string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((ok) => {
    execFile('nsenter', ['--target', String(pid), '--mount', '--', ...command], { env: childEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      ok({ code, stdout, stderr });
    });
  });
}

function cli(pid: number, args: readonly string[]): Promise<Run> {
  return inNamespace(pid, [process.execPath, BIN, ...args]);
}

async function freeKb(pid: number): Promise<number> {
  const df = await inNamespace(pid, ['df', '-k', '--output=avail', dataDir]);
  assert.equal(df.code, 0, df.stderr);
  return Number(df.stdout.trim().split('\n').pop());
}

function codeOf(reply: ApiReply): unknown {
  const body = reply.body as { code?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  return body?.error?.code ?? body?.code;
}

function zone(): Record<string, ZoneRecord[]> {
  const records: Record<string, ZoneRecord[]> = {};
  for (const ip of PASSING) {
    const last = ip.split('.')[3] ?? '';
    records[`${last}.2.0.192.in-addr.arpa`] = [{ type: 'PTR', data: `mail${last}.example.com` }];
    records[`mail${last}.example.com`] = [{ type: 'A', data: ip }];
  }
  return records;
}

/** Every listing the node's API returns for a state, by IP. */
async function listings(state: 'active' | 'cleared'): Promise<Set<string>> {
  assert.ok(node !== undefined);
  const ips = new Set<string>();
  let after: string | undefined;
  for (let page = 0; page < 100; page++) {
    const reply = await api(node.endpoint('http'), 'GET', `/api/v1/listings?state=${state}&limit=1000${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`, { key: key.key });
    assert.equal(reply.status, 200, reply.text);
    const body = reply.body as { listings?: { ip: string }[]; items?: { ip: string }[]; next?: string | null; after?: string | null };
    const rows = body.listings ?? body.items ?? [];
    for (const r of rows) ips.add(r.ip);
    const next = body.next ?? undefined;
    if (next === undefined || next === null || rows.length === 0) break;
    after = next;
  }
  return ips;
}

before(async () => {
  if (!isRoot) return;
  dns = await DnsTestServer.start({ records: zone() });
  cleanups.push(() => dns.stop());
  const dir = await tempDir('diskfull');
  cleanups.push(dir.remove);
  dataDir = `${dir.path}/data`;
  key = newApiKey();
  const configFile = await writeApiConfig(dir.path, key);
  await execFilePromise('mkdir', ['-p', dataDir]);
  node = await startNode({
    args: ['--data', dataDir, '--resolver', dns.upstream, '--policy', '127.0.0.1:0', '--http', '127.0.0.1:0'],
    env: { BLOCKSMITH_FIREWALL_RETRY_EVERY_MS: String(RETRY_EVERY_MS) },
    configFile,
    cwd: dir.path,
    name: 'disk-full node',
    // The data directory becomes a small tmpfs that only this node (and nsenter) sees.
    wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=${TMPFS_SIZE},mode=0700 bs-e2e-full "$0" && exec "$@"`, dataDir],
  });
});

function execFilePromise(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((ok, fail) => execFile(cmd, args, (err) => (err === null ? ok() : fail(new Error(`${cmd}: ${err.message}`)))));
}

after(async () => {
  await node?.stop();
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('SQLite on a full file system', { timeout: 150_000, skip: isRoot ? false : 'needs root (unshare, mount, nsenter)' }, () => {
  test('operator actions refused clearly, decisions go on, no crash; writes resume when space returns', async () => {
    assert.ok(node !== undefined);
    const pid = node.pid;
    const policyAt = node.endpoint('policy');
    const http = node.endpoint('http');
    const mounted = await inNamespace(pid, ['findmnt', '-n', '-o', 'FSTYPE,SIZE', dataDir]);
    assert.match(mounted.stdout, /tmpfs/, `the data dir is the namespace's tmpfs: ${mounted.stdout} ${mounted.stderr}`);

    // Before: listings by decisions and by hand, acknowledged and stored.
    for (const ip of LISTED_BEFORE) assert.equal(classify(await askOnce(policyAt, ip)), 'reject', `${ip}: no PTR, refused`);
    const byHand = await api(http, 'POST', '/api/v1/listings', { key: key.key, body: { ip: '198.51.100.1', note: 'before the disk filled' } });
    assert.ok(byHand.status >= 200 && byHand.status < 300, byHand.text);
    const deadline = Date.now() + WRITE_BACK_MS;
    while (Date.now() < deadline) {
      const active = await listings('active');
      if ([...LISTED_BEFORE, '198.51.100.1'].every((ip) => active.has(ip))) break;
      await sleep(200);
    }

    // Fill the file system to the last block.
    const fill = await inNamespace(pid, ['sh', '-c', `dd if=/dev/zero of=${dataDir}/fill bs=16k 2>&1; sync`]);
    assert.match(fill.stdout, /No space left on device/, `dd ran into ENOSPC: ${fill.stdout}`);
    const freeWhenFull = await freeKb(pid);
    console.log(`# tmpfs ${TMPFS_SIZE} filled; ${freeWhenFull} KiB free`);
    assert.ok(freeWhenFull < 16, `the file system is full (${freeWhenFull} KiB free)`);

    // The node's log must name the cause once a write fails (the API answer stays generic).
    const causeLogged = node.waitFor((l) => /SQLITE_FULL|ENOSPC/.test(JSON.stringify(l)), 20_000);
    const retryQueued = node.waitFor('RETRY-QUEUE', 20_000);

    // Decisions go on meanwhile: a bounded load on four connections.
    const clients = await Promise.all(Array.from({ length: 4 }, () => PolicyClient.connect(policyAt)));
    const decisions: { ip: string; want: 'accept' | 'reject'; got: string; ms: number }[] = [];
    let loadOn = true;
    let fresh = 0;
    const drive = async (client: PolicyClient, c: number): Promise<void> => {
      for (let i = c; loadOn; i += 4) {
        const pick = i % 3;
        const ip = pick === 0 ? (PASSING[i % PASSING.length] as string) : pick === 1 ? (LISTED_BEFORE[i % LISTED_BEFORE.length] as string) : FRESH[fresh++ % FRESH.length];
        if (ip === undefined) continue;
        const t = Date.now();
        const action = await client.ask(policyRequest(ip), 10_000);
        decisions.push({ ip, want: pick === 0 ? 'accept' : 'reject', got: action, ms: Date.now() - t });
        await sleep(10);
      }
    };
    const load = Promise.all(clients.map((client, c) => drive(client, c)));

    // Operator actions through the API: a clear refusal once SQLite needs a page it cannot get.
    const answered: { ip: string; reply: ApiReply }[] = [];
    for (let i = 0; i < MAX_ACTIONS_WHILE_FULL; i++) {
      const ip = `198.51.100.${(i % 200) + 10}`;
      const reply = await api(http, 'POST', '/api/v1/listings', { key: key.key, body: { ip, note: `while full ${i} ${'x'.repeat(400)}` } });
      answered.push({ ip, reply });
      if (reply.status >= 300) break;
    }
    const refused = answered.filter((a) => a.reply.status >= 300);
    const acked = answered.filter((a) => a.reply.status < 300);
    const firstRefusal = refused[0];
    console.log(`# while full: ${acked.length} operator listings acknowledged before the first refusal; then ${firstRefusal?.reply.status} ${firstRefusal?.reply.text}`);
    assert.ok(firstRefusal !== undefined, `an operator action is refused within ${MAX_ACTIONS_WHILE_FULL} tries while the disk is full`);
    assert.equal(firstRefusal.reply.status, 503, `a 503, not a 500: ${firstRefusal.reply.text}`);
    assert.equal(codeOf(firstRefusal.reply), 'BS_API_UNAVAILABLE', firstRefusal.reply.text);
    const causeLine = await causeLogged;
    console.log(`# the node's log names the cause: ${JSON.stringify(causeLine).slice(0, 400)}`);

    // The CLI on the same file: exit 75, a one-line message naming the cause.
    const block = await cli(pid, ['block', '198.51.100.250', '--note', 'cli while full', '--data', dataDir]);
    console.log(`# CLI block while full: exit ${block.code}: ${block.stderr.trim()}`);
    assert.equal(block.code, 75, `blocksmith block while full: exit ${block.code} ${block.stderr}`);
    assert.match(block.stderr, /^blocksmith: .*(SQLITE_FULL|ENOSPC|full|space)/i);

    // Reads go on while full.
    const status = await api(http, 'GET', `/api/v1/ip/${LISTED_BEFORE[0]}`);
    assert.equal(status.status, 200, status.text);

    await sleep(1_500);
    loadOn = false;
    await load;
    for (const c of clients) c.close();
    const wrong = decisions.filter((d) => classify(d.got) !== d.want);
    const slowest = Math.max(...decisions.map((d) => d.ms));
    console.log(`# decisions while full: ${decisions.length}, ${wrong.length} not as expected, slowest ${slowest} ms`);
    assert.ok(decisions.length > 20, `decisions went on while full (${decisions.length})`);
    assert.deepEqual(wrong.slice(0, 5), [], `decisions while full: the hot cache and live checks answer as before\n${node.diagnostics()}`);
    assert.ok(node.running, `the node is still running\n${node.diagnostics()}`);
    const hotRejects = decisions.filter((d) => LISTED_BEFORE.includes(d.ip)).length;
    const liveRejects = new Set(decisions.filter((d) => FRESH.includes(d.ip)).map((d) => d.ip));
    assert.ok(hotRejects > 0 && liveRejects.size > 0, `both kinds answered: ${hotRejects} hot-cache refusals, ${liveRejects.size} live-check refusals`);

    const queued = await retryQueued;
    console.log(`# listings of decisions kept for retry: ${JSON.stringify(queued)}`);

    // Space returns: writes work again, and nothing acknowledged is lost.
    const freed = await inNamespace(pid, ['rm', '-f', `${dataDir}/fill`]);
    assert.equal(freed.code, 0, freed.stderr);
    const afterwards = await api(http, 'POST', '/api/v1/listings', { key: key.key, body: { ip: '198.51.100.2', note: 'after space returned' } });
    assert.ok(afterwards.status >= 200 && afterwards.status < 300, `operator listing after space returned: ${afterwards.status} ${afterwards.text}\n${node.diagnostics()}`);
    const want = new Set([...LISTED_BEFORE, '198.51.100.1', '198.51.100.2', ...acked.map((a) => a.ip), ...liveRejects]);
    let missing = [...want];
    const until = Date.now() + WRITE_BACK_MS;
    let tookMs = 0;
    const t0 = Date.now();
    while (missing.length > 0 && Date.now() < until) {
      const active = await listings('active');
      missing = [...want].filter((ip) => !active.has(ip));
      tookMs = Date.now() - t0;
      if (missing.length > 0) await sleep(300);
    }
    console.log(`# after space returned: ${want.size} listings expected, all stored within ${tookMs} ms (retry every ${RETRY_EVERY_MS} ms)`);
    assert.deepEqual(missing, [], `acknowledged or refused-while-full listings missing after space returned\n${node.diagnostics()}`);
    const refusedIp = firstRefusal.ip;
    if (!acked.some((a) => a.ip === refusedIp)) {
      const gone = await api(http, 'GET', `/api/v1/ip/${refusedIp}`);
      assert.ok(!/"state"\s*:\s*"active"/.test(gone.text), `the refused action left nothing behind: ${gone.text}`);
    }

    // The CLI reads the same file, and writes to it again.
    const list = await cli(pid, ['list', '--json', '--limit', '100000', '--data', dataDir]);
    assert.equal(list.code, 0, list.stderr);
    const stored = new Set(jsonLines<{ ip: string }>(list.stdout).map((l) => l.ip));
    assert.deepEqual([...want].filter((ip) => !stored.has(ip)), [], 'blocksmith list sees every listing');
    const blockAgain = await cli(pid, ['block', '198.51.100.251', '--note', 'cli after', '--data', dataDir]);
    assert.equal(blockAgain.code, 0, `blocksmith block after space returned: ${blockAgain.stderr}`);

    assert.equal(await node.stop(), 0, `the node stops cleanly\n${node.diagnostics()}`);
  });
});
