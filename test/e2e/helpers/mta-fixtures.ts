/**
 * NAME
 *   mta-fixtures - the clients, DNS and BlockSmith commands the MTA suites (Postfix, Exim) share
 *
 * SYNOPSIS
 *   const dns = await startMtaDns()          // NSD on a private copy of test/e2e/fixtures
 *   CLIENTS.confirmed / .noPtr / .servfail   // 127.0.10.1 / .2 / .3 (see 10.0.127.in-addr.arpa.zone)
 *   await dns.fixNoPtr()                     // 127.0.10.2 gets PTR mx2.mta.example; NSD reloads it
 *   await listedIps(dataDir)                 // `blocksmith list --json`
 *   await unblock(ip, dataDir, dns.server.resolver4)
 *   await dns.stop()
 *
 * DESCRIPTION
 *   The clients connect from loopback addresses whose reverse DNS lives in the fixture zones
 *   10.0.127.in-addr.arpa and mta.example. BlockSmith runs with `--bypass none` (127/8 is in
 *   the default bypass list) and `--resolver` pointing at NSD.
 *
 *   fixNoPtr() is the "sender fixes their DNS" step: it rewrites the reverse zone file in the
 *   private copy (never the shared fixtures, which other suites read at the same time) with a
 *   PTR for 127.0.10.2 and a new serial, runs `nsd-control reload` for that zone, and waits until
 *   NSD answers the new PTR.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FIXTURES_DIR, findExecutable, queryUdp, startDnsServer, type DnsServer } from './dns-server.js';
import { runCli, sleep, type CliRun } from './node-process.js';

const execFileAsync = promisify(execFile);

export const CLIENTS = {
  /** PTR mx1.mta.example → A 127.0.10.1: pass / confirmed. */
  confirmed: '127.0.10.1',
  /** No PTR (NXDOMAIN) until fixNoPtr(): permerror / no-ptr. */
  noPtr: '127.0.10.2',
  /** Reverse name delegated to a dead server: temperror / dns-temp-ptr. */
  servfail: '127.0.10.3',
} as const;

export const REVERSE_ZONE = '10.0.127.in-addr.arpa';

export interface MtaDns {
  readonly server: DnsServer;
  fixNoPtr(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMtaDns(): Promise<MtaDns> {
  const fixtures = await mkdtemp(join(tmpdir(), 'bs-e2e-mta-zones-'));
  await cp(FIXTURES_DIR, fixtures, { recursive: true });
  let server: DnsServer;
  try {
    server = await startDnsServer({ fixturesDir: fixtures });
  } catch (err) {
    await rm(fixtures, { recursive: true, force: true });
    throw err;
  }
  return {
    server,
    async fixNoPtr(): Promise<void> {
      const path = join(fixtures, `${REVERSE_ZONE}.zone`);
      const zone = await readFile(path, 'utf8');
      const serial = /\( (\d+) /.exec(zone)?.[1];
      if (serial === undefined) throw new Error(`no serial in ${path}`);
      const fixed = zone.replace(`( ${serial} `, `( ${Number(serial) + 1} `) + `\n; fixed by the test\n2               IN PTR  mx2.mta.example.\n`;
      await writeFile(path, fixed);
      const control = findExecutable('nsd-control');
      if (control === undefined) throw new Error('nsd-control not found');
      await execFileAsync(control, ['-c', join(server.dir, 'nsd.conf'), 'reload', REVERSE_ZONE], { timeout: 10_000 });
      const name = `2.${REVERSE_ZONE}`;
      const end = Date.now() + 10_000;
      for (;;) {
        const reply = await queryUdp('127.0.0.1', server.port, name, 'PTR');
        if (reply?.answers?.some((a) => a.type === 'PTR')) return;
        if (Date.now() > end) throw new Error(`NSD does not answer the fixed PTR for ${name}:\n${await server.log()}`);
        await sleep(50);
      }
    },
    async stop(): Promise<void> {
      await server.stop();
      await rm(fixtures, { recursive: true, force: true });
    },
  };
}

interface ListedEntry {
  readonly ip?: unknown;
  readonly state?: unknown;
}

/**
 * listedIps - the addresses `blocksmith list --json --state all` shows as active listings. The
 * stories ask only once something has been listed, so a run that prints no line at all is an
 * error, not "nothing listed" (cleared listings stay in `--state all`).
 */
export async function listedIps(dataDir: string): Promise<string[]> {
  const run = await runCli(['list', '--json', '--state', 'all', '--data', dataDir]);
  if (run.code !== 0) throw new Error(`blocksmith list exited ${run.code}: ${run.stderr}`);
  if (run.stdout.trim() === '') throw new Error(`blocksmith list --json --state all printed nothing (exit 0), stderr: ${run.stderr}`);
  return run.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ListedEntry)
    .filter((e) => e.state === undefined || e.state === 'active')
    .map((e) => String(e.ip));
}

/** unblock - `blocksmith unblock IP --json` against the same store and DNS as the node. */
export function unblock(ip: string, dataDir: string, resolver: string): Promise<CliRun> {
  return runCli(['unblock', ip, '--json', '--data', dataDir, '--resolver', resolver, '--bypass', 'none']);
}
