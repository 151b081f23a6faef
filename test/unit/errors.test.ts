import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BlockSmithError, ERROR_CODES, EXIT } from '../../src/errors.js';

test('every error code is documented in docs/errors.md with its exit status', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, { exit }] of Object.entries(ERROR_CODES)) {
    const row = doc.split('\n').find((line) => line.includes(`\`${code}\``));
    assert.ok(row, `${code} missing from docs/errors.md`);
    assert.match(row, new RegExp(`\\|\\s*${exit}\\s*\\|`), `${code}: exit ${exit} not in its row`);
  }
});

test('docs/errors.md lists no code the registry does not have', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/`(BS_ERR_[A-Z_]+)`/g)].map((m) => m[1]);
  for (const code of documented) assert.ok(code !== undefined && code in ERROR_CODES, `${code} documented but not in the registry`);
});

test('a BlockSmithError carries its code and exit status', () => {
  const err = new BlockSmithError('BS_ERR_ADDRESS_INVALID', 'argument 1: bad');
  assert.equal(err.code, 'BS_ERR_ADDRESS_INVALID');
  assert.equal(err.exitCode, EXIT.usage);
  assert.ok(err instanceof Error);
});
