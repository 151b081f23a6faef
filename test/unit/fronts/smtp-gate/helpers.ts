/**
 * Shared set-up of the SMTP gate tests: the gate on loopback over a real Firewall
 * (test/unit/firewall/helpers.ts), a tiny SMTP server of the test's own as the backend (it
 * records the PROXY header and every byte after it), and an SMTP client over a real socket that
 * can bind to any 127.x source address.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { configSchema } from '../../../../src/config/schema.js';
import type { Firewall } from '../../../../src/firewall/index.js';
import { startGateFront, type GateFront } from '../../../../src/fronts/smtp-gate/index.js';
import { decodeProxyHeader, type ProxyDecode } from '../../../../src/fronts/smtp-gate/proxy-protocol.js';
import type { Metrics } from '../../../../src/metrics/types.js';
import { createLogger } from '../../../../src/util/log.js';
import { ZONE, type Env } from '../../firewall/helpers.js';
import type { TestZone } from '../../../helpers/dns-test-server.js';

/** Loopback sources of the tests and what the zone below says about them. */
export const SRC = {
  /** PTR gate-ok.example.com → A 127.0.0.10: confirmed. */
  pass: '127.0.0.10',
  /** A second confirmed source. */
  pass2: '127.0.0.11',
  /** No PTR (NXDOMAIN): refused, listed. */
  noPtr: '127.0.0.20',
  /** PTR whose name does not resolve back. */
  noMatch: '127.0.0.21',
} as const;

export const GATE_ZONE: TestZone = {
  ...ZONE,
  records: {
    ...ZONE.records,
    '10.0.0.127.in-addr.arpa': [{ type: 'PTR', data: 'gate-ok.example.com', ttl: 300 }],
    'gate-ok.example.com': [{ type: 'A', data: '127.0.0.10', ttl: 300 }],
    '11.0.0.127.in-addr.arpa': [{ type: 'PTR', data: 'gate-ok2.example.com', ttl: 300 }],
    'gate-ok2.example.com': [{ type: 'A', data: '127.0.0.11', ttl: 300 }],
    '21.0.0.127.in-addr.arpa': [{ type: 'PTR', data: 'elsewhere.example.com', ttl: 300 }],
    'elsewhere.example.com': [{ type: 'A', data: '198.51.100.7', ttl: 300 }],
  },
};

/** Loopback is bypassed by default: the gate tests check 127.x like any other address. */
export const ENV_OPTIONS = { check: { bypass: [] } } as const;

export function recordingMetrics(events: string[]): Metrics {
  return {
    contentType: 'text/plain',
    render: () => Promise.resolve(''),
    frontEvent: (front, event) => {
      events.push(`${front}:${event}`);
    },
  };
}

export interface RunningGate {
  readonly front: GateFront;
  readonly logs: Record<string, unknown>[];
  readonly events: string[];
  readonly port: number;
}

/** startGate - the gate over `env`'s firewall (or `firewall`), listening on 127.0.0.1:0, with `gate` settings. */
export async function startGate(env: Env, gate: Record<string, unknown>, firewall?: Pick<Firewall, 'decide'>): Promise<RunningGate> {
  const logs: Record<string, unknown>[] = [];
  const events: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done): void {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = configSchema.parse({ gate: { listen: ['127.0.0.1:0'], hostname: 'gate.test', ...gate } });
  const front = await startGateFront({ config, firewall: (firewall ?? env.firewall) as Firewall, logger: createLogger('debug', sink), metrics: recordingMetrics(events) });
  if (front === undefined) throw new Error('the gate did not start');
  const port = Number(/:(\d+)$/.exec(front.endpoints[0] ?? '')?.[1]);
  return { front, logs, events, port };
}

/** One connection as the backend saw it. */
export interface BackendConnection {
  readonly socket: Socket;
  /** The PROXY header, when one came first (decoded from the first bytes). */
  header: ProxyDecode | undefined;
  /** Every byte after the header. */
  received: string;
  /** Bytes that arrived before the backend's 220 was written (must stay empty). */
  beforeGreeting: string;
  /** The message bodies received with DATA. */
  readonly messages: string[];
  closed: boolean;
}

