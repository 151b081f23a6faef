/**
 * The API's small parts on their own: the token buckets, API keys (format, hashing, the
 * Authorization header, constant-time verification), client keys and ranges, the api-key
 * command, and the error registry against docs/api.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { TokenBuckets } from '../../../../src/fronts/api/rate-limit.js';
import { ApiKeys, bearerToken, hashApiKey, newApiKey } from '../../../../src/fronts/api/auth.js';
import { RangeList, normaliseClient, rateKey } from '../../../../src/fronts/api/client.js';
import { API_ERRORS } from '../../../../src/fronts/api/errors.js';
import { safeJson } from '../../../../src/fronts/api/server.js';
import { makeApiKey, registerApiKeyCommand, renderApiKey } from '../../../../src/cli/api-key-command.js';
import { httpSchema } from '../../../../src/config/sections/http.js';
import { isBlockSmithError } from '../../../../src/errors.js';

test('TokenBuckets: a burst of capacity, then one token per windowMs/capacity; a refusal costs nothing', () => {
  let t = 0;
  const buckets = new TokenBuckets({ capacity: 3, windowMs: 3_000, trackedCount: 100, now: () => t });
  assert.deepEqual([1, 2, 3, 4].map(() => buckets.take('a').ok), [true, true, true, false]);
  assert.deepEqual(buckets.take('a'), { ok: false, retryAfterMs: 1_000 });
  t = 500;
  assert.deepEqual(buckets.take('a'), { ok: false, retryAfterMs: 500 });
  t = 1_000;
  assert.equal(buckets.take('a').ok, true);
  assert.equal(buckets.take('a').ok, false);
  assert.equal(buckets.take('b').ok, true, 'keys are separate');
  t = 100_000;
  assert.deepEqual([1, 2, 3, 4].map(() => buckets.take('a').ok), [true, true, true, false], 'refilled to the capacity, not beyond');
});

test('TokenBuckets: at most trackedCount keys; full buckets are swept; with none refilled a new key is refused', () => {
  let t = 0;
  const buckets = new TokenBuckets({ capacity: 2, windowMs: 1_000, trackedCount: 2, now: () => t });
  assert.equal(buckets.take('a').ok, true);
  assert.equal(buckets.take('b').ok, true);
  assert.deepEqual(buckets.take('c'), { ok: false, retryAfterMs: 500 });
  assert.equal(buckets.size, 2);
  t = 1_000;
  assert.equal(buckets.take('c').ok, true, 'a and b refilled: swept');
  assert.equal(buckets.size, 1);
});

test('API keys: bsk_ + 256 bits; config holds the SHA-256; only the right key verifies, whatever its position', () => {
  const keys = Array.from({ length: 3 }, () => newApiKey());
  for (const key of keys) assert.match(key, /^bsk_[A-Za-z0-9_-]{43}$/);
  assert.equal(new Set(keys).size, 3);
  assert.equal(hashApiKey('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const [k0, k1, k2] = keys as [string, string, string];
  const store = new ApiKeys([
    { name: 'alice', sha256: hashApiKey(k0) },
    { name: 'bob', sha256: hashApiKey(k1) },
  ]);
  assert.equal(store.verify(`Bearer ${k0}`), 'alice');
  assert.equal(store.verify(`bearer  ${k1}`), 'bob');
  for (const header of [undefined, '', k0, `Bearer ${k2}`, `Basic ${k0}`, `Bearer ${k0}x`, `Bearer ${k0} extra`, `Bearer ${'a'.repeat(300)}`, 'Bearer <script>']) {
    assert.equal(store.verify(header), undefined, String(header));
  }
  assert.equal(bearerToken('Bearer abc=='), 'abc==');
  assert.equal(new ApiKeys([]).verify(`Bearer ${k0}`), undefined);
});

test('client addresses: IPv4-mapped unmapped, IPv6 canonical, rate keys by /64; ranges match by family', () => {
  assert.equal(normaliseClient('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(normaliseClient('2001:DB8:0:0::1'), '2001:db8::1');
  assert.equal(rateKey('192.0.2.1'), '192.0.2.1');
  assert.equal(rateKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(rateKey('2001:db8:1:2::99'), rateKey('2001:db8:1:2:ffff::1'));
  const list = new RangeList(['10.0.0.0/8', '::1', '2001:db8::/32']);
  assert.equal(list.match('10.9.9.9'), '10.0.0.0/8');
  assert.equal(list.match('::ffff:10.9.9.9'), '10.0.0.0/8');
  assert.equal(list.match('::1'), '::1');
  assert.equal(list.match('11.0.0.1'), undefined);
  assert.equal(list.match('::a00:1'), undefined, 'IPv6 never matches an IPv4 range');
  assert.equal(list.match('garbage'), undefined);
});

test('config http: keys are hashes with unique names; ranges are strict; limits bounded', () => {
  const key = newApiKey();
  const parsed = httpSchema.parse({ apiKeys: [{ name: 'ops', sha256: hashApiKey(key).toUpperCase() }], trustedProxies: ['10.0.0.0/8', '::1'] });
  assert.equal(parsed.apiKeys[0]?.sha256, hashApiKey(key), 'lower-cased');
  for (const bad of [
    { apiKeys: [{ name: 'ops', sha256: key }] },
    { apiKeys: [{ name: 'ops', sha256: hashApiKey(key) }, { name: 'ops', sha256: hashApiKey('x') }] },
    { apiKeys: [{ name: 'bad name', sha256: hashApiKey(key) }] },
    { trustedProxies: ['0x7f.1'] },
    { trustedProxies: ['10.0.0.0/33'] },
    { metricsAllow: ['localhost'] },
    { bodyLimitBytes: 100 },
    { checkLimitCount: 0 },
  ]) {
    assert.equal(httpSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

test('blocksmith api-key NAME: a key, its entry (which the config accepts), printed once; a bad NAME is a usage error', async () => {
  const out = makeApiKey('alice.ops');
  assert.equal(out.sha256, hashApiKey(out.key));
  const parsed = httpSchema.parse({ apiKeys: [{ name: out.name, sha256: out.sha256 }] });
  assert.equal(new ApiKeys(parsed.apiKeys).verify(`Bearer ${out.key}`), 'alice.ops');
  const text = renderApiKey(out);
  assert.equal(text.split(out.key).length - 1, 2, 'the key once, and once in the example');
  assert.match(text, new RegExp(`- name: alice\\.ops\\n {6}sha256: ${out.sha256}`));
  assert.throws(() => makeApiKey('no spaces'), (err: unknown) => isBlockSmithError(err) && err.code === 'BS_ERR_USAGE');

  const program = new Command('blocksmith').exitOverride();
  let exit = -1;
  registerApiKeyCommand(program, (code) => (exit = code));
  const written: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array): boolean => {
    written.push(String(chunk));
    return true;
  };
  try {
    await program.parseAsync(['api-key', 'bob', '--json'], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  assert.equal(exit, 0);
  const json = JSON.parse(written.join('')) as { name: string; key: string; sha256: string };
  assert.equal(json.name, 'bob');
  assert.equal(json.sha256, hashApiKey(json.key));
});

test('every API error code is documented in docs/api.md, with its status', () => {
  const doc = readFileSync(new URL('../../../../docs/api.md', import.meta.url), 'utf8');
  for (const [code, { status }] of Object.entries(API_ERRORS)) {
    assert.ok(new RegExp(`\\| \`${code}\` \\| ${status} \\|`).test(doc), `${code} (${status}) is not in the table of docs/api.md`);
  }
});

test('safeJson: <, > and & never appear raw, and the JSON means the same', () => {
  const value = { name: '<script>alert("x")</script> & more', n: 1 };
  const text = safeJson(value);
  assert.ok(!/[<>&]/.test(text));
  assert.deepEqual(JSON.parse(text), value);
});
