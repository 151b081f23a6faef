/**
 * NAME
 *   cli/check-command - `blocksmith check <ip>...`
 *
 * DESCRIPTION
 *   Checks addresses and prints one result per address: a readable trace, one line per address
 *   for `--file`, or one JSON object per line with `--json`. Every address is validated before
 *   the first DNS query: a malformed one is a usage error (64) naming it, never a query.
 *   Results are printed in input order while up to `--concurrency` checks run at once.
 *
 *   Exit status: 0 every verdict pass or skipped; 1 any fail or permerror; 75 any temperror and
 *   no fail/permerror; 64 usage; 66 unreadable --file; 78 invalid configuration.
 *
 * LIMITS
 *   MAX_INPUT_LINE_CHARS: a --file line longer than this is a usage error, not an address.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { BlockSmithError, EXIT } from '../errors.js';
import { configFilePath, loadConfig, type ConfigInput } from '../config/load.js';
import { overridesFromEnv } from '../config/env.js';
import { normaliseAddress } from '../check/address.js';
import { FcrdnsChecker } from '../check/checker.js';
import type { Verdict } from '../check/types.js';
import { StubResolver } from '../dns/stub-resolver.js';
import { printable } from '../util/printable.js';
import { readAddressList, type AddressLine } from './address-list.js';
import { Progress } from './progress.js';
import { renderCheck, renderLine } from './render-text.js';
import { collect, parseBypass } from './node-options.js';

export const DEFAULT_FILE_CONCURRENCY = 32;
export const MAX_CONCURRENCY = 4096;

interface CheckFlags {
  readonly resolver?: string[];
  readonly json?: boolean;
  readonly cache: boolean;
  readonly timeout?: number;
  readonly deadline?: number;
  readonly bypass?: string;
  readonly file?: string;
  readonly concurrency: number;
  readonly color: boolean;
}

const FLAG_NAMES: Readonly<Record<string, string>> = {
  'resolver.servers': '--resolver',
  'resolver.timeoutMs': '--timeout',
  'check.deadlineMs': '--deadline',
  'check.bypass': '--bypass',
};

export function registerCheckCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('check')
    .description('Check the forward-confirmed reverse DNS of IP addresses')
    .argument('[ip...]', 'IPv4 or IPv6 addresses')
    .addOption(new Option('-r, --resolver <host[:port]>', 'DNS server to ask (repeatable; replaces the configured ones)').argParser(collect))
    .option('--json', 'one JSON object per address per line')
    .option('--no-cache', 'bypass every cache (a fresh check, as the unblock button runs it)')
    .addOption(new Option('--timeout <ms>', 'per-query timeout in milliseconds').argParser(intArg('--timeout')))
    .addOption(new Option('--deadline <ms>', 'whole-check deadline in milliseconds').argParser(intArg('--deadline')))
    .option('--bypass <cidr,...>', 'ranges not checked (replaces the list); "none" checks everything')
    .option('-f, --file <file>', 'read addresses from a file, one per line ("-" for standard input)')
    .addOption(new Option('--concurrency <n>', 'checks at once').default(DEFAULT_FILE_CONCURRENCY).argParser(intArg('--concurrency', 1, MAX_CONCURRENCY)))
    .option('--no-color', 'no colour, even on a terminal')
    .action(async (ips: string[], flags: CheckFlags, command: Command) => {
      const globals = command.optsWithGlobals<{ config?: string }>();
      setExit(await runCheck(ips, flags, configFilePath(globals.config, process.env)));
    });
}

async function runCheck(ips: readonly string[], flags: CheckFlags, configFile: string | undefined): Promise<number> {
  const config = loadConfig({
    ...(configFile !== undefined ? { file: configFile } : {}),
    env: overridesFromEnv(process.env),
    overrides: overridesFrom(flags),
    flagNames: FLAG_NAMES,
  });

  const inputs: AddressLine[] = ips.map((text, i) => ({ text, where: `argument ${i + 1}` }));
  if (flags.file !== undefined) inputs.push(...(await readAddressList(flags.file)));
  if (inputs.length === 0) throw new BlockSmithError('BS_ERR_USAGE', 'check: give at least one IP address, or --file');
  for (const line of inputs) {
    try {
      normaliseAddress(line.text);
    } catch (err) {
      const why = err instanceof BlockSmithError ? err.message : 'not an IP address';
      throw new BlockSmithError('BS_ERR_ADDRESS_INVALID', `${line.where}: ${why}`);
    }
  }

  const resolver = StubResolver.fromConfig(config.resolver);
  const checker = new FcrdnsChecker({ resolver, config: config.check });
  const colour = flags.color && process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  const byFile = flags.file !== undefined;
  const progress = byFile && process.stderr.isTTY === true ? new Progress(process.stderr, inputs.length) : null;
  const diagnostics = !byFile; // a single address gets the full picture, other family included
  const summary = new Map<string, number>();
  const verdicts = new Set<Verdict>();

  try {
    await inOrder(
      inputs,
      flags.concurrency,
      (line) => checker.check(line.text, { noCache: !flags.cache, complete: diagnostics, otherFamily: diagnostics, keepExchanges: true }),
      (result) => {
        verdicts.add(result.verdict);
        const key = `${result.verdict} ${result.reason}`;
        summary.set(key, (summary.get(key) ?? 0) + 1);
        progress?.tick();
        const text = flags.json === true ? JSON.stringify(result) + '\n' : byFile ? renderLine(result, { colour }) : renderCheck(result, { colour });
        progress?.clear();
        process.stdout.write(text);
        progress?.draw();
      },
    );
  } finally {
    progress?.clear();
    resolver.close();
  }

  if (byFile) {
    const out = flags.json === true ? process.stderr : process.stdout;
    out.write(renderSummary(summary, inputs.length));
  }
  return exitStatus(verdicts);
}

export function exitStatus(verdicts: ReadonlySet<Verdict>): number {
  if (verdicts.has('fail') || verdicts.has('permerror')) return EXIT.rejected;
  if (verdicts.has('temperror')) return EXIT.tempFail;
  return EXIT.ok;
}

function renderSummary(summary: ReadonlyMap<string, number>, total: number): string {
  const lines = [`\nSummary: ${total} address${total === 1 ? '' : 'es'}`];
  for (const [key, count] of [...summary.entries()].sort((a, b) => b[1] - a[1])) {
    lines.push(`  ${String(count).padStart(7)}  ${key}`);
  }
  return lines.join('\n') + '\n';
}

/** Run `work` over `items` with bounded concurrency; `emit` sees results in input order. */
async function inOrder<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>, emit: (result: R) => void): Promise<void> {
  const done = new Map<number, R>();
  let nextToEmit = 0;
  let nextToStart = 0;
  const worker = async (): Promise<void> => {
    while (nextToStart < items.length) {
      const index = nextToStart++;
      done.set(index, await work(items[index] as T));
      while (done.has(nextToEmit)) {
        const result = done.get(nextToEmit) as R;
        done.delete(nextToEmit);
        nextToEmit++;
        emit(result);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, () => worker()));
}

function overridesFrom(flags: CheckFlags): ConfigInput {
  const resolver: ConfigInput = {};
  const check: ConfigInput = {};
  if (flags.resolver !== undefined) resolver.servers = flags.resolver;
  if (flags.timeout !== undefined) resolver.timeoutMs = flags.timeout;
  if (flags.deadline !== undefined) check.deadlineMs = flags.deadline;
  if (flags.bypass !== undefined) check.bypass = parseBypass(flags.bypass);
  return { resolver, check };
}

/** A whole number; its bounds, where the schema holds them, are checked there (and named by flag). */
function intArg(flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    if (!/^\d{1,9}$/.test(value)) throw new BlockSmithError('BS_ERR_USAGE', `${flag}: "${printable(value, 32)}" is not a whole number`);
    const n = Number(value);
    if (n < min || n > max) throw new BlockSmithError('BS_ERR_USAGE', `${flag}: must be between ${min} and ${max}`);
    return n;
  };
}

