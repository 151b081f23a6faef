/**
 * NAME
 *   fronts/smtp-gate/dialogue - the SMTP the gate speaks to a client it refused at connect
 *
 * SYNOPSIS
 *   const d = new RefusedDialogue(options)
 *   d.greeting(): Answer                    220, or the refusal at connect (rejectAtConnect)
 *   await d.handle(command): Answer         the reply to one command, and whether to close
 *   d.evidence                              HELO, sender and recipients seen (cleaned by the firewall)
 *
 * DESCRIPTION
 *   One dispatch table from verb to handler (STYLE.md §1), one `phase` field: `greeted` (no
 *   HELO yet) → `helo` → `mail` (after MAIL FROM); RSET and a new EHLO go back to `helo`;
 *   `refused-at-connect` answers 503 to everything but QUIT (RFC 5321 §3.1).
 *
 *   RCPT is where the refusal is said: the firewall is asked again with stage `rcpt` and the
 *   HELO, sender and recipient, so they go into the evidence of the refusal (its reference and
 *   URL are in the reply). Its answer is the firewall's multi-line 450/550/451 reply.
 *
 *   What the firewall accepts at RCPT (postmaster@ and abuse@ are always accepted; an operator
 *   may have allowed the address meanwhile) is STILL refused, with the connect decision's
 *   reply: the gate never hands a session it has spoken in to the MTA (postscreen's rule: "the
 *   client gets a 4XX and must reconnect"). A half-spoken session cannot be replayed honestly:
 *   the MTA would have to accept what the gate said on its behalf (greeting, EHLO keywords,
 *   MAIL). The reply carries the portal URL, whose contact form reaches the postmaster; an
 *   allowed address is let through at its next connection. Logged as LATE-ACCEPT.
 *
 *   DATA is always 554 5.5.1 (no recipient is ever accepted), STARTTLS 454 (the gate holds no
 *   certificate: refused mail stays refused in plain text), QUIT 221 and close, RSET and NOOP
 *   250, VRFY/EXPN/ETRN/AUTH/BDAT/TURN 502 5.5.1, anything else 502 5.5.2; a line that looks
 *   like HTTP (`GET /`, `Host:`) 521 and close, as Postfix does. Each command counts against
 *   maxCommandsCount; past it, 421 and close.
 */
import type { Decision } from '../../firewall/index.js';
import { pathArgument, type SmtpCommand } from './command-reader.js';
import { connectRefusal, refusalReply, REPLIES } from './render.js';

export interface Answer {
  readonly text: string;
  readonly close: boolean;
  /** For the front's counters and log: what happened, when worth telling. */
  readonly event?: 'refused' | 'late-accept' | 'quit' | 'non-smtp' | 'too-many-commands' | 'rcpt-error';
}

export interface RcptFields {
  readonly helo?: string;
  readonly sender?: string;
  readonly recipient: string;
}

export interface DialogueOptions {
  readonly host: string;
  /** The connect decision (a reject or defer, with its reply). */
  readonly refusal: Decision & { readonly reply: NonNullable<Decision['reply']> };
  readonly rejectAtConnect: boolean;
  readonly maxCommandsCount: number;
  /** The firewall asked at RCPT (the session adds the deadline); rejects on firewall error. */
  readonly decideRcpt: (fields: RcptFields) => Promise<Decision>;
}

type Phase = 'refused-at-connect' | 'greeted' | 'helo' | 'mail' | 'done';

type Handler = (d: RefusedDialogue, command: SmtpCommand) => Answer | Promise<Answer>;

const KEEP = (text: string): Answer => ({ text, close: false });
const CLOSE = (text: string, event?: Answer['event']): Answer => (event === undefined ? { text, close: true } : { text, close: true, event });

/** Verbs the gate knows but does not offer to a refused client. */
const NOT_IMPLEMENTED = ['VRFY', 'EXPN', 'ETRN', 'AUTH', 'BDAT', 'TURN', 'ATRN', 'XCLIENT', 'XFORWARD', 'HELP'];
/** A first word that shows an HTTP client (or a proxy) talking to port 25. */
const NON_SMTP = /^(?:GET|POST|HEAD|PUT|DELETE|OPTIONS|CONNECT|[A-Z0-9-]+:)$/;

