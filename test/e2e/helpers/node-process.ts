/**
 * NAME
 *   test/e2e/helpers/node-process - real BlockSmith processes for the e2e suites: `serve`, the CLI,
 *   a Postfix policy client, the HTTP API, and a throwaway redis-server
 *
 * SYNOPSIS
 *   const node = await startNode({ args: ['--data', dir, '--policy', '127.0.0.1:0'], resolver })
 *   const policy = await PolicyClient.connect(node.endpoint('policy'))
 *   classify(await policy.ask(policyRequest('192.0.2.40')))   // 'accept' | 'reject' | 'defer'
 *   await api(node.endpoint('http'), 'POST', '/api/v1/listings', { key, body: { ip, note } })
 *   await runCli(['list', '--json', '--data', dir])
 *   node.kill('SIGKILL'); await node.exited;  await node.stop()
 *
 * DESCRIPTION
 *   `serve` runs as operators run it: `node bin/blocksmith.js` on the built dist (`npm run
 *   test:e2e` builds first, as check-cli.test.ts expects), with every BLOCKSMITH_* variable of
 *   the caller removed and only the ones the test gives set (a developer's own configuration
 *   must not change what the tests see). Its stdout is JSON log lines: startNode() waits for
 *   READY (bounded) and reads each front's endpoints from it, so fronts listen on port 0 and the
 *   test learns the real port. A node that exits before READY fails start-up with its stderr.
 *
 *   Every child started here (nodes, CLI runs, redis-servers) is recorded and SIGKILLed by a
 *   process `exit` hook, and on SIGINT/SIGTERM of the test process, whatever the tests did.
 *
 *   The policy client speaks the Postfix policy protocol (name=value lines, an empty line; the
 *   reply is `action=...` and an empty line) on one persistent connection, one request at a
 *   time, each with a deadline.
 *
 *   OwnRedis starts a redis-server on a free loopback port of its own (never the machine's
 *   Redis on 6379, which the outage tests must not touch), with an append-only file fsynced on
 *   every write in a temp dir, so a SIGKILL loses nothing it acknowledged and a restart on the
 *   same port finds the data again.
 */
import { spawn, execFile, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const BIN = join(ROOT, 'bin', 'blocksmith.js');
/** The machine's Redis for the suites that share one (each under its own prefix). */
export const SHARED_REDIS_URL = process.env.BLOCKSMITH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const CLI_TIMEOUT_MS = 30_000;
const POLICY_TIMEOUT_MS = 5_000;
const HTTP_TIMEOUT_MS = 5_000;
const REDIS_START_MS = 5_000;
/** Log lines a node keeps for diagnostics. */
const LOG_KEEP = 400;

// ---- every child is killed on exit --------------------------------------------------------------

const live = new Set<ChildProcess>();
function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

/** withTimeout - the promise, or a rejection naming `what` after `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_ok, fail) => (timer = setTimeout(() => fail(new Error(`${what}: no result within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** childEnv - the caller's environment without any BLOCKSMITH_* variable, plus `extra`. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLOCKSMITH_')));
  return { ...env, NO_COLOR: '1', ...extra };
}

export async function tempDir(label: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `bs-e2e-${label}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

// ---- the CLI ------------------------------------------------------------------------------------

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** runCli - one `blocksmith ...` run to its end (killed after 30 s). */
export function runCli(args: readonly string[], env: Readonly<Record<string, string>> = {}, cwd: string = ROOT): Promise<CliRun> {
  return new Promise((ok) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd, env: childEnv(env), timeout: CLI_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      ok({ code, stdout, stderr });
    });
    track(child);
    child.stdin?.end();
  });
}

export function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

// ---- `blocksmith serve` -------------------------------------------------------------------------

export type LogLine = Record<string, unknown>;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** As READY gave it, e.g. `tcp://127.0.0.1:41234`. */
  readonly text: string;
}

export interface NodeOptions {
  /** Arguments after `serve`. */
  readonly args: readonly string[];
  /** BLOCKSMITH_* variables (and others) for this node only. */
  readonly env?: Readonly<Record<string, string>>;
  /** A configuration file (`--config FILE`, given before the command name). */
  readonly configFile?: string;
  readonly cwd?: string;
  /** A label in error messages. */
  readonly name?: string;
  /**
   * A command that runs `node bin/blocksmith.js ...` in its place (its argv is appended), e.g.
   * `unshare --mount sh -c '... exec "$@"'`; it must exec the node so that the pid is the node's.
   */
  readonly wrap?: readonly string[];
}

