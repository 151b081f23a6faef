/**
 * NAME
 *   cli/api-key-command - `blocksmith api-key NAME`: make an operator key for the HTTP API
 *
 * SYNOPSIS
 *   blocksmith api-key NAME [--json]
 *
 * DESCRIPTION
 *   Prints a new random key (256 bits, `bsk_…`) once, and the configuration entry to paste
 *   under http.apiKeys: the name and the key's SHA-256. The key itself is stored nowhere:
 *   whoever loses it makes a new one and removes the old entry. Requests carry it as
 *   `Authorization: Bearer <key>`; the audit log names the actor `operator:NAME`.
 *   Nothing is read or written: no configuration, no store.
 *
 *   --json: one object { name, key, sha256 } (for scripts that write the configuration).
 *
 * EXIT STATUS
 *   0; 64 when NAME is not letters, digits, '.', '_', '-' (at most 64, starting with a letter or digit).
 */
import type { Command } from 'commander';
import { apiKeyEntry } from '../config/sections/http.js';
import { BlockSmithError, EXIT } from '../errors.js';
import { hashApiKey, newApiKey } from '../fronts/api/auth.js';

export interface ApiKeyOutput {
  readonly name: string;
  readonly key: string;
  readonly sha256: string;
}

/** makeApiKey - a new key for NAME, validated as the config schema will validate the entry. */
export function makeApiKey(name: string): ApiKeyOutput {
  const key = newApiKey();
  const entry = apiKeyEntry.safeParse({ name, sha256: hashApiKey(key) });
  if (!entry.success) {
    throw new BlockSmithError('BS_ERR_USAGE', `api-key: NAME "${name.slice(0, 64)}": ${entry.error.issues[0]?.message ?? 'not valid'}`);
  }
  return { name: entry.data.name, key, sha256: entry.data.sha256 };
}

export function renderApiKey(out: ApiKeyOutput): string {
  return [
    `API key for "${out.name}" (shown once; it is not stored anywhere):`,
    '',
    `  ${out.key}`,
    '',
    'Add this entry to the configuration (blocksmith.yaml), then restart `blocksmith serve`:',
    '',
    'http:',
    '  apiKeys:',
    `    - name: ${out.name}`,
    `      sha256: ${out.sha256}`,
    '',
    `Use it as: curl -H 'Authorization: Bearer ${out.key}' http://127.0.0.1:8025/api/v1/listings`,
    `Actions taken with it are audited as operator:${out.name}.`,
    '',
  ].join('\n');
}

export function registerApiKeyCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('api-key')
    .description('Make an operator key for the HTTP API: prints the key once and the config entry (name + sha256)')
    .argument('<name>', 'who the key is for (audit actor operator:<name>)')
    .option('--json', 'one JSON object { name, key, sha256 }')
    .action((name: string, flags: { json?: boolean }) => {
      const out = makeApiKey(name);
      process.stdout.write(flags.json === true ? `${JSON.stringify(out)}\n` : renderApiKey(out));
      setExit(EXIT.ok);
    });
}
