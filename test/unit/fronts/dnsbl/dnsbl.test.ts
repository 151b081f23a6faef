/**
 * The DNSBL front over real UDP and TCP sockets on loopback, a real Firewall (SQLite store,
 * real checker over the in-process DNS test server) and queries built with dns-packet.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import { rcodeOf } from '../../../../src/dns/transport.js';
import { dnsblName } from '../../../../src/fronts/dnsbl/names.js';
import { eventually, IP, useHarness, type Env } from '../../firewall/helpers.js';
import { aValues, ask, FIREWALL, frame, ORG, PORTAL, query, startFront, tcpExchange, txtValues, udpExchange, skipFor, UDP_ENGINES, ZONE_NAME, type Running, type UdpEngineName } from './helpers.js';

const h = useHarness('sqlite');

/**
 * setUpWith - the front on loopback with dnsbl.udpEngine = `engine`; fails when the engine the
 * front logged is not that one (the native path must never silently fall back to dgram here).
 */
async function setUpWith(engine: UdpEngineName, t: TestContext, dnsbl: Record<string, unknown> = {}): Promise<{ env: Env; run: Running }> {
  const env = await h.env({ firewall: FIREWALL });
  const run = await startFront(env, { udpEngine: engine, ...dnsbl });
  t.after(() => run.front.stop());
  assert.equal(run.udpEngine, engine, 'the UDP engine the front logged');
  return { env, run };
}

/** list - the firewall lists `ip` by judging it (as a policy front would). */
async function listByCheck(env: Env, ip: string): Promise<void> {
  const decision = await env.firewall.decide({ front: 'policy', ip });
  assert.equal(decision.action, 'reject');
  assert.ok(env.firewall.hotListing(ip) !== undefined);
}

function rcode(reply: DecodedPacket): string {
  return rcodeOf(reply);
}

function ttlOf(reply: DecodedPacket): number | undefined {
  const first = reply.answers?.[0];
  return first !== undefined && first.type !== 'OPT' ? first.ttl : undefined;
}

function soaOf(reply: DecodedPacket): { name: string; ttl: number | undefined; minimum: number | undefined } | undefined {
  const soa = (reply.authorities ?? []).find((a) => a.type === 'SOA');
  if (soa === undefined || soa.type !== 'SOA') return undefined;
  return { name: soa.name, ttl: soa.ttl, minimum: soa.data.minimum };
}

