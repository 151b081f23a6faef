/**
 * NAME
 *   cli/export-command - `blocksmith export rbldnsd`: the active listings as rbldnsd data
 *
 * SYNOPSIS
 *   blocksmith export rbldnsd [--out FILE] [--out6 FILE] [--zone ZONE] [--data DIR] [--store …]
 *
 * DESCRIPTION
 *   Reads every active listing through the firewall's read views (firewall.records.listings,
 *   page by page) of a node opened like the operator commands open it (cli/operator/node.ts:
 *   the configuration `serve` reads, no background work), and writes them in rbldnsd's format
 *   (format and examples: fronts/dnsbl/rbldnsd.ts):
 *
 *     --out FILE    the IPv4 listings as an `ip4set` dataset (default: standard output)
 *     --out6 FILE   the IPv6 listings as an `ip6trie` dataset (without it they are not written,
 *                   and a line on stderr says how many were left out)
 *     --zone ZONE   the zone for $SOA/$NS and the header (default dnsbl.zone)
 *
 *   A file is written whole to `FILE.tmp-<pid>` and then renamed over FILE, so rbldnsd (which
 *   reloads a file when its mtime changes) never loads half of one. Addresses in a bypass range
 *   or on the allowlist are left out, as the front never lists them. A summary goes to stderr.
 *
 * EXIT STATUS
 *   0 written; 64 usage; 74 a file could not be written; 75 store unavailable; 78 config.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { App } from '../app.js';
import { zoneName } from '../config/sections/dnsbl.js';
import { BlockSmithError, EXIT } from '../errors.js';
import { zoneInfo } from '../fronts/dnsbl/names.js';
import { RbldnsdWriter } from '../fronts/dnsbl/rbldnsd.js';
import type { NodeFlags } from './node-options.js';
import { addOperatorOptions, configFlagOf, withNode } from './operator/node.js';
import { PAGE_SIZE } from './operator/pages.js';

interface ExportFlags extends NodeFlags {
  readonly out?: string;
  readonly out6?: string;
  readonly zone?: string;
}

export function registerExportCommand(program: Command, setExit: (code: number) => void): void {
  const exportCommand = program.command('export').description('Write the listings in another program\'s format');
  addOperatorOptions(
    exportCommand
      .command('rbldnsd')
      .description('Active listings as rbldnsd data: ip4set (IPv4) and ip6trie (IPv6)')
      .option('--out <file>', 'write the ip4set data here (default: standard output)')
      .option('--out6 <file>', 'write the ip6trie data (IPv6 listings) here')
      .option('--zone <zone>', 'the zone named in $SOA/$NS (default: dnsbl.zone)'),
    false,
  ).action(async (flags: ExportFlags, command: Command) => setExit(await runExportRbldnsd(flags, configFlagOf(command))));
}

async function collect(app: App, zone: string | undefined): Promise<RbldnsdWriter> {
  const dnsbl = app.config.dnsbl;
  const writer = new RbldnsdWriter({
    zone: zoneInfo(zone === undefined ? dnsbl : { ...dnsbl, zone }),
    config: app.config,
    exempt: (address) => app.firewall.exemption(address) !== undefined,
    now: Date.now(),
  });
  let after: string | undefined;
  do {
    const page = await app.firewall.records.listings({ state: 'active', limit: PAGE_SIZE, ...(after === undefined ? {} : { after }) });
    for (const listing of page.items) writer.add(listing);
    after = page.next;
  } while (after !== undefined);
  return writer;
}

/** writeWhole - the text to a temporary file beside FILE, then renamed over it. */
function writeWhole(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text, { encoding: 'ascii', mode: 0o644 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

async function runExportRbldnsd(flags: ExportFlags, configFlag: string | undefined): Promise<number> {
  let zone: string | undefined;
  if (flags.zone !== undefined) {
    if (!zoneName.safeParse(flags.zone).success) throw new BlockSmithError('BS_ERR_USAGE', `--zone: "${flags.zone.slice(0, 200)}" is not a DNS name`);
    zone = flags.zone;
  }
  const writer = await withNode(flags, configFlag, (app) => collect(app, zone));
  const counts = writer.counts;
  try {
    if (flags.out === undefined) process.stdout.write(writer.ip4set());
    else writeWhole(flags.out, writer.ip4set());
    if (flags.out6 !== undefined) writeWhole(flags.out6, writer.ip6trie());
  } catch (err) {
    process.stderr.write(`blocksmith: cannot write the export: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.ioErr;
  }
  const left = flags.out6 === undefined && counts.ip6 > 0 ? `; ${counts.ip6} IPv6 listings not written (use --out6 FILE)` : '';
  process.stderr.write(
    `blocksmith: exported ${counts.ip4} IPv4${flags.out6 === undefined ? '' : ` and ${counts.ip6} IPv6`} listings` +
      `${counts.skipped > 0 ? ` (${counts.skipped} bypassed or allowlisted left out)` : ''}${left}\n`,
  );
  return EXIT.ok;
}
