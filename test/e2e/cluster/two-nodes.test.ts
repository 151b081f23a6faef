/**
 * NAME
 *   cluster/two-nodes.test - two `blocksmith serve` processes on one Redis follow each other
 *
 * DESCRIPTION
 *   Nodes A and B run as separate processes on the machine's Redis under one key prefix of their
 *   own, each with its policy service and HTTP API, both asking the same in-process DNS test
 *   server. Everything is observed through decisions, that is, the answers of B's policy
 *   service, never by reading the store:
 *   - an address with no PTR is refused by B (and so listed); its owner fixes the DNS; an
 *     operator runs `blocksmith unblock` against the Redis (the CLI as a third process) or
 *     clears the listing through A's API; B's next answer is DUNNO within one second;
 *   - a listed address in a range allowed through A's API is accepted by B within one second,
 *     and so is an address of that range B never saw;
 *   - an address with good DNS listed by hand through A's API is refused by B within one second
 *     (B's own check would accept it, so only the listing can make it refuse).
 *   The time is measured from the moment the action was acknowledged (the CLI's exit, the API's
 *   2xx) to the moment B's answer came back, polling B on one policy connection.
 *
 *   The DNS answers are as real zones give them: an NXDOMAIN carries the zone's SOA, so resolvers
 *   cache it for the SOA minimum (300 s here). The unblock test keeps that: B refused the address
 *   before the fix, so B's resolver holds the NXDOMAIN when the clear arrives. The API clear test
 *   turns negative caching off to measure the clear's propagation alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsTestServer, type ZoneRecord } from '../../helpers/dns-test-server.js';
import {
  SHARED_REDIS_URL,
  PolicyClient,
  api,
  classify,
  deleteRedisPrefix,
  newApiKey,
  policyRequest,
  pollUntil,
  runCli,
  startNode,
  tempDir,
  uniquePrefix,
  writeApiConfig,
  type ApiKey,
  type NodeProcess,
  type PolicyOutcome,
} from '../helpers/node-process.js';

/** PRODUCT.md: every node follows an operator's action within a second. */
const PROPAGATION_MS = 1_000;
/** How long the poll goes on past the bound, so a miss reports how late it was. */
const POLL_LIMIT_MS = 5_000;

const prefix = uniquePrefix('two-nodes');
const env = { BLOCKSMITH_STORE_REDIS_PREFIX: prefix };
const records: Record<string, ZoneRecord[]> = {};
/** Negative answers carry the SOA (cached for its minimum, 300 s, as in real zones) unless turned off. */
let negativeCaching = true;
let dns: DnsTestServer;
let key: ApiKey;
let nodeA: NodeProcess | undefined;
let nodeB: NodeProcess | undefined;
let policyB: PolicyClient | undefined;
const cleanups: (() => Promise<void>)[] = [];

function a(): NodeProcess {
  assert.ok(nodeA !== undefined, 'node A did not start');
  return nodeA;
}
function b(): PolicyClient {
  assert.ok(policyB !== undefined, 'node B did not start');
  return policyB;
}

/** Gives `ip` a PTR to a name that resolves back to it: its owner has fixed the DNS. */
function fixDns(ip: string): void {
  const [o1, o2, o3, o4] = ip.split('.');
  const name = `host-${o4 ?? ''}.mail.example.com`;
  records[`${o4}.${o3}.${o2}.${o1}.in-addr.arpa`] = [{ type: 'PTR', data: name }];
  records[name] = [{ type: 'A', data: ip }];
  setZone();
}

function setZone(): void {
  dns.setZone({ records, ...(negativeCaching ? {} : { negativeSoa: false as const }) });
}

async function askB(ip: string): Promise<{ outcome: PolicyOutcome; action: string }> {
  const action = await b().ask(policyRequest(ip));
  return { outcome: classify(action), action };
}

/** The reverse name of an IPv4 address. */
function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/**
 * For a failure message only (the assertions observe decisions): the PTR queries the DNS server
 * got for `ip` since `queriesBefore`, and the stored listing as the CLI reads it.
 */
async function diagnose(ip: string, queriesBefore: number): Promise<string> {
  const ptr = dns.queryCount(reverseName(ip), 'PTR') - queriesBefore;
  const list = await runCli(['list', '--state', 'all', '--within', ip, '--json', '--store', SHARED_REDIS_URL], env);
  const audit = await runCli(['audit', '--target', ip, '--json', '--store', SHARED_REDIS_URL], env);
  return `PTR queries for ${ip} since the action: ${ptr}\nstored listing: ${list.stdout.trim() || '(none)'}\naudit: ${audit.stdout.trim()}`;
}

