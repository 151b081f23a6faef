/**
 * The UDP socket pool: sockets reused for a bounded number of questions, then replaced by one
 * on a new random port; ids unique among a socket's pending questions; a socket error ends every
 * question on it. Against the in-process test server on loopback.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsTestServer } from '../../helpers/dns-test-server.js';
import { StubResolver } from '../../../src/dns/stub-resolver.js';
import { exchange } from '../../../src/dns/transport.js';
import { decodeReply, UdpPool } from '../../../src/dns/udp-pool.js';
import dnsPacket from 'dns-packet';
import { resolverSchema } from '../../../src/config/schema.js';

let server: DnsTestServer;
before(async () => {
  server = await DnsTestServer.start({
    records: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`h${i}.example.test`, [{ type: 'A' as const, data: `192.0.2.${i + 1}` }]])),
    behaviours: { 'slow.example.test': { delayMs: 100 } },
  });
});
after(async () => {
  await server.stop();
});
beforeEach(() => server.resetQueries());

const upstream = (): { host: string; port: number } => ({ host: '127.0.0.1', port: server.port });

describe('UdpPool', () => {
  test('a socket carries queriesPerSocket questions, then a new one on another port takes over', async () => {
    const pool = new UdpPool(5);
    for (let i = 0; i < 20; i++) {
      const r = await exchange({ upstream: upstream(), qname: `h${i}.example.test`, qtype: 'A', timeoutMs: 1000, maxTcpReplyBytes: 65535, pool });
      assert.equal(r.final.rcode, 'NOERROR');
    }
    pool.close();
    const ports = server.queries.map((q) => q.sourcePort);
    assert.equal(new Set(ports).size, 4, `ports: ${ports.join(',')}`);
    for (let block = 0; block < 4; block++) {
      assert.equal(new Set(ports.slice(block * 5, block * 5 + 5)).size, 1, 'five questions per socket');
    }
  });

  test('queriesPerSocket 1: a socket per question', async () => {
    const pool = new UdpPool(1);
    for (let i = 0; i < 6; i++) {
      await exchange({ upstream: upstream(), qname: `h${i}.example.test`, qtype: 'A', timeoutMs: 1000, maxTcpReplyBytes: 65535, pool });
    }
    pool.close();
    assert.equal(new Set(server.queries.map((q) => q.sourcePort)).size, 6);
  });

  test('concurrent questions on one socket have distinct ids and each gets its own answer', async () => {
    const pool = new UdpPool(1000);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        exchange({ upstream: upstream(), qname: `h${i}.example.test`, qtype: 'A', timeoutMs: 2000, maxTcpReplyBytes: 65535, pool }),
      ),
    );
    pool.close();
    results.forEach((r, i) => assert.equal(r.final.answers[0]?.data, `192.0.2.${i + 1}`));
    assert.equal(new Set(server.queries.map((q) => q.sourcePort)).size, 1);
    assert.equal(new Set(server.queries.map((q) => q.id)).size, 50);
  });

  test('a socket error (nothing listening) ends every question on that socket as a network error', async () => {
    const pool = new UdpPool(1000);
    const dead = { host: '127.0.0.1', port: 9 };
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => exchange({ upstream: dead, qname: `h${i}.example.test`, qtype: 'A', timeoutMs: 2000, maxTcpReplyBytes: 65535, pool })),
    );
    for (const r of results) assert.equal(r.final.error, 'network');
    // The pool recovers: the next question goes out on a fresh socket.
    const ok = await exchange({ upstream: upstream(), qname: 'h1.example.test', qtype: 'A', timeoutMs: 1000, maxTcpReplyBytes: 65535, pool });
    assert.equal(ok.final.rcode, 'NOERROR');
    pool.close();
  });

  test('the resolver rotates sockets per udpQueriesPerSocketCount, and an idle pool keeps no process alive', async () => {
    const resolver = new StubResolver(resolverSchema.parse({ servers: [server.upstream], udpQueriesPerSocketCount: 3, cacheEntriesCount: 0 }));
    for (let i = 0; i < 9; i++) await resolver.lookup(`h${i}.example.test`, 'A');
    assert.equal(new Set(server.queries.map((q) => q.sourcePort)).size, 3);
    // Not closed on purpose before the next assertion: sockets are unref()ed, so this test
    // file would hang at exit if they were not (the runner reports that as a failure).
    resolver.close();
  });

  test('a question timing out releases its id; a late reply for it is ignored', async () => {
    const pool = new UdpPool(1000);
    const r = await exchange({ upstream: upstream(), qname: 'slow.example.test', qtype: 'A', timeoutMs: 30, maxTcpReplyBytes: 65535, pool });
    assert.equal(r.final.error, 'timeout');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const next = await exchange({ upstream: upstream(), qname: 'h2.example.test', qtype: 'A', timeoutMs: 1000, maxTcpReplyBytes: 65535, pool });
    assert.equal(next.final.answers[0]?.data, '192.0.2.3');
    pool.close();
  });
});

describe('decodeReply', () => {
  test('fuzz finding: header counts the message cannot hold are refused before dns-packet allocates for them', () => {
    // 12 bytes of 0xff announce 4 × 65535 sections: dns-packet made four 65535-slot arrays
    // before failing, milliseconds of CPU for every such datagram.
    const garbage = Buffer.alloc(20, 0xff);
    garbage[2] = 0x81;
    const t0 = performance.now();
    for (let i = 0; i < 2_000; i++) assert.equal(decodeReply(garbage), undefined);
    assert.ok(performance.now() - t0 < 1_000, `2000 garbage datagrams took ${performance.now() - t0} ms`);
    assert.equal(decodeReply(Buffer.alloc(5)), undefined);
    // A real reply, and one whose counts are just what it holds, still decode.
    const reply = dnsPacket.encode({
      type: 'response',
      id: 7,
      flags: dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: 'PTR', name: '2.2.0.192.in-addr.arpa', class: 'IN' }],
      answers: [{ type: 'PTR', name: '2.2.0.192.in-addr.arpa', ttl: 60, data: 'mail.example.com' }],
    });
    const answer = decodeReply(reply)?.answers?.[0];
    assert.ok(answer?.type === 'PTR' && answer.data === 'mail.example.com');
    const tight = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert.equal(decodeReply(tight)?.answers?.length, 1);
  });
});
