/**
 * The DNSBL front's pure parts, without sockets: the query parser (table), where names sit in
 * the zone, and the rate limiter on a movable clock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { dnsblSchema } from '../../../../src/config/sections/dnsbl.js';
import { dnsblName, locate, zoneInfo, zoneLabels } from '../../../../src/fronts/dnsbl/names.js';
import { parseQuery } from '../../../../src/fronts/dnsbl/parser.js';
import { networkKey, ResponseRateLimiter } from '../../../../src/fronts/dnsbl/rate-limit.js';
import { txtStrings } from '../../../../src/fronts/dnsbl/responder.js';

function q(name: string, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'TXT', name }], ...extra });
}

describe('parser', () => {
  test('a plain query: id, RD, labels as received, qtype, qclass, no EDNS', () => {
    const parsed = parseQuery(q('2.0.0.127.Bl.Example.Test'));
    assert.deepEqual(parsed, {
      kind: 'query',
      id: 4242,
      rd: true,
      question: { labels: ['2', '0', '0', '127', 'Bl', 'Example', 'Test'], qtype: 16, qclass: 1 },
      edns: undefined,
    });
  });

  test('the EDNS OPT record: UDP size and version', () => {
    const parsed = parseQuery(
      q('a.test', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4000, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: true, options: [] }] }),
    );
    assert.equal(parsed.kind, 'query');
    assert.deepEqual(parsed.kind === 'query' ? parsed.edns : undefined, { udpBytes: 4000, version: 0 });
  });

  const header = (qd: number, flags1 = 0, ar = 0): Buffer => Buffer.from([0x12, 0x34, flags1, 0, 0, qd, 0, 0, 0, 0, 0, ar]);
  const cases: readonly [string, Buffer, string][] = [
    ['11 octets', Buffer.alloc(11), 'drop'],
    ['a response (QR=1)', Buffer.concat([header(1, 0x80), Buffer.from([0, 0, 1, 0, 1])]), 'drop'],
    ['QDCOUNT 0', header(0), 'formerr'],
    ['QDCOUNT 2', Buffer.concat([header(2), Buffer.from([0, 0, 1, 0, 1, 0, 0, 1, 0, 1])]), 'formerr'],
    ['name past the end', Buffer.concat([header(1), Buffer.from([5, 0x61])]), 'formerr'],
    ['no QTYPE/QCLASS', Buffer.concat([header(1), Buffer.from([1, 0x61, 0])]), 'formerr'],
    ['compression pointer', Buffer.concat([header(1), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]), 'formerr'],
    ['extended label type 0x40', Buffer.concat([header(1), Buffer.from([0x41, 0, 0, 1, 0, 1])]), 'formerr'],
    ['a space in a label', Buffer.concat([header(1), Buffer.from([1, 0x20, 0, 0, 1, 0, 1])]), 'formerr'],
    ['a byte over 0x7e', Buffer.concat([header(1), Buffer.from([1, 0xc3, 0, 0, 1, 0, 1])]), 'formerr'],
    ['a name over 255 octets', Buffer.concat([header(1), ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])), Buffer.from([0, 0, 1, 0, 1])]), 'formerr'],
    ['ARCOUNT 1 but nothing there', Buffer.concat([header(1, 0, 1), Buffer.from([0, 0, 1, 0, 1])]), 'formerr'],
    ['opcode NOTIFY', Buffer.concat([header(1, 4 << 3), Buffer.from([0, 0, 6, 0, 1])]), 'notimp'],
    ['the root name', Buffer.concat([header(1), Buffer.from([0, 0, 2, 0, 1])]), 'query'],
  ];
  for (const [label, buf, kind] of cases) {
    test(`${label} → ${kind}`, () => {
      assert.equal(parseQuery(buf).kind, kind);
    });
  }

  test('random bytes never throw', () => {
    let seed = 7;
    for (let i = 0; i < 2_000; i++) {
      const len = (seed = (seed * 1_103_515_245 + 12_345) >>> 0) % 80;
      const buf = Buffer.alloc(len);
      for (let j = 0; j < len; j++) buf[j] = (seed = (seed * 1_103_515_245 + 12_345) >>> 0) >>> 24;
      assert.ok(['drop', 'formerr', 'notimp', 'query'].includes(parseQuery(buf).kind));
    }
  });
});

describe('names', () => {
  const zone = zoneLabels('BL.Example.Test.');
  test('zone labels are lower case without the trailing dot', () => {
    assert.deepEqual(zone, ['bl', 'example', 'test']);
  });
  const table: readonly [string, string, string?][] = [
    ['bl.example.test', 'apex'],
    ['example.test', 'outside'],
    ['xbl.example.test', 'outside'],
    ['20.2.0.192.BL.example.test', 'address', '192.0.2.20'],
    ['020.2.0.192.bl.example.test', 'other'],
    ['256.2.0.192.bl.example.test', 'other'],
    ['1.20.2.0.192.bl.example.test', 'other'],
    ['2.0.192.bl.example.test', 'partial'],
    ['f.bl.example.test', 'partial'],
    ['www.bl.example.test', 'other'],
    [`${'1.'.repeat(31)}2.bl.example.test`, 'address', '2111:1111:1111:1111:1111:1111:1111:1111'],
    ['2.0.0.0.0.0.f.7.F.F.F.F.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example.test', 'address', '127.0.0.2'],
  ];
  for (const [name, kind, ip] of table) {
    test(`${name} → ${kind}${ip === undefined ? '' : ` ${ip}`}`, () => {
      const where = locate(name.split('.'), zone);
      assert.equal(where.kind, kind);
      if (ip !== undefined) assert.equal(where.kind === 'address' ? where.address.ip : undefined, ip);
    });
  }
  test('dnsblName is the inverse of locate for IPv4 and IPv6', () => {
    for (const ip of ['192.0.2.20', '2001:db8::26', '::1']) {
      const where = locate(dnsblName(ip, 'bl.example.test').split('.'), zone);
      assert.equal(where.kind === 'address' ? where.address.ip : undefined, ip);
    }
  });
  test('zoneInfo fills empty SOA and NS names from the zone', () => {
    const info = zoneInfo(dnsblSchema.parse({ zone: 'Bl.Example.Test.' }));
    assert.deepEqual(info, { labels: ['bl', 'example', 'test'], name: 'bl.example.test', mname: 'bl.example.test', rname: 'hostmaster.bl.example.test', ns: ['bl.example.test'] });
  });
  test('TXT text is cut into strings of at most 255 octets', () => {
    const parts = txtStrings('a'.repeat(600));
    assert.deepEqual(parts.map((p) => p.length), [255, 255, 90]);
  });
});

describe('rate limiter', () => {
  test('a bucket of burst tokens refilled per second; over it drop, every n-th slip; networks apart', () => {
    let t = 0;
    const config = dnsblSchema.parse({ rateLimitPerSecondCount: 2, rateLimitBurstCount: 3, rateLimitSlipCount: 3 });
    const limiter = new ResponseRateLimiter({ config, now: () => t });
    const first = Array.from({ length: 9 }, () => limiter.take('192.0.2.1'));
    assert.deepEqual(first, ['send', 'send', 'send', 'drop', 'drop', 'slip', 'drop', 'drop', 'slip']);
    // Same /24: the same bucket; another /24: its own.
    assert.equal(limiter.take('192.0.2.200'), 'drop');
    assert.equal(limiter.take('192.0.3.1'), 'send');
    t += 1_000; // two tokens back
    assert.deepEqual([limiter.take('192.0.2.1'), limiter.take('192.0.2.1'), limiter.take('192.0.2.1')], ['send', 'send', 'drop']);
  });

  test('0 turns it off; slip 0 drops everything over the limit', () => {
    const off = new ResponseRateLimiter({ config: dnsblSchema.parse({ rateLimitPerSecondCount: 0 }) });
    assert.ok(Array.from({ length: 5_000 }, () => off.take('192.0.2.1')).every((a) => a === 'send'));
    const noSlip = new ResponseRateLimiter({ config: dnsblSchema.parse({ rateLimitPerSecondCount: 1, rateLimitBurstCount: 1, rateLimitSlipCount: 0 }), now: () => 0 });
    assert.deepEqual([noSlip.take('192.0.2.1'), noSlip.take('192.0.2.1'), noSlip.take('192.0.2.1')], ['send', 'drop', 'drop']);
  });

  test('network keys: IPv4 /24, IPv6 /56, IPv4-mapped as IPv4', () => {
    assert.equal(networkKey('192.0.2.77', 24, 56), networkKey('::ffff:192.0.2.1', 24, 56));
    assert.equal(networkKey('2001:db8:0:12::1', 24, 56), networkKey('2001:db8:0:ff::2', 24, 56));
    assert.notEqual(networkKey('2001:db8:0:100::1', 24, 56), networkKey('2001:db8:0:ff::2', 24, 56));
    assert.equal(networkKey('not an ip', 24, 56), '?not an ip');
  });
});