/** Polls B until it answers `want` for `ip`; asserts it did within PROPAGATION_MS of `since`. */
async function assertBFollows(ip: string, want: PolicyOutcome, since: number, what: string): Promise<number> {
  const queriesBefore = dns.queryCount(reverseName(ip), 'PTR');
  let last = '';
  const waited = await pollUntil(POLL_LIMIT_MS, async () => {
    const r = await askB(ip);
    last = r.action;
    return r.outcome === want;
  });
  const ms = waited === undefined ? undefined : Date.now() - since;
  if (ms === undefined) assert.fail(`${what}: B still answers "${last}" for ${ip} ${POLL_LIMIT_MS} ms later\n${await diagnose(ip, queriesBefore)}`);
  console.log(`# ${what}: B answered ${want} for ${ip} ${ms} ms after the action was acknowledged`);
  assert.ok(ms <= PROPAGATION_MS, `${what}: B answered ${want} for ${ip} only after ${ms} ms (bound ${PROPAGATION_MS} ms)`);
  return ms;
}

before(async () => {
  dns = await DnsTestServer.start({ records });
  cleanups.push(() => dns.stop());
  cleanups.push(() => deleteRedisPrefix(SHARED_REDIS_URL, prefix));
  const dir = await tempDir('two-nodes');
  cleanups.push(dir.remove);
  key = newApiKey();
  const configFile = await writeApiConfig(dir.path, key);
  const args = ['--store', SHARED_REDIS_URL, '--resolver', dns.upstream, '--policy', '127.0.0.1:0', '--http', '127.0.0.1:0'];
  [nodeA, nodeB] = await Promise.all([
    startNode({ args, env, configFile, cwd: dir.path, name: 'node A' }),
    startNode({ args, env, configFile, cwd: dir.path, name: 'node B' }),
  ]);
  policyB = await PolicyClient.connect(nodeB.endpoint('policy'));
});

after(async () => {
  policyB?.close();
  const stopped = await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  assert.deepEqual(stopped, [0, 0], 'both nodes stop cleanly on SIGTERM');
});

describe('two nodes on one Redis', { timeout: 60_000 }, () => {
  test('`blocksmith unblock` (CLI on the Redis) after a DNS fix: B accepts the address within a second', async () => {
    const ip = '192.0.2.141';
    const first = await askB(ip);
    assert.equal(first.outcome, 'reject', `no PTR: B refuses (and lists) ${ip}: ${first.action}`);
    fixDns(ip);
    const unblock = await runCli(['unblock', ip, '--store', SHARED_REDIS_URL, '--resolver', dns.upstream], env);
    assert.equal(unblock.code, 0, `unblock: ${unblock.stdout}${unblock.stderr}`);
    assert.match(unblock.stdout, /cleared/);
    await assertBFollows(ip, 'accept', Date.now(), 'unblock through the CLI');
  });

  test("a clear through A's API after a DNS fix: B accepts the address within a second (no negative DNS caching)", async () => {
    // The test above shows B re-listing from its cached NXDOMAIN; this one isolates the clear's
    // propagation: negative answers without SOA are not cached, so B's re-check asks the server.
    negativeCaching = false;
    setZone();
    const ip = '192.0.2.142';
    const first = await askB(ip);
    assert.equal(first.outcome, 'reject', `no PTR: B refuses ${ip}: ${first.action}`);
    fixDns(ip);
    const reply = await api(a().endpoint('http'), 'DELETE', `/api/v1/listings/${ip}`, { key: key.key, body: { note: 'fixed their PTR' } });
    const acknowledged = Date.now();
    assert.ok(reply.status >= 200 && reply.status < 300, `DELETE /api/v1/listings/${ip} on A: ${reply.status} ${reply.text}`);
    await assertBFollows(ip, 'accept', acknowledged, "clear through A's API");
  });

  test("an allow entry added through A's API: B accepts a listed address of the range, and a new one, within a second", async () => {
    const listed = '192.0.2.161';
    const fresh = '192.0.2.170';
    const first = await askB(listed);
    assert.equal(first.outcome, 'reject', `no PTR: B refuses ${listed}: ${first.action}`);
    const reply = await api(a().endpoint('http'), 'POST', '/api/v1/allowlist', { key: key.key, body: { range: '192.0.2.160/28', note: 'partner relay' } });
    const acknowledged = Date.now();
    assert.ok(reply.status >= 200 && reply.status < 300, `POST /api/v1/allowlist on A: ${reply.status} ${reply.text}`);
    await assertBFollows(listed, 'accept', acknowledged, "allow through A's API (listed address)");
    const other = await askB(fresh);
    assert.equal(other.outcome, 'accept', `an address of the allowed range B never saw, no PTR: ${other.action}`);
  });

  test("a listing by hand through A's API: B refuses an address its own check passes, within a second", async () => {
    const ip = '192.0.2.150';
    fixDns(ip);
    const first = await askB(ip);
    assert.equal(first.outcome, 'accept', `good DNS: B accepts ${ip}: ${first.action}`);
    const reply = await api(a().endpoint('http'), 'POST', '/api/v1/listings', { key: key.key, body: { ip, note: 'spam run' } });
    const acknowledged = Date.now();
    assert.ok(reply.status >= 200 && reply.status < 300, `POST /api/v1/listings on A: ${reply.status} ${reply.text}`);
    await assertBFollows(ip, 'reject', acknowledged, "listing through A's API");
  });
});
