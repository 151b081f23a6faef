/**
 * Fuzz target: the configuration file and BLOCKSMITH_* variables (src/config): load.ts
 * parseConfigText (YAML/JSON text → partial configuration), the merge and schema validation of
 * loadConfig, and env.ts overridesFromEnv.
 *
 * Inputs: documents built from the schema's own sections and keys with values of every kind
 * (bounds ±1, wrong types, nested objects, null, long strings, `__proto__`), written as YAML or
 * JSON; YAML's sharp edges (anchors and aliases, merge keys, tags, several documents, duplicate
 * keys, flow style, tabs); mutated valid files; random text; random BLOCKSMITH_* variables.
 * Every text goes through a real file (loadConfig({ file }), as the CLI loads it).
 *
 * Contract checked:
 *   - the outcome is a deep-frozen configuration or a BlockSmithError BS_ERR_CONFIG_INVALID /
 *     BS_ERR_CONFIG_UNREADABLE with a non-empty message; nothing else is ever thrown;
 *   - parseConfigText fails on a text exactly when readConfigFile fails on it as a file;
 *   - Object.prototype is never touched (`__proto__` keys);
 *   - nothing goes to stderr (process.emitWarning): the log is JSON lines;
 *   - a configuration that loads re-loads from its own JSON to the same configuration (checked
 *     for every 7th text: the schema's parse is the costly part).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { envKeys, overridesFromEnv } from '../../../src/config/env.js';
import { loadConfig, parseConfigText, readConfigFile } from '../../../src/config/load.js';
import { renderConfigTemplate } from '../../../src/config/template.js';
import { BlockSmithError } from '../../../src/errors.js';
import { mutated, type FuzzTarget } from '../harness.js';

const KEYS = [...envKeys().entries()].map(([env, [section, key, kind]]) => ({ env, section, key, kind }));
const SECTIONS = [...new Set(KEYS.map((k) => k.section))];
const dir = mkdtempSync(join(tmpdir(), 'blocksmith-fuzz-config-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const scalar = fc.oneof(
  fc.constantFrom(0, -1, 1, 49, 50, 511, 512, 1_232, 4_096, 65_535, 65_536, 2 ** 31, 1e308, -0, 0.5, Number.MAX_SAFE_INTEGER),
  fc.integer(),
  fc.boolean(),
  fc.constantFrom('', '127.0.0.1:53', '[::1]:5300', '0.0.0.0:25', 'soft', 'hard', 'report-only', 'https://portal.example.net/', 'example.net', 'a'.repeat(300), 'NaN', '1e3', '__proto__', '\u0000', 'ü'),
  fc.string({ maxLength: 20 }),
  fc.constant(null),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 3 })),
})).v;

/** A document of real sections and keys, a few unknown ones, values of any kind. */
const document = fc
  .array(
    fc.oneof(
      { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...KEYS), value).map(([k, v]) => [k.section, k.key, v] as const) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...SECTIONS, 'nosuch', '__proto__', 'constructor'), fc.constantFrom('x', '__proto__', 'polluted', 'timeoutMs'), value).map(([s, k, v]) => [s, k, v] as const) },
    ),
    { maxLength: 8 },
  )
  .map((entries) => {
    const doc: Record<string, Record<string, unknown>> = {};
    for (const [section, key, v] of entries) {
      const s = (Object.hasOwn(doc, section) ? doc[section] : undefined) ?? {};
      Object.defineProperty(s, key, { value: v, enumerable: true, writable: true, configurable: true });
      Object.defineProperty(doc, section, { value: s, enumerable: true, writable: true, configurable: true });
    }
    return doc;
  });

const written = fc.tuple(document, fc.constantFrom('yaml', 'json', 'json-pretty')).map(([doc, how]) => {
  try {
    return how === 'yaml' ? toYaml(doc) : JSON.stringify(doc, null, how === 'json' ? undefined : 2);
  } catch {
    return '{}';
  }
});

