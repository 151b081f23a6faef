/**
 * NAME
 *   cli/operator/requests - `requests list|approve|deny`: the whitelist requests from the portal
 *
 * SYNOPSIS
 *   blocksmith requests list [--state pending|approved|denied|all] [--limit N] [--json]
 *   blocksmith requests approve REF [--expires DURATION|ISO] [--json]
 *   blocksmith requests deny REF --reason TEXT [--json]
 *
 * DESCRIPTION
 *   list: newest first, pending ones by default. Every field but the reference, state and times
 *   was typed by a visitor of the portal and is printed through printable().
 *   approve: the allow entry and the request's new state in one store write
 *   (Firewall.approveRequest, actor `cli:<user>`), optionally expiring; prints the allow id.
 *   deny: with the reason the requester will be shown (Firewall.denyRequest).
 *
 * EXIT STATUS
 *   0 done; 1 no such request, or already approved or denied; 64 usage; 75 store unavailable.
 */
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import type { RequestOutcome } from '../../firewall/operator.js';
import type { RequestState, WhitelistRequest } from '../../store/types.js';
import type { NodeFlags } from '../node-options.js';
import { parseChoice, parseCount, parseNote, parseRef, parseWhen } from './args.js';
import { addOperatorOptions, configFlagOf, operatorActor, withNode } from './node.js';
import { DEFAULT_LIMIT, MAX_LIMIT, readPages } from './pages.js';
import { cell, jsonLine, table, time } from './render.js';

const REQUEST_STATES = ['pending', 'approved', 'denied', 'all'] as const;

interface ListFlags extends NodeFlags {
  readonly state?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

interface ApproveFlags extends NodeFlags {
  readonly expires?: string;
  readonly json?: boolean;
}

interface DenyFlags extends NodeFlags {
  readonly reason: string;
  readonly json?: boolean;
}

export function registerRequestCommands(program: Command, setExit: (code: number) => void): void {
  const requests = program.command('requests').description('Whitelist requests sent through the portal');
  addOperatorOptions(
    requests
      .command('list')
      .description('Show whitelist requests, newest first (pending ones by default)')
      .option('--state <state>', 'pending (default), approved, denied or all')
      .option('--limit <n>', `at most this many (default ${DEFAULT_LIMIT})`),
  ).action(async (flags: ListFlags, command: Command) => setExit(await runList(flags, configFlagOf(command))));

  addOperatorOptions(
    requests
      .command('approve')
      .description("Approve a request: its range goes on the allowlist; prints the allow entry's id")
      .argument('<ref>', 'the request reference')
      .option('--expires <when>', 'the allow entry ends after a duration (30d, 12h) or at an ISO 8601 time'),
  ).action(async (ref: string, flags: ApproveFlags, command: Command) => setExit(await runApprove(ref, flags, configFlagOf(command))));

  addOperatorOptions(
    requests
      .command('deny')
      .description('Deny a request')
      .argument('<ref>', 'the request reference')
      .requiredOption('--reason <text>', 'shown to the requester'),
  ).action(async (ref: string, flags: DenyFlags, command: Command) => setExit(await runDeny(ref, flags, configFlagOf(command))));
}

async function runList(flags: ListFlags, configFlag: string | undefined): Promise<number> {
  const state = parseChoice('--state', flags.state ?? 'pending', REQUEST_STATES);
  const limit = flags.limit === undefined ? DEFAULT_LIMIT : parseCount('--limit', flags.limit, 1, MAX_LIMIT);
  const wanted: RequestState | undefined = state === 'all' ? undefined : state;
  const { items, more } = await withNode(flags, configFlag, (app) => readPages(limit, (size, after) => app.store.listRequests(wanted, size, after)));
  if (flags.json === true) process.stdout.write(items.map(jsonLine).join(''));
  else process.stdout.write(items.length === 0 ? 'no requests\n' : requestTable(items));
  if (more) process.stderr.write(`blocksmith: more requests match; showing the first ${limit} (--limit)\n`);
  return EXIT.ok;
}

function requestTable(items: readonly WhitelistRequest[]): string {
  return table(
    ['REF', 'STATE', 'CREATED', 'RANGE', 'DOMAIN', 'CONTACT', 'DECIDED BY', 'WHY'],
    items.map((r) => [r.ref, r.state, time(r.createdAt), cell(r.range, 48), cell(r.domain, 40), cell(r.contact, 40), cell(r.decidedBy, 32), cell(r.why)]),
  );
}

async function runApprove(input: string, flags: ApproveFlags, configFlag: string | undefined): Promise<number> {
  const ref = parseRef('REF', input);
  const expiresAt = flags.expires === undefined ? undefined : parseWhen('--expires', flags.expires, Date.now(), 'future');
  const result = await withNode(flags, configFlag, (app) => app.firewall.approveRequest(ref, operatorActor(), expiresAt));
  return report(ref, result, flags.json === true, (r) => (r.outcome === 'approved' ? `${r.allow.id}\n` : ''));
}

async function runDeny(input: string, flags: DenyFlags, configFlag: string | undefined): Promise<number> {
  const ref = parseRef('REF', input);
  const reason = parseNote('--reason', flags.reason);
  const result = await withNode(flags, configFlag, (app) => app.firewall.denyRequest(ref, operatorActor(), reason));
  return report(ref, result, flags.json === true, () => `${ref}: denied\n`);
}

function report(ref: string, result: RequestOutcome, json: boolean, done: (r: RequestOutcome) => string): number {
  if (json) {
    process.stdout.write(jsonLine(result.outcome === 'not-found' ? { outcome: 'not-found', ref } : result));
  }
  switch (result.outcome) {
    case 'approved':
    case 'denied':
      if (!json) process.stdout.write(done(result));
      return EXIT.ok;
    case 'not-found':
      if (!json) process.stderr.write(`blocksmith: no request ${ref}\n`);
      return EXIT.rejected;
    case 'already-decided':
      if (!json) process.stderr.write(`blocksmith: request ${ref} is already ${result.request.state}\n`);
      return EXIT.rejected;
  }
}
