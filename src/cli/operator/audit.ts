/**
 * NAME
 *   cli/operator/audit - `audit` and `stats`: what was done, and what the firewall counted
 *
 * SYNOPSIS
 *   blocksmith audit [--target X] [--actor X] [--action X] [--since DURATION|ISO] [--limit N] [--json]
 *   blocksmith stats [--hours N] [--json]
 *
 * DESCRIPTION
 *   audit: the audit log, newest first, up to --limit (default 100) entries; --action is
 *   matched upper-cased (LIST, CLEAR, EXPIRE, ALLOW-ADD, ALLOW-REMOVE, REQUEST-APPROVE, …);
 *   --since takes a duration back from now (24h, 7d) or an ISO 8601 time.
 *
 *   stats: the hourly counters of the last --hours hours (default 24, the current hour
 *   included), summed per counter; with --json one object: { from, to, totals, hours: [{ hour,
 *   counters }] }. Running nodes write their counters every firewall.statsFlushMs, so the last
 *   few seconds may not be counted yet.
 *
 * EXIT STATUS
 *   0; 64 usage; 75 store unavailable.
 */
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import type { AuditEntry } from '../../store/types.js';
import type { NodeFlags } from '../node-options.js';
import { parseCount, parseFilter, parseWhen } from './args.js';
import { addOperatorOptions, configFlagOf, withNode } from './node.js';
import { DEFAULT_LIMIT, MAX_LIMIT, readPages } from './pages.js';
import { cell, jsonLine, table, time } from './render.js';

export const HOUR_MS = 3_600_000;
export const DEFAULT_STATS_HOURS = 24;
/** A year and a day of hourly counters at most. */
export const MAX_STATS_HOURS = 366 * 24;

interface AuditFlags extends NodeFlags {
  readonly target?: string;
  readonly actor?: string;
  readonly action?: string;
  readonly since?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

interface StatsFlags extends NodeFlags {
  readonly hours?: string;
  readonly json?: boolean;
}

export function registerAuditCommands(program: Command, setExit: (code: number) => void): void {
  addOperatorOptions(
    program
      .command('audit')
      .description('Show the audit log, newest first')
      .option('--target <x>', 'only this IP, range or reference')
      .option('--actor <x>', 'only this actor (cli:<user>, self-service, re-check, expiry, …)')
      .option('--action <x>', 'only this action (LIST, CLEAR, EXPIRE, ALLOW-ADD, …)')
      .option('--since <when>', 'only from a duration ago (24h, 7d) or an ISO 8601 time')
      .option('--limit <n>', `at most this many (default ${DEFAULT_LIMIT})`),
  ).action(async (flags: AuditFlags, command: Command) => setExit(await runAudit(flags, configFlagOf(command))));

  addOperatorOptions(
    program
      .command('stats')
      .description('Counters of the last hours, summed')
      .option('--hours <n>', `hours back, the current one included (default ${DEFAULT_STATS_HOURS})`),
  ).action(async (flags: StatsFlags, command: Command) => setExit(await runStats(flags, configFlagOf(command))));
}

async function runAudit(flags: AuditFlags, configFlag: string | undefined): Promise<number> {
  const target = flags.target === undefined ? undefined : parseFilter('--target', flags.target);
  const actor = flags.actor === undefined ? undefined : parseFilter('--actor', flags.actor);
  const action = flags.action === undefined ? undefined : parseFilter('--action', flags.action).toUpperCase();
  const since = flags.since === undefined ? undefined : parseWhen('--since', flags.since, Date.now(), 'past');
  const limit = flags.limit === undefined ? DEFAULT_LIMIT : parseCount('--limit', flags.limit, 1, MAX_LIMIT);
  const { items, more } = await withNode(flags, configFlag, (app) =>
    readPages(limit, (size, after) =>
      app.store.listAudit({
        ...(target === undefined ? {} : { target }),
        ...(actor === undefined ? {} : { actor }),
        ...(action === undefined ? {} : { action }),
        ...(since === undefined ? {} : { since }),
        limit: size,
        ...(after === undefined ? {} : { after }),
      }),
    ),
  );
  if (flags.json === true) process.stdout.write(items.map(jsonLine).join(''));
  else process.stdout.write(items.length === 0 ? 'no audit entries\n' : auditTable(items));
  if (more) process.stderr.write(`blocksmith: more entries match; showing the newest ${limit} (--limit)\n`);
  return EXIT.ok;
}

function auditTable(items: readonly AuditEntry[]): string {
  return table(
    ['AT', 'ACTOR', 'ACTION', 'TARGET', 'DETAIL'],
    items.map((a) => [time(a.at), cell(a.actor, 32), cell(a.action, 24), cell(a.target, 48), cell(a.detail)]),
  );
}

async function runStats(flags: StatsFlags, configFlag: string | undefined): Promise<number> {
  const hours = flags.hours === undefined ? DEFAULT_STATS_HOURS : parseCount('--hours', flags.hours, 1, MAX_STATS_HOURS);
  const to = Math.floor(Date.now() / HOUR_MS) * HOUR_MS + HOUR_MS;
  const from = to - hours * HOUR_MS;
  const rows = await withNode(flags, configFlag, (app) => app.store.stats(from, to));
  const totals = new Map<string, number>();
  for (const row of rows) for (const [name, n] of Object.entries(row.counters)) totals.set(name, (totals.get(name) ?? 0) + n);
  const sorted = [...totals.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  if (flags.json === true) {
    process.stdout.write(
      jsonLine({ from: time(from), to: time(to), totals: Object.fromEntries(sorted), hours: rows.map((r) => ({ hour: time(r.hour), counters: r.counters })) }),
    );
  } else {
    process.stdout.write(`${time(from)} to ${time(to)} (${hours} hour${hours === 1 ? '' : 's'})\n`);
    process.stdout.write(sorted.length === 0 ? 'no counters\n' : table(['COUNTER', 'TOTAL'], sorted.map(([name, n]) => [cell(name, 64), String(n)])));
  }
  return EXIT.ok;
}
