/**
 * NAME
 *   cli/operator/listings - `list`, `block`, `clear` and `unblock`: the listings of a node
 *
 * SYNOPSIS
 *   blocksmith list [--state active|cleared|expired|all] [--within CIDR] [--reason R] [--limit N] [--json]
 *   blocksmith block IP --note TEXT [--json]
 *   blocksmith clear IP --note TEXT [--json]
 *   blocksmith unblock IP [--json]
 *
 * DESCRIPTION
 *   list: listings in address order, active ones by default, read page by page up to --limit
 *   (default 100); a table, or one Listing object per line with --json. When more match than
 *   --limit, a line on stderr says so.
 *
 *   block: a manual listing (Firewall.list, actor `cli:<user>`): never re-checked, cleared only
 *   by an operator or by expiry. Blocking an address that is already listed updates its note.
 *   clear: ends an active listing (Firewall.clear); an address that is not listed is not an error.
 *
 *   unblock: the self-service unblock (Firewall.unblock), run by the operator as `cli:<user>`
 *   without the public's rate limits: an address that is not listed is left alone; an operator's
 *   listing is not cleared this way (use `clear`); otherwise a fresh check that bypasses every
 *   cache, and the listing is cleared (cause `unblock`) only when it passes.
 *
 * EXIT STATUS
 *   list, block, clear: 0. unblock: 0 cleared or not listed; 1 still failing (or listed by an
 *   operator); 75 the check ended in temperror. All: 64 usage, 75 store unavailable, 78 config.
 */
import type { Command } from 'commander';
import type { App } from '../../app.js';
import { EXIT } from '../../errors.js';
import type { Listing, ListingState } from '../../store/types.js';
import type { NodeFlags } from '../node-options.js';
import { parseChoice, parseCount, parseIp, parseNote, parseRange, parseReason } from './args.js';
import { addOperatorOptions, configFlagOf, operatorActor, withNode } from './node.js';
import { DEFAULT_LIMIT, MAX_LIMIT, readPages } from './pages.js';
import { cell, jsonLine, table, time } from './render.js';

const LIST_STATES = ['active', 'cleared', 'expired', 'all'] as const;

