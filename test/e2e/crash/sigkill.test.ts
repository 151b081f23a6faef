/**
 * NAME
 *   crash/sigkill.test - an acknowledged operator action survives a SIGKILL of the node
 *
 * DESCRIPTION
 *   `blocksmith serve` runs with its HTTP API and one operator key, on SQLite (--data in a temp
 *   dir), and again on Redis (the machine's, under a key prefix of its own). Several clients fire
 *   operator actions at the API without pause: listings by hand (POST /api/v1/listings), allow
 *   entries (POST /api/v1/allowlist), and clears of listings acknowledged earlier (DELETE
 *   /api/v1/listings/:ip). Every action answered 2xx is recorded. At a random moment, with
 *   requests in flight, the node gets SIGKILL; it is started again on the same store, and every
 *   acknowledged action must be there: read back with the CLI (`list --state all --json`,
 *   `allow list --all --json`) and, for a sample, through the API (GET /api/v1/ip/:ip). An
 *   action that got no answer (the kill cut it) may or may not be there; either is correct.
 *
 *   Rounds repeat on the same store, so each round also re-checks everything acknowledged in
 *   earlier rounds. Each round is bounded: at most ROUND_LOAD_MAX_MS of load before the kill.
 *
 *   While the node is up, every answer must be 2xx: a 4xx/5xx to a well-formed action from an
 *   authorised client is a failure of its own (recorded and reported).
 *
 *   Listings made by decisions are killed in the middle too. A decision never waits for the
 *   store (firewall/writer.ts): the MTA gets its refusal first and the listing is written in the
 *   background within about a second. So nobody is told "stored" for such a listing, and
 *   "acknowledged" here means: an operator read of the store (GET /api/v1/listings, which reads
 *   the store, not the hot cache) returned it before the kill. Every listing acknowledged that
 *   way must be there after the restart. A refusal whose listing was not yet committed may be
 *   lost (the figure is printed); what must hold for it is that the restarted node refuses the
 *   address again (a live check finds the same broken DNS): a crash never turns a refusal into
 *   an accept.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsTestServer } from '../../helpers/dns-test-server.js';
import {
  PolicyClient,
  SHARED_REDIS_URL,
  api,
  classify,
  policyRequest,
  deleteRedisPrefix,
  jsonLines,
  newApiKey,
  runCli,
  sleep,
  startNode,
  tempDir,
  uniquePrefix,
  writeApiConfig,
  type ApiKey,
  type Endpoint,
  type NodeProcess,
} from '../helpers/node-process.js';

const ROUNDS = 3;
/** Concurrent API clients. */
const WORKERS = 4;
/** Acknowledged actions a round waits for before the kill may come (bounded by ROUND_LOAD_MAX_MS). */
const MIN_ACKS_BEFORE_KILL = 30;
/** The kill comes at a random moment this long after MIN_ACKS_BEFORE_KILL (or the load cap). */
const KILL_JITTER_MS = 700;
const ROUND_LOAD_MAX_MS = 8_000;
/** After the kill, the clients' cut requests must all have settled within this. */
const SETTLE_MS = 10_000;
/** Of the listings acknowledged in a round, this many are read back through GET /api/v1/ip/:ip. */
const API_SAMPLE = 5;

type Action =
  | { readonly kind: 'list'; readonly ip: string; readonly note: string }
  | { readonly kind: 'allow'; readonly range: string; readonly note: string }
  | { readonly kind: 'clear'; readonly ip: string; readonly note: string };

interface Ack {
  readonly action: Action;
  readonly round: number;
  /** The HTTP status, or 0: no answer (cut by the kill), so the action may or may not be done. */
  readonly status: number;
  readonly body: unknown;
}

