/**
 * NAME
 *   dns-server - a real authoritative DNS server (NSD) for the end-to-end tests
 *
 * SYNOPSIS
 *   const dns = await startDnsServer();      // serves test/e2e/fixtures/*.zone
 *   dns.resolver4                             // '127.0.0.1:PORT', for `--resolver`
 *   dns.resolver6                             // '[::1]:PORT'
 *   await dns.queryCount()                    // queries NSD has answered so far
 *   await dns.stop()                          // SIGTERM, SIGKILL after a grace; removes the temp dir
 *
 * DESCRIPTION
 *   Every `<zone>.zone` file in the fixtures folder is served as the zone `<zone>`. NSD runs in the
 *   foreground (`nsd -d`) with a config written to a fresh folder under `os.tmpdir()`, bound to
 *   127.0.0.1 and ::1 (when the machine has IPv6 loopback) on one free high port, never to the
 *   system's port 53. No privilege drop, no chroot, no database, no rate limiting; remote control
 *   listens on a Unix socket in the temp folder only, for `queryCount()`.
 *
 *   Start-up waits, with a bounded deadline, until NSD answers an SOA query for every zone with AA
 *   set (a real query over UDP, built with dns-packet), so a zone file that fails to load shows up
 *   here with NSD's log rather than as a puzzling verdict later. The port is picked by binding and
 *   releasing it; if NSD loses that race, start-up retries on another port.
 *
 *   NSD forks (xfrd and a server process), so it runs in its own process group: `stop()` sends
 *   SIGTERM to NSD, then SIGKILL to the whole group after the grace period, and a process `exit`
 *   hook kills any group still alive, so no test leaves the daemon running.
 *
 * DIAGNOSTICS
 *   A missing `nsd` binary throws an error that names `.ci/e2e-install.sh`. A server that exits or
 *   does not answer in time throws with the tail of NSD's log.
 */
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { accessSync, constants, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';

const execFileAsync = promisify(execFile);

/** The fixture zones shipped with the tests. */
export const FIXTURES_DIR = resolve(fileURLToPath(new URL('../fixtures', import.meta.url)));

const READY_TIMEOUT_MS = 10_000;
const READY_POLL_MS = 50;
const PROBE_TIMEOUT_MS = 250;
const STOP_GRACE_MS = 3_000;
const START_ATTEMPTS = 3;
const INSTALL_HINT = 'run `bash .ci/e2e-install.sh` (as root) to install it';

export interface DnsServerOptions {
  /** Folder of `<zone>.zone` files; default: test/e2e/fixtures. */
  readonly fixturesDir?: string;
  /** How long start-up may take before it fails; default 10 s. */
  readonly readyTimeoutMs?: number;
}

export interface DnsServer {
  readonly port: number;
  /** True when NSD also listens on ::1. */
  readonly ipv6: boolean;
  /** `127.0.0.1:PORT`, ready for `--resolver`. */
  readonly resolver4: string;
  /** `[::1]:PORT`, ready for `--resolver`; undefined when the machine has no IPv6 loopback. */
  readonly resolver6: string | undefined;
  /** The zones served, by name. */
  readonly zones: readonly string[];
  /** The temp folder holding the config, log and control socket. */
  readonly dir: string;
  /** Queries NSD has received since it started (all servers, UDP and TCP), from `nsd-control`. */
  queryCount(): Promise<number>;
  /** NSD's log so far. */
  log(): Promise<string>;
  /** Stops NSD (SIGTERM, then SIGKILL to its process group) and removes the temp folder. */
  stop(): Promise<void>;
}

/** Groups of NSD processes still alive, killed on exit whatever happened to the tests. */
const liveGroups = new Set<number>();
function killAll(): void {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  liveGroups.clear();
}
process.on('exit', killAll);
// A test file cancelled by the runner (or ^C) gets a signal, which skips `exit` handlers: kill the
// daemons, then let the signal do what it would have done.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Finds an executable in PATH or the sbin folders (which a non-root PATH may lack). */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Zone names from `<zone>.zone` file names. */
function listZones(dir: string): string[] {
  const zones = readdirSync(dir)
    .filter((f) => f.endsWith('.zone'))
    .map((f) => f.slice(0, -'.zone'.length))
    .sort();
  if (zones.length === 0) throw new Error(`no *.zone files in ${dir}`);
  return zones;
}

async function canBind(family: 'udp4' | 'udp6', address: string, port: number): Promise<boolean> {
  const socket = dgram.createSocket(family);
  try {
    await new Promise<void>((ok, fail) => {
      socket.once('error', fail);
      socket.bind(port, address, () => ok());
    });
    return true;
  } catch {
    return false;
  } finally {
    await new Promise<void>((ok) => {
      try {
        socket.close(() => ok());
      } catch {
        ok();
      }
    });
  }
}

async function tcpFree(address: string, port: number): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen({ port, host: address, exclusive: true }, () => ok());
    });
    return true;
  } catch {
    return false;
  } finally {
    await new Promise<void>((ok) => server.close(() => ok()));
  }
}