// Every suite that sends UDP runs on both engines; TCP (node:net either way) once, below.
for (const engine of UDP_ENGINES) {
  const setUp = (t: TestContext, dnsbl: Record<string, unknown> = {}): Promise<{ env: Env; run: Running }> => setUpWith(engine, t, dnsbl);

  describe(`dnsbl front [udp: ${engine}]: answers`, { skip: skipFor(engine) }, () => {
    test('a permerror listing answers 127.0.0.2, a fail 127.0.0.3, a manual one 127.0.0.4, each with TXT and the portal URL', async (t) => {
      const { env, run } = await setUp(t, { listedTtlS: 123 });
      await listByCheck(env, IP.noPtr);
      await listByCheck(env, IP.noMatch);
      await env.firewall.list('198.51.100.77', 'spam run', 'cli:test');
      const cases = [
        [IP.noPtr, '127.0.0.2', 'has no usable reverse DNS (PTR) name'],
        [IP.noMatch, '127.0.0.3', 'do not resolve back to it'],
        ['198.51.100.77', '127.0.0.4', 'is listed by the operator'],
      ] as const;
      for (const [ip, code, words] of cases) {
        const a = await ask(run.port, query(dnsblName(ip, ZONE_NAME), 'A'));
        assert.equal(rcode(a), 'NOERROR', ip);
        assert.equal(a.flag_aa, true);
        assert.deepEqual(aValues(a), [code], ip);
        assert.equal(ttlOf(a), 123);
        const txt = await ask(run.port, query(dnsblName(ip, ZONE_NAME), 'TXT'));
        assert.equal(txtValues(txt).length, 1);
        const text = txtValues(txt)[0] ?? '';
        assert.ok(text.startsWith(`${ORG}: ${ip} `), text);
        assert.ok(text.includes(words), text);
        assert.ok(text.endsWith(`see ${PORTAL}/ip/${ip}`), text);
      }
      assert.ok(run.events.includes('dnsbl:listed'));
    });

    test('an IPv6 listener ([::1]) answers over UDP: bind and replies go through the literal address lookup', async (t) => {
      const { env, run } = await setUp(t, { listen: ['[::1]:0'] });
      assert.ok(run.front.endpoints.some((e) => e.startsWith('udp://[::1]:')), run.front.endpoints.join(' '));
      await listByCheck(env, IP.noPtr);
      const socket = dgram.createSocket('udp6');
      t.after(() => socket.close());
      const reply = await new Promise<DecodedPacket>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no UDP reply over IPv6')), 2_000);
        socket.on('message', (m) => {
          clearTimeout(timer);
          resolve(dnsPacket.decode(m));
        });
        socket.send(query(dnsblName(IP.noPtr, ZONE_NAME)), run.port, '::1');
      });
      assert.deepEqual(aValues(reply), ['127.0.0.2']);
    });

    test('an address not listed is NXDOMAIN with the SOA (negative TTL = SOA minimum); NODATA for other types of a listed name', async (t) => {
      const { env, run } = await setUp(t, { negativeTtlS: 42 });
      const nx = await ask(run.port, query(dnsblName(IP.pass, ZONE_NAME)));
      assert.equal(rcode(nx), 'NXDOMAIN');
      assert.equal(nx.flag_aa, true);
      assert.deepEqual(nx.answers, []);
      assert.deepEqual(soaOf(nx), { name: ZONE_NAME, ttl: 42, minimum: 42 });
      await listByCheck(env, IP.noPtr);
      const nodata = await ask(run.port, query(dnsblName(IP.noPtr, ZONE_NAME), 'AAAA'));
      assert.equal(rcode(nodata), 'NOERROR');
      assert.deepEqual(nodata.answers, []);
      assert.equal(soaOf(nodata)?.minimum, 42);
      // The start of an address name is an empty non-terminal: NODATA, never NXDOMAIN (RFC 8020).
      const partial = await ask(run.port, query(`2.0.192.${ZONE_NAME}`));
      assert.equal(rcode(partial), 'NOERROR');
      assert.deepEqual(partial.answers, []);
      const junk = await ask(run.port, query(`www.${ZONE_NAME}`));
      assert.equal(rcode(junk), 'NXDOMAIN');
    });

    test('RFC 5782 test points: 127.0.0.2 and ::ffff:7f00:2 listed, 127.0.0.1 and ::ffff:7f00:1 never', async (t) => {
      const { run } = await setUp(t);
      for (const ip of ['127.0.0.2', '::ffff:7f00:2']) {
        const a = await ask(run.port, query(dnsblName(ip, ZONE_NAME)));
        assert.deepEqual(aValues(a), ['127.0.0.2'], ip);
        const txt = await ask(run.port, query(dnsblName(ip, ZONE_NAME), 'TXT'));
        assert.match(txtValues(txt)[0] ?? '', /RFC 5782 test entry/);
      }
      assert.equal(dnsblName('::ffff:7f00:2', ZONE_NAME), `2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.${ZONE_NAME}`);
      for (const ip of ['127.0.0.1', '::ffff:7f00:1']) {
        const a = await ask(run.port, query(dnsblName(ip, ZONE_NAME)));
        assert.equal(rcode(a), 'NXDOMAIN', ip);
      }
    });

    test('IPv6 nibble names (32 nibbles) answer for IPv6 listings', async (t) => {
      const { env, run } = await setUp(t);
      await listByCheck(env, IP.noPtr6);
      const name = dnsblName(IP.noPtr6, ZONE_NAME);
      assert.equal(name.split('.').length, 32 + ZONE_NAME.split('.').length);
      const a = await ask(run.port, query(name));
      assert.deepEqual(aValues(a), ['127.0.0.2']);
      const txt = await ask(run.port, query(name, 'TXT'));
      assert.ok((txtValues(txt)[0] ?? '').endsWith(`${PORTAL}/ip/${IP.noPtr6}`));
      const other = await ask(run.port, query(dnsblName(IP.pass6, ZONE_NAME)));
      assert.equal(rcode(other), 'NXDOMAIN');
    });

    test('SOA and NS at the apex; REFUSED outside the zone; NOTIMP for another opcode', async (t) => {
      const { run } = await setUp(t, { soaMname: 'ns1.example.test', soaRname: 'dns.example.test', nsNames: ['ns1.example.test', 'ns2.example.test'], apexTtlS: 900 });
      const soa = await ask(run.port, query(ZONE_NAME, 'SOA'));
      assert.equal(rcode(soa), 'NOERROR');
      assert.equal(soa.flag_aa, true);
      const record = soa.answers?.[0];
      assert.ok(record?.type === 'SOA');
      assert.equal(record.data.mname, 'ns1.example.test');
      assert.equal(record.data.rname, 'dns.example.test');
      assert.equal(record.ttl, 900);
      const ns = await ask(run.port, query(ZONE_NAME, 'NS'));
      assert.deepEqual((ns.answers ?? []).flatMap((a) => (a.type === 'NS' ? [a.data] : [])).sort(), ['ns1.example.test', 'ns2.example.test']);
      const apexA = await ask(run.port, query(ZONE_NAME, 'A'));
      assert.equal(rcode(apexA), 'NOERROR');
      assert.deepEqual(apexA.answers, []);
      for (const name of ['example.test', 'other.test', `x${ZONE_NAME}`, '2.0.0.127.bl.example.org']) {
        const refused = await ask(run.port, query(name));
        assert.equal(rcode(refused), 'REFUSED', name);
        assert.equal(refused.flag_aa, false);
      }
      const notify = Buffer.from(query(ZONE_NAME, 'SOA'));
      notify[2] = (notify[2] ?? 0) | (4 << 3); // opcode NOTIFY
      const notimp = await ask(run.port, notify);
      assert.equal(rcode(notimp), 'NOTIMP');
    });

    test('names are case-insensitive and the answer keeps the query case (0x20)', async (t) => {
      const { run } = await setUp(t);
      const name = '2.0.0.127.Bl.ExAmPlE.TeSt';
      const a = await ask(run.port, query(name));
      assert.equal(a.questions?.[0]?.name, name);
      assert.equal(a.answers?.[0]?.name, name);
      assert.deepEqual(aValues(a), ['127.0.0.2']);
      const soa = await ask(run.port, query('BL.example.TEST', 'SOA'));
      assert.equal(soa.answers?.[0]?.name, 'BL.example.TEST');
    });

    test('an allowlisted or bypassed address is never listed', async (t) => {
      const { env, run } = await setUp(t);
      await listByCheck(env, IP.noPtr);
      assert.deepEqual(aValues(await ask(run.port, query(dnsblName(IP.noPtr, ZONE_NAME)))), ['127.0.0.2']);
      await env.firewall.allow(IP.noPtr, 'known sender', 'cli:test');
      // At once: the zone reads the same memory as the firewall's decisions.
      assert.equal(rcode(await ask(run.port, query(dnsblName(IP.noPtr, ZONE_NAME)))), 'NXDOMAIN');
      // 10.0.0.0/8 is in the default bypass list: a manual listing there still never shows.
      await env.firewall.list('10.1.2.3', 'test', 'cli:test');
      assert.equal(rcode(await ask(run.port, query(dnsblName('10.1.2.3', ZONE_NAME)))), 'NXDOMAIN');
    });

    test('EDNS: the OPT record is echoed; version 1 gets BADVERS; a long answer is truncated over UDP and whole over TCP', async (t) => {
      // The answer's owner is a 2-octet pointer to the question (wire.ts), so the TXT alone must
      // take the reply past 512 octets: the longest organisation name and a long portal URL.
      const firewall = { ...FIREWALL, organisation: { name: `Example Org ${'o'.repeat(52)}` }, portalUrl: `https://${'p'.repeat(60)}.example.test/${'x'.repeat(100)}` };
      const env = await h.env({ firewall });
      const longZone = `${'z'.repeat(60)}.${'y'.repeat(60)}.example.test`;
      const run = await startFront(env, { zone: longZone }, firewall);
      t.after(() => run.front.stop());
      await listByCheck(env, IP.noPtr6);
      const name = dnsblName(IP.noPtr6, longZone);
      const plain = await ask(run.port, query(name, 'TXT'));
      assert.equal(plain.flag_tc, true);
      assert.deepEqual(plain.answers, []);
      const withEdns = await ask(run.port, query(name, 'TXT', { edns: true }));
      assert.equal(withEdns.flag_tc, false);
      assert.equal(withEdns.additionals?.[0]?.type, 'OPT');
      assert.ok((txtValues(withEdns)[0] ?? '').length > 255);
      const overTcp = await tcpExchange(run.port, [frame(query(name, 'TXT'))], 1);
      assert.equal(overTcp.replies[0]?.flag_tc, false);
      assert.deepEqual(txtValues(overTcp.replies[0]), txtValues(withEdns));
      const v1 = Buffer.from(query(ZONE_NAME, 'SOA', { edns: true }));
      v1[v1.length - 5] = 1; // the OPT's version octet: TTL byte 2, before 2 flag and 2 RDLENGTH octets
      const badvers = await ask(run.port, v1);
      const opt = badvers.additionals?.find((a) => a.type === 'OPT');
      assert.ok(opt?.type === 'OPT');
      assert.equal(opt.extendedRcode, 1);
    });
  });

  describe(`dnsbl front [udp: ${engine}]: hostile and malformed input`, { skip: skipFor(engine) }, () => {
    test('garbage, short, truncated and response packets are dropped or FORMERR; the server keeps serving', async (t) => {
      const { run } = await setUp(t);
      const good = query(dnsblName('127.0.0.2', ZONE_NAME));
      const response = Buffer.from(good);
      response[2] = (response[2] ?? 0) | 0x80; // QR: a response must never be answered
      const twoQuestions = dnsPacket.encode({ type: 'query', id: 77, questions: [{ type: 'A', name: 'a.test' }, { type: 'A', name: 'b.test' }] });
      const noQuestion = dnsPacket.encode({ type: 'query', id: 78, questions: [] });
      const withId = (buf: Buffer, id: number): Buffer => {
        const copy = Buffer.from(buf);
        copy.writeUInt16BE(id, 0);
        return copy;
      };
      const cut = withId(good.subarray(0, good.length - 3), 79);
      const pointer = withId(Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]), 80);
      const dotInLabel = withId(Buffer.concat([good.subarray(0, 12), Buffer.from([3, 0x61, 0x2e, 0x62, 0, 0, 1, 0, 1])]), 81);
      const garbage = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
      const replies = await udpExchange(run.port, [Buffer.from([1, 2, 3, 4, 5]), response, garbage, twoQuestions, noQuestion, cut, pointer, dotInLabel]);
      const decoded = replies.map((r) => dnsPacket.decode(r));
      // The 5-octet packet and the response get nothing; every other one a FORMERR without question.
      assert.equal(decoded.filter((d) => d.id === response.readUInt16BE(0)).length, 0);
      for (const d of decoded) {
        assert.equal(rcode(d), 'FORMERR');
        assert.deepEqual(d.questions, []);
      }
      assert.deepEqual(decoded.map((d) => d.id ?? 0).filter((id) => id >= 77 && id <= 81).sort(), [77, 78, 79, 80, 81]);
      assert.ok(run.events.includes('dnsbl:drop'));
      assert.deepEqual(aValues(await ask(run.port, good)), ['127.0.0.2']);
      // Over TCP as well: garbage inside a valid frame, then a good query on the same connection.
      const tcp = await tcpExchange(run.port, [frame(garbage), frame(response), frame(good)], 2);
      assert.equal(tcp.replies.length, 2);
      assert.equal(rcode(tcp.replies[0] as DecodedPacket), 'FORMERR');
      assert.deepEqual(aValues(tcp.replies[1] as DecodedPacket), ['127.0.0.2']);
    });

    test('an oversize datagram is dropped; an oversize TCP length closes the connection', async (t) => {
      const { run } = await setUp(t, { maxQueryBytes: 512 });
      const big = Buffer.concat([query(dnsblName('127.0.0.2', ZONE_NAME)), Buffer.alloc(600)]);
      assert.deepEqual(await udpExchange(run.port, [big]), []);
      const prefix = Buffer.from([0x10, 0x00]);
      const tcp = await tcpExchange(run.port, [prefix], 1);
      assert.equal(tcp.closed, true);
      assert.deepEqual(tcp.replies, []);
      assert.ok(run.events.includes('dnsbl:oversize'));
      assert.ok(run.events.includes('dnsbl:tcp-oversize'));
    });
  });

  describe(`dnsbl front [udp: ${engine}]: rate limiting`, { skip: skipFor(engine) }, () => {
    test('over the per-network limit UDP answers are dropped, every 2nd slipped as TC=1; TCP still answers', async (t) => {
      const { run } = await setUp(t, { rateLimitPerSecondCount: 1, rateLimitBurstCount: 3, rateLimitSlipCount: 2 });
      const messages = [1, 2, 3, 4, 5, 6].map((id) => query(dnsblName('127.0.0.2', ZONE_NAME), 'A', { id: 2000 + id }));
      const replies = (await udpExchange(run.port, messages)).map((r) => dnsPacket.decode(r));
      const full = replies.filter((r) => !r.flag_tc);
      const slipped = replies.filter((r) => r.flag_tc);
      assert.equal(full.length, 3);
      for (const r of full) assert.deepEqual(aValues(r), ['127.0.0.2']);
      assert.equal(slipped.length, 1);
      assert.deepEqual(slipped[0]?.answers, []);
      assert.equal(slipped[0]?.questions?.[0]?.name, dnsblName('127.0.0.2', ZONE_NAME));
      assert.equal(run.events.filter((e) => e === 'dnsbl:rate-limited-drop').length, 2);
      assert.equal(run.events.filter((e) => e === 'dnsbl:rate-limited-slip').length, 1);
      const tcp = await tcpExchange(run.port, [frame(query(dnsblName('127.0.0.2', ZONE_NAME)))], 1);
      assert.deepEqual(aValues(tcp.replies[0] as DecodedPacket), ['127.0.0.2']);
    });
  });

  describe(`dnsbl front [udp: ${engine}]: live mode`, { skip: skipFor(engine) }, () => {
    test('off: an address not judged yet is NXDOMAIN and no DNS query is made', async (t) => {
      const { env, run } = await setUp(t);
      h.server.resetQueries();
      assert.equal(rcode(await ask(run.port, query(dnsblName(IP.noPtr, ZONE_NAME)))), 'NXDOMAIN');
      assert.equal(h.server.queries.length, 0);
      assert.equal(env.firewall.hotListing(IP.noPtr), undefined);
    });

    test('on: a failing address is checked and listed, a passing one is NXDOMAIN', async (t) => {
      const { env, run } = await setUp(t, { live: true });
      assert.deepEqual(aValues(await ask(run.port, query(dnsblName(IP.noPtr, ZONE_NAME)))), ['127.0.0.2']);
      assert.equal(env.firewall.hotListing(IP.noPtr)?.verdict, 'permerror');
      assert.deepEqual(aValues(await ask(run.port, query(dnsblName(IP.noMatch, ZONE_NAME)))), ['127.0.0.3']);
      assert.equal(rcode(await ask(run.port, query(dnsblName(IP.pass, ZONE_NAME)))), 'NXDOMAIN');
      assert.equal(env.firewall.hotListing(IP.pass), undefined);
      assert.ok(run.events.includes('dnsbl:live'));
    });

    test('on: a DNS failure (SERVFAIL upstream) or the deadline gives SERVFAIL and lists nobody', async (t) => {
      const { env, run } = await setUp(t, { live: true, liveDeadlineMs: 100 });
      const servfail = await ask(run.port, query(dnsblName(IP.servfail, ZONE_NAME)));
      assert.equal(rcode(servfail), 'SERVFAIL');
      assert.deepEqual(servfail.answers, []);
      assert.equal(env.firewall.hotListing(IP.servfail), undefined);
      // The upstream stays silent: the front's 100 ms deadline ends it first.
      const late = await ask(run.port, query(dnsblName(IP.timeout, ZONE_NAME)));
      assert.equal(rcode(late), 'SERVFAIL');
      assert.equal(env.firewall.hotListing(IP.timeout), undefined);
      // Over TCP too, and the connection keeps serving after it.
      const tcp = await tcpExchange(run.port, [frame(query(dnsblName(IP.timeout, ZONE_NAME))), frame(query(ZONE_NAME, 'SOA'))], 2);
      assert.deepEqual(tcp.replies.map(rcode), ['SERVFAIL', 'NOERROR']);
    });
  });

  describe(`dnsbl front [udp: ${engine}]: lifecycle`, { skip: skipFor(engine) }, () => {
    test('returns undefined when dnsbl.listen is empty; stop() releases the ports', async () => {
      const env = await h.env({ firewall: FIREWALL });
      const { startDnsblFront } = await import('../../../../src/fronts/dnsbl/index.js');
      const { configSchema } = await import('../../../../src/config/schema.js');
      const { noMetrics } = await import('../../../../src/metrics/types.js');
      const { silentLogger } = await import('../../../../src/util/log.js');
      assert.equal(await startDnsblFront({ config: configSchema.parse({}), firewall: env.firewall, logger: silentLogger, metrics: noMetrics }), undefined);
      const run = await startFront(env, { udpEngine: engine });
      assert.equal(run.udpEngine, engine);
      assert.deepEqual(run.front.endpoints, [`udp://127.0.0.1:${run.port}`, `tcp://127.0.0.1:${run.port}`]);
      await run.front.stop();
      // The same port can be bound again by a new front: both sockets were released.
      const again = await startFront(env, { udpEngine: engine, listen: [`127.0.0.1:${run.port}`] });
      assert.equal(again.port, run.port);
      await again.front.stop();
    });
  });
}

