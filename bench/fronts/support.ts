/**
 * NAME
 *   bench/fronts/support - processes the front benchmarks start: BlockSmith, its peers, clients
 *
 * DESCRIPTION
 *   Every server under test runs in its own process, and so does every load generator, so that
 *   no two of them share an event loop. BlockSmith runs from this same compiled tree
 *   (dist-bench/src/cli/bin.js, what `npm run build` would install), on a fresh SQLite store
 *   pre-filled with listings through the Store interface, against the synthetic DNS server of
 *   bench/check. `freePort()` asks the kernel for a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { benchListing } from '../firewall/support.js';

export { startDnsServer, type DnsServer } from '../check/synthetic-dns-process.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A data directory whose SQLite store holds an active listing for each of `ips`. */
export async function dataDirWithListings(ips: readonly string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bs-bench-fronts-'));
  const store = new SqliteStore({ path: join(dir, 'blocksmith.db') });
  await store.open();
  const now = Date.now();
  const batch = 1_000;
  for (let i = 0; i < ips.length; i += batch) {
    await Promise.all(
      ips.slice(i, i + batch).map((ip, j) => store.putListing({ ...benchListing(ip, i + j, now), recheckDueAt: now + 86_400_000 }, { at: now, actor: 'bench', action: 'list', target: ip })),
    );
  }
  await store.close();
  return dir;
}

export interface Child {
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** Run `blocksmith serve` from this compiled tree with the given flags, after `prefix` (e.g. taskset -c 1). */
export function startBlockSmith(args: readonly string[], env: NodeJS.ProcessEnv = {}, prefix: readonly string[] = []): Child {
  const bin = new URL('../../src/cli/bin.js', import.meta.url).pathname;
  const command = prefix.length > 0 ? prefix[0]! : process.execPath;
  const child = spawn(command, [...prefix.slice(1), ...(prefix.length > 0 ? [process.execPath] : []), bin, 'serve', ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, BLOCKSMITH_LOG_LEVEL: 'warn', ...env },
  });
  return { process: child, stop: () => stopChild(child) };
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Run a compiled bench script in its own process and parse the JSON line it prints. */
export function runJson<T>(script: string, args: readonly string[], pinCpu?: number): Promise<T> {
  const path = new URL(script, import.meta.url).pathname;
  const command = pinCpu === undefined ? process.execPath : 'taskset';
  const argv = pinCpu === undefined ? [path, ...args] : ['-c', String(pinCpu), process.execPath, path, ...args];
  return runCommandJson<T>(command, argv);
}

export function runCommand(command: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Run a command and parse the last line it prints as JSON. */
export async function runCommandJson<T>(command: string, args: readonly string[]): Promise<T> {
  const { code, stdout, stderr } = await runCommand(command, args);
  if (code !== 0) throw new Error(`${command} exited ${code}: ${stderr.slice(0, 500)}`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as T;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Clock ticks a second in /proc/<pid>/stat (USER_HZ: 100 on every Linux that Node runs on). */
const CLOCK_TICKS_PER_S = 100;

/**
 * processTreeCpuMs - CPU time (user + system, all threads) used so far by `pid` and every process
 * below it (postfwd2's preforked children), from /proc; 0 for a process gone meanwhile.
 */
export function processTreeCpuMs(pid: number): number {
  let ticks = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces), from field 3 on: utime is the 14th field, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks = Number(fields[11]) + Number(fields[12]);
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').split(' ')) {
        if (child !== '') ticks += (processTreeCpuMs(Number(child)) * CLOCK_TICKS_PER_S) / 1000;
      }
    }
  } catch {
    return (ticks * 1000) / CLOCK_TICKS_PER_S;
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}
