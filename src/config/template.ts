/**
 * NAME
 *   config/template - the commented blocksmith.yaml that `blocksmith init` writes
 *
 * DESCRIPTION
 *   Generated from the schema, so it always lists every setting with its current default and
 *   its line from descriptions.ts. Every setting is commented out: the file as written means
 *   "all defaults", and an operator uncomments what they change (a default that improves in a
 *   later release then reaches them). Lines starting `##` are explanations; removing the first
 *   `# ` from every other commented line yields a valid file equal to the defaults (a test checks).
 */
import { configSchema } from './schema.js';
import { KEY_DESCRIPTIONS, SECTION_DESCRIPTIONS } from './descriptions.js';

export function renderConfigTemplate(): string {
  const defaults = configSchema.parse({}) as unknown as Record<string, Record<string, unknown>>;
  const lines = [
    '## blocksmith.yaml - written by `blocksmith init`.',
    '## Every setting is shown with its default, commented out: uncomment what you change.',
    '## Sources, each over the one before: this file, BLOCKSMITH_* environment variables',
    '## (BLOCKSMITH_RESOLVER_TIMEOUT_MS=900), command-line flags. Reference: docs/configuration.md',
  ];
  for (const [section, values] of Object.entries(defaults)) {
    lines.push('', `## ${section}: ${SECTION_DESCRIPTIONS[section] ?? ''}`.trimEnd(), `# ${section}:`);
    for (const [key, value] of Object.entries(values)) {
      const description = KEY_DESCRIPTIONS[`${section}.${key}`];
      if (description !== undefined) lines.push(`#   ## ${description}`);
      lines.push(`#   ${key}: ${JSON.stringify(value)}`);
    }
  }
  return lines.join('\n') + '\n';
}