describe('dnsbl front: TCP', () => {
  test('two queries in one write, then a query split over packets (inside the length prefix too), on one connection', async (t) => {
    const { env, run } = await setUpWith('dgram', t);
    await listByCheck(env, IP.noMatch);
    const q1 = frame(query(dnsblName(IP.noMatch, ZONE_NAME), 'A', { id: 1001 }));
    const q2 = frame(query(dnsblName(IP.pass, ZONE_NAME), 'A', { id: 1002 }));
    const q3 = frame(query(dnsblName('127.0.0.2', ZONE_NAME), 'TXT', { id: 1003 }));
    const { replies, closed } = await tcpExchange(run.port, [Buffer.concat([q1, q2]), q3.subarray(0, 1), q3.subarray(1, 9), q3.subarray(9)], 3, 30);
    assert.equal(closed, false);
    assert.deepEqual(replies.map((r) => r.id), [1001, 1002, 1003]);
    assert.deepEqual(aValues(replies[0] as DecodedPacket), ['127.0.0.3']);
    assert.equal(rcode(replies[1] as DecodedPacket), 'NXDOMAIN');
    assert.match(txtValues(replies[2] as DecodedPacket)[0] ?? '', /RFC 5782/);
  });

  test('an idle connection is closed; connections over the cap are closed at once', async (t) => {
    const { run } = await setUpWith('dgram', t, { tcpIdleTimeoutMs: 150, tcpMaxConnectionsCount: 1 });
    const idle = await tcpExchange(run.port, [], 1);
    assert.equal(idle.closed, true);
    assert.ok(run.events.includes('dnsbl:tcp-idle'));
    // One connection held open (it sends half a frame), a second one is refused.
    const holder = tcpExchange(run.port, [Buffer.from([0])], 1);
    await eventually(() => run.events.filter((e) => e === 'dnsbl:tcp-open').length === 2);
    const refused = await tcpExchange(run.port, [frame(query(ZONE_NAME, 'SOA'))], 1);
    assert.equal(refused.closed, true);
    assert.deepEqual(refused.replies, []);
    assert.ok(run.events.includes('dnsbl:tcp-refused'));
    await holder;
  });
});