/** A port free for UDP and TCP on 127.0.0.1 (and ::1 when wanted), released again for NSD. */
async function pickPort(ipv6: boolean): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const socket = dgram.createSocket('udp4');
    const port = await new Promise<number>((ok, fail) => {
      socket.once('error', fail);
      socket.bind(0, '127.0.0.1', () => ok(socket.address().port));
    });
    await new Promise<void>((ok) => socket.close(() => ok()));
    if (port < 1024) continue;
    if (!(await tcpFree('127.0.0.1', port))) continue;
    if (ipv6 && !((await canBind('udp6', '::1', port)) && (await tcpFree('::1', port)))) continue;
    return port;
  }
  throw new Error('could not find a free port on the loopback interface');
}

/** Sends one query over UDP and returns the decoded reply, or undefined on timeout or error. */
export async function queryUdp(
  host: string,
  port: number,
  name: string,
  type: dnsPacket.RecordType,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<dnsPacket.DecodedPacket | undefined> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const id = Math.floor(Math.random() * 0xffff);
  const message = dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type, name }] });
  try {
    return await new Promise<dnsPacket.DecodedPacket | undefined>((ok) => {
      const timer = setTimeout(() => ok(undefined), timeoutMs);
      socket.on('error', () => {
        clearTimeout(timer);
        ok(undefined);
      });
      socket.on('message', (buf: Buffer) => {
        try {
          const reply = dnsPacket.decode(buf);
          if (reply.id !== id) return;
          clearTimeout(timer);
          ok(reply);
        } catch {
          // not a DNS reply: keep waiting
        }
      });
      socket.send(message, port, host);
    });
  } finally {
    socket.close();
  }
}

/** NOERROR (rcode 0, the low four bits of the flags), AA set, and an answer. */
function isAuthoritativeAnswer(reply: dnsPacket.DecodedPacket | undefined): boolean {
  return reply !== undefined && ((reply.flags ?? 0) & 0xf) === 0 && reply.flag_aa && (reply.answers?.length ?? 0) > 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

function configText(dir: string, fixturesDir: string, zones: readonly string[], port: number, ipv6: boolean): string {
  const q = (s: string): string => JSON.stringify(s);
  const lines = [
    'server:',
    `  ip-address: 127.0.0.1@${port}`,
    ...(ipv6 ? [`  ip-address: ::1@${port}`] : []),
    '  server-count: 1',
    '  database: ""',
    `  zonelistfile: ${q(join(dir, 'zone.list'))}`,
    `  xfrdfile: ${q(join(dir, 'xfrd.state'))}`,
    `  xfrdir: ${q(dir)}`,
    `  pidfile: ${q(join(dir, 'nsd.pid'))}`,
    `  logfile: ${q(join(dir, 'nsd.log'))}`,
    `  cookie-secret-file: ${q(join(dir, 'cookiesecrets.txt'))}`,
    '  username: ""',
    '  chroot: ""',
    `  zonesdir: ${q(fixturesDir)}`,
    '  verbosity: 1',
    '  rrl-ratelimit: 0',
    '  hide-version: yes',
    'remote-control:',
    '  control-enable: yes',
    `  control-interface: ${q(join(dir, 'nsd.ctl'))}`,
  ];
  for (const zone of zones) {
    lines.push('zone:', `  name: ${q(zone)}`, `  zonefile: ${q(join(fixturesDir, `${zone}.zone`))}`);
  }
  return lines.join('\n') + '\n';
}

async function tail(path: string, extra: string): Promise<string> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch {
    // no log yet
  }
  const all = (text + extra).trimEnd().split('\n');
  return all.slice(-30).join('\n');
}