interface Backend {
  readonly name: 'sqlite' | 'redis';
  /** serve/CLI arguments naming the store. */
  readonly storeArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  cleanup(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** What a round's clients did: acknowledged, refused while up (a bug), cut (no answer), in the order they ended. */
interface Load {
  readonly acks: Ack[];
  readonly refused: { action: Action; status: number; text: string }[];
  readonly cut: Ack[];
  /** Acknowledged and cut actions, in the order their answers (or errors) came. */
  readonly history: Ack[];
}

/** The stored listings, by IP, and allow entries, by note, as the CLI reads them. */
async function readStore(backend: Backend): Promise<{ listings: Map<string, { state: string; note?: string }>; allows: Map<string, { id: string; range: string }> }> {
  const [list, allow] = await Promise.all([
    runCli(['list', '--state', 'all', '--limit', '100000', '--json', ...backend.storeArgs], backend.env),
    runCli(['allow', 'list', '--all', '--json', ...backend.storeArgs], backend.env),
  ]);
  assert.equal(list.code, 0, `blocksmith list: ${list.stderr}`);
  assert.equal(allow.code, 0, `blocksmith allow list: ${allow.stderr}`);
  const listings = new Map<string, { state: string; note?: string }>();
  for (const l of jsonLines<{ ip: string; state: string; note?: string }>(list.stdout)) listings.set(l.ip, l);
  const allows = new Map<string, { id: string; range: string }>();
  for (const a of jsonLines<{ id: string; range: string; note: string }>(allow.stdout)) allows.set(a.note, a);
  return { listings, allows };
}

/** The id an API answer gives for a new allow entry, wherever the body keeps it. */
function allowIdOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const o = body as Record<string, unknown>;
  for (const candidate of [o, o.entry, o.allow, o.data]) {
    if (typeof candidate === 'object' && candidate !== null && typeof (candidate as Record<string, unknown>).id === 'string') {
      return (candidate as Record<string, string>).id;
    }
  }
  return undefined;
}

/** Runs WORKERS clients until `stop()`; each picks the next action and records its answer. */
function fireLoad(http: Endpoint, key: ApiKey, round: number, listedEarlier: string[]): { load: Load; stop: () => Promise<void> } {
  const load: Load = { acks: [], refused: [], cut: [], history: [] };
  let stopped = false;
  let n = 0;
  const clearable = [...listedEarlier];
  const next = (): Action => {
    n += 1;
    const note = `crash r${round} n${n}`;
    // Every fifth action clears a listing acknowledged before (this round or an earlier one).
    if (n % 5 === 0 && clearable.length > 0) {
      const ip = clearable.splice(Math.floor(Math.random() * clearable.length), 1)[0] as string;
      return { kind: 'clear', ip, note };
    }
    if (n % 2 === 0) return { kind: 'allow', range: `2001:db8:a${round}:${n.toString(16)}::/64`, note };
    return { kind: 'list', ip: `2001:db8:c${round}::${n.toString(16)}`, note };
  };
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const action = next();
      try {
        const reply =
          action.kind === 'list'
            ? await api(http, 'POST', '/api/v1/listings', { key: key.key, body: { ip: action.ip, note: action.note } })
            : action.kind === 'allow'
              ? await api(http, 'POST', '/api/v1/allowlist', { key: key.key, body: { range: action.range, note: action.note } })
              : await api(http, 'DELETE', `/api/v1/listings/${encodeURIComponent(action.ip)}`, { key: key.key, body: { note: action.note } });
        if (reply.status >= 200 && reply.status < 300) {
          const ack = { action, round, status: reply.status, body: reply.body };
          load.acks.push(ack);
          load.history.push(ack);
          if (action.kind === 'list') clearable.push(action.ip);
        } else {
          load.refused.push({ action, status: reply.status, text: reply.text.slice(0, 300) });
        }
      } catch {
        // No answer: the kill cut it (or it went to a dead node). Not acknowledged: its IP's state is unknown now.
        const cut = { action, round, status: 0, body: undefined };
        load.cut.push(cut);
        load.history.push(cut);
      }
    }
  };
  const workers = Array.from({ length: WORKERS }, () => worker());
  return {
    load,
    stop: async () => {
      stopped = true;
      await Promise.race([Promise.all(workers), sleep(SETTLE_MS).then(() => assert.fail(`clients still busy ${SETTLE_MS} ms after the kill`))]);
    },
  };
}

async function waitForAcks(load: Load, count: number, limitMs: number): Promise<void> {
  const start = Date.now();
  while (load.acks.length < count && Date.now() - start < limitMs) await sleep(10);
}

/**
 * The state the history implies: per IP, the latest acknowledged action wins; an IP whose latest
 * action got no answer is unknown (either state is correct) and left out. Allow entries: every
 * acknowledged one (an unanswered add may or may not exist).
 */