/** Parses `proto://host:port` (host may be `[v6]`). */
export function parseEndpoint(text: string): Endpoint | undefined {
  const m = /^[a-z]+:\/\/(\[[^\]]+\]|[^:/[\]]+):(\d+)/i.exec(text);
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), text };
}

export class NodeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly name: string;
  /** Resolves with the exit code (or the signal's name) when the process has ended. */
  readonly exited: Promise<number | string>;
  private readonly lines: LogLine[] = [];
  private stderrText = '';
  private waiters: { match: (l: LogLine) => boolean; ok: (l: LogLine) => void }[] = [];
  private readyLine: LogLine | undefined;

  constructor(options: NodeOptions) {
    this.name = options.name ?? 'node';
    const argv = [BIN, ...(options.configFile !== undefined ? ['--config', options.configFile] : []), 'serve', ...options.args];
    const [command, ...prefix] = options.wrap ?? [process.execPath];
    const commandArgs = options.wrap === undefined ? argv : [...prefix, process.execPath, ...argv];
    this.child = spawn(command ?? process.execPath, commandArgs, { cwd: options.cwd ?? ROOT, env: childEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    track(this.child);
    this.child.stdin.end();
    this.child.stderr.setEncoding('utf8').on('data', (s: string) => {
      this.stderrText = (this.stderrText + s).slice(-20_000);
    });
    createInterface({ input: this.child.stdout }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { event: 'NON-JSON', text };
      }
      this.lines.push(line);
      if (this.lines.length > LOG_KEEP) this.lines.splice(0, this.lines.length - LOG_KEEP);
      for (const w of [...this.waiters]) {
        if (w.match(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.ok(line);
        }
      }
    });
    this.exited = new Promise((ok) => this.child.once('exit', (code, signal) => ok(code ?? signal ?? 'unknown')));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The READY line (after start()). */
  get ready(): LogLine {
    if (this.readyLine === undefined) throw new Error(`${this.name}: not READY`);
    return this.readyLine;
  }

  /** Log lines seen so far (the last LOG_KEEP), and stderr: for assertion messages. */
  diagnostics(): string {
    return `${this.name} (pid ${this.pid}) stdout tail:\n${this.lines
      .slice(-40)
      .map((l) => JSON.stringify(l))
      .join('\n')}\nstderr tail:\n${this.stderrText.slice(-4_000)}`;
  }

  logLines(event?: string): LogLine[] {
    return event === undefined ? [...this.lines] : this.lines.filter((l) => l.event === event);
  }

  /** waitFor - the first log line (seen or to come) that matches, within `timeoutMs`. */
  waitFor(match: string | ((l: LogLine) => boolean), timeoutMs: number): Promise<LogLine> {
    const test = typeof match === 'string' ? (l: LogLine) => l.event === match : match;
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((ok, fail) => {
      const waiter = {
        match: test,
        ok: (l: LogLine) => {
          clearTimeout(timer);
          ok(l);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        fail(new Error(`${this.name}: no ${typeof match === 'string' ? match : 'matching'} log line within ${timeoutMs} ms\n${this.diagnostics()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** start - waits for READY; rejects with the node's output if it exits first or takes too long. */
  async start(timeoutMs = READY_TIMEOUT_MS): Promise<this> {
    const early = this.exited.then((status) => {
      throw new Error(`${this.name}: exited (${status}) before READY\n${this.diagnostics()}`);
    });
    try {
      this.readyLine = await Promise.race([this.waitFor('READY', timeoutMs), early]);
    } catch (err) {
      // A node that missed READY is of no use to the caller, who has no handle to stop it.
      this.kill('SIGKILL');
      throw err;
    } finally {
      early.catch(() => undefined);
    }
    return this;
  }

  /** endpoints - every endpoint READY lists for a front (policy, http, dnsbl, gate). */
  endpoints(front: string): Endpoint[] {
    const fronts = (this.ready.fronts ?? []) as { name?: unknown; endpoints?: unknown }[];
    const found = fronts.find((f) => f.name === front);
    if (found === undefined || !Array.isArray(found.endpoints)) return [];
    return found.endpoints.flatMap((e) => {
      const parsed = typeof e === 'string' ? parseEndpoint(e) : undefined;
      return parsed === undefined ? [] : [parsed];
    });
  }

  /** endpoint - the first TCP endpoint of a front; throws naming READY when the front is not there. */
  endpoint(front: string): Endpoint {
    const [first] = this.endpoints(front);
    if (first === undefined) throw new Error(`${this.name}: READY lists no ${front} endpoint: ${JSON.stringify(this.ready.fronts)}`);
    return first;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** stop - SIGTERM, then SIGKILL after a grace; resolves with how it ended. Safe to call twice. */
  async stop(graceMs = STOP_GRACE_MS): Promise<number | string> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const done = await Promise.race([this.exited, sleep(graceMs).then(() => undefined)]);
      if (done === undefined) this.child.kill('SIGKILL');
    }
    return this.exited;
  }
}

/** startNode - `blocksmith serve ...`, resolved once READY. */
export function startNode(options: NodeOptions, readyTimeoutMs = READY_TIMEOUT_MS): Promise<NodeProcess> {
  return new NodeProcess(options).start(readyTimeoutMs);
}

// ---- the policy protocol ------------------------------------------------------------------------

/**
 * accept: DUNNO and other non-refusals; reject: the firewall refuses (a listing, 450/550 x.7.25);
 * defer: the firewall's temporary DNS failure (451 4.4.3); error: the front's own 451 4.3.0 (the
 * firewall threw or overran its deadline).
 */
export type PolicyOutcome = 'accept' | 'reject' | 'defer' | 'error';

/** policyRequest - the attributes Postfix sends at RCPT for a client address. */
export function policyRequest(ip: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    request: 'smtpd_access_policy',
    protocol_state: 'RCPT',
    protocol_name: 'ESMTP',
    client_address: ip,
    client_name: 'unknown',
    reverse_client_name: 'unknown',
    helo_name: 'client.example.net',
    sender: 'sender@example.net',
    recipient: 'someone@example.com',
    recipient_count: '0',
    queue_id: '',
    instance: randomBytes(4).toString('hex'),
    size: '0',
    ...extra,
  };
}

/** classify - what a Postfix `action=` means for the client (see PolicyOutcome). */
export function classify(action: string): PolicyOutcome {
  const a = action.trim();
  if (/^4\d\d\s+4\.3\.0\b/.test(a)) return 'error';
  if (/^(4\d\d\s+4\.4\.3|DEFER(_IF_PERMIT)?\b)/i.test(a)) return 'defer';
  if (/^([45]\d\d\b|REJECT\b|DEFER_IF_REJECT\b)/i.test(a)) return 'reject';
  return 'accept';
}

/** PolicyClient - one persistent policy connection; requests go one at a time, in order. */
export class PolicyClient {
  private buffer = '';
  private pending: { ok: (action: string) => void; fail: (err: Error) => void; timer: NodeJS.Timeout }[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private closedError: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => this.onData(s));
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('policy connection closed')));
  }

  static connect(endpoint: Pick<Endpoint, 'host' | 'port'>, timeoutMs = POLICY_TIMEOUT_MS): Promise<PolicyClient> {
    return withTimeout(
      new Promise<PolicyClient>((ok, fail) => {
        const socket = net.connect({ host: endpoint.host, port: endpoint.port });
        socket.once('error', fail);
        socket.once('connect', () => {
          socket.off('error', fail);
          ok(new PolicyClient(socket));
        });
      }),
      timeoutMs,
      `policy connect ${endpoint.host}:${endpoint.port}`,
    );
  }

  /** ask - sends one request; resolves with the text after `action=`. */
  ask(attributes: Readonly<Record<string, string>>, timeoutMs = POLICY_TIMEOUT_MS): Promise<string> {
    const run = (): Promise<string> =>
      new Promise<string>((ok, fail) => {
        if (this.closedError !== undefined) {
          fail(this.closedError);
          return;
        }
        const timer = setTimeout(() => {
          this.pending = this.pending.filter((p) => p.timer !== timer);
          const err = new Error(`policy: no answer within ${timeoutMs} ms`);
          // The connection is out of step now: nothing later on it can be trusted.
          this.failAll(err);
          this.socket.destroy();
          fail(err);
        }, timeoutMs);
        this.pending.push({ ok, fail, timer });
        const text = Object.entries(attributes)
          .map(([k, v]) => `${k}=${v}\n`)
          .join('');
        this.socket.write(`${text}\n`);
      });
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(s: string): void {
    this.buffer += s;
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end < 0) return;
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const waiter = this.pending.shift();
      if (waiter === undefined) continue;
      clearTimeout(waiter.timer);
      const line = block.split('\n').find((l) => l.startsWith('action='));
      if (line === undefined) waiter.fail(new Error(`policy: reply without action=: ${JSON.stringify(block)}`));
      else waiter.ok(line.slice('action='.length));
    }
  }

  private failAll(err: Error): void {
    this.closedError ??= err;
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.fail(err);
    }
    this.pending = [];
  }
}

/** askOnce - one request on a connection of its own (closed afterwards). */
export async function askOnce(endpoint: Endpoint, ip: string): Promise<string> {
  const client = await PolicyClient.connect(endpoint);
  try {
    return await client.ask(policyRequest(ip));
  } finally {
    client.close();
  }
}

// ---- the HTTP API -------------------------------------------------------------------------------

export interface ApiKey {
  /** What a client sends after `Bearer `. */
  readonly key: string;
  /** Its SHA-256 in hex, as http.apiKeys holds it. */
  readonly sha256: string;
}

export function newApiKey(): ApiKey {
  const key = randomBytes(24).toString('base64url');
  return { key, sha256: createHash('sha256').update(key).digest('hex') };
}

/**
 * writeApiConfig - a configuration file (JSON, which YAML reads) in `dir` giving one operator key
 * and an operator rate limit high enough for a test that fires actions continuously.
 */
export async function writeApiConfig(dir: string, key: ApiKey, extra: Readonly<Record<string, unknown>> = {}): Promise<string> {
  const path = join(dir, 'blocksmith-e2e.json');
  const config = { ...extra, http: { apiKeys: [{ name: 'e2e', sha256: key.sha256 }], operatorLimitCount: 1_000_000, ...((extra.http as object | undefined) ?? {}) } };
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

export interface ApiReply {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

/** api - one request to a node's HTTP front; rejects on a network error or after the deadline. */
export async function api(
  endpoint: Pick<Endpoint, 'host' | 'port'>,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { readonly key?: string; readonly body?: unknown; readonly timeoutMs?: number } = {},
): Promise<ApiReply> {
  const host = net.isIPv6(endpoint.host) ? `[${endpoint.host}]` : endpoint.host;
  const headers: Record<string, string> = {};
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`http://${host}:${endpoint.port}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? HTTP_TIMEOUT_MS),
  });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

// ---- Redis --------------------------------------------------------------------------------------

/** A unique key prefix for one test's nodes on a shared Redis. */
export function uniquePrefix(label: string): string {
  return `bstest:${label}:${randomBytes(6).toString('hex')}:`;
}

/** deleteRedisPrefix - SCAN + DEL of the keys under `prefix` only (never FLUSHALL). */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis gone: nothing to clean there.
  } finally {
    client.disconnect();
  }
}

/** OwnRedis - a redis-server of the test's own on a free loopback port, persistent across kills. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async create(): Promise<OwnRedis> {
    const dir = await mkdtemp(join(tmpdir(), 'bs-e2e-redis-'));
    return new OwnRedis(await freePort(), dir);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get up(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    this.child = child;
    let output = '';
    const ready = await new Promise<boolean>((ok) => {
      const timer = setTimeout(() => ok(false), REDIS_START_MS);
      child.stdout?.setEncoding('utf8').on('data', (s: string) => {
        output += s;
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          ok(true);
        }
      });
      child.once('error', () => ok(false));
      child.once('exit', () => {
        clearTimeout(timer);
        ok(false);
      });
    });
    child.stdout?.resume();
    child.stderr?.resume();
    if (!ready) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${this.port} did not start:\n${output.slice(-2_000)}`);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    child.kill('SIGKILL');
    await withTimeout(exited, STOP_GRACE_MS, 'redis-server SIGKILL');
  }

  /** destroy - kill and remove the data dir. */
  async destroy(): Promise<void> {
    await this.kill().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

// ---- polling --------------------------------------------------------------------------------------

/**
 * pollUntil - calls `probe` (each call bounded by the caller) until it returns true; resolves with
 * the milliseconds from the start until that true answer came back, or undefined after `limitMs`.
 */
export async function pollUntil(limitMs: number, probe: () => Promise<boolean>, intervalMs = 20): Promise<number | undefined> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - start;
    if (Date.now() - start > limitMs) return undefined;
    await sleep(intervalMs);
  }
}
