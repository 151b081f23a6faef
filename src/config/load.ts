/**
 * NAME
 *   config/load - read, merge, validate and freeze the configuration
 *
 * SYNOPSIS
 *   loadConfig({ file, overrides }): Config
 *   parseConfigText(text, path): ConfigInput     a file's text (YAML or JSON) as a partial configuration
 *
 * DESCRIPTION
 *   The configuration is the embedded defaults, then a YAML file (JSON is YAML too: `--config
 *   PATH`, else BLOCKSMITH_CONFIG, else ./blocksmith.yaml when it exists), then BLOCKSMITH_*
 *   environment variables (config/env.ts), then the command line's overrides.
 *   The merged object is validated by config/schema.ts once: an unknown key, a wrong type or a
 *   value out of bounds is a BS_ERR_CONFIG_INVALID naming the key (or the flag that set it), never
 *   a silent default. The result is deep-frozen and nothing writes into the caller's objects.
 *
 * LIMITS
 *   MAX_CONFIG_FILE_BYTES: a configuration file larger than this is refused unread.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { BlockSmithError } from '../errors.js';
import { configSchema, type Config } from './schema.js';

export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** YAML aliases expanded at most (a "billion laughs" file is refused, not expanded). */
export const MAX_YAML_ALIASES = 100;
/** The file read when neither --config nor BLOCKSMITH_CONFIG names one. */
export const DEFAULT_CONFIG_FILE = 'blocksmith.yaml';

/** A partial configuration: what a file or the command line may set. */
export type ConfigInput = { [key: string]: unknown };

export interface LoadOptions {
  /** Path of a JSON configuration file, if any. */
  readonly file?: string;
  /** From the environment (config/env.ts overridesFromEnv), merged over the file. */
  readonly env?: ConfigInput;
  /** Values from the command line, merged over the file and the environment. */
  readonly overrides?: ConfigInput;
  /** Names the command line used for config paths, for error messages (`resolver.timeoutMs` → `--timeout`). */
  readonly flagNames?: Readonly<Record<string, string>>;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const fromFile = options.file !== undefined ? readConfigFile(options.file) : {};
  const merged = mergeDeep(mergeDeep(fromFile, options.env ?? {}), options.overrides ?? {});
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    // A value that came from a flag is a usage error (64), one from the file a configuration error (78).
    const path = parsed.error.issues[0]?.path.map(String).join('.') ?? '';
    const fromFlag = options.flagNames?.[path] !== undefined && hasPath(options.overrides ?? {}, path);
    throw new BlockSmithError(fromFlag ? 'BS_ERR_USAGE' : 'BS_ERR_CONFIG_INVALID', describeIssue(parsed.error.issues, options));
  }
  return deepFreeze(withoutNegativeZero(parsed.data));
}

/**
 * withoutNegativeZero - the same configuration with every -0 read as 0. YAML and Number() both
 * give -0 for "-0"; it behaves as 0 everywhere but compares and prints differently (a
 * configuration written out as JSON and read back would not be the same value: found by fuzzing).
 */
function withoutNegativeZero<T>(value: T): T {
  if (Object.is(value, -0)) return 0 as T;
  if (Array.isArray(value)) return value.map(withoutNegativeZero) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = withoutNegativeZero(v);
    return out as T;
  }
  return value;
}

export function readConfigFile(path: string): ConfigInput {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_FILE_BYTES) {
      throw new BlockSmithError('BS_ERR_CONFIG_UNREADABLE', `${path}: larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof BlockSmithError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new BlockSmithError('BS_ERR_CONFIG_UNREADABLE', `${path}: cannot read (${code})`, { cause: err });
  }
  return parseConfigText(text, path);
}

/** parseConfigText - the text of a configuration file (`path` for messages); BS_ERR_CONFIG_UNREADABLE if not a mapping. */
export function parseConfigText(text: string, path: string): ConfigInput {
  let value: unknown;
  try {
    // logLevel 'error': the yaml package would print its warnings (an unknown tag or directive) to
    // stderr through process.emitWarning, outside the JSON log; such a value stays a plain scalar
    // that the schema then judges.
    value = parseYaml(text, { maxAliasCount: MAX_YAML_ALIASES, uniqueKeys: true, prettyErrors: true, logLevel: 'error' });
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : 'invalid YAML';
    throw new BlockSmithError('BS_ERR_CONFIG_UNREADABLE', `${path}: not valid YAML or JSON (${detail})`, { cause: err });
  }
  if (value === null || value === undefined) return {}; // an empty file: all defaults
  if (!isPlainObject(value)) {
    throw new BlockSmithError('BS_ERR_CONFIG_UNREADABLE', `${path}: the top level must be a mapping (key: value)`);
  }
  return value;
}

/** Which file to read: --config, else $BLOCKSMITH_CONFIG, else ./blocksmith.yaml if present. */
export function configFilePath(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env.BLOCKSMITH_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined;
}

function describeIssue(issues: readonly z.core.$ZodIssue[], options: LoadOptions): string {
  const first = issues[0];
  if (first === undefined) return 'invalid configuration';
  const path = first.path.map(String).join('.');
  const flag = hasPath(options.overrides ?? {}, path) ? options.flagNames?.[path] : undefined;
  const where = flag ?? (path === '' ? 'configuration' : path);
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${where}: ${first.message}${more}`;
}

function hasPath(object: ConfigInput, path: string): boolean {
  let node: unknown = object;
  for (const key of path.split('.')) {
    if (!isPlainObject(node) || !Object.hasOwn(node, key)) return false;
    node = node[key];
  }
  return true;
}

function isPlainObject(value: unknown): value is ConfigInput {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Merge `over` into a copy of `base`; arrays and scalars replace, objects merge. A key such as
 * `__proto__` (JSON.parse and YAML make it an own key) is copied as a plain own property, never
 * assigned (which would set the copy's prototype) nor dropped: the schema then refuses it as an
 * unknown key, naming it, wherever it came from.
 */
export function mergeDeep(base: ConfigInput, over: ConfigInput): ConfigInput {
  const out: ConfigInput = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeDeep(current, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