function expected(history: readonly Ack[]): { listings: Map<string, 'active' | 'cleared'>; allows: Map<string, { range: string; id: string | undefined }> } {
  const listings = new Map<string, 'active' | 'cleared'>();
  const allows = new Map<string, { range: string; id: string | undefined }>();
  for (const a of history) {
    if (a.action.kind === 'allow') {
      if (a.status !== 0) allows.set(a.action.note, { range: a.action.range, id: allowIdOf(a.body) });
      continue;
    }
    if (a.status === 0) listings.delete(a.action.ip);
    else listings.set(a.action.ip, a.action.kind === 'list' ? 'active' : 'cleared');
  }
  return { listings, allows };
}

async function crashRounds(backend: Backend): Promise<void> {
  const dir = await tempDir(`crash-${backend.name}`);
  cleanups.push(dir.remove);
  const dns = await DnsTestServer.start({ records: {} });
  cleanups.push(() => dns.stop());
  const key = newApiKey();
  const configFile = await writeApiConfig(dir.path, key);
  const args = [...backend.storeArgs, '--resolver', dns.upstream, '--http', '127.0.0.1:0', '--policy', 'none'];
  const start = (round: number): Promise<NodeProcess> => startNode({ args, env: backend.env, configFile, cwd: dir.path, name: `${backend.name} node, round ${round}` });

  const all: Ack[] = [];
  let node = await start(1);
  cleanups.push(() => node.stop().then(() => undefined));
  for (let round = 1; round <= ROUNDS; round++) {
    const http = node.endpoint('http');
    const listedEarlier = [...expected(all).listings].filter(([, s]) => s === 'active').map(([ip]) => ip);
    const { load, stop } = fireLoad(http, key, round, listedEarlier);
    await waitForAcks(load, MIN_ACKS_BEFORE_KILL, ROUND_LOAD_MAX_MS);
    await sleep(Math.floor(Math.random() * KILL_JITTER_MS));
    const acksAtKill = load.acks.length;
    node.kill('SIGKILL');
    // No new action after the signal; those in flight race the kill.
    const settled = stop();
    assert.equal(await node.exited, 'SIGKILL', `${node.name} ended by SIGKILL`);
    await settled;
    all.push(...load.history);

    assert.deepEqual(load.refused, [], `${node.name}: actions refused while the node was up`);
    assert.ok(load.acks.length >= MIN_ACKS_BEFORE_KILL, `${node.name}: only ${load.acks.length} actions acknowledged before the kill (load too slow?)\n${node.diagnostics()}`);
    // The answers racing the kill: acknowledged after the count above was taken, cut, or neither.
    console.log(`# ${backend.name} round ${round}: ${load.acks.length} acknowledged (${load.acks.length - acksAtKill} after the kill signal was sent), ${load.cut.length} cut by the kill`);

    node = await start(round + 1);
    const want = expected(all);
    const got = await readStore(backend);
    const missing: string[] = [];
    for (const [ip, state] of want.listings) {
      const stored = got.listings.get(ip);
      if (stored === undefined) missing.push(`listing ${ip} (acknowledged ${state}): not stored`);
      else if (stored.state !== state) missing.push(`listing ${ip}: acknowledged ${state}, stored ${stored.state}`);
    }
    for (const [note, allow] of want.allows) {
      const stored = got.allows.get(note);
      if (stored === undefined) missing.push(`allow ${allow.range} (${note}): not stored`);
      else if (allow.id !== undefined && stored.id !== allow.id) missing.push(`allow ${allow.range}: acknowledged id ${allow.id}, stored ${stored.id}`);
    }
    const acknowledged = all.filter((a) => a.status !== 0).length;
    assert.deepEqual(missing, [], `after the kill in round ${round}, acknowledged actions lost (${acknowledged} acknowledged so far)`);

    // The restarted node itself serves what was acknowledged (a sample, through its API).
    const sample = load.acks.flatMap((a) => (a.action.kind === 'list' && want.listings.has(a.action.ip) ? [a.action.ip] : [])).slice(-API_SAMPLE);
    for (const ip of sample) {
      const reply = await api(node.endpoint('http'), 'GET', `/api/v1/ip/${encodeURIComponent(ip)}`, { key: key.key });
      assert.equal(reply.status, 200, `GET /api/v1/ip/${ip}: ${reply.text}`);
      const state = want.listings.get(ip);
      assert.equal(listedIn(reply.body), state === 'active', `GET /api/v1/ip/${ip} after restart (acknowledged ${state}): ${reply.text}`);
    }
  }
  assert.equal(await node.stop(), 0, `the last node stops cleanly\n${node.diagnostics()}`);
  await backend.cleanup();
}

