/**
 * NAME
 *   cli/operator/allow - `allow add|remove|list`: the allowlist
 *
 * SYNOPSIS
 *   blocksmith allow add RANGE --note TEXT [--expires DURATION|ISO] [--json]
 *   blocksmith allow remove ID [--json]
 *   blocksmith allow list [--all] [--json]
 *
 * DESCRIPTION
 *   add: an allow entry for an address or CIDR range (Firewall.allow, actor `cli:<user>`),
 *   optionally until a time (`30d`, `12h` from now, or ISO 8601); prints the new entry's id
 *   alone (or the entry with --json), so scripts can keep it for `allow remove`.
 *   remove: by id (Firewall.removeAllow).
 *   list: entries oldest first; entries whose expiry has passed are left out (a line on stderr
 *   counts them), or shown apart under "expired" with --all. --json: one entry a line, each
 *   with `expired: true|false`.
 *
 * EXIT STATUS
 *   0 done; 1 `allow remove` of an id that does not exist; 64 usage; 75 store unavailable.
 */
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import type { AllowEntry } from '../../store/types.js';
import type { NodeFlags } from '../node-options.js';
import { parseAllowId, parseNote, parseRange, parseWhen } from './args.js';
import { addOperatorOptions, configFlagOf, operatorActor, withNode } from './node.js';
import { cell, jsonLine, table, time } from './render.js';

interface AddFlags extends NodeFlags {
  readonly note: string;
  readonly expires?: string;
  readonly json?: boolean;
}

interface ListFlags extends NodeFlags {
  readonly all?: boolean;
  readonly json?: boolean;
}

interface JsonFlags extends NodeFlags {
  readonly json?: boolean;
}

export function registerAllowCommands(program: Command, setExit: (code: number) => void): void {
  const allow = program.command('allow').description('The allowlist: addresses and ranges always accepted');
  addOperatorOptions(
    allow
      .command('add')
      .description('Allow an address or CIDR range; prints the entry id')
      .argument('<range>', 'address or CIDR range, IPv4 or IPv6')
      .requiredOption('--note <text>', 'why (kept with the entry and in the audit log)')
      .option('--expires <when>', 'until a duration from now (30d, 12h) or an ISO 8601 time'),
  ).action(async (range: string, flags: AddFlags, command: Command) => setExit(await runAdd(range, flags, configFlagOf(command))));

  addOperatorOptions(allow.command('remove').description('Remove an allow entry by id').argument('<id>', 'the id `allow add` printed')).action(
    async (id: string, flags: JsonFlags, command: Command) => setExit(await runRemove(id, flags, configFlagOf(command))),
  );

  addOperatorOptions(allow.command('list').description('Show the allowlist').option('--all', 'show expired entries too, apart')).action(
    async (flags: ListFlags, command: Command) => setExit(await runList(flags, configFlagOf(command))),
  );
}

async function runAdd(input: string, flags: AddFlags, configFlag: string | undefined): Promise<number> {
  const range = parseRange('RANGE', input);
  const note = parseNote('--note', flags.note);
  const expiresAt = flags.expires === undefined ? undefined : parseWhen('--expires', flags.expires, Date.now(), 'future');
  const entry = await withNode(flags, configFlag, (app) => app.firewall.allow(range, note, operatorActor(), expiresAt));
  process.stdout.write(flags.json === true ? jsonLine(entry) : `${entry.id}\n`);
  return EXIT.ok;
}

async function runRemove(input: string, flags: JsonFlags, configFlag: string | undefined): Promise<number> {
  const id = parseAllowId('ID', input);
  const removed = await withNode(flags, configFlag, (app) => app.firewall.removeAllow(id, operatorActor()));
  if (flags.json === true) process.stdout.write(jsonLine({ outcome: removed ? 'removed' : 'not-found', id }));
  else process.stdout.write(removed ? `${id}: removed\n` : '');
  if (!removed) {
    if (flags.json !== true) process.stderr.write(`blocksmith: no allow entry ${cell(id)}\n`);
    return EXIT.rejected;
  }
  return EXIT.ok;
}

async function runList(flags: ListFlags, configFlag: string | undefined): Promise<number> {
  const entries = await withNode(flags, configFlag, (app) => app.store.allAllows());
  const now = Date.now();
  const isExpired = (e: AllowEntry): boolean => e.expiresAt !== undefined && e.expiresAt <= now;
  const sorted = [...entries].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  const current = sorted.filter((e) => !isExpired(e));
  const expired = sorted.filter(isExpired);
  if (flags.json === true) {
    const shown = flags.all === true ? [...current, ...expired] : current;
    process.stdout.write(shown.map((e) => jsonLine({ ...e, expired: isExpired(e) })).join(''));
  } else {
    process.stdout.write(current.length === 0 ? 'no allow entries\n' : allowTable(current));
    if (flags.all === true && expired.length > 0) process.stdout.write(`\nexpired:\n${allowTable(expired)}`);
  }
  if (flags.all !== true && expired.length > 0) {
    process.stderr.write(`blocksmith: ${expired.length} expired entr${expired.length === 1 ? 'y' : 'ies'} not shown (--all)\n`);
  }
  return EXIT.ok;
}

function allowTable(entries: readonly AllowEntry[]): string {
  return table(
    ['ID', 'RANGE', 'CREATED', 'BY', 'EXPIRES', 'REQUEST', 'NOTE'],
    entries.map((e) => [e.id, cell(e.range, 48), time(e.createdAt), cell(e.author, 32), time(e.expiresAt), cell(e.requestRef, 16), cell(e.note)]),
  );
}
