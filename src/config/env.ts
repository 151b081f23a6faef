/**
 * NAME
 *   config/env - configuration from BLOCKSMITH_* environment variables
 *
 * SYNOPSIS
 *   overridesFromEnv(process.env): ConfigInput
 *
 * DESCRIPTION
 *   Every key of the schema can be set as BLOCKSMITH_<SECTION>_<KEY>, the key's camelCase written
 *   in upper snake case: `resolver.timeoutMs` is BLOCKSMITH_RESOLVER_TIMEOUT_MS. The names are
 *   derived from the schema itself, so a new key gets its variable with no extra code. Values are
 *   read by the key's type: numbers and booleans as such, arrays as a JSON array or a comma list,
 *   nested objects as JSON. A BLOCKSMITH_* variable that names no key is an error (a typo must not
 *   be silently ignored), except the few the CLI itself reads (BLOCKSMITH_CONFIG).
 *   Validation of the values is the schema's job, afterwards (config/load.ts).
 */
import { z } from 'zod';
import { BlockSmithError } from '../errors.js';
import { configSchema } from './schema.js';
import type { ConfigInput } from './load.js';

export const ENV_PREFIX = 'BLOCKSMITH_';
/** Variables with the prefix that are not configuration keys. */
const RESERVED = new Set(['BLOCKSMITH_CONFIG']);

type Kind = 'number' | 'boolean' | 'string' | 'array' | 'json';

export function envName(section: string, key: string): string {
  const snake = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  return `${ENV_PREFIX}${snake(section)}_${snake(key)}`;
}

/** Every settable key: env variable name → [section, key, kind]. */
export function envKeys(): Map<string, readonly [string, string, Kind]> {
  const out = new Map<string, readonly [string, string, Kind]>();
  for (const [section, sectionSchema] of Object.entries(objectShape(configSchema))) {
    for (const [key, keySchema] of Object.entries(objectShape(sectionSchema))) {
      out.set(envName(section, key), [section, key, kindOf(keySchema)]);
    }
  }
  return out;
}

export function overridesFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  const keys = envKeys();
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || RESERVED.has(name) || raw === undefined) continue;
    const entry = keys.get(name);
    if (entry === undefined) throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `${name}: no such setting`);
    const [section, key, kind] = entry;
    (out[section] ??= {})[key] = parseValue(name, raw, kind);
  }
  return out;
}

function parseValue(name: string, raw: string, kind: Kind): unknown {
  const text = raw.trim();
  switch (kind) {
    case 'number': {
      if (!/^-?\d+(\.\d+)?$/.test(text)) throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `${name}: not a number`);
      return Number(text);
    }
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `${name}: not true or false`);
    case 'array':
      if (text.startsWith('[')) return parseJson(name, text);
      return text === '' ? [] : text.split(',').map((s) => s.trim());
    case 'json':
      return parseJson(name, text);
    case 'string':
      return raw;
  }
}

function parseJson(name: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `${name}: not valid JSON`);
  }
}

/** The object shape under any wrappers (prefault, default, optional). */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> {
  const inner = unwrap(schema);
  return inner instanceof z.ZodObject ? (inner.shape) : {};
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType;
    } else return current;
  }
}

function kindOf(schema: z.ZodType): Kind {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodNumber) return 'number';
  if (inner instanceof z.ZodBoolean) return 'boolean';
  if (inner instanceof z.ZodArray) return 'array';
  if (inner instanceof z.ZodString || inner instanceof z.ZodEnum || inner instanceof z.ZodLiteral) return 'string';
  return 'json';
}