/** Whether an /api/v1/ip/:ip answer says the address has an active listing. */
function listedIn(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const o = body as Record<string, unknown>;
  if (typeof o.listed === 'boolean') return o.listed;
  const listing = o.listing as Record<string, unknown> | null | undefined;
  return typeof listing === 'object' && listing !== null && listing.state === 'active';
}

describe('SIGKILL during operator actions through the API', { timeout: 180_000 }, () => {
  test('SQLite: every acknowledged listing, clear and allow entry is there after the restart', async () => {
    const dir = await tempDir('crash-sqlite-data');
    cleanups.push(dir.remove);
    await crashRounds({ name: 'sqlite', storeArgs: ['--data', dir.path], env: {}, cleanup: () => Promise.resolve() });
  });

  test('Redis: the same on a shared Redis, under a key prefix of its own', async () => {
    const prefix = uniquePrefix('crash');
    cleanups.push(() => deleteRedisPrefix(SHARED_REDIS_URL, prefix));
    await crashRounds({
      name: 'redis',
      storeArgs: ['--store', SHARED_REDIS_URL],
      env: { BLOCKSMITH_STORE_REDIS_PREFIX: prefix },
      cleanup: () => deleteRedisPrefix(SHARED_REDIS_URL, prefix),
    });
  });
});

// ---- listings made by decisions ---------------------------------------------------------------

/** Policy connections refusing fresh addresses (each refusal makes a listing). */
const DECISION_CONNECTIONS = 4;
/** Listings seen in the store before the kill may come. */
const MIN_STORED_BEFORE_KILL = 40;
const STORE_POLL_MS = 100;

/** Every active listing under `within`, read from the store through the operator API (paged). */
async function storedListings(http: Endpoint, key: ApiKey, within: string): Promise<Set<string>> {
  const ips = new Set<string>();
  let after: string | undefined;
  for (let page = 0; page < 50; page++) {
    const query = `state=active&limit=1000&within=${encodeURIComponent(within)}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`;
    const reply = await api(http, 'GET', `/api/v1/listings?${query}`, { key: key.key });
    if (reply.status !== 200) throw new Error(`GET /api/v1/listings: ${reply.status} ${reply.text}`);
    const body = reply.body as { items: { ip: string }[]; next?: string };
    for (const item of body.items) ips.add(item.ip);
    if (body.next === undefined) break;
    after = body.next;
  }
  return ips;
}

