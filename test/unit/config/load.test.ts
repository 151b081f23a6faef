import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, mergeDeep, MAX_CONFIG_FILE_BYTES } from '../../../src/config/load.js';
import { DEFAULT_BYPASS } from '../../../src/config/schema.js';
import { envName, overridesFromEnv } from '../../../src/config/env.js';
import { BlockSmithError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'bs-config-'));
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BlockSmithError, `expected a BlockSmithError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('loadConfig', () => {
  test('embedded defaults: resolv.conf upstreams, 2 s timeout, 10 s deadline, documentation ranges not bypassed', () => {
    const config = loadConfig();
    assert.deepEqual(config.resolver.servers, []);
    assert.equal(config.resolver.timeoutMs, 2000);
    assert.equal(config.resolver.tries, 2);
    assert.equal(config.check.deadlineMs, 10_000);
    assert.equal(config.check.maxNamesCount, 10);
    assert.deepEqual(config.check.bypass, [...DEFAULT_BYPASS]);
    for (const doc of ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32']) {
      assert.ok(!config.check.bypass.includes(doc), `${doc} must not be bypassed by default`);
    }
  });

  test('YAML files, an empty file, and environment variables between the file and the flags', () => {
    const path = file('ok.yaml', '# comment\nresolver:\n  timeoutMs: 900\n  tries: 3\n');
    assert.equal(loadConfig({ file: path }).resolver.timeoutMs, 900);
    assert.equal(loadConfig({ file: file('empty.yaml', '') }).resolver.timeoutMs, 2000);
    const env = overridesFromEnv({ BLOCKSMITH_RESOLVER_TIMEOUT_MS: '700', BLOCKSMITH_CHECK_BYPASS: '10.0.0.0/8, 192.168.0.0/16', BLOCKSMITH_CONFIG: 'x' });
    const config = loadConfig({ file: path, env, overrides: { resolver: { tries: 1 } } });
    assert.equal(config.resolver.timeoutMs, 700, 'env over file');
    assert.equal(config.resolver.tries, 1, 'flags over everything');
    assert.deepEqual(config.check.bypass, ['10.0.0.0/8', '192.168.0.0/16']);
    assert.equal(loadConfig({ env, overrides: { resolver: { timeoutMs: 600 } } }).resolver.timeoutMs, 600);
  });

  test('a BLOCKSMITH_ variable that names no setting, or a bad value, is an error naming it', () => {
    throwsCode(() => overridesFromEnv({ BLOCKSMITH_RESOLVER_TIMEOUTMS: '5' }), 'BS_ERR_CONFIG_INVALID', /BLOCKSMITH_RESOLVER_TIMEOUTMS/);
    throwsCode(() => overridesFromEnv({ BLOCKSMITH_RESOLVER_TRIES: 'many' }), 'BS_ERR_CONFIG_INVALID', /not a number/);
    assert.equal(envName('resolver', 'maxInFlightCount'), 'BLOCKSMITH_RESOLVER_MAX_IN_FLIGHT_COUNT');
  });

  test('the result is frozen, deeply', () => {
    const config = loadConfig();
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.resolver));
    assert.ok(Object.isFrozen(config.check.bypass));
  });

  test('a file is merged under the command-line overrides', () => {
    const path = file('ok.json', JSON.stringify({ resolver: { timeoutMs: 900, tries: 3 } }));
    const config = loadConfig({ file: path, overrides: { resolver: { timeoutMs: 500 } } });
    assert.equal(config.resolver.timeoutMs, 500);
    assert.equal(config.resolver.tries, 3);
  });

  test('an unknown key is an error naming it, not a silent default', () => {
    const path = file('typo.json', JSON.stringify({ resolver: { timeoutMS: 900 } }));
    throwsCode(() => loadConfig({ file: path }), 'BS_ERR_CONFIG_INVALID', /resolver.*timeoutMS/);
  });

  test('a value out of bounds from a flag is a usage error naming the flag; from the file, a config error naming the key', () => {
    const flagNames = { 'resolver.timeoutMs': '--timeout' };
    throwsCode(() => loadConfig({ overrides: { resolver: { timeoutMs: 1 } }, flagNames }), 'BS_ERR_USAGE', /^--timeout: /);
    const path = file('slow.json', JSON.stringify({ resolver: { timeoutMs: 1 } }));
    throwsCode(() => loadConfig({ file: path, flagNames }), 'BS_ERR_CONFIG_INVALID', /^resolver\.timeoutMs: /);
  });

  test('hostile files: not JSON, not an object, missing, too large', () => {
    throwsCode(() => loadConfig({ file: file('bad.json', '{ "resolver": ') }), 'BS_ERR_CONFIG_UNREADABLE', /not valid YAML or JSON/);
    throwsCode(() => loadConfig({ file: file('array.json', '[1,2]') }), 'BS_ERR_CONFIG_UNREADABLE', /mapping/);
    throwsCode(() => loadConfig({ file: file('dup.yaml', 'resolver:\n  tries: 2\n  tries: 3\n') }), 'BS_ERR_CONFIG_UNREADABLE', /YAML/);
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill('*' + String.fromCharCode(97 + i)).join(', ')}]`)].join('\n');
    throwsCode(() => loadConfig({ file: file('laughs.yaml', laughs) }), 'BS_ERR_CONFIG_UNREADABLE', /YAML/);
    throwsCode(() => loadConfig({ file: join(dir, 'missing.json') }), 'BS_ERR_CONFIG_UNREADABLE', /ENOENT/);
    throwsCode(() => loadConfig({ file: file('big.json', ' '.repeat(MAX_CONFIG_FILE_BYTES + 1)) }), 'BS_ERR_CONFIG_UNREADABLE', /larger than/);
  });

  test('__proto__ from the environment over an object the file sets is an error naming it, not dropped', () => {
    const path = file('modes.yaml', 'firewall:\n  modeByVerdict:\n    fail: soft\n');
    const env = overridesFromEnv({ BLOCKSMITH_FIREWALL_MODE_BY_VERDICT: '{"__proto__": {"fail": "hard"}}' });
    throwsCode(() => loadConfig({ file: path, env }), 'BS_ERR_CONFIG_INVALID', /__proto__/);
    const merged = mergeDeep({ a: { b: 1 } }, JSON.parse('{"a": {"__proto__": {"polluted": true}}}') as Record<string, unknown>);
    assert.deepEqual(Object.keys(merged.a as object), ['b', '__proto__'], 'kept as an own key');
    assert.equal(Object.getPrototypeOf(merged.a), Object.prototype, 'the prototype is untouched');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('__proto__ in a file is an unknown key, and pollutes nothing', () => {
    const path = file('proto.json', '{"__proto__": {"polluted": true}, "check": {"deadlineMs": 5000}}');
    throwsCode(() => loadConfig({ file: path }), 'BS_ERR_CONFIG_INVALID', /__proto__/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('fuzz finding: an unknown YAML tag or directive writes nothing to stderr; the schema judges the value', (t) => {
    // The yaml package printed such warnings through process.emitWarning, outside the JSON log.
    const warn = t.mock.method(process, 'emitWarning', () => undefined);
    throwsCode(() => loadConfig({ file: file('tag.yaml', 'resolver:\n  timeoutMs: !!js/function "function(){}"\n') }), 'BS_ERR_CONFIG_INVALID', /resolver\.timeoutMs/);
    assert.equal(loadConfig({ file: file('directive.yaml', '%FOO bar\n---\nresolver: {timeoutMs: 900}\n') }).resolver.timeoutMs, 900);
    throwsCode(() => loadConfig({ file: file('key.yaml', '? [a, b]\n: c\n') }), 'BS_ERR_CONFIG_INVALID');
    assert.equal(warn.mock.callCount(), 0);
  });

  test('fuzz finding: -0 from the file or the environment reads as 0 (the configuration round-trips through JSON)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bs-cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'resolver:\n  negativeCacheMaxTtlS: -0\n');
    const fromFile = loadConfig({ file });
    assert.ok(Object.is(fromFile.resolver.negativeCacheMaxTtlS, 0));
    const fromEnv = loadConfig({ env: overridesFromEnv({ BLOCKSMITH_RESOLVER_NEGATIVE_CACHE_MAX_TTL_S: '-0' }) });
    assert.ok(Object.is(fromEnv.resolver.negativeCacheMaxTtlS, 0));
    writeFileSync(file, JSON.stringify(fromFile));
    assert.deepEqual(loadConfig({ file }), fromFile);
  });
  test('mergeDeep does not write into its arguments', () => {
    const base = { a: { b: 1 } };
    const over = { a: { c: 2 } };
    const merged = mergeDeep(base, over);
    assert.deepEqual(merged, { a: { b: 1, c: 2 } });
    assert.deepEqual(base, { a: { b: 1 } });
  });
});