const HANDLERS: Readonly<Record<string, Handler>> = {
  EHLO: (d, c) => d.onHelo(c, true),
  HELO: (d, c) => d.onHelo(c, false),
  MAIL: (d, c) => d.onMail(c),
  RCPT: (d, c) => d.onRcpt(c),
  DATA: (d) => KEEP(d.phase === 'mail' ? REPLIES.needRcpt() : d.phase === 'greeted' ? REPLIES.heloFirst() : REPLIES.needMail()),
  RSET: (d) => d.onRset(),
  NOOP: () => KEEP(REPLIES.ok()),
  QUIT: () => CLOSE(REPLIES.bye(), 'quit'),
  STARTTLS: () => KEEP(REPLIES.noTls()),
  ...Object.fromEntries(NOT_IMPLEMENTED.map((verb): [string, Handler] => [verb, () => KEEP(REPLIES.notImplemented())])),
};

export class RefusedDialogue {
  phase: Phase;
  private readonly options: DialogueOptions;
  private commands = 0;
  private helo: string | undefined;
  private sender: string | undefined;
  readonly recipients: string[] = [];

  constructor(options: DialogueOptions) {
    this.options = options;
    this.phase = options.rejectAtConnect ? 'refused-at-connect' : 'greeted';
  }

  /** greeting - the first reply; `close` for a 421 refusal at connect. */
  greeting(): Answer {
    if (!this.options.rejectAtConnect) return KEEP(REPLIES.greeting(this.options.host));
    const refusal = connectRefusal(this.options.refusal.reply);
    if (refusal.close) this.phase = 'done';
    return { text: refusal.text, close: refusal.close, event: 'refused' };
  }

  get evidence(): { helo?: string; sender?: string; recipients: readonly string[] } {
    return { ...(this.helo !== undefined ? { helo: this.helo } : {}), ...(this.sender !== undefined ? { sender: this.sender } : {}), recipients: this.recipients };
  }

  handle(command: SmtpCommand): Answer | Promise<Answer> {
    this.commands += 1;
    if (this.commands > this.options.maxCommandsCount) return CLOSE(REPLIES.tooManyCommands(this.options.host), 'too-many-commands');
    if (NON_SMTP.test(command.verb)) return CLOSE(REPLIES.nonSmtp(), 'non-smtp');
    if (this.phase === 'refused-at-connect') return command.verb === 'QUIT' ? CLOSE(REPLIES.bye(), 'quit') : KEEP(REPLIES.badSequence());
    if (command.verb === '') return KEEP(REPLIES.badSyntax());
    const handler = Object.hasOwn(HANDLERS, command.verb) ? HANDLERS[command.verb] : undefined;
    return handler === undefined ? KEEP(REPLIES.notRecognised()) : handler(this, command);
  }

  // ---------------------------------------------------------------- handlers (called from HANDLERS)

  onHelo(command: SmtpCommand, extended: boolean): Answer {
    const name = command.args.trim();
    if (name === '' || /\s/.test(name)) return KEEP(REPLIES.heloSyntax(extended ? 'EHLO' : 'HELO'));
    this.helo = name;
    this.sender = undefined;
    this.phase = 'helo';
    return KEEP(extended ? REPLIES.ehlo(this.options.host) : REPLIES.helo(this.options.host));
  }

  onMail(command: SmtpCommand): Answer {
    if (this.phase === 'greeted') return KEEP(REPLIES.heloFirst());
    if (this.phase === 'mail') return KEEP(REPLIES.nestedMail());
    const sender = pathArgument(command.args, 'FROM');
    if (sender === undefined) return KEEP(REPLIES.mailSyntax());
    this.sender = sender;
    this.phase = 'mail';
    return KEEP(REPLIES.mailOk());
  }

  async onRcpt(command: SmtpCommand): Promise<Answer> {
    if (this.phase !== 'mail') return KEEP(this.phase === 'greeted' ? REPLIES.heloFirst() : REPLIES.needMail());
    const recipient = pathArgument(command.args, 'TO');
    if (recipient === undefined || recipient === '') return KEEP(REPLIES.rcptSyntax());
    this.recipients.push(recipient);
    const connectReply = refusalReply(this.options.refusal.reply);
    let decision: Decision;
    try {
      decision = await this.options.decideRcpt({
        recipient,
        ...(this.helo !== undefined ? { helo: this.helo } : {}),
        ...(this.sender !== undefined && this.sender !== '' ? { sender: this.sender } : {}),
      });
    } catch {
      return { text: connectReply, close: false, event: 'rcpt-error' };
    }
    if ((decision.action === 'reject' || decision.action === 'defer') && decision.reply !== undefined) {
      return { text: refusalReply(decision.reply), close: false, event: 'refused' };
    }
    return { text: connectReply, close: false, event: 'late-accept' };
  }

  onRset(): Answer {
    if (this.phase !== 'greeted') this.phase = 'helo';
    this.sender = undefined;
    return KEEP(REPLIES.ok());
  }
}
