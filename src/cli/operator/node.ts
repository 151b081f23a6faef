/**
 * NAME
 *   cli/operator/node - open the node's store for one operator command, and who acts
 *
 * SYNOPSIS
 *   addOperatorOptions(command)            the shared node flags (--data, --store, --resolver, --bypass)
 *   await withNode(flags, configFlag, async (app) => …)   config as serve reads it; app stopped after
 *   operatorActor(): string                `cli:<user name>` for the audit log
 *
 * DESCRIPTION
 *   The configuration comes from the same sources as `serve`: the file (--config, else
 *   $BLOCKSMITH_CONFIG, else ./blocksmith.yaml), BLOCKSMITH_* variables, then the node flags.
 *   The node is started without its background work (`timers: false`): re-checks and expiry are
 *   the running nodes' job. Every action goes through the Firewall and the Store (never raw SQL),
 *   so running nodes hear about it through the store's change events and follow within a second.
 *   A store that cannot be opened rejects with BS_ERR_STORE_UNAVAILABLE (exit 75).
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { startApp, type App } from '../../app.js';
import { configFilePath, loadConfig } from '../../config/load.js';
import { overridesFromEnv } from '../../config/env.js';
import type { Config } from '../../config/schema.js';
import { addNodeOptions, nodeFlagOverrides, NODE_FLAG_NAMES, type NodeFlags } from '../node-options.js';

/** Longest user name written into an audit actor. */
const USER_NAME_MAX_CHARS = 64;

export function addOperatorOptions(command: Command, json = true): Command {
  addNodeOptions(command);
  if (json) command.option('--json', 'one JSON object per line');
  return command;
}

export function readNodeConfig(flags: NodeFlags, configFlag: string | undefined): Config {
  const file = configFilePath(configFlag, process.env);
  return loadConfig({
    ...(file !== undefined ? { file } : {}),
    env: overridesFromEnv(process.env),
    overrides: nodeFlagOverrides(flags),
    flagNames: NODE_FLAG_NAMES,
  });
}

export async function withNode<T>(flags: NodeFlags, configFlag: string | undefined, work: (app: App) => Promise<T>): Promise<T> {
  const app = await startApp(readNodeConfig(flags, configFlag), { timers: false });
  try {
    return await work(app);
  } finally {
    await app.stop();
  }
}

/** The global --config of the program a subcommand belongs to. */
export function configFlagOf(command: Command): string | undefined {
  return command.optsWithGlobals<{ config?: string }>().config;
}

/** `cli:<user>`: the account running the command (its uid where it has no name). */
export function operatorActor(): `cli:${string}` {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = process.env.USER ?? `uid${process.getuid?.() ?? '?'}`;
  }
  const clean = name.replace(/[^\x21-\x7e]/g, '_').slice(0, USER_NAME_MAX_CHARS);
  return `cli:${clean === '' ? 'unknown' : clean}`;
}
