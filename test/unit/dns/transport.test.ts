import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import dnsPacket from 'dns-packet';
import { DnsTestServer } from '../../helpers/dns-test-server.js';
import { exchange, isEncodableName, normaliseName, toDnsRecord } from '../../../src/dns/transport.js';
import type { ExchangeRequest } from '../../../src/dns/transport.js';
import type { QueryType } from '../../../src/dns/types.js';

const TIMEOUT_MS = 300;

void describe('transport', () => {
  let server: DnsTestServer;
  const req = (qname: string, qtype: QueryType = 'A', extra: Partial<ExchangeRequest> = {}): ExchangeRequest => ({
    upstream: { host: '127.0.0.1', port: server.port },
    qname,
    qtype,
    timeoutMs: TIMEOUT_MS,
    maxTcpReplyBytes: 65_535,
    ...extra,
  });

  before(async () => {
    server = await DnsTestServer.start({
      records: {
        'a.test': [{ type: 'A', data: '192.0.2.1', ttl: 60 }],
        'v6.test': [{ type: 'AAAA', data: '2001:DB8:0:0:0:0:0:1' }],
        'big.test': Array.from({ length: 60 }, (_, i) => ({ type: 'A' as const, data: `192.0.2.${i + 1}` })),
        'ptr.test': [
          { type: 'PTR', data: 'Mail.Example.TEST.' },
          { type: 'PTR', data: 'bad name<x>\\y.example' },
          { type: 'PTR', data: '.' },
        ],
        'txt.test': [{ type: 'TXT', data: ['v=spf1 ', '-all'] }],
        'soa.test': [{ type: 'SOA', data: { mname: 'NS1.test', rname: 'hostmaster.test', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4 } }],
      },
      behaviours: {
        'wrongid.test': { wrongIdFirst: true },
        'wrongq.test': { wrongQuestionFirst: true },
        'garbage.test': { garbageFirst: true },
        'all-junk.test': { garbageFirst: true, wrongIdFirst: true, wrongQuestionFirst: true },
        'silent.test': { silent: true },
        'trunc.test': { truncate: true },
        'trunc-drop.test': { truncate: true, dropTcp: true },
        'slow.test': { delayMs: 2_000 },
      },
    });
  });
  after(() => server.stop());
  beforeEach(() => server.resetQueries());

  void test('a plain UDP answer', async () => {
    const r = await exchange(req('a.test'));
    assert.equal(r.exchanges.length, 1);
    assert.equal(r.final.transport, 'udp');
    assert.equal(r.final.rcode, 'NOERROR');
    assert.equal(r.final.server, `127.0.0.1:${server.port}`);
    assert.deepEqual(r.final.answers, [{ name: 'a.test', type: 'A', ttl: 60, data: '192.0.2.1' }]);
    assert.equal(r.final.flags?.aa, true);
    assert.equal(r.final.flags?.rd, true, 'RD is sent and echoed');
    assert.ok(r.packet);
  });

  void test('AAAA in canonical compressed form; PTR kept as received; TXT joined; SOA formatted', async () => {
    assert.equal((await exchange(req('v6.test', 'AAAA'))).final.answers[0]?.data, '2001:db8::1');
    const ptr = (await exchange(req('ptr.test', 'PTR'))).final.answers.map((a) => a.data);
    assert.deepEqual(ptr, ['Mail.Example.TEST', 'bad name<x>\\y.example', '']);
    assert.equal((await exchange(req('txt.test', 'TXT'))).final.answers[0]?.data, 'v=spf1 -all');
    assert.equal((await exchange(req('soa.test', 'SOA'))).final.answers[0]?.data, 'ns1.test hostmaster.test 7 1 2 3 4');
  });

  for (const name of ['wrongid.test', 'wrongq.test', 'garbage.test', 'all-junk.test']) {
    void test(`${name}: junk is ignored, the real reply accepted`, async () => {
      const r = await exchange(req(name));
      assert.equal(r.final.error, undefined);
      assert.equal(r.final.rcode, 'NXDOMAIN');
      assert.ok(r.final.durationMs < TIMEOUT_MS);
    });
  }

  void test('a silent server: timeout, as a value', async () => {
    const r = await exchange(req('silent.test'));
    assert.equal(r.final.error, 'timeout');
    assert.equal(r.packet, undefined);
    assert.ok(r.final.durationMs >= TIMEOUT_MS - 5);
  });

  void test('TC set: the question is asked again over TCP', async () => {
    const r = await exchange(req('trunc.test'));
    assert.deepEqual(r.exchanges.map((e) => e.transport), ['udp', 'tcp']);
    assert.equal(r.exchanges[0]?.flags?.tc, true);
    assert.equal(r.final.rcode, 'NXDOMAIN');
    assert.deepEqual(server.queries.map((q) => q.transport), ['udp', 'tcp']);
  });

  void test('a large answer over TCP; and over maxTcpReplyBytes it is a network error', async () => {
    server.setZone({ records: { 'big.test': Array.from({ length: 60 }, (_, i) => ({ type: 'A' as const, data: `192.0.2.${i + 1}` })) }, behaviours: { 'big.test': { truncate: true } } });
    try {
      const ok = await exchange(req('big.test'));
      assert.equal(ok.final.answers.length, 60);
      const capped = await exchange(req('big.test', 'A', { maxTcpReplyBytes: 512 }));
      assert.equal(capped.final.error, 'network');
      assert.match(capped.final.errorDetail ?? '', /maxTcpReplyBytes/);
    } finally {
      server.setZone({ records: {} });
    }
  });

  void test('TCP dropped after TC: network error, never a throw', async () => {
    server.setZone({ behaviours: { 'trunc-drop.test': { truncate: true, dropTcp: true } } });
    const r = await exchange(req('trunc-drop.test'));
    assert.equal(r.final.transport, 'tcp');
    assert.equal(r.final.error, 'network');
  });

  void test('ids and source ports are random across queries', async () => {
    server.setZone({ records: { 'a.test': [{ type: 'A', data: '192.0.2.1' }] } });
    for (let i = 0; i < 20; i += 1) await exchange(req('a.test'));
    const ids = new Set(server.queries.map((q) => q.id));
    const ports = new Set(server.queries.map((q) => q.sourcePort));
    assert.equal(server.queries.length, 20);
    assert.ok(ids.size >= 18, `ids not random: ${[...ids].join(',')}`);
    assert.ok(ports.size >= 15, `source ports not varied: ${[...ports].join(',')}`);
  });

  void test('abort while waiting: aborted, quickly', async () => {
    server.setZone({ behaviours: { 'slow.test': { delayMs: 2_000 } } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    const t0 = Date.now();
    const r = await exchange(req('slow.test', 'A', { signal: ac.signal, timeoutMs: 5_000 }));
    assert.equal(r.final.error, 'aborted');
    assert.ok(Date.now() - t0 < 1_000);
    const pre = await exchange(req('a.test', 'A', { signal: AbortSignal.abort() }));
    assert.equal(pre.final.error, 'aborted');
  });

  void test('a closed port: network error (ECONNREFUSED) before the timeout', async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await exchange(req('a.test', 'A', { upstream: { host: '127.0.0.1', port }, timeoutMs: 2_000 }));
    assert.equal(r.final.error, 'network');
    assert.equal(r.final.errorDetail, 'ECONNREFUSED');
  });

  void test('a reply from another source port is ignored', async () => {
    // A fake upstream that answers from a second socket (a different port): must time out.
    const listener = dgram.createSocket('udp4');
    const other = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => listener.bind(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => other.bind(0, '127.0.0.1', resolve));
    listener.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      other.send(dnsPacket.encode({ type: 'response', id: q.id ?? 0, flags: 0, questions: q.questions ?? [] }), rinfo.port, rinfo.address);
    });
    try {
      const r = await exchange(req('a.test', 'A', { upstream: { host: '127.0.0.1', port: listener.address().port } }));
      assert.equal(r.final.error, 'timeout');
    } finally {
      listener.close();
      other.close();
    }
  });

  void test('TCP: a mismatched message is skipped, the matching one accepted', async () => {
    const tcp = net.createServer((sock) => {
      sock.on('data', (data: Buffer) => {
        const q = dnsPacket.decode(data.subarray(2));
        const wrong = dnsPacket.streamEncode({ type: 'response', id: ((q.id ?? 0) + 1) % 65536, questions: q.questions ?? [] });
        const right = dnsPacket.streamEncode({ type: 'response', id: q.id ?? 0, flags: 3, questions: q.questions ?? [] });
        sock.end(Buffer.concat([wrong, right]));
      });
    });
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as AddressInfo).port;
    await new Promise<void>((resolve) => udp.bind(port, '127.0.0.1', resolve));
    udp.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      udp.send(dnsPacket.encode({ type: 'response', id: q.id ?? 0, flags: dnsPacket.TRUNCATED_RESPONSE, questions: q.questions ?? [] }), rinfo.port, rinfo.address);
    });
    try {
      const r = await exchange(req('a.test', 'A', { upstream: { host: '127.0.0.1', port } }));
      assert.equal(r.final.transport, 'tcp');
      assert.equal(r.final.rcode, 'NXDOMAIN');
    } finally {
      udp.close();
      tcp.close();
    }
  });
});