/** Starts NSD with the fixture zones and waits until it answers for every zone. */
export async function startDnsServer(options: DnsServerOptions = {}): Promise<DnsServer> {
  const nsd = findExecutable('nsd');
  const nsdControl = findExecutable('nsd-control');
  if (nsd === undefined || nsdControl === undefined) {
    throw new Error(`the e2e tests need NSD (nsd and nsd-control), which is not installed: ${INSTALL_HINT}`);
  }
  const fixturesDir = resolve(options.fixturesDir ?? FIXTURES_DIR);
  const zones = listZones(fixturesDir);
  const ipv6 = await canBind('udp6', '::1', 0);
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(nsd, nsdControl, fixturesDir, zones, ipv6, options.readyTimeoutMs ?? READY_TIMEOUT_MS);
    } catch (err) {
      lastError = err;
      // a port taken between picking and binding: try another; anything else fails the same way again
      if (!(err instanceof Error && /bind|address already in use/i.test(err.message))) break;
    }
  }
  throw lastError;
}

async function startOnce(
  nsd: string,
  nsdControl: string,
  fixturesDir: string,
  zones: readonly string[],
  ipv6: boolean,
  readyTimeoutMs: number,
): Promise<DnsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'blocksmith-nsd-'));
  const port = await pickPort(ipv6);
  const confPath = join(dir, 'nsd.conf');
  const logPath = join(dir, 'nsd.log');
  await writeFile(confPath, configText(dir, fixturesDir, zones, port, ipv6));

  const child: ChildProcess = spawn(nsd, ['-d', '-c', confPath], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pgid = child.pid;
  if (pgid === undefined) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`could not start ${nsd}`);
  }
  liveGroups.add(pgid);
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  let exited = false;
  const exit = new Promise<void>((ok) => {
    child.once('exit', () => {
      exited = true;
      ok();
    });
  });
  child.once('error', (err) => {
    output += `spawn error: ${err.message}\n`;
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      try {
        child.kill('SIGTERM');
      } catch {
        // gone
      }
      await Promise.race([exit, sleep(STOP_GRACE_MS)]);
    }
    // the main process reaps its children on SIGTERM; whatever is left of the group is killed
    if (!exited || groupAlive(pgid)) {
      killGroup(pgid, 'SIGKILL');
      await Promise.race([exit, sleep(STOP_GRACE_MS)]);
    }
    liveGroups.delete(pgid);
    child.stdout?.destroy();
    child.stderr?.destroy();
    await rm(dir, { recursive: true, force: true });
  };

  // Wait until every zone answers its SOA authoritatively.
  const deadline = Date.now() + readyTimeoutMs;
  const pending = new Set(zones);
  while (pending.size > 0) {
    if (exited) {
      const log = await tail(logPath, output);
      await stop();
      throw new Error(`nsd exited during start-up (port ${port}):\n${log}`);
    }
    if (Date.now() > deadline) {
      const log = await tail(logPath, output);
      await stop();
      throw new Error(
        `nsd did not answer for ${[...pending].join(', ')} within ${readyTimeoutMs} ms (port ${port}):\n${log}`,
      );
    }
    for (const zone of [...pending]) {
      if (isAuthoritativeAnswer(await queryUdp('127.0.0.1', port, zone, 'SOA'))) pending.delete(zone);
    }
    if (pending.size > 0) await sleep(READY_POLL_MS);
  }
  if (ipv6 && !isAuthoritativeAnswer(await queryUdp('::1', port, zones[0] ?? '.', 'SOA', 1_000))) {
    const log = await tail(logPath, output);
    await stop();
    throw new Error(`nsd answers on 127.0.0.1 but not on [::1]:${port}:\n${log}`);
  }

  // From here on, only stop() or the exit hook ends it: the handles must not keep a test alive.
  child.unref();
  (child.stdout as net.Socket | null)?.unref();
  (child.stderr as net.Socket | null)?.unref();

  return {
    port,
    ipv6,
    resolver4: `127.0.0.1:${port}`,
    resolver6: ipv6 ? `[::1]:${port}` : undefined,
    zones,
    dir,
    async queryCount(): Promise<number> {
      const { stdout } = await execFileAsync(nsdControl, ['-c', confPath, 'stats_noreset'], { timeout: 5_000 });
      const match = /^num\.queries=(\d+)$/m.exec(stdout);
      if (match?.[1] === undefined) throw new Error(`nsd-control printed no num.queries:\n${stdout}`);
      return Number(match[1]);
    },
    log: () => tail(logPath, output),
    stop,
  };
}
