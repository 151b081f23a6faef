/**
 * NAME
 *   fronts/policy/session - one policy connection: read a request, decide, answer, repeat
 *
 * SYNOPSIS
 *   const session = new PolicySession(socket, options)   takes over the socket
 *   session.state                                        'reading' | 'deciding' | 'closing' | 'closed'
 *   session.stop()                                       answer what is in progress, then close
 *   session.destroy()                                    cut at once
 *
 * DESCRIPTION
 *   One state field (STYLE.md §1). `reading`: bytes go to the parser (parser.ts); each complete
 *   request is classified (request.ts): an unknown request type or a bad client address is
 *   answered DUNNO at once, anything else goes to Firewall.decide() and the session becomes
 *   `deciding`: the socket is paused, so the next request is read only after this one is
 *   answered and pipelined requests are answered in order. postfix mode then goes back to
 *   `reading` on the same connection; exim mode ends the connection after its one answer.
 *   `closing`: end() sent, nothing more is read. `closed`: the socket is gone.
 *
 *   A decision has a deadline: after decisionTimeoutMs its signal aborts (the check stops and
 *   the firewall answers its own 451 4.4.3); if the firewall has still not answered after
 *   decisionGraceMs more, the front answers `451 4.3.0` itself. A firewall that throws also
 *   gets 451 4.3.0 (render.ts temporaryFailure), never a permanent code. Every way a decision
 *   can end (answer, error, timer, socket gone) settles it exactly once.
 *
 *   A framing error (line or request too long, NUL, a line without '=', …) closes the
 *   connection WITHOUT a reply, as SMTPD_POLICY_README asks of a server in trouble: Postfix logs
 *   it, retries, and applies its default_action. Answers to earlier requests already written
 *   are still delivered (end(), not destroy()).
 *
 *   The peer may half-close (Exim's readsocket shuts its write side after the request): the
 *   server socket allows half-open connections, so the answer still goes out, then end().
 *
 * LIMITS
 *   idleTimeoutMs: no byte while no request is in progress (socket timeout); requestTimeoutMs:
 *   from the first byte of a request to its empty line; decisionTimeoutMs + decisionGraceMs;
 *   a client that does not read its answers is not read either (write back-pressure pauses the
 *   socket until 'drain'); pipelined requests are served one per turn of the event loop with
 *   the socket paused, so one client cannot starve the others and its unread bytes stay
 *   bounded by what arrived before the pause.
 *
 * DIAGNOSTICS
 *   Log lines (pino, fixed fields front, cid, client; peer text through printable()):
 *     DROP        warn: closed without a reply; `reason` is the parser's code or request-timeout
 *     BAD-CLIENT  warn: client_address missing or not an IP address; answered DUNNO
 *     POLICY-ERROR error: the firewall threw; answered 451 4.3.0
 *     DECISION-TIMEOUT warn: no decision within the deadline and grace; answered 451 4.3.0
 *     UNKNOWN-REQUEST debug: a request type other than smtpd_access_policy; answered DUNNO
 *   Front events (metrics.frontEvent('policy', …)): request; each answer as dunno, reject,
 *   defer (the firewall's) or temporary (the front's own 451); unknown-request, bad-client, error, decision-timeout, idle-timeout, client-gone, and each
 *   DROP reason.
 */
import type { Socket } from 'node:net';
import type { PolicyConfig } from '../../config/schema.js';
import type { Firewall } from '../../firewall/index.js';
import { isBlockSmithError } from '../../errors.js';
import type { Decision } from '../../firewall/types.js';
import type { Metrics } from '../../metrics/types.js';
import { Abort } from '../../util/abort.js';
import type { Logger } from '../../util/log.js';
import { printable } from '../../util/printable.js';
import { PolicyParser, type Attributes, type ParseErrorCode } from './parser.js';
import { actionFor, DUNNO, renderAction, temporaryFailure } from './render.js';
import { addressProblem, classify, type ClientFields } from './request.js';

/** Peer text in a log line is cut to this many characters (Postfix cuts to 100 too). */
export const LOG_PEER_TEXT_MAX_CHARS = 100;

export type SessionState = 'reading' | 'deciding' | 'closing' | 'closed';

/** What an answer was, for the front's counters: the front's own 451 is `temporary`. */
type AnswerKind = 'dunno' | 'reject' | 'defer' | 'temporary';

export interface SessionOptions {
  readonly config: PolicyConfig;
  readonly firewall: Pick<Firewall, 'decide'>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The organisation named in the front's own 451 (firewall.organisation.name, read when needed: reloads change it). */
  readonly organisation: () => string;
  /** Connection id for logs. */
  readonly cid: string;
  /** The peer for logs: `[addr]:port`, or `unix`. */
  readonly client: string;
  /** Called once, when the socket has closed. */
  readonly onClose: (session: PolicySession) => void;
}