void describe('names', () => {
  void test('normaliseName lowers A-Z only and strips one dot', () => {
    assert.equal(normaliseName('Mail.Example.COM.'), 'mail.example.com');
    assert.equal(normaliseName('a..'), 'a.');
    assert.equal(normaliseName('.'), '');
    assert.equal(normaliseName('ÄB'), 'Äb');
  });
  void test('isEncodableName', () => {
    assert.equal(isEncodableName(''), true);
    assert.equal(isEncodableName('a.b'), true);
    assert.equal(isEncodableName(`${'a'.repeat(63)}.b`), true);
    assert.equal(isEncodableName(`${'a'.repeat(64)}.b`), false);
    assert.equal(isEncodableName('a..b'), false);
    assert.equal(isEncodableName('.a'), false);
    assert.equal(isEncodableName('a.\nb'), false);
    assert.equal(isEncodableName('a\u0000b'), false);
    const label = 'a'.repeat(63);
    assert.equal(isEncodableName([label, label, label, 'a'.repeat(61)].join('.')), true); // 253 chars
    assert.equal(isEncodableName([label, label, label, 'a'.repeat(62)].join('.')), false); // 254 chars
    assert.equal(isEncodableName('é'.repeat(32)), false, 'label length counts bytes');
  });
  void test('toDnsRecord drops non-IN classes and OPT, zeroes huge TTLs', () => {
    assert.equal(toDnsRecord({ type: 'A', name: 'x', class: 'CH', data: '1.2.3.4' }), undefined);
    assert.equal(toDnsRecord({ type: 'A', name: 'X', ttl: 2 ** 31, data: '1.2.3.4' })?.ttl, 0);
    assert.equal(toDnsRecord({ type: 'A', name: 'X.', ttl: 5, data: '1.2.3.4' })?.name, 'x');
  });
});
