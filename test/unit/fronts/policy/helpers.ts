/**
 * Shared set-up of the policy front tests: the front started on loopback over a real Firewall
 * (test/unit/firewall/helpers.ts: SQLite store, real checker, the in-process DNS test server),
 * a logger that keeps its JSON lines, metrics that keep their events, and a small policy
 * client over a real socket.
 */
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { configSchema } from '../../../../src/config/schema.js';
import { startPolicyFront, type PolicyFront } from '../../../../src/fronts/policy/index.js';
import type { Firewall } from '../../../../src/firewall/index.js';
import type { Metrics } from '../../../../src/metrics/types.js';
import { createLogger, type LogLevel } from '../../../../src/util/log.js';
import type { Env } from '../../firewall/helpers.js';

export interface Running {
  readonly front: PolicyFront;
  /** Parsed log lines, in order. */
  readonly logs: Record<string, unknown>[];
  /** Front events counted, in order (`policy:<event>`). */
  readonly events: string[];
  /** The first TCP endpoint's port. */
  readonly port: number;
}

export function recordingMetrics(events: string[]): Metrics {
  return {
    contentType: 'text/plain',
    render: () => Promise.resolve(''),
    frontEvent: (front, event) => {
      events.push(`${front}:${event}`);
    },
  };
}

/** startFront - the policy front over `env`'s firewall (or `firewall`), with `policy` settings over loopback defaults. */
export async function startFront(env: Env, policy: Record<string, unknown> = {}, firewall?: Firewall, logLevel: LogLevel = 'debug'): Promise<Running> {
  const logs: Record<string, unknown>[] = [];
  const events: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done): void {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = configSchema.parse({ policy: { listen: ['127.0.0.1:0'], ...policy } });
  const front = await startPolicyFront({ config, firewall: firewall ?? env.firewall, logger: createLogger(logLevel, sink), metrics: recordingMetrics(events) });
  if (front === undefined) throw new Error('the policy front did not start');
  const tcp = front.endpoints.find((e) => e.startsWith('tcp://'));
  const port = tcp === undefined ? 0 : Number(/:(\d+)$/.exec(tcp)?.[1]);
  return { front, logs, events, port };
}

/** A request as Postfix writes it (LF lines, empty line at the end). */
export function request(attributes: Record<string, string>, eol = '\n'): string {
  const all = { request: 'smtpd_access_policy', protocol_state: 'RCPT', protocol_name: 'ESMTP', ...attributes };
  return Object.entries(all)
    .map(([k, v]) => `${k}=${v}${eol}`)
    .join('') + eol;
}

/** A policy client on one real socket: what it received, answers one by one, the close. */
export class PolicyClient {
  readonly socket: Socket;
  /** Everything received (the transcript). */
  received = '';
  /** Received and not yet returned by answer(). */
  private unread = '';
  private readonly waiters: (() => void)[] = [];
  readonly closed: Promise<void>;
  ended = false;
  /** The server's FIN arrived. */
  peerEnded = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.received += c.toString('latin1');
      this.unread += c.toString('latin1');
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('end', () => {
      this.peerEnded = true;
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** open - connect; `allowHalfOpen` keeps our side open after the server's FIN, as Postfix's policy client does until its next request. */
  static open(target: number | string, host = '127.0.0.1', allowHalfOpen = false): Promise<PolicyClient> {
    return new Promise((resolve, reject) => {
      const socket = typeof target === 'number' ? connect({ port: target, host, allowHalfOpen }) : connect({ path: target, allowHalfOpen });
      socket.once('connect', () => resolve(new PolicyClient(socket)));
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next `action=…` answer (without `action=` and the empty line), or undefined when the socket closed first. */
  async answer(timeoutMs = 10_000): Promise<string | undefined> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const end = this.unread.indexOf('\n\n');
      if (end !== -1) {
        const reply = this.unread.slice(0, end);
        this.unread = this.unread.slice(end + 2);
        if (!reply.startsWith('action=')) throw new Error(`not an action: ${JSON.stringify(reply)}`);
        return reply.slice('action='.length);
      }
      if (this.ended) return undefined;
      if (Date.now() > until) throw new Error(`no answer within ${timeoutMs} ms (received ${JSON.stringify(this.received)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, until - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** ask - send a request and wait for its answer. */
  async ask(attributes: Record<string, string>): Promise<string | undefined> {
    this.send(request(attributes));
    return this.answer();
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Wait until `predicate` holds, or fail after `ms`. */
export async function until(predicate: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
