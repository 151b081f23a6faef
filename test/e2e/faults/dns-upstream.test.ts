/**
 * NAME
 *   faults/dns-upstream.test - the upstream DNS down, slow, answering garbage or spoofed replies:
 *   always temperror, never a refusal, never a listing, and the node keeps serving
 *
 * DESCRIPTION
 *   `blocksmith serve` (the built dist, as operators run it) with its policy service, HTTP API and
 *   DNSBL zone in live mode, its resolver pointed at a hostile DNS server this file writes: UDP
 *   and TCP on one loopback port, deciding per question name what to do. Each fault has an address
 *   of its own, so no cached verdict of one case answers another:
 *
 *     down            the resolver points at a port where nothing listens (UDP: ICMP port
 *                     unreachable; TCP: connection refused) - a second node
 *     slow            the right answer, NXDOMAIN, sent after the check's deadline: once with
 *                     the resolver's tries over before it, once (a third node) with a resolver
 *                     that would wait longer, so that the check's own deadline ends it
 *     garbage         random bytes, not even the query's id
 *     garbage-id      the query's id followed by random bytes (a reply cut short)
 *     cut-short       a valid NXDOMAIN reply with the right id, cut in the middle of its question
 *     wrong-id        a well-formed NXDOMAIN, right question, a burst of WRONG_ID_BURST wrong ids
 *                     (an off-path spoofer guessing); the right id never comes
 *     wrong-question  the right id, NXDOMAIN, but for another name (mismatched question)
 *     tc-garbage      over UDP truncated (TC, no records); over TCP garbage framed as a reply
 *     tc-drop         over UDP truncated; over TCP the connection is closed without a byte
 *
 *   The spoofed and late replies all say NXDOMAIN: believed, they would make the address a
 *   permerror, a refusal and a listing. So a pass here shows the resolver ignored them, not that
 *   the content happened to be harmless.
 *
 *   For every fault: the DNSBL zone asked first (a live check through the hostile upstream) says
 *   SERVFAIL or NXDOMAIN, never an A record; the policy request gets a 4xx (451 4.4.3, the
 *   firewall's temperror), never a 5xx or REJECT; afterwards the DNSBL still lists nothing, the
 *   operator API and `blocksmith list` show no listing for any fault address, and the node is
 *   still running and still right for a name the hostile server answers properly (accept).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';
import {
  PolicyClient,
  api,
  classify,
  freePort,
  jsonLines,
  newApiKey,
  policyRequest,
  runCli,
  sleep,
  startNode,
  tempDir,
  writeApiConfig,
  type ApiKey,
  type Endpoint,
  type NodeProcess,
} from '../helpers/node-process.js';

/** Resolver and check settings: short, so a fault case costs about a second. */
const RESOLVER_TIMEOUT_MS = 250;
const RESOLVER_TRIES = 2;
const CHECK_DEADLINE_MS = 1_200;
/** The slow case answers after this: past the check's deadline. */
const SLOW_MS = 2_000;
const WRONG_ID_BURST = 20;
const DNSBL_ZONE = 'bl.example.net';
/** A DNSBL live check's deadline, above the check's so the check decides. */
const DNSBL_LIVE_DEADLINE_MS = 2_500;

type Fault = 'slow' | 'garbage' | 'garbage-id' | 'cut-short' | 'wrong-id' | 'wrong-question' | 'tc-garbage' | 'tc-drop';
const FAULTS: readonly Fault[] = ['slow', 'garbage', 'garbage-id', 'cut-short', 'wrong-id', 'wrong-question', 'tc-garbage', 'tc-drop'];
/**
 * Fault i's addresses: 192.0.2.(100 + i) is first asked through the policy service, 192.0.2.(150 + i)
 * first through the DNSBL zone, so each front runs its own live check against the fault. The
 * reverse name tells the server what to do.
 */