async function decisionCrashRounds(backend: Backend): Promise<void> {
  const dir = await tempDir(`crash-decisions-${backend.name}`);
  cleanups.push(dir.remove);
  // No records at all: every reverse name is NXDOMAIN, so every address is refused and listed.
  const dns = await DnsTestServer.start({ records: {} });
  cleanups.push(() => dns.stop());
  const key = newApiKey();
  const configFile = await writeApiConfig(dir.path, key);
  const args = [...backend.storeArgs, '--resolver', dns.upstream, '--http', '127.0.0.1:0', '--policy', '127.0.0.1:0'];
  const start = (round: number): Promise<NodeProcess> => startNode({ args, env: backend.env, configFile, cwd: dir.path, name: `${backend.name} decisions node, round ${round}` });

  const acknowledged = new Set<string>();
  let node = await start(1);
  cleanups.push(() => node.stop().then(() => undefined));
  for (let round = 1; round <= ROUNDS; round++) {
    const within = `2001:db8:d${round}::/48`;
    const http = node.endpoint('http');
    const clients = await Promise.all(Array.from({ length: DECISION_CONNECTIONS }, () => PolicyClient.connect(node.endpoint('policy'))));
    const refused: string[] = [];
    const otherAnswers: string[] = [];
    let stopped = false;
    let n = 0;
    const drive = async (client: PolicyClient): Promise<void> => {
      while (!stopped) {
        const ip = `2001:db8:d${round}::${(++n).toString(16)}`;
        try {
          const action = await client.ask(policyRequest(ip));
          if (classify(action) === 'reject') refused.push(ip);
          else otherAnswers.push(`${ip}: ${action}`);
        } catch {
          return; // the kill cut the connection
        }
      }
    };
    const drivers = clients.map((c) => drive(c));
    // The store's view, polled: what it returns is acknowledged as stored.
    let seenAtKill = 0;
    const started = Date.now();
    while (Date.now() - started < ROUND_LOAD_MAX_MS) {
      for (const ip of await storedListings(http, key, within)) acknowledged.add(ip);
      if ([...acknowledged].filter((ip) => ip.startsWith(`2001:db8:d${round}:`)).length >= MIN_STORED_BEFORE_KILL) break;
      await sleep(STORE_POLL_MS);
    }
    await sleep(Math.floor(Math.random() * KILL_JITTER_MS));
    // One last read right before the kill: what it returns is acknowledged too.
    for (const ip of await storedListings(http, key, within)) acknowledged.add(ip);
    seenAtKill = [...acknowledged].filter((ip) => ip.startsWith(`2001:db8:d${round}:`)).length;
    const refusedAtKill = refused.length;
    node.kill('SIGKILL');
    stopped = true;
    assert.equal(await node.exited, 'SIGKILL', `${node.name} ended by SIGKILL`);
    await Promise.race([Promise.all(drivers), sleep(SETTLE_MS)]);
    for (const c of clients) c.close();
    assert.deepEqual(otherAnswers.slice(0, 5), [], `${node.name}: every address with no PTR is refused`);
    assert.ok(seenAtKill >= MIN_STORED_BEFORE_KILL, `${node.name}: only ${seenAtKill} listings stored before the kill (load too slow?)\n${node.diagnostics()}`);

    node = await start(round + 1);
    const got = await readStore(backend);
    const lost = [...acknowledged].filter((ip) => got.listings.get(ip)?.state !== 'active');
    assert.deepEqual(lost.slice(0, 20), [], `after the kill in round ${round}: ${lost.length} of ${acknowledged.size} listings seen stored are gone`);
    const notYet = refused.filter((ip) => got.listings.get(ip)?.state !== 'active');
    console.log(`# ${backend.name} decisions round ${round}: ${refusedAtKill} refused before the kill, ${seenAtKill} of them seen stored; after the restart ${refused.length - notYet.length} of ${refused.length} refusals are stored, ${notYet.length} were not yet written`);

    // A refusal whose listing the kill took is refused again by the restarted node.
    const again = await PolicyClient.connect(node.endpoint('policy'));
    try {
      const sample = [...notYet.slice(-20), ...refused.slice(0, 5)];
      for (const ip of sample) {
        const action = await again.ask(policyRequest(ip));
        assert.equal(classify(action), 'reject', `${ip} (refused before the kill${notYet.includes(ip) ? ', listing not yet written' : ''}) asked again after the restart: ${action}`);
      }
    } finally {
      again.close();
    }
  }
  assert.equal(await node.stop(), 0, `the last node stops cleanly\n${node.diagnostics()}`);
  await dns.stop();
  await backend.cleanup();
}

describe('SIGKILL while decisions are making listings', { timeout: 360_000 }, () => {
  test('SQLite: every listing seen stored before the kill is there after it; the rest are refused again', async () => {
    const dir = await tempDir('crash-decisions-sqlite-data');
    cleanups.push(dir.remove);
    await decisionCrashRounds({ name: 'sqlite', storeArgs: ['--data', dir.path], env: {}, cleanup: () => Promise.resolve() });
  });

  test('Redis: the same on a shared Redis, under a key prefix of its own', async () => {
    const prefix = uniquePrefix('crash-decisions');
    cleanups.push(() => deleteRedisPrefix(SHARED_REDIS_URL, prefix));
    await decisionCrashRounds({
      name: 'redis',
      storeArgs: ['--store', SHARED_REDIS_URL],
      env: { BLOCKSMITH_STORE_REDIS_PREFIX: prefix },
      cleanup: () => deleteRedisPrefix(SHARED_REDIS_URL, prefix),
    });
  });
});