interface ListFlags extends NodeFlags {
  readonly state?: string;
  readonly within?: string;
  readonly reason?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

interface NoteFlags extends NodeFlags {
  readonly note: string;
  readonly json?: boolean;
}

interface JsonFlags extends NodeFlags {
  readonly json?: boolean;
}

export function registerListingCommands(program: Command, setExit: (code: number) => void): void {
  addOperatorOptions(
    program
      .command('list')
      .description('Show listings (active ones by default)')
      .option('--state <state>', 'active (default), cleared, expired or all')
      .option('--within <cidr>', 'only addresses in this range')
      .option('--reason <reason>', 'only this reason (no-ptr, no-valid-ptr, no-forward-match, forward-nodata, manual)')
      .option('--limit <n>', `at most this many (default ${DEFAULT_LIMIT})`),
  ).action(async (flags: ListFlags, command: Command) => setExit(await runList(flags, configFlagOf(command))));

  addOperatorOptions(
    program
      .command('block')
      .description('List an address by hand (never re-checked; cleared by an operator or by expiry)')
      .argument('<ip>', 'IPv4 or IPv6 address')
      .requiredOption('--note <text>', 'why (kept with the listing and in the audit log)'),
  ).action(async (ip: string, flags: NoteFlags, command: Command) => setExit(await runBlock(ip, flags, configFlagOf(command))));

  addOperatorOptions(
    program
      .command('clear')
      .description("End an address's active listing")
      .argument('<ip>', 'IPv4 or IPv6 address')
      .requiredOption('--note <text>', 'why (kept with the listing and in the audit log)'),
  ).action(async (ip: string, flags: NoteFlags, command: Command) => setExit(await runClear(ip, flags, configFlagOf(command))));

  addOperatorOptions(
    program
      .command('unblock')
      .description('Re-check a listed address now (no cache) and clear its listing if it passes')
      .argument('<ip>', 'IPv4 or IPv6 address'),
  ).action(async (ip: string, flags: JsonFlags, command: Command) => setExit(await runUnblock(ip, flags, configFlagOf(command))));
}

async function runList(flags: ListFlags, configFlag: string | undefined): Promise<number> {
  const state = parseChoice('--state', flags.state ?? 'active', LIST_STATES);
  const within = flags.within === undefined ? undefined : parseRange('--within', flags.within);
  const reason = flags.reason === undefined ? undefined : parseReason('--reason', flags.reason);
  const limit = flags.limit === undefined ? DEFAULT_LIMIT : parseCount('--limit', flags.limit, 1, MAX_LIMIT);
  const { items, more } = await withNode(flags, configFlag, (app) =>
    readPages(limit, (size, after) =>
      app.store.listListings({
        ...(state === 'all' ? {} : { state: state satisfies ListingState }),
        ...(within === undefined ? {} : { within }),
        ...(reason === undefined ? {} : { reason }),
        limit: size,
        ...(after === undefined ? {} : { after }),
      }),
    ),
  );
  if (flags.json === true) process.stdout.write(items.map(jsonLine).join(''));
  else if (items.length === 0) process.stdout.write('no listings\n');
  else process.stdout.write(listingTable(items));
  if (more) process.stderr.write(`blocksmith: more listings match; showing the first ${limit} (--limit)\n`);
  return EXIT.ok;
}

function listingTable(items: readonly Listing[]): string {
  return table(
    ['IP', 'STATE', 'REASON', 'LISTED', 'BY', 'REJECTS', 'LAST REJECT', 'PTR', 'NOTE'],
    items.map((l) => [
      l.ip,
      l.state,
      l.reason,
      time(l.listedAt),
      cell(l.listedBy, 32),
      String(l.rejectCount),
      time(l.lastRejectAt),
      cell(l.latestEvidence.names?.[0], 48),
      cell(l.note),
    ]),
  );
}

async function runBlock(input: string, flags: NoteFlags, configFlag: string | undefined): Promise<number> {
  const ip = parseIp('IP', input);
  const note = parseNote('--note', flags.note);
  const listing = await withNode(flags, configFlag, (app) => app.firewall.list(ip, note, operatorActor()));
  if (flags.json === true) process.stdout.write(jsonLine({ outcome: 'listed', listing }));
  else process.stdout.write(`${ip}: listed by hand (${cell(listing.listedBy, 32)}, since ${time(listing.listedAt)})\n`);
  return EXIT.ok;
}

async function runClear(input: string, flags: NoteFlags, configFlag: string | undefined): Promise<number> {
  const ip = parseIp('IP', input);
  const note = parseNote('--note', flags.note);
  const cleared = await withNode(flags, configFlag, (app) => app.firewall.clear(ip, note, operatorActor()));
  if (flags.json === true) process.stdout.write(jsonLine(cleared === undefined ? { outcome: 'not-listed', ip } : { outcome: 'cleared', listing: cleared }));
  else process.stdout.write(cleared === undefined ? `${ip}: not listed\n` : `${ip}: cleared\n`);
  return EXIT.ok;
}

type UnblockOutcome =
  | { readonly outcome: 'cleared'; readonly ip: string; readonly verdict: string; readonly reason: string }
  | { readonly outcome: 'not-listed'; readonly ip: string }
  | { readonly outcome: 'operator-listed'; readonly ip: string }
  | { readonly outcome: 'still-failing' | 'temperror'; readonly ip: string; readonly verdict: string; readonly reason: string; readonly step: string };

async function runUnblock(input: string, flags: JsonFlags, configFlag: string | undefined): Promise<number> {
  const ip = parseIp('IP', input);
  const result = await withNode(flags, configFlag, (app) => unblockAsOperator(app, ip));
  if (flags.json === true) process.stdout.write(jsonLine(result));
  else process.stdout.write(unblockText(result));
  switch (result.outcome) {
    case 'cleared':
    case 'not-listed':
      return EXIT.ok;
    case 'temperror':
      return EXIT.tempFail;
    case 'still-failing':
    case 'operator-listed':
      return EXIT.rejected;
  }
}

/** The firewall's unblock (firewall/lifecycle.ts), with the operator as the actor: no rate limit. */
async function unblockAsOperator(app: App, ip: string): Promise<UnblockOutcome> {
  const result = await app.firewall.unblock(ip, { actor: operatorActor() });
  switch (result.outcome) {
    case 'cleared':
      return { outcome: 'cleared', ip, verdict: result.check.verdict, reason: result.check.reason };
    case 'not-listed':
    case 'operator-listed':
      return { outcome: result.outcome, ip };
    case 'still-failing':
      return { outcome: result.verdict === 'temperror' ? 'temperror' : 'still-failing', ip, verdict: result.verdict, reason: result.reason, step: result.step };
    case 'rate-limited':
      throw new Error('an operator unblock is never rate-limited');
  }
}

function unblockText(r: UnblockOutcome): string {
  switch (r.outcome) {
    case 'cleared':
      return `${r.ip}: cleared (fresh check: ${r.verdict} ${r.reason})\n`;
    case 'not-listed':
      return `${r.ip}: not listed\n`;
    case 'operator-listed':
      return `${r.ip}: listed by an operator; not cleared by unblock (use: blocksmith clear ${r.ip} --note …)\n`;
    case 'still-failing':
      return `${r.ip}: still failing (${r.verdict} ${r.reason}): ${cell(r.step, 200)}\n`;
    case 'temperror':
      return `${r.ip}: not cleared, the check could not complete (${r.verdict} ${r.reason}): ${cell(r.step, 200)}; try again later\n`;
  }
}
