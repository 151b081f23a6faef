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
 *   `deciding`: bytes that arrive meanwhile are kept by the parser and pause the socket, so the
 *   next request is read only after this one is answered and pipelined requests are answered
 *   in order (one per turn of the event loop). postfix mode then goes back to `reading` on the
 *   same connection; exim mode ends the connection after its one answer. `closing`: end()
 *   sent, nothing more is read. `closed`: the socket is gone.
 *
 *   A decision has a deadline: after decisionTimeoutMs its signal aborts (the check stops and
 *   the firewall answers its own 451 4.4.3); if the firewall has still not answered after
 *   decisionGraceMs more, the front answers `451 4.3.0` itself. A firewall that throws also
 *   gets 451 4.3.0 (render.ts temporaryFailure), never a permanent code. Every way a decision
 *   can end (answer, error, timer, socket gone) settles it exactly once.
 *
 *   The warm path allocates little: a warm decision is answered within the turn that read its
 *   request, so the socket is neither paused nor resumed for it, the context is built as one
 *   object (request.ts decisionContext), the answer's wire text is a constant or cached per
 *   reply (render.ts answerFor), and the deadline is one timer per session, armed when a
 *   decision starts and it is idle, and re-armed when it fires early for a later decision
 *   (never one timer, or a clearTimeout, per decision).
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
import { answerFor, DUNNO_ANSWER, renderAction, temporaryFailure } from './render.js';
import { addressProblem, decisionContext, kindOf } from './request.js';

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
  readonly ip: string;
  /** performance.now() at which the deadline passes; once it has (`overdue`), the end of the grace. */
  dueAt: number;
  overdue: boolean;
}

export class PolicySession {
  state: SessionState = 'reading';
  private readonly socket: Socket;
  private readonly options: SessionOptions;
  private readonly parser: PolicyParser;
  private requestTimer: NodeJS.Timeout | undefined;
  private pending: Pending | undefined;
  /** The session's one deadline timer (see DESCRIPTION), its duration, and whether it is armed. */
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private timerArmed = false;
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
    if (this.state === 'deciding') {
      // A pipelined request (Postfix never sends one before its answer): keep it, read no more.
      this.parser.push(chunk);
      this.socket.pause();
      return;
    }
    if (this.state !== 'reading') return;
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
    this.next();
  }

  /** next - a pump on the next turn of the event loop, the socket paused meanwhile. */
  private next(): void {
    this.socket.pause();
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private handle(attributes: Attributes): void {
    switch (kindOf(attributes)) {
      case 'unknown-request':
        this.count('unknown-request');
        if (this.options.logger.isLevelEnabled('debug')) this.options.logger.debug(this.fields({ event: 'UNKNOWN-REQUEST', request: peerText(attributes.request ?? '(none)') }), 'policy request type not handled: DUNNO');
        this.answer(DUNNO_ANSWER, 'dunno');
        return;
      case 'bad-client':
        this.badClient(attributes.client_address, 'no client_address');
        this.answer(DUNNO_ANSWER, 'dunno');
        return;
      case 'decide':
        this.decide(attributes);
        return;
    }
  }

  private decide(attributes: Attributes): void {
    this.state = 'deciding';
    this.clearRequestTimer();
    const abort = new Abort();
    const ctx = decisionContext(attributes, abort);
    const pending: Pending = { settled: false, abort, ip: ctx.ip, dueAt: performance.now() + this.options.config.decisionTimeoutMs, overdue: false };
    this.pending = pending;
    if (!this.timerArmed) this.arm(this.options.config.decisionTimeoutMs);
    let decision: Promise<Decision>;
    try {
      decision = this.options.firewall.decide(ctx);
    } catch (err) {
      decision = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    decision.then(
      (d) => {
        const answer = answerFor(d);
        if (answer === undefined) {
          this.failed(pending, new Error(`a ${d.action} decision without a reply`));
          return;
        }
        this.settle(pending, answer, answer === DUNNO_ANSWER ? 'dunno' : d.action === 'reject' ? 'reject' : 'defer');
      },
      (err: unknown) => {
        const problem = isBlockSmithError(err) && err.code === 'BS_ERR_ADDRESS_INVALID' ? addressProblem(pending.ip) : undefined;
        if (problem === undefined) {
          this.failed(pending, err);
          return;
        }
        if (pending.settled) return;
        this.badClient(pending.ip, problem);
        this.settle(pending, DUNNO_ANSWER, 'dunno');
      },
    );
  }

  /** arm - the deadline timer fires in `ms` (the same Timeout refreshed when the duration is the same). */
  private arm(ms: number): void {
    this.timerArmed = true;
    if (this.timer !== undefined && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(() => this.onTimer(), ms).unref();
  }

  /**
   * onTimer - the deadline timer fired: nothing to do when no decision is running; re-armed for
   * a decision started after it was armed; else the decision's deadline (abort, then the grace)
   * or the end of its grace (the front's own 451).
   */
  private onTimer(): void {
    this.timerArmed = false;
    const pending = this.pending;
    if (pending === undefined || pending.settled) return;
    const now = performance.now();
    if (now < pending.dueAt) {
      this.arm(Math.max(1, Math.ceil(pending.dueAt - now)));
      return;
    }
    if (!pending.overdue) {
      pending.overdue = true;
      pending.dueAt = now + this.options.config.decisionGraceMs;
      pending.abort.abort();
      if (!pending.settled) this.arm(this.options.config.decisionGraceMs);
      return;
    }
    this.count('decision-timeout');
    this.options.logger.warn(this.fields({ event: 'DECISION-TIMEOUT', ip: peerText(pending.ip) }), 'no decision in time: 451');
    this.settle(pending, renderAction(temporaryFailure(this.options.organisation())), 'temporary');
  }

  private badClient(address: string | undefined, problem: string): void {
    this.count('bad-client');
    this.options.logger.warn(
      this.fields({ event: 'BAD-CLIENT', address: peerText(address ?? '(none)'), problem: peerText(problem) }),
      'policy request without a usable client_address: DUNNO',
    );
  }

  private failed(pending: Pending, err: unknown): void {
    if (pending.settled) return;
    this.count('error');
    this.options.logger.error(
      this.fields({ event: 'POLICY-ERROR', ip: peerText(pending.ip), err: peerText(err instanceof Error ? err.message : String(err)) }),
      'the firewall failed: 451',
    );
    this.settle(pending, renderAction(temporaryFailure(this.options.organisation())), 'temporary');
  }

  /** settle - `answer` (wire text, render.ts) is this decision's answer, unless it already has one. */
  private settle(pending: Pending, answer: string, kind: AnswerKind): void {
    if (pending.settled) return;
    pending.settled = true;
    if (this.pending === pending) this.pending = undefined;
    if (this.state !== 'deciding') return; // the socket went away meanwhile
    this.state = 'reading';
    this.answer(answer, kind);
    // Bytes that came while deciding (pipelining): the next request on the next turn, as pump() does.
    if (this.state === 'reading' && !this.draining && this.parser.inRequest) this.next();
    else this.pump();
  }

  /** Write one answer (wire text, render.ts); exim mode ends the connection after it. */
  private answer(answer: string, kind: AnswerKind): void {
    this.count(kind);
    const flushed = this.socket.write(answer);
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
      this.pending.settled = true;
      this.pending = undefined;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerArmed = false;
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