/** One decision in progress; `settled` makes every ending after the first a no-op. */
interface Pending {
  settled: boolean;
  readonly abort: Abort;
  deadline: NodeJS.Timeout | undefined;
  grace: NodeJS.Timeout | undefined;
}

export class PolicySession {
  state: SessionState = 'reading';
  private readonly socket: Socket;
  private readonly options: SessionOptions;
  private readonly parser: PolicyParser;
  private requestTimer: NodeJS.Timeout | undefined;
  private pending: Pending | undefined;
  /** The peer sent FIN: no more requests will come. */
  private peerEnded = false;
  /** Waiting for 'drain' before reading more. */
  private draining = false;
  /** A pump() is due on the next turn of the event loop. */
  private scheduled = false;
  private stopping = false;

  constructor(socket: Socket, options: SessionOptions) {
    this.socket = socket;
    this.options = options;
    this.parser = new PolicyParser(options.config);
    socket.setNoDelay(true);
    socket.setTimeout(options.config.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('timeout', () => this.onIdle());
    socket.on('drain', () => this.onDrain());
    // Late errors (ECONNRESET after we stopped caring) must always have a listener.
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClosed());
  }

  /**
   * stop - answer the request in progress (if any), then close; idle connections close now. An
   * idle connection with nothing left to send is destroyed rather than ended: Postfix reads its
   * policy socket only when it has a request, so waiting for its FIN would always take the
   * whole stop grace.
   */
  stop(): void {
    this.stopping = true;
    if (this.state !== 'reading') return;
    if (!this.parser.inRequest && this.socket.writableLength === 0) this.socket.destroy();
    else this.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  // ---------------------------------------------------------------- private

  private onData(chunk: Buffer): void {
    if (this.state !== 'reading' && this.state !== 'deciding') return;
    this.parser.push(chunk);
    if (!this.scheduled) this.pump();
  }

  /**
   * pump - serve the next complete request, if any. One request per turn of the event loop, with
   * the socket paused meanwhile: a client pipelining thousands of cheap requests (each answered
   * DUNNO at once) must not starve the other connections, nor the DNS replies the firewall waits
   * for, and its unread bytes stay bounded. With no complete request left: read on, arm the
   * request timer for a partial one, or end when the peer has (or we are stopping).
   */
  private pump(): void {
    if (this.state !== 'reading' || this.draining) return;
    const event = this.parser.next();
    if (event === undefined) {
      if (this.parser.inRequest) {
        if (this.peerEnded) {
          this.count('client-gone');
          this.end();
          return;
        }
        this.requestTimer ??= setTimeout(() => this.drop('request-timeout', `no complete request within ${this.options.config.requestTimeoutMs} ms`), this.options.config.requestTimeoutMs).unref();
      } else {
        this.clearRequestTimer();
        if (this.peerEnded || this.stopping) {
          this.end();
          return;
        }
      }
      this.socket.resume();
      return;
    }
    if (event.kind === 'error') {
      this.drop(event.code, event.detail);
      return;
    }
    this.count('request');
    this.handle(event.attributes);
    if (this.state !== 'reading' || this.draining) return;
    this.socket.pause();
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private handle(attributes: Attributes): void {
    const classified = classify(attributes);
    switch (classified.kind) {
      case 'unknown-request':
        this.count('unknown-request');
        if (this.options.logger.isLevelEnabled('debug')) this.options.logger.debug(this.fields({ event: 'UNKNOWN-REQUEST', request: peerText(classified.request ?? '(none)') }), 'policy request type not handled: DUNNO');
        this.answer(DUNNO, 'dunno');
        return;
      case 'bad-client':
        this.badClient(classified.address, classified.problem);
        this.answer(DUNNO, 'dunno');
        return;
      case 'decide':
        this.decide(classified.fields);
        return;
    }
  }

  private decide(fields: ClientFields): void {
    this.state = 'deciding';
    this.clearRequestTimer();
    this.socket.pause();
    const { decisionTimeoutMs, decisionGraceMs } = this.options.config;
    const pending: Pending = { settled: false, abort: new Abort(), deadline: undefined, grace: undefined };
    this.pending = pending;
    pending.deadline = setTimeout(() => {
      pending.abort.abort();
      pending.grace = setTimeout(() => {
        this.count('decision-timeout');
        this.options.logger.warn(this.fields({ event: 'DECISION-TIMEOUT', ip: peerText(fields.ip) }), 'no decision in time: 451');
        this.settle(pending, temporaryFailure(this.options.organisation()), 'temporary');
      }, decisionGraceMs).unref();
    }, decisionTimeoutMs).unref();
    let decision: Promise<Decision>;
    try {
      decision = this.options.firewall.decide({ ...fields, front: 'policy', signal: pending.abort });
    } catch (err) {
      decision = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    decision.then(
      (d) => {
        const action = actionFor(d);
        if (action === undefined) {
          this.failed(pending, fields, new Error(`a ${d.action} decision without a reply`));
          return;
        }
        this.settle(pending, action, action === DUNNO ? 'dunno' : d.action === 'reject' ? 'reject' : 'defer');
      },
      (err: unknown) => {
        const problem = isBlockSmithError(err) && err.code === 'BS_ERR_ADDRESS_INVALID' ? addressProblem(fields.ip) : undefined;
        if (problem === undefined) {
          this.failed(pending, fields, err);
          return;
        }
        if (pending.settled) return;
        this.badClient(fields.ip, problem);
        this.settle(pending, DUNNO, 'dunno');
      },
    );
  }

  private badClient(address: string | undefined, problem: string): void {
    this.count('bad-client');
    this.options.logger.warn(
      this.fields({ event: 'BAD-CLIENT', address: peerText(address ?? '(none)'), problem: peerText(problem) }),
      'policy request without a usable client_address: DUNNO',
    );
  }

  private failed(pending: Pending, fields: ClientFields, err: unknown): void {
    if (pending.settled) return;
    this.count('error');
    this.options.logger.error(
      this.fields({ event: 'POLICY-ERROR', ip: peerText(fields.ip), err: peerText(err instanceof Error ? err.message : String(err)) }),
      'the firewall failed: 451',
    );
    this.settle(pending, temporaryFailure(this.options.organisation()), 'temporary');
  }

  private settle(pending: Pending, action: string, kind: AnswerKind): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.deadline);
    clearTimeout(pending.grace);
    if (this.pending === pending) this.pending = undefined;
    if (this.state !== 'deciding') return; // the socket went away meanwhile
    this.state = 'reading';
    this.answer(action, kind);
    this.pump();
  }

  /** Write one answer; exim mode ends the connection after it. */
  private answer(action: string, kind: AnswerKind): void {
    this.count(kind);
    const flushed = this.socket.write(renderAction(action));
    if (this.options.config.mode === 'exim') {
      this.end();
      return;
    }
    if (!flushed) {
      this.draining = true;
      this.socket.pause();
    }
  }

  private onDrain(): void {
    if (!this.draining) return;
    this.draining = false;
    if (!this.scheduled) this.pump();
  }

  private onEnd(): void {
    this.peerEnded = true;
    // Deciding: end() after the answer; a pump scheduled: it sees peerEnded; closing: done.
    // Otherwise serve what is complete first (a request and its FIN can arrive together).
    if (this.state === 'reading' && !this.scheduled) this.pump();
  }

  private onIdle(): void {
    if (this.state === 'closing') {
      // A peer that does not read what is left to send: give up on it.
      this.socket.destroy();
      return;
    }
    // A request in progress has its own timer; a decision its own deadline.
    if (this.state !== 'reading' || this.parser.inRequest) return;
    this.count('idle-timeout');
    this.end();
  }

  /** drop - close without a reply (Postfix applies its default action), with one log line. */
  private drop(reason: ParseErrorCode | 'request-timeout', detail: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.count(reason);
    this.options.logger.warn(this.fields({ event: 'DROP', reason, detail }), 'policy connection closed without a reply');
    this.end();
  }

  private end(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.clearRequestTimer();
    this.socket.pause();
    this.socket.end();
    // Stopping: once the last answer is handed to the kernel, let go (it still delivers it);
    // Postfix would send its FIN only at its next request, after our stop grace.
    if (this.stopping) this.socket.once('finish', () => this.socket.destroy());
  }

  private onClosed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearRequestTimer();
    // A decision still running finishes in the firewall (others may share its check); its answer is dropped.
    if (this.pending !== undefined) {
      clearTimeout(this.pending.deadline);
      clearTimeout(this.pending.grace);
      this.pending.settled = true;
      this.pending = undefined;
    }
    this.options.onClose(this);
  }

  private clearRequestTimer(): void {
    if (this.requestTimer === undefined) return;
    clearTimeout(this.requestTimer);
    this.requestTimer = undefined;
  }

  private count(event: string): void {
    this.options.metrics.frontEvent('policy', event);
  }

  private fields(extra: Record<string, unknown>): Record<string, unknown> {
    return { front: 'policy', cid: this.options.cid, client: this.options.client, ...extra };
  }
}

function peerText(text: string): string {
  return printable(text, LOG_PEER_TEXT_MAX_CHARS);
}