const faultIp = (i: number): string => `192.0.2.${100 + i}`;
const dnsblFirstIp = (i: number): string => `192.0.2.${150 + i}`;
const GOOD_IP = '192.0.2.10';
const GOOD_NAME = 'mail10.example.com';

// ---- the hostile server -------------------------------------------------------------------------

interface Question {
  readonly name: string;
  readonly type: string;
}

class HostileDns {
  readonly timers = new Set<NodeJS.Timeout>();
  readonly tcpSockets = new Set<net.Socket>();
  queries = 0;
  private constructor(
    readonly port: number,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
  ) {}

  static async start(): Promise<HostileDns> {
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const udp = dgram.createSocket('udp4');
      const tcp = net.createServer();
      try {
        await new Promise<void>((ok, fail) => {
          udp.once('error', fail);
          udp.bind(port, '127.0.0.1', () => ok());
        });
        await new Promise<void>((ok, fail) => {
          tcp.once('error', fail);
          tcp.listen(port, '127.0.0.1', () => ok());
        });
      } catch (err) {
        udp.close();
        tcp.close();
        if (attempt < 5) continue;
        throw err;
      }
      const server = new HostileDns(port, udp, tcp);
      udp.on('message', (msg, rinfo) => server.onUdp(msg, rinfo));
      tcp.on('connection', (socket) => server.onTcp(socket));
      return server;
    }
  }

  get upstream(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.tcpSockets) s.destroy();
    await new Promise<void>((ok) => this.udp.close(() => ok()));
    await new Promise<void>((ok) => this.tcp.close(() => ok()));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** The fault a question's name asks for, or undefined: answer properly. */
  private static faultOf(q: Question): Fault | undefined {
    const m = /^(\d+)\.2\.0\.192\.in-addr\.arpa$/i.exec(q.name);
    if (m === null) return undefined;
    const octet = Number(m[1]);
    return FAULTS[octet >= 150 ? octet - 150 : octet - 100];
  }

  /** The reply an honest server gives: the good name confirms; any other reverse name is NXDOMAIN. */
  private static honest(query: Packet, q: Question): Buffer {
    const reply: Packet = { type: 'response', id: query.id ?? 0, flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: query.questions ?? [] };
    const last = GOOD_IP.split('.')[3];
    if (q.name.toLowerCase() === `${last}.2.0.192.in-addr.arpa` && q.type === 'PTR') {
      reply.answers = [{ type: 'PTR', class: 'IN', name: q.name, ttl: 60, data: GOOD_NAME }];
    } else if (q.name.toLowerCase() === GOOD_NAME && q.type === 'A') {
      reply.answers = [{ type: 'A', class: 'IN', name: q.name, ttl: 60, data: GOOD_IP }];
    } else if (q.name.toLowerCase() === GOOD_NAME) {
      reply.answers = [];
    } else {
      // NXDOMAIN: what a spoofer wants believed (permerror, a refusal, a listing).
      reply.flags = (reply.flags ?? 0) | 3;
      reply.authorities = [
        { type: 'SOA', class: 'IN', name: '2.0.192.in-addr.arpa', ttl: 60, data: { mname: 'ns.example.com', rname: 'hostmaster.example.com', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 } },
      ];
    }
    return dnsPacket.encode(reply);
  }

  private onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.queries += 1;
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q0 = query.questions?.[0];
    if (q0 === undefined) return;
    const q = { name: q0.name, type: q0.type };
    const send = (buf: Buffer): void => this.udp.send(buf, rinfo.port, rinfo.address);
    const id = query.id ?? 0;
    const honest = HostileDns.honest(query, q);
    switch (HostileDns.faultOf(q)) {
      case undefined:
        send(honest);
        return;
      case 'slow':
        this.later(SLOW_MS, () => send(honest));
        return;
      case 'garbage': {
        let junk = randomBytes(40);
        while (junk.readUInt16BE(0) === id) junk = randomBytes(40);
        send(junk);
        return;
      }
      case 'garbage-id': {
        const junk = randomBytes(30);
        junk.writeUInt16BE(id, 0);
        send(junk);
        return;
      }
      case 'cut-short':
        // Header (12 bytes) and half the question: the counts promise more than is there.
        send(honest.subarray(0, 12 + Math.floor((honest.length - 12) / 4)));
        return;
      case 'wrong-id':
        for (let k = 1; k <= WRONG_ID_BURST; k++) {
          const spoof = Buffer.from(honest);
          spoof.writeUInt16BE((id + k * 977) & 0xffff, 0);
          send(spoof);
        }
        return;
      case 'wrong-question': {
        const other: Packet = dnsPacket.decode(honest);
        other.questions = [{ type: 'PTR', class: 'IN', name: '1.2.0.192.in-addr.arpa' }];
        send(dnsPacket.encode(other));
        return;
      }
      case 'tc-garbage':
      case 'tc-drop': {
        const truncated: Packet = { type: 'response', id, flags: dnsPacket.TRUNCATED_RESPONSE | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: query.questions ?? [] };
        send(dnsPacket.encode(truncated));
        return;
      }
    }
  }

  private onTcp(socket: net.Socket): void {
    this.tcpSockets.add(socket);
    socket.on('close', () => this.tcpSockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) return;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        this.queries += 1;
        let query: Packet;
        try {
          query = dnsPacket.decode(msg);
        } catch {
          socket.destroy();
          return;
        }
        const q0 = query.questions?.[0];
        if (q0 === undefined) return;
        const q = { name: q0.name, type: q0.type };
        const frame = (buf: Buffer): Buffer => Buffer.concat([Buffer.from([buf.length >> 8, buf.length & 0xff]), buf]);
        const fault = HostileDns.faultOf(q);
        if (fault === 'tc-drop') {
          socket.destroy();
          return;
        }
        if (fault === 'tc-garbage') {
          const junk = randomBytes(60);
          junk.writeUInt16BE(query.id ?? 0, 0);
          socket.write(frame(junk));
          return;
        }
        // Other faults are UDP faults: over TCP (never asked for them) the honest answer.
        socket.write(frame(HostileDns.honest(query, q)));
      }
    });
  }
}

