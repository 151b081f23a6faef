/**
 * NAME
 *   cluster/redis-outage.test - Redis dies under a load of policy requests: decisions go on,
 *   operator actions fail clearly, and the listings made meanwhile reach Redis when it returns
 *
 * DESCRIPTION
 *   A redis-server of the test's own (a free loopback port, append-only file: never the
 *   machine's Redis), `blocksmith serve` on it with its policy service and HTTP API, and an
 *   in-process DNS test server. Before the load, a few addresses with no PTR are refused and so
 *   listed. Then CONNECTIONS policy clients send requests at a bounded rate (RATE_PER_S) for
 *   LOAD_MS, and at least until Redis has been back for AFTER_OUTAGE_MS, from
 *   three kinds of address: good DNS (accept), listed before (refused from the hot cache), and
 *   new addresses with no PTR (refused by a live check, which lists them). Partway, Redis gets
 *   SIGKILL; during the outage an operator action through the API must fail with 503 and the
 *   store-unavailable code, and the CLI's `block` must exit 75 (BS_ERR_STORE_UNAVAILABLE);
 *   then Redis is started again on the same port and data.
 *
 *   Every request must be answered, each as its address's kind says (the hot cache and the
 *   checks do not need Redis), the node must not crash, and after Redis returns every address
 *   refused during the outage must be stored as listed (read back with the CLI once the retry
 *   has run), with the listings from before the outage still there.
 *
 *   Operator actions run through the whole load as well (one client, listings by hand and allow
 *   entries, one every OPERATOR_GAP_MS): before the kill and after the restart each must be
 *   acknowledged (2xx); while Redis is down each must be a 503 BS_API_UNAVAILABLE or have no
 *   answer, and none may be a 500. Afterwards every acknowledged one, from before and after the
 *   outage, is read back with the CLI; none that was refused is there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsTestServer, type ZoneRecord } from '../../helpers/dns-test-server.js';
import {
  OwnRedis,
  PolicyClient,
  api,
  askOnce,
  classify,
  jsonLines,
  newApiKey,
  policyRequest,
  runCli,
  sleep,
  startNode,
  tempDir,
  uniquePrefix,
  withTimeout,
  writeApiConfig,
  type ApiKey,
  type NodeProcess,
  type PolicyOutcome,
} from '../helpers/node-process.js';

const CONNECTIONS = 8;
/** Requests per second over all connections (bounded load). */
const RATE_PER_S = 300;
/** The load lasts this long, and at least AFTER_OUTAGE_MS past Redis's return. */
const LOAD_MS = 8_000;
const AFTER_OUTAGE_MS = 2_000;
/**
 * Redis is killed this long into the load, and started again at REDIS_BACK_AT_MS, or once the
 * operator actions tried during the outage have ended if that is later (a slow CLI start on a
 * busy machine must not see Redis back).
 */
const REDIS_DOWN_AT_MS = 2_000;
const REDIS_BACK_AT_MS = 5_000;
/** The operator actions are tried this long after the kill. */
const OPERATOR_AT_MS = 300;
/** Retry period of queued writes, shortened so the test does not wait the default 5 s. */
const RETRY_EVERY_MS = 500;
/** After the load, how long the queued listings may take to reach Redis. */
const WRITE_BACK_MS = 15_000;
/** The operator client's pace (one action at a time). */
const OPERATOR_GAP_MS = 100;
/** After Redis is back, operator actions may still fail this long (the client's reconnect delay). */
const RECONNECT_GRACE_MS = 1_500;
/** Operator actions acknowledged before the load begins. */
const PRE_LOAD_ACTIONS = 15;

const PASSING = ['192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.13'];
const LISTED_BEFORE = ['192.0.2.40', '192.0.2.41', '192.0.2.42', '192.0.2.43'];

const prefix = uniquePrefix('outage');
const env = { BLOCKSMITH_STORE_REDIS_PREFIX: prefix, BLOCKSMITH_FIREWALL_RETRY_EVERY_MS: String(RETRY_EVERY_MS) };
let dns: DnsTestServer;
let redis: OwnRedis | undefined;
let node: NodeProcess | undefined;
let key: ApiKey;
const cleanups: (() => Promise<void>)[] = [];

function passingZone(): Record<string, ZoneRecord[]> {
  const records: Record<string, ZoneRecord[]> = {};
  for (const ip of PASSING) {
    const last = ip.split('.')[3] ?? '';
    records[`${last}.2.0.192.in-addr.arpa`] = [{ type: 'PTR', data: `mail${last}.example.com` }];
    records[`mail${last}.example.com`] = [{ type: 'A', data: ip }];
  }
  return records;
}

