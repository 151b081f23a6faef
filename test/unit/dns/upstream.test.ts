import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatUpstream, parseResolvConf, parseUpstream, readResolvConf, readResolvConfSync } from '../../../src/dns/upstream.js';
import { isBlockSmithError } from '../../../src/errors.js';

function assertInvalid(text: string): void {
  assert.throws(
    () => parseUpstream(text),
    (err: unknown) => isBlockSmithError(err) && err.code === 'BS_ERR_UPSTREAM_INVALID',
    `expected ${JSON.stringify(text)} to be refused`,
  );
}

void describe('parseUpstream', () => {
  const good: Array<[string, string, number]> = [
    ['192.0.2.1', '192.0.2.1', 53],
    ['192.0.2.1:5353', '192.0.2.1', 5353],
    [' 127.0.0.1:1 ', '127.0.0.1', 1],
    ['[2001:db8::1]', '2001:db8::1', 53],
    ['[2001:DB8:0:0::1]:65535', '2001:db8::1', 65535],
    ['2001:db8::53', '2001:db8::53', 53],
    ['::1', '::1', 53],
  ];
  for (const [text, host, port] of good) {
    void test(`accepts ${text}`, () => {
      assert.deepEqual(parseUpstream(text), { host, port });
    });
  }
  const bad = [
    '',
    '   ',
    'dns.example.com',
    'dns.example.com:53',
    '192.0.2.1:0',
    '192.0.2.1:65536',
    '192.0.2.1:',
    '192.0.2.1:53x',
    '192.0.2.1:-1',
    '192.0.2.256',
    '01.2.3.4',
    '[192.0.2.1]:53',
    '[2001:db8::1',
    '[2001:db8::1]53',
    '[2001:db8::1]:',
    'fe80::1%eth0',
    '[fe80::1%eth0]:53',
    '2001:db8::1:53:x',
    'x'.repeat(10_000),
  ];
  for (const text of bad) {
    void test(`refuses ${JSON.stringify(text.slice(0, 30))}`, () => assertInvalid(text));
  }
  void test('the error message is bounded for huge input', () => {
    try {
      parseUpstream('y'.repeat(100_000));
      assert.fail('no error');
    } catch (err) {
      assert.ok(err instanceof Error && err.message.length < 300);
    }
  });
});

void describe('formatUpstream', () => {
  void test('IPv4 and IPv6 round-trip', () => {
    assert.equal(formatUpstream({ host: '192.0.2.1', port: 53 }), '192.0.2.1:53');
    assert.equal(formatUpstream({ host: '2001:db8::1', port: 5353 }), '[2001:db8::1]:5353');
    for (const s of ['192.0.2.1:53', '[2001:db8::1]:5353', '[::1]:53']) assert.equal(formatUpstream(parseUpstream(s)), s);
  });
});

void describe('parseResolvConf', () => {
  void test('reads nameservers, skips comments, garbage and hostile lines', () => {
    const text = [
      '# comment nameserver 10.0.0.1',
      '; nameserver 10.0.0.2',
      'search example.com',
      'nameserver',
      'nameserver    ',
      'nameserver 192.0.2.53 # trailing comment',
      'nameserver\t2001:db8::53',
      'nameserver fe80::1%eth0',
      'nameserver dns.example.com',
      'nameserver 192.0.2.1:53',
      `nameserver ${'9'.repeat(100_000)}`,
      '\u0000\u0001 garbage \uFFFD',
      'nameserver 192.0.2.53',
      'nameservers 192.0.2.99',
      'options ndots:5',
      'nameserver 127.0.0.53',
      'nameserver 192.0.2.54',
    ].join('\n');
    const { servers, skipped } = parseResolvConf(text);
    assert.deepEqual(servers, [
      { host: '192.0.2.53', port: 53 },
      { host: '2001:db8::53', port: 53 },
      { host: '127.0.0.53', port: 53 },
    ]);
    assert.equal(skipped.filter((s) => s.includes('no address')).length, 2);
    assert.ok(skipped.some((s) => s.includes('zone id')));
    assert.ok(skipped.some((s) => s.includes('more than 3')));
    assert.ok(skipped.every((s) => s.length < 200), 'skipped lines are cut');
  });
  void test('CRLF line ends', () => {
    assert.deepEqual(parseResolvConf('nameserver 192.0.2.1\r\nnameserver 192.0.2.2\r\n').servers.length, 2);
  });
});

void describe('readResolvConf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bs-resolv-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('a file with servers', async () => {
    const path = join(dir, 'ok.conf');
    writeFileSync(path, 'nameserver 192.0.2.7\n');
    const rc = await readResolvConf(path);
    assert.equal(rc.fallback, false);
    assert.deepEqual(rc.servers, [{ host: '192.0.2.7', port: 53 }]);
    assert.deepEqual(readResolvConfSync(path), rc);
  });
  void test('an empty file falls back to 127.0.0.1 and says so', async () => {
    const path = join(dir, 'empty.conf');
    writeFileSync(path, '');
    const rc = await readResolvConf(path);
    assert.equal(rc.fallback, true);
    assert.deepEqual(rc.servers, [{ host: '127.0.0.1', port: 53 }]);
    assert.match(rc.detail ?? '', /no usable nameserver/);
  });
  void test('a missing file or a directory falls back, never throws', async () => {
    for (const path of [join(dir, 'missing.conf'), dir]) {
      const rc = await readResolvConf(path);
      assert.equal(rc.fallback, true);
      assert.match(rc.detail ?? '', /cannot read/);
      assert.equal(readResolvConfSync(path).fallback, true);
    }
  });
  void test('only the first maxBytes are read', async () => {
    const path = join(dir, 'big.conf');
    writeFileSync(path, `${'#'.repeat(200)}\nnameserver 192.0.2.9\n`);
    assert.equal((await readResolvConf(path, 100)).fallback, true);
    assert.equal((await readResolvConf(path)).fallback, false);
  });
});