/**
 * A tiny SMTP server: reads a PROXY header when `expectProxy` (as Postfix does, before its
 * greeting), greets after `greetDelayMs`, answers EHLO (with STARTTLS advertised, answered 220
 * then nothing more: the test only checks that it passes through), MAIL, RCPT, DATA … `.`, QUIT.
 */
export class TestBackend {
  readonly connections: BackendConnection[] = [];
  private readonly server: Server;
  port = 0;

  private constructor(expectProxy: boolean, greetDelayMs: number) {
    this.server = createServer((socket) => this.serve(socket, expectProxy, greetDelayMs));
  }

  static async start(expectProxy = true, greetDelayMs = 0): Promise<TestBackend> {
    const b = new TestBackend(expectProxy, greetDelayMs);
    await new Promise<void>((resolve) => b.server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = b.server.address();
    b.port = typeof address === 'object' && address !== null ? address.port : 0;
    return b;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket, expectProxy: boolean, greetDelayMs: number): void {
    const conn: BackendConnection = { socket, header: undefined, received: '', beforeGreeting: '', messages: [], closed: false };
    this.connections.push(conn);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.closed = true;
    });
    let head = Buffer.alloc(0);
    let greeted = false;
    let inData = false;
    let body = '';
    let pending = '';
    const greet = (): void => {
      greeted = true;
      socket.write('220 backend.test ESMTP TestBackend\r\n');
    };
    const onLine = (line: string): void => {
      if (inData) {
        if (line === '.') {
          inData = false;
          conn.messages.push(body);
          body = '';
          socket.write('250 2.0.0 Ok: queued\r\n');
        } else body += `${line}\n`;
        return;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') socket.write('250-backend.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n');
      else if (verb === 'DATA') {
        inData = true;
        socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
      } else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n');
      else if (line.toUpperCase() === 'STARTTLS') socket.write('220 2.0.0 Ready to start TLS\r\n');
      else socket.write('250 2.0.0 Ok\r\n');
    };
    const onBytes = (chunk: Buffer): void => {
      const text = chunk.toString('latin1');
      conn.received += text;
      if (!greeted) conn.beforeGreeting += text;
      pending += text;
      // One slice at the end, not one per line: a 1 MB message must not cost 1 MB per line.
      let from = 0;
      for (let i = pending.indexOf('\r\n'); i !== -1; i = pending.indexOf('\r\n', from)) {
        onLine(pending.slice(from, i));
        from = i + 2;
      }
      pending = pending.slice(from);
    };
    socket.on('data', (chunk: Buffer) => {
      if (expectProxy && conn.header === undefined) {
        head = Buffer.concat([head, chunk]);
        const decoded = decodeProxyHeader(head);
        if (decoded.kind === 'need-more') return;
        conn.header = decoded;
        if (decoded.kind === 'error') {
          socket.destroy();
          return;
        }
        if (greetDelayMs > 0) setTimeout(greet, greetDelayMs);
        else greet();
        const rest = head.subarray(decoded.length);
        if (rest.length > 0) onBytes(rest);
        return;
      }
      onBytes(chunk);
    });
    if (!expectProxy) greet();
  }
}

/** An SMTP client on one real socket, from any loopback source address. */
export class SmtpClient {
  readonly socket: Socket;
  received = '';
  private unread = '';
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;
  ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.received += c.toString('latin1');
      this.unread += c.toString('latin1');
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static open(port: number, localAddress = '127.0.0.1', host = '127.0.0.1'): Promise<SmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, localAddress });
      socket.once('connect', () => resolve(new SmtpClient(socket)));
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next whole reply (every line up to `ddd `), or undefined when the connection closed first. */
  async reply(timeoutMs = 5_000): Promise<string | undefined> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\n/.exec(this.unread);
      if (m !== null) {
        this.unread = this.unread.slice(m[0].length);
        return m[0];
      }
      if (this.ended) return undefined;
      if (Date.now() > until) throw new Error(`no reply within ${timeoutMs} ms (received ${JSON.stringify(this.received)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, until - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** command - send one line (CRLF added) and return its reply. */
  async command(line: string): Promise<string | undefined> {
    this.send(`${line}\r\n`);
    return this.reply();
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