before(async () => {
  dns = await DnsTestServer.start({ records: passingZone() });
  cleanups.push(() => dns.stop());
  const own = await OwnRedis.create();
  redis = own;
  cleanups.push(() => own.destroy());
  await own.start();
  const dir = await tempDir('outage');
  cleanups.push(dir.remove);
  key = newApiKey();
  const configFile = await writeApiConfig(dir.path, key);
  node = await startNode({
    args: ['--store', own.url, '--resolver', dns.upstream, '--policy', '127.0.0.1:0', '--http', '127.0.0.1:0'],
    env,
    configFile,
    cwd: dir.path,
    name: 'node',
  });
});

after(async () => {
  const status = await node?.stop();
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  assert.equal(status, 0, 'the node stops cleanly on SIGTERM after the outage');
});

interface Answer {
  readonly ip: string;
  readonly kind: 'passing' | 'listed-before' | 'fresh';
  readonly outcome: PolicyOutcome | 'no answer';
  readonly action: string;
  readonly at: number;
}

const WANT: Readonly<Record<Answer['kind'], PolicyOutcome>> = { passing: 'accept', 'listed-before': 'reject', fresh: 'reject' };

describe('Redis outage under a load of policy requests', { timeout: 120_000 }, () => {
  test('decisions go on, operator actions fail clearly, and the outage listings are written when Redis returns', async () => {
    assert.ok(node !== undefined && redis !== undefined);
    const policy = node.endpoint('policy');
    const http = node.endpoint('http');
    const ownRedis = redis;

    for (const ip of LISTED_BEFORE) {
      const action = await askOnce(policy, ip);
      assert.equal(classify(action), 'reject', `no PTR, before the outage: ${ip} refused: ${action}`);
    }

    type OpAnswer = { readonly kind: 'list' | 'allow'; readonly target: string; readonly note: string; readonly status: number; readonly code: unknown; readonly at: number; readonly endAt: number };
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => PolicyClient.connect(policy)));
    const answers: Answer[] = [];
    let started = Date.now();
    let fresh = 0;
    const nextAddress = (i: number): { ip: string; kind: Answer['kind'] } => {
      if (i % 3 === 0) return { ip: PASSING[i % PASSING.length] as string, kind: 'passing' };
      if (i % 3 === 1) return { ip: LISTED_BEFORE[i % LISTED_BEFORE.length] as string, kind: 'listed-before' };
      fresh += 1;
      return { ip: `2001:db8:bad::${fresh.toString(16)}`, kind: 'fresh' };
    };
    // Each connection sends at RATE_PER_S / CONNECTIONS, one request at a time (Postfix's way).
    const perConnectionGapMs = (1_000 * CONNECTIONS) / RATE_PER_S;
    let sent = 0;
    // Until Redis is back the load goes on whatever the time; then LOAD_MS, and AFTER_OUTAGE_MS at least.
    let loadUntil = Number.POSITIVE_INFINITY;
    const drive = async (client: PolicyClient, c: number): Promise<void> => {
      let due = started + c * (perConnectionGapMs / CONNECTIONS);
      while (Date.now() - started < loadUntil) {
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        due += perConnectionGapMs;
        const { ip, kind } = nextAddress(sent++);
        try {
          const action = await client.ask(policyRequest(ip));
          answers.push({ ip, kind, outcome: classify(action), action, at: Date.now() - started });
        } catch (err) {
          answers.push({ ip, kind, outcome: 'no answer', action: String(err), at: Date.now() - started });
          return; // the connection is unusable after a timeout or a close
        }
      }
    };

    // Operator actions all along: listings by hand in 203.0.113.0/24, allow entries in 2001:db8:a11::/48;
    // PRE_LOAD_ACTIONS of them before the load starts, then one at a time until the load ends.
    const opAnswers: OpAnswer[] = [];
    const operatorAction = async (n: number): Promise<void> => {
      const kind = n % 3 === 0 ? 'allow' : 'list';
      const target = kind === 'list' ? `203.0.113.${n % 250}` : `2001:db8:a11:${n.toString(16)}::/64`;
      const note = `outage op ${n}`;
      const at = Date.now() - started;
      try {
        const reply =
          kind === 'list'
            ? await api(http, 'POST', '/api/v1/listings', { key: key.key, body: { ip: target, note } })
            : await api(http, 'POST', '/api/v1/allowlist', { key: key.key, body: { range: target, note } });
        const body = reply.body as { error?: { code?: unknown } } | undefined;
        opAnswers.push({ kind, target, note, status: reply.status, code: body?.error?.code, at, endAt: Date.now() - started });
      } catch (err) {
        opAnswers.push({ kind, target, note, status: 0, code: String(err), at, endAt: Date.now() - started });
      }
    };
    for (let n = 1; n <= PRE_LOAD_ACTIONS; n++) await operatorAction(n);
    // The load's clock starts after the burst (the phases are measured from here).
    const burstMs = Date.now() - started;
    started = Date.now();
    opAnswers.splice(0, opAnswers.length, ...opAnswers.map((o) => ({ ...o, at: -1, endAt: -1 })));
    const load = Promise.all(clients.map((client, c) => drive(client, c)));
    const operator = (async (): Promise<void> => {
      for (let n = PRE_LOAD_ACTIONS + 1; Date.now() - started < loadUntil; n++) {
        await operatorAction(n);
        await sleep(OPERATOR_GAP_MS);
      }
    })();

    // The outage, and the operator's actions during it (the load goes on meanwhile).
    await sleep(REDIS_DOWN_AT_MS);
    await ownRedis.kill();
    const downAt = Date.now() - started;
    await sleep(OPERATOR_AT_MS);
    let t = Date.now();
    const during = await api(http, 'POST', '/api/v1/listings', { key: key.key, body: { ip: '198.51.100.99', note: 'during the outage' } });
    const apiMs = Date.now() - t;
    t = Date.now();
    const cli = await runCli(['block', '198.51.100.98', '--note', 'during the outage', '--store', ownRedis.url], env);
    const cliMs = Date.now() - t;
    const sleepLeft = REDIS_BACK_AT_MS - (Date.now() - started);
    if (sleepLeft > 0) await sleep(sleepLeft);
    await ownRedis.start();
    const backAt = Date.now() - started;
    loadUntil = Math.max(LOAD_MS, backAt + AFTER_OUTAGE_MS);
    await withTimeout(load, AFTER_OUTAGE_MS + 15_000, 'the policy load');
    await withTimeout(operator, 15_000, 'the operator client');
    // And a burst after the load, so that "after the restart" holds more than a handful.
    for (let n = 1_000; n < 1_000 + PRE_LOAD_ACTIONS; n++) await operatorAction(n);
    for (const client of clients) client.close();
    console.log(`# during the outage: API answered ${during.status} in ${apiMs} ms; CLI block exited ${cli.code} in ${cliMs} ms (process start included)`);

    // Operator actions during the outage: a clear error, nothing pretended.
    assert.equal(during.status, 503, `API listing during the outage: ${during.status} ${during.text}`);
    const code = (during.body as { code?: unknown; error?: { code?: unknown } } | undefined)?.code ?? (during.body as { error?: { code?: unknown } } | undefined)?.error?.code;
    assert.equal(code, 'BS_API_UNAVAILABLE', `a stable code in the 503: ${during.text}`);
    assert.equal(cli.code, 75, `CLI block during the outage: exit ${cli.code} ${cli.stderr}`);
    assert.match(cli.stderr, /^blocksmith: /);

    // Every request answered, as its address's kind says, before, during and after the outage.
    const inOutage = answers.filter((x) => x.at >= downAt && x.at <= backAt);
    const afterOutage = answers.filter((x) => x.at > backAt);
    const wrong = answers.filter((x) => x.outcome !== WANT[x.kind]);
    const summary = `${answers.length} answers (${inOutage.length} while Redis was down, ${downAt}-${backAt} ms; ${afterOutage.length} after)`;
    console.log(`# ${summary}; ${sent} sent over ${CONNECTIONS} connections`);
    assert.deepEqual(
      wrong.slice(0, 10).map((x) => `${x.at} ms ${x.ip} (${x.kind}): ${x.outcome} ${x.action}`),
      [],
      `${wrong.length} of ${summary} not as expected\n${node.diagnostics()}`,
    );
    assert.equal(answers.length, sent, 'every request sent got an answer');
    for (const kind of ['passing', 'listed-before', 'fresh'] as const) {
      assert.ok(inOutage.some((x) => x.kind === kind), `${kind} addresses were answered during the outage: ${summary}`);
    }
    assert.ok(afterOutage.length > 0, `the load went on after Redis returned: ${summary}`);
    assert.ok(node.running, `the node is still running\n${node.diagnostics()}`);

    // What was refused during the outage reaches Redis once it is back; nothing from before is lost.
    const want = new Set([...LISTED_BEFORE, ...answers.filter((x) => x.kind === 'fresh').map((x) => x.ip)]);
    let missing: string[] = [...want];
    const deadline = Date.now() + WRITE_BACK_MS;
    while (missing.length > 0 && Date.now() < deadline) {
      const list = await runCli(['list', '--limit', '100000', '--json', '--store', ownRedis.url], env);
      if (list.code === 0) {
        const stored = new Set(jsonLines<{ ip: string }>(list.stdout).map((l) => l.ip));
        missing = [...want].filter((ip) => !stored.has(ip));
      }
      if (missing.length > 0) await sleep(500);
    }
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} of ${want.size} refused addresses not stored as listed ${WRITE_BACK_MS} ms after the load\n${node.diagnostics()}`);
    const notListed = await runCli(['list', '--within', '198.51.100.98/31', '--state', 'all', '--json', '--store', ownRedis.url], env);
    assert.equal(notListed.stdout, '', 'the refused operator actions left nothing behind');

    // And the node takes operator actions again.
    const afterwards = await api(http, 'POST', '/api/v1/listings', { key: key.key, body: { ip: '198.51.100.97', note: 'after the outage' } });
    assert.ok(afterwards.status >= 200 && afterwards.status < 300, `API listing after the outage: ${afterwards.status} ${afterwards.text}`);

    // The operator actions made all along: acknowledged before and after, refused clearly between.
    const ok = (a: OpAnswer): boolean => a.status >= 200 && a.status < 300;
    const before = opAnswers.filter((a) => a.endAt < downAt);
    const outage = opAnswers.filter((a) => a.at > downAt && a.endAt < backAt);
    // After the restart, ioredis reconnects within its retry delay: allow it RECONNECT_GRACE_MS.
    const afterBack = opAnswers.filter((a) => a.at > backAt + RECONNECT_GRACE_MS);
    console.log(
      `# operator actions: ${PRE_LOAD_ACTIONS} before the load (${burstMs} ms); ${before.filter(ok).length}/${before.length} acknowledged before the kill, ${outage.filter((a) => a.status === 503).length}/${outage.length} refused with 503 during, ${afterBack.filter(ok).length}/${afterBack.length} acknowledged after the restart (+${RECONNECT_GRACE_MS} ms)`,
    );
    assert.ok(before.length > 0 && outage.length > 0 && afterBack.length > 0, `operator actions in each phase: ${before.length} / ${outage.length} / ${afterBack.length}`);
    assert.deepEqual(before.filter((a) => !ok(a)).map((a) => `${a.kind} ${a.target}: ${a.status} ${String(a.code)}`), [], 'before the kill: every operator action acknowledged');
    assert.deepEqual(afterBack.filter((a) => !ok(a)).map((a) => `${a.kind} ${a.target}: ${a.status} ${String(a.code)}`), [], 'after the restart: every operator action acknowledged');
    assert.deepEqual(
      opAnswers.filter((a) => !ok(a) && !(a.status === 503 && a.code === 'BS_API_UNAVAILABLE') && a.status !== 0).map((a) => `${a.at} ms ${a.kind} ${a.target}: ${a.status} ${String(a.code)}`),
      [],
      'a refused operator action is a 503 BS_API_UNAVAILABLE (or got no answer), never a 500',
    );
    const [opList, opAllow] = await Promise.all([
      runCli(['list', '--within', '203.0.113.0/24', '--state', 'all', '--limit', '100000', '--json', '--store', ownRedis.url], env),
      runCli(['allow', 'list', '--all', '--json', '--store', ownRedis.url], env),
    ]);
    assert.equal(opList.code, 0, opList.stderr);
    assert.equal(opAllow.code, 0, opAllow.stderr);
    const listedNotes = new Set(jsonLines<{ ip: string; note?: string }>(opList.stdout).map((l) => l.ip));
    const allowNotes = new Set(jsonLines<{ note: string }>(opAllow.stdout).map((a) => a.note));
    const lost = opAnswers.filter(ok).filter((a) => (a.kind === 'list' ? !listedNotes.has(a.target) : !allowNotes.has(a.note)));
    assert.deepEqual(lost.map((a) => `${a.at} ms ${a.kind} ${a.target} (${a.note})`), [], `every acknowledged operator action is stored (${opAnswers.filter(ok).length} acknowledged)`);
    const refusedAllows = opAnswers.filter((a) => a.kind === 'allow' && a.status === 503);
    assert.deepEqual(refusedAllows.filter((a) => allowNotes.has(a.note)).map((a) => a.note), [], 'no allow entry refused with 503 was stored anyway');
  });
});
