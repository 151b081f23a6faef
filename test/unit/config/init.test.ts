import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { envKeys } from '../../../src/config/env.js';
import { KEY_DESCRIPTIONS, SECTION_DESCRIPTIONS } from '../../../src/config/descriptions.js';
import { renderConfigTemplate } from '../../../src/config/template.js';

const schemaKeys = [...envKeys().values()].map(([section, key]) => `${section}.${key}`);

test('every setting has a description, and every description a setting', () => {
  assert.deepEqual([...schemaKeys].sort(), Object.keys(KEY_DESCRIPTIONS).sort());
  assert.deepEqual(Object.keys(configSchema.parse({})).sort(), Object.keys(SECTION_DESCRIPTIONS).sort());
});

test('docs/configuration.md mentions every setting', () => {
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  for (const key of schemaKeys) {
    const name = key.split('.')[1] ?? key;
    assert.ok(doc.includes(`\`${name}\``) || doc.includes(`\`${name}.`), `${key} is not in docs/configuration.md`);
  }
});

test('the template parses as all defaults, and uncommented it is exactly the defaults', () => {
  const text = renderConfigTemplate();
  assert.deepEqual(configSchema.parse(parse(text) ?? {}), configSchema.parse({}));
  const uncommented = text
    .split('\n')
    .map((line) => (line.startsWith('# ') && !line.includes('## ') ? line.slice(2) : line))
    .join('\n');
  const parsed = parse(uncommented) as Record<string, unknown>;
  assert.deepEqual(configSchema.parse(parsed), configSchema.parse({}));
  assert.equal(Object.keys(parsed).length, Object.keys(SECTION_DESCRIPTIONS).length);
});
