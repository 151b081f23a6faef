/**
 * NAME
 *   smtp-client - a small raw-socket SMTP client for the MTA suites (Postfix, Exim)
 *
 * SYNOPSIS
 *   const t = await sendMail({ host: '127.0.0.1', port, localAddress: '127.0.10.2',
 *                              from: 'a@mta.example', to: ['bob@example.test'] })
 *   t.rcpts[0].code          450
 *   t.rcpts[0].text          '4.7.25 [127.0.10.2] Rejected by ... https://...'
 *   t.delivered              true when DATA was accepted (2xx after the final dot)
 *
 * DESCRIPTION
 *   One SMTP session, step by step, on a socket bound to `localAddress`: the MTA sees that
 *   loopback address (127.0.10.x) as the client IP, which is what BlockSmith checks. Replies are
 *   read whole (RFC 5321 §4.2.1 multi-line `code-` continuations) and kept with their code and
 *   text, so a test can assert on the exact reply an MTA gave. No pipelining, no TLS, no AUTH:
 *   only what a test of a firewall in front of RCPT needs.
 *
 *   The session goes: banner → EHLO → MAIL → every RCPT → DATA (only when at least one RCPT got
 *   a 2xx) → QUIT. A banner that is not 2xx ends it after QUIT. Every reply has a deadline; a
 *   peer that closes or stalls rejects with the transcript so far.
 */
import net from 'node:net';

export interface SmtpReply {
  readonly code: number;
  /** The lines as received, without CRLF. */
  readonly lines: readonly string[];
  /**
   * The text of every line after `NNN-`/`NNN `, joined with a space; an enhanced status code
   * repeated at the start of every line (RFC 2034 §4) is kept on the first line only, so a
   * reply an MTA wrapped reads the same as one it sent on one line.
   */
  readonly text: string;
}

export interface MailOptions {
  readonly host: string;
  readonly port: number;
  /** The client's source address (an address of the loopback interface). */
  readonly localAddress: string;
  readonly helo?: string;
  readonly from: string;
  readonly to: readonly string[];
  /** Message headers and body (LF or CRLF); a Subject and a unique id are added. */
  readonly body?: string;
  /** Deadline of each reply. */
  readonly replyTimeoutMs?: number;
}

export interface SmtpTranscript {
  readonly banner: SmtpReply;
  readonly ehlo?: SmtpReply;
  readonly mail?: SmtpReply;
  readonly rcpts: readonly SmtpReply[];
  readonly data?: SmtpReply;
  /** The reply after the final dot. */
  readonly end?: SmtpReply;
  /** The Message-ID header sent (without brackets): what to look for in the mailbox. */
  readonly messageId: string;
  /** DATA was accepted: the MTA queued the message. */
  readonly delivered: boolean;
  /** Every line sent (`C: `) and received (`S: `), for assertion messages. */
  readonly log: readonly string[];
}

const REPLY_TIMEOUT_MS = 30_000;

/** A connection that hands out whole replies in order. */
class Session {
  private buffer = '';
  private lines: string[] = [];
  private waiter: { ok: (r: SmtpReply) => void; fail: (e: Error) => void } | undefined;
  private ended: Error | undefined;
  readonly log: string[] = [];

  constructor(
    private readonly socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => this.onData(s));
    socket.on('error', (err) => this.end(err));
    socket.on('close', () => this.end(new Error('connection closed by the server')));
  }

  private end(err: Error): void {
    this.ended ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.fail(this.ended);
  }

  private onData(s: string): void {
    this.buffer += s;
    for (;;) {
      const i = this.buffer.indexOf('\n');
      if (i < 0) break;
      const line = this.buffer.slice(0, i).replace(/\r$/, '');
      this.buffer = this.buffer.slice(i + 1);
      this.log.push(`S: ${line}`);
      this.lines.push(line);
      // The last line of a reply has a space (or nothing) after the code.
      if (/^\d{3}(?: |$)/.test(line)) {
        const lines = this.lines;
        this.lines = [];
        const texts = lines.map((l) => l.slice(4));
        const enhanced = /^[245]\.\d{1,3}\.\d{1,3} /.exec(texts[0] ?? '')?.[0];
        const reply: SmtpReply = {
          code: Number(line.slice(0, 3)),
          lines,
          text: texts.map((t, i) => (i > 0 && enhanced !== undefined && t.startsWith(enhanced) ? t.slice(enhanced.length) : t)).join(' '),
        };
        const w = this.waiter;
        this.waiter = undefined;
        w?.ok(reply);
      }
    }
  }

  read(): Promise<SmtpReply> {
    if (this.ended !== undefined) return Promise.reject(this.ended);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        fail(new Error(`no SMTP reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = {
        ok: (r) => {
          clearTimeout(timer);
          ok(r);
        },
        fail: (e) => {
          clearTimeout(timer);
          fail(e);
        },
      };
    });
  }

  async command(line: string): Promise<SmtpReply> {
    this.log.push(`C: ${line}`);
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  sendRaw(text: string): void {
    this.log.push(`C: <${text.length} octets of message>`);
    this.socket.write(text);
  }
}

function connect(options: MailOptions): Promise<net.Socket> {
  return new Promise((ok, fail) => {
    const socket = net.connect({ host: options.host, port: options.port, localAddress: options.localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`connect to ${options.host}:${options.port} timed out`));
    }, options.replyTimeoutMs ?? REPLY_TIMEOUT_MS);
    socket.once('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      ok(socket);
    });
  });
}

/** dot-stuffing and CRLF line ends (RFC 5321 §4.5.2). */
function messageText(body: string): string {
  const lines = body.replace(/\r\n/g, '\n').split('\n');
  return lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n') + '\r\n.\r\n';
}

/** sendMail - one SMTP session; see DESCRIPTION. */
export async function sendMail(options: MailOptions): Promise<SmtpTranscript> {
  const socket = await connect(options);
  const session = new Session(socket, options.replyTimeoutMs ?? REPLY_TIMEOUT_MS);
  const rcpts: SmtpReply[] = [];
  let ehlo: SmtpReply | undefined;
  let mail: SmtpReply | undefined;
  let data: SmtpReply | undefined;
  let end: SmtpReply | undefined;
  const messageId = `${Date.now()}.${Math.random().toString(36).slice(2)}@mta.example`;
  try {
    const banner = await session.read();
    const result = (): SmtpTranscript => ({
      banner,
      ...(ehlo !== undefined ? { ehlo } : {}),
      ...(mail !== undefined ? { mail } : {}),
      rcpts,
      ...(data !== undefined ? { data } : {}),
      ...(end !== undefined ? { end } : {}),
      messageId,
      delivered: end !== undefined && end.code >= 200 && end.code < 300,
      log: session.log,
    });
    if (banner.code >= 200 && banner.code < 300) {
      ehlo = await session.command(`EHLO ${options.helo ?? 'client.mta.example'}`);
      if (ehlo.code < 300) {
        mail = await session.command(`MAIL FROM:<${options.from}>`);
        if (mail.code < 300) {
          for (const to of options.to) rcpts.push(await session.command(`RCPT TO:<${to}>`));
          if (rcpts.some((r) => r.code < 300)) {
            data = await session.command('DATA');
            if (data.code === 354) {
              const body = options.body ?? 'This is a test message.';
              session.sendRaw(messageText(`Message-ID: <${messageId}>\nSubject: BlockSmith e2e from ${options.localAddress}\n\n${body}`));
              end = await session.read();
            }
          }
        }
      }
    }
    await session.command('QUIT').catch(() => undefined);
    return result();
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${session.log.join('\n')}`);
  } finally {
    socket.destroy();
  }
}