// ---- a DNSBL question ---------------------------------------------------------------------------

interface DnsblAnswer {
  readonly rcode: string;
  readonly a: string[];
}

const RCODES: Readonly<Record<number, string>> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

function reversed(ip: string): string {
  return ip.split('.').reverse().join('.');
}

/** askDnsbl - one A question to the node's DNSBL zone over UDP; the rcode and A records. */
function askDnsbl(endpoint: Endpoint, ip: string, timeoutMs = 6_000): Promise<DnsblAnswer> {
  return new Promise((ok, fail) => {
    const socket = dgram.createSocket('udp4');
    const id = randomBytes(2).readUInt16BE(0);
    const timer = setTimeout(() => {
      socket.close();
      fail(new Error(`DNSBL: no answer for ${ip} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', (msg) => {
      const reply = dnsPacket.decode(msg);
      if (reply.id !== id) return;
      clearTimeout(timer);
      socket.close();
      const rcode = RCODES[msg.readUInt16BE(2) & 0x0f] ?? `rcode ${msg.readUInt16BE(2) & 0x0f}`;
      ok({ rcode, a: (reply.answers ?? []).flatMap((r) => (r.type === 'A' ? [String(r.data)] : [])) });
    });
    socket.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', class: 'IN', name: `${reversed(ip)}.${DNSBL_ZONE}` }] }), endpoint.port, endpoint.host);
  });
}

// ---- the nodes ----------------------------------------------------------------------------------

const cleanups: (() => Promise<void>)[] = [];
let hostile: HostileDns;
let key: ApiKey;

interface Node {
  readonly process: NodeProcess;
  readonly dataDir: string;
}

async function startFaultNode(label: string, upstream: string, timing: { timeoutMs: number; tries: number; deadlineMs: number } = { timeoutMs: RESOLVER_TIMEOUT_MS, tries: RESOLVER_TRIES, deadlineMs: CHECK_DEADLINE_MS }): Promise<Node> {
  const dir = await tempDir(`dnsfault-${label}`);
  cleanups.push(dir.remove);
  const configFile = await writeApiConfig(dir.path, key, {
    resolver: { timeoutMs: timing.timeoutMs, tries: timing.tries },
    check: { deadlineMs: timing.deadlineMs },
    dnsbl: { live: true, liveDeadlineMs: DNSBL_LIVE_DEADLINE_MS },
  });
  const dataDir = `${dir.path}/data`;
  const node = await startNode({
    args: ['--data', dataDir, '--resolver', upstream, '--bypass', 'none', '--policy', '127.0.0.1:0', '--http', '127.0.0.1:0', '--dnsbl', '127.0.0.1:0', '--dnsbl-zone', DNSBL_ZONE],
    configFile,
    cwd: dir.path,
    name: `${label} node`,
  });
  cleanups.push(() => node.stop().then(() => undefined));
  return { process: node, dataDir };
}

function udpEndpoint(node: NodeProcess, front: string): Endpoint {
  const found = node.endpoints(front).find((e) => e.text.startsWith('udp://'));
  assert.ok(found !== undefined, `${front}: no udp endpoint in READY`);
  return found;
}

interface FaultResult {
  readonly ip: string;
  readonly fault: string;
  /** The policy request first (a fresh live check through the fault), then the DNSBL. */
  readonly action: string;
  readonly policyMs: number;
  readonly dnsblAfter: DnsblAnswer;
  /** Another address, asked first through the DNSBL (its own live check), then the policy service. */
  readonly otherIp: string;
  readonly dnsblFirst: DnsblAnswer;
  readonly dnsblFirstMs: number;
  readonly actionAfterDnsbl: string;
}

/** One fault through both fronts, each front first for an address of its own. */
async function exercise(node: NodeProcess, policy: PolicyClient, ip: string, otherIp: string, fault: string): Promise<FaultResult> {
  const dnsbl = udpEndpoint(node, 'dnsbl');
  let t = Date.now();
  const action = await policy.ask(policyRequest(ip), 15_000);
  const policyMs = Date.now() - t;
  const dnsblAfter = await askDnsbl(dnsbl, ip);
  t = Date.now();
  const dnsblFirst = await askDnsbl(dnsbl, otherIp);
  const dnsblFirstMs = Date.now() - t;
  const actionAfterDnsbl = await policy.ask(policyRequest(otherIp), 15_000);
  return { ip, fault, action, policyMs, dnsblAfter, otherIp, dnsblFirst, dnsblFirstMs, actionAfterDnsbl };
}

function describeResult(r: FaultResult): string {
  return `# ${r.fault}: policy ${r.ip} ${JSON.stringify(r.action.slice(0, 60))}... in ${r.policyMs} ms, then DNSBL ${r.dnsblAfter.rcode}; DNSBL ${r.otherIp} ${r.dnsblFirst.rcode} in ${r.dnsblFirstMs} ms, then policy ${JSON.stringify(r.actionAfterDnsbl.slice(0, 9))}`;
}

function assertTemporary(r: FaultResult, node: NodeProcess): void {
  const where = `${r.fault} (${r.ip}, ${r.otherIp})`;
  for (const action of [r.action, r.actionAfterDnsbl]) {
    assert.match(action, /^4\d\d\s/, `${where}: a 4xx, never a 5xx or REJECT: ${action}\n${node.diagnostics()}`);
    assert.equal(classify(action), 'defer', `${where}: the firewall's temperror (451 4.4.3): ${action}`);
  }
  for (const [when, answer] of [
    ['after the policy request', r.dnsblAfter],
    ['asked first (live check)', r.dnsblFirst],
  ] as const) {
    assert.deepEqual(answer.a, [], `${where}: the DNSBL lists nothing ${when} (rcode ${answer.rcode})`);
    assert.ok(answer.rcode === 'SERVFAIL' || answer.rcode === 'NXDOMAIN', `${where}: DNSBL ${when}: ${answer.rcode}`);
  }
}

/** No listing at all, through the operator API and through the CLI on the node's data. */
async function assertNothingListed(node: Node, ips: readonly string[]): Promise<void> {
  for (const state of ['active', 'cleared', 'expired']) {
    const reply = await api(node.process.endpoint('http'), 'GET', `/api/v1/listings?state=${state}`, { key: key.key });
    assert.equal(reply.status, 200, reply.text);
    const listed = JSON.stringify(reply.body);
    for (const ip of ips) assert.ok(!listed.includes(`"${ip}"`), `${ip} has no ${state} listing (API): ${listed.slice(0, 500)}`);
  }
  for (const ip of ips) {
    const status = await api(node.process.endpoint('http'), 'GET', `/api/v1/ip/${ip}`);
    assert.equal(status.status, 200, status.text);
    assert.ok(!/"state"\s*:\s*"active"/.test(status.text), `${ip}: the public status shows no active listing: ${status.text}`);
  }
  const cli = await runCli(['list', '--state', 'all', '--json', '--data', node.dataDir]);
  assert.equal(cli.code, 0, `blocksmith list: ${cli.stderr}`);
  const rows = jsonLines<{ ip: string }>(cli.stdout);
  assert.deepEqual(
    rows.filter((l) => ips.includes(l.ip)),
    [],
    'blocksmith list shows none of the fault addresses',
  );
}

before(async () => {
  key = newApiKey();
  hostile = await HostileDns.start();
  cleanups.push(() => hostile.stop());
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('upstream DNS faults: temperror, never a refusal or a listing', { timeout: 120_000 }, () => {
  test('slow, garbage, cut short, wrong ids, wrong question, truncated then broken TCP: 451 4.4.3, no listing, node still right', async () => {
    const node = await startFaultNode('hostile', hostile.upstream);
    const policy = await PolicyClient.connect(node.process.endpoint('policy'));
    const results: FaultResult[] = [];
    try {
      for (const [i, fault] of FAULTS.entries()) {
        const r = await exercise(node.process, policy, faultIp(i), dnsblFirstIp(i), fault);
        results.push(r);
        console.log(describeResult(r));
      }
      for (const r of results) assertTemporary(r, node.process);

      // Asked again while the temperror is cached, and by several clients at once: still 4xx.
      const again = await Promise.all(FAULTS.map((_, i) => policy.ask(policyRequest(faultIp(i)), 15_000)));
      for (const [i, action] of again.entries()) assert.equal(classify(action), 'defer', `${FAULTS[i]} asked again: ${action}`);

      // The node keeps serving, and still decides right when DNS is honest.
      const good = await policy.ask(policyRequest(GOOD_IP), 15_000);
      assert.equal(classify(good), 'accept', `an honest answer still confirms ${GOOD_IP}: ${good}`);
      assert.ok(node.process.running, `the node is still running\n${node.process.diagnostics()}`);
      assert.ok(hostile.queries > FAULTS.length, `the hostile server was asked (${hostile.queries} queries)`);
      await assertNothingListed(node, FAULTS.flatMap((_, i) => [faultIp(i), dnsblFirstIp(i)]));

      // The slow server's late answers (NXDOMAIN) arrive after the check gave up: still nothing listed.
      await sleep(SLOW_MS + 200);
      await assertNothingListed(node, [faultIp(FAULTS.indexOf('slow')), dnsblFirstIp(FAULTS.indexOf('slow'))]);
    } finally {
      policy.close();
    }
    assert.equal(await node.process.stop(), 0, `the node stops cleanly\n${node.process.diagnostics()}`);
  });

  test('slow past the check\'s deadline (the resolver would still wait): 451 4.4.3 at the deadline; the late NXDOMAIN lists nobody', async () => {
    // The resolver would wait longer than SLOW_MS; the check's deadline comes first.
    const deadlineMs = 700;
    const node = await startFaultNode('deadline', hostile.upstream, { timeoutMs: SLOW_MS + 1_000, tries: 1, deadlineMs });
    const policy = await PolicyClient.connect(node.process.endpoint('policy'));
    const slow = FAULTS.indexOf('slow');
    try {
      const t = Date.now();
      const action = await policy.ask(policyRequest(faultIp(slow)), 15_000);
      const ms = Date.now() - t;
      console.log(`# slow past the deadline (${deadlineMs} ms): policy ${JSON.stringify(action.slice(0, 9))} in ${ms} ms; the answer comes at ${SLOW_MS} ms`);
      assert.equal(classify(action), 'defer', `at the check's deadline: 451 4.4.3: ${action}`);
      assert.ok(ms < SLOW_MS, `answered at the deadline (${ms} ms), not when the slow answer came`);
      const dnsbl = await askDnsbl(udpEndpoint(node.process, 'dnsbl'), dnsblFirstIp(slow));
      assert.deepEqual(dnsbl.a, [], `DNSBL past the deadline: nothing listed (${dnsbl.rcode})`);
      // Let the late answers arrive: they must not list anybody after the fact.
      await sleep(SLOW_MS + 500);
      await assertNothingListed(node, [faultIp(slow), dnsblFirstIp(slow)]);
      assert.ok(node.process.running);
    } finally {
      policy.close();
    }
    assert.equal(await node.process.stop(), 0, `the node stops cleanly\n${node.process.diagnostics()}`);
  });

  test('down: nothing listens on the resolver\'s port (UDP and TCP): 451 4.4.3, no listing, node still serving', async () => {
    const closedPort = await freePort();
    const node = await startFaultNode('down', `127.0.0.1:${closedPort}`);
    const policy = await PolicyClient.connect(node.process.endpoint('policy'));
    const ips = ['192.0.2.120', '192.0.2.121', '2001:db8::120', '2001:db8::121'];
    try {
      const results: FaultResult[] = [];
      const r = await exercise(node.process, policy, ips[0] as string, ips[1] as string, 'down');
      results.push(r);
      console.log(describeResult(r));
      for (const r of results) assertTemporary(r, node.process);
      for (const ip of ips.slice(2)) {
        const v6 = await policy.ask(policyRequest(ip), 15_000);
        assert.equal(classify(v6), 'defer', `IPv6 client ${ip}, DNS down: ${v6}`);
      }

      // A burst of requests while DNS is down: every one a 4xx, each within the deadline and a margin.
      const burst = Array.from({ length: 40 }, (_, k) => `198.51.100.${k + 1}`);
      const clients = await Promise.all(Array.from({ length: 4 }, () => PolicyClient.connect(node.process.endpoint('policy'))));
      const t = Date.now();
      const actions = await Promise.all(burst.map((ip, k) => (clients[k % clients.length] as PolicyClient).ask(policyRequest(ip), 15_000)));
      const burstMs = Date.now() - t;
      for (const c of clients) c.close();
      console.log(`# down: ${burst.length} requests on 4 connections answered in ${burstMs} ms`);
      assert.deepEqual(
        actions.filter((a) => classify(a) !== 'defer'),
        [],
        'every request during the outage is a temperror',
      );

      // The node still serves: its operator API takes an action (and it is stored).
      const listed = await api(node.process.endpoint('http'), 'POST', '/api/v1/listings', { key: key.key, body: { ip: '203.0.113.9', note: 'dns down, by hand' } });
      assert.ok(listed.status >= 200 && listed.status < 300, `operator listing while DNS is down: ${listed.status} ${listed.text}`);
      assert.ok(node.process.running);
      await assertNothingListed(node, [...ips, ...burst]);
    } finally {
      policy.close();
    }
    assert.equal(await node.process.stop(), 0, `the node stops cleanly\n${node.process.diagnostics()}`);
  });
});
