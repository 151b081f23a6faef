/**
 * NAME
 *   cli/node-options - the flags every command that opens a BlockSmith node shares
 *
 * DESCRIPTION
 *   `--data DIR` (the SQLite file is DIR/blocksmith.db), `--store sqlite|redis://…`, `--resolver
 *   HOST[:PORT]` (repeatable) and `--bypass CIDR,…|none`, turned into configuration overrides so
 *   the schema validates them like any other source and names the flag in its errors.
 */
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { BlockSmithError } from '../errors.js';
import type { ConfigInput } from '../config/load.js';

export interface NodeFlags {
  readonly data?: string;
  readonly store?: string;
  readonly resolver?: string[];
  readonly bypass?: string;
}

/** The SQLite file's name inside --data. */
export const DATA_FILE_NAME = 'blocksmith.db';

export const NODE_FLAG_NAMES: Readonly<Record<string, string>> = {
  'resolver.servers': '--resolver',
  'check.bypass': '--bypass',
  'store.path': '--data',
  'store.redisUrl': '--store',
};

export function addNodeOptions(command: Command): Command {
  return command
    .option('--data <dir>', `directory of the SQLite store (file ${DATA_FILE_NAME}; default ./data)`)
    .option('--store <store>', 'sqlite (default) or a redis:// URL shared by several nodes')
    .addOption(new Option('-r, --resolver <host[:port]>', 'DNS server to ask (repeatable; replaces the configured ones)').argParser(collect))
    .option('--bypass <cidr,...>', 'ranges not checked (replaces the list); "none" checks everything');
}

export function nodeFlagOverrides(flags: NodeFlags): ConfigInput {
  const resolver: ConfigInput = {};
  const check: ConfigInput = {};
  const store: ConfigInput = {};
  if (flags.resolver !== undefined) resolver.servers = flags.resolver;
  if (flags.bypass !== undefined) check.bypass = parseBypass(flags.bypass);
  if (flags.data !== undefined) store.path = join(flags.data, DATA_FILE_NAME);
  if (flags.store !== undefined) {
    if (flags.store === 'sqlite') store.backend = 'sqlite';
    else if (/^rediss?:\/\//.test(flags.store)) {
      store.backend = 'redis';
      store.redisUrl = flags.store;
    } else throw new BlockSmithError('BS_ERR_USAGE', '--store: sqlite or a redis:// URL');
  }
  return { resolver, check, store };
}

export function parseBypass(value: string): string[] {
  if (value.trim().toLowerCase() === 'none') return [];
  const ranges = value.split(',').map((s) => s.trim());
  if (ranges.some((r) => r === '')) throw new BlockSmithError('BS_ERR_USAGE', '--bypass: empty range in the list');
  return ranges;
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