const YAML_EDGES = [
  'resolver: &a {timeoutMs: 900}\ncheck: *a\n',
  'a: &a [*a]\n',
  'base: &b {tries: 3}\nresolver:\n  <<: *b\n  timeoutMs: 900\n',
  'resolver:\n  timeoutMs: !!str 900\n',
  'resolver:\n  timeoutMs: !!binary aGVsbG8=\n',
  'resolver: !!js/function "function(){}"\n',
  'resolver: {timeoutMs: 900}\n---\nresolver: {timeoutMs: 1000}\n',
  'resolver:\n  timeoutMs: 900\n  timeoutMs: 1000\n',
  'resolver:\n\ttimeoutMs: 900\n',
  '? [a, b]\n: c\n',
  '__proto__: {polluted: true}\nresolver: {}\n',
  '{"__proto__": {"polluted": true}}',
  '- 1\n- 2\n',
  '"just a string"',
  '~',
  'resolver: {servers: [' + Array.from({ length: 20 }, (_, i) => `"10.0.0.${i}"`).join(',') + ']}',
  'x: ' + '[' .repeat(200) + ']'.repeat(200),
  'l: &l [' + Array.from({ length: 10 }, () => '*l').join(',') + ']\n',
];
const uncommented = renderConfigTemplate()
  .split('\n')
  .filter((l) => !l.trimStart().startsWith('##'))
  .map((l) => l.replace(/^# ?/, ''))
  .join('\n');
const SEEDS = [uncommented, ...YAML_EDGES, '{"resolver":{"timeoutMs":900,"servers":["127.0.0.1:5300"]},"firewall":{"mode":"soft"}}'].map((s) => Buffer.from(s, 'utf8'));

const env = fc.dictionary(
  fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...KEYS.map((k) => k.env)) }, { weight: 1, arbitrary: fc.constantFrom('BLOCKSMITH_CONFIG', 'BLOCKSMITH_NOSUCH_KEY', 'BLOCKSMITH_', 'PATH') }),
  fc.oneof(fc.constantFrom('', '0', '900', '-1', 'true', 'false', 'yes', '[]', '["127.0.0.1"]', '{"a":1}', '1,2,3', 'null', '1e400', '{'), fc.string({ maxLength: 20 })),
  { maxKeys: 4 },
);

type Input = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'env'; readonly env: Record<string, string> };

const arbitrary: fc.Arbitrary<Input> = fc.oneof(
  { weight: 4, arbitrary: written.map((text) => ({ kind: 'text' as const, text })) },
  { weight: 3, arbitrary: mutated(SEEDS, 4).map((b) => ({ kind: 'text' as const, text: b.toString('utf8') })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((text) => ({ kind: 'text' as const, text })) },
  { weight: 2, arbitrary: env.map((e) => ({ kind: 'env' as const, env: e })) },
);

type Outcome = { readonly ok: true; readonly config: unknown } | { readonly ok: false; readonly code: string };

/** outcome - what loading gives: a config, or the error's code (anything else thrown fails the check). */
function outcome(load: () => unknown, frozen = true): Outcome {
  let config: unknown;
  try {
    config = load();
  } catch (err) {
    assert.ok(err instanceof BlockSmithError, `only BlockSmithError is thrown, got ${String(err)}`);
    assert.ok(err.code === 'BS_ERR_CONFIG_INVALID' || err.code === 'BS_ERR_CONFIG_UNREADABLE', `code ${err.code}`);
    assert.ok(err.message.length > 0);
    return { ok: false, code: err.code };
  }
  if (frozen) assert.ok(Object.isFrozen(config), 'the configuration is frozen');
  return { ok: true, config };
}

/** Warnings the code under test emitted (process.emitWarning writes them to stderr, outside the JSON log): kept, not printed. */
const warnings: string[] = [];
process.emitWarning = (warning: string | Error): void => {
  warnings.push(String(warning));
};

let files = 0;

/** fromText - the text as a configuration file: written, then loadConfig({ file }) as the CLI does. */
function fromText(text: string): Outcome {
  const path = join(dir, `c${files++ % 4}.yaml`);
  writeFileSync(path, text);
  const loaded = outcome(() => loadConfig({ file: path }));
  // The text alone (parseConfigText) fails exactly when reading the file does, with the same code.
  const read = outcome(() => readConfigFile(path), false);
  const parsed = outcome(() => parseConfigText(text, path), false);
  assert.equal(parsed.ok, read.ok);
  if (!read.ok) assert.deepEqual(loaded, read, 'an unreadable file fails as its text does');
  return loaded;
}

export const target: FuzzTarget<Input> = {
  name: 'config',
  parser: 'config load.ts parseConfigText/readConfigFile/loadConfig + env.ts overridesFromEnv',
  arbitrary,
  check(input) {
    let result: Outcome;
    if (input.kind === 'env') {
      result = outcome(() => loadConfig({ env: overridesFromEnv(input.env) }));
    } else {
      result = fromText(input.text);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
    assert.deepEqual(warnings.splice(0), [], 'nothing printed to stderr');
    if (result.ok && input.kind === 'text' && input.text.length % 7 === 0) {
      const again = fromText(JSON.stringify(result.config));
      assert.ok(again.ok, 'a loaded configuration re-loads from its JSON');
      assert.deepEqual(again.config, result.config);
    }
  },
};
