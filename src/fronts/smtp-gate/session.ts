/**
 * NAME
 *   fronts/smtp-gate/session - one client connection: decide at connect, then relay or refuse
 *
 * SYNOPSIS
 *   const session = new GateSession(socket, options)   takes over the socket
 *   session.state                                      see STATES
 *   session.stop()                                     refused and undecided: 421 and close; relayed: left alone
 *   session.destroy()                                  cut at once
 *
 * STATES (one field, STYLE.md §1)
 *   proxy       a trusted load balancer's connection: reading its PROXY header (proxyTimeoutMs)
 *   deciding    Firewall.decide(stage connect) in flight, and/or the pregreet wait running; the
 *               client has been sent nothing, and every byte it sends is a pregreet
 *   connecting  accepted: connecting to the backend; client bytes are still pregreet
 *   relaying    the header is written; until the backend's banner the client's bytes are still
 *               pregreet (read by the session), then piped both ways (relay.ts) until both close
 *   refused     the gate speaks SMTP (dialogue.ts), reading the next command
 *   answering   refused, a RCPT decision in flight, client paused
 *   closing     end() sent; input discarded until the client closes or commandTimeoutMs
 *   closed      the socket is gone
 *
 * DESCRIPTION
 *   The connect decision has a deadline: after decisionTimeoutMs its signal aborts (the check
 *   stops, the firewall answers its own 451 4.4.3, which the gate says at RCPT); if the firewall
 *   has still not answered decisionGraceMs later, or it threw, the client gets `421 4.3.0` and
 *   the connection closes: a firewall failure is never a refusal and never lets a client pass
 *   unchecked. A decision and a pregreet wait both finish before anything is said.
 *
 *   Pregreet (postscreen's greet test): bytes before the greeting. Logged once as PREGREET with
 *   the delay and the first bytes (printable). `drop`: 521 5.5.1 and close; `ignore`: the bytes
 *   are kept (at most maxLineBytes; more is a drop) and go first to the dialogue or, for an
 *   accepted client, to the backend after its banner. The gate sends no `220-` teaser: a
 *   refusal at connect is then a clean single-code reply.
 *
 *   A connection from an untrusted source whose first bytes are a PROXY header (v1 `PROXY ` or
 *   the v2 signature) is destroyed without a word (PROXY-UNTRUSTED): someone is trying to speak
 *   for another address. From a trusted source, a missing, bad or slow header is dropped too
 *   (PROXY-ERROR); LOCAL/UNKNOWN headers mean the proxy's own connection (its address is used).
 *
 *   The per-IP limit is counted on the real client address: at accept for direct clients,
 *   after the header for proxied ones.
 *
 * LIMITS
 *   proxyTimeoutMs; decisionTimeoutMs + decisionGraceMs; pregreetWaitMs; maxLineBytes (kept
 *   early bytes and every command line); commandTimeoutMs from each reply to the next complete
 *   command (not reset by single bytes: a slowloris client is cut); sessionTimeoutMs for a
 *   whole refused session; maxRefusedCommandsCount; write back-pressure pauses reading;
 *   relayIdleTimeoutMs once relayed.
 *
 * DIAGNOSTICS
 *   Log lines (fixed fields front, cid, client; peer text through printable()):
 *     PROXY-UNTRUSTED warn, PROXY-ERROR warn, PREGREET info, BACKEND-DOWN error, DECISION-TIMEOUT
 *     warn, GATE-ERROR error, LIMIT warn (per IP), LATE-ACCEPT info, HANDOFF debug, DISCONNECT debug.
 *   Front events (metrics.frontEvent('gate', …)): accept, refuse, temporary, pregreet,
 *   proxy-untrusted, proxy-error, backend-down, limit-ip, line-too-long, command-timeout,
 *   session-timeout, too-many-commands, non-smtp, late-accept, quit, relay-<end>.
 */
import type { Socket } from 'node:net';
import { normaliseAddress } from '../../check/address.js';
import type { GateConfig } from '../../config/sections/gate.js';
import type { Decision, Firewall } from '../../firewall/index.js';
import type { Metrics } from '../../metrics/types.js';
import { Abort } from '../../util/abort.js';
import type { Logger } from '../../util/log.js';
import { printable } from '../../util/printable.js';
import { CommandReader } from './command-reader.js';
import { RefusedDialogue, type Answer, type RcptFields } from './dialogue.js';
import { decodeProxyHeader, looksLikeProxyHeader, V1_MAX_BYTES, V2_MAX_LENGTH, type ProxyEndpoints } from './proxy-protocol.js';
import { connectBackend, proxyHeader, relay } from './relay.js';
import { REPLIES } from './render.js';

/** Peer text in a log line is cut to this many characters (as Postfix does). */
export const LOG_PEER_TEXT_MAX_CHARS = 100;
/** Bytes needed before a pregreet is judged to be a PROXY header (`PROXY ` is six). */
const PROXY_SNIFF_BYTES = 6;

export type GateState = 'proxy' | 'deciding' | 'connecting' | 'relaying' | 'refused' | 'answering' | 'closing' | 'closed';

/** The addresses of a connection as the gate knows them (after any inbound PROXY header). */
export interface Peer {
  readonly ip: string;
  readonly port: number;
  readonly localIp: string;
  readonly localPort: number;
}

export interface GateSessionOptions {
  readonly config: GateConfig;
  readonly firewall: Pick<Firewall, 'decide'>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly host: string;
  readonly organisation: () => string;
  readonly cid: string;
  /** The socket's own peer (normalised). */
  readonly peer: Peer;
  /** The source is a trusted proxy: a PROXY header comes first. */
  readonly proxied: boolean;
  /** Count one connection of `ip`; false when over maxConnectionsPerIpCount (not counted then). */
  readonly admit: (ip: string) => boolean;
  readonly release: (ip: string) => void;
  readonly onClose: (session: GateSession) => void;
}

type RefusalDecision = Decision & { readonly reply: NonNullable<Decision['reply']> };

export class GateSession {
  state: GateState;
  private readonly socket: Socket;
  private readonly options: GateSessionOptions;
  private readonly config: GateConfig;
  private peer: Peer;
  private admitted: string | undefined;
  private head: Buffer = Buffer.alloc(0);
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private readonly startedAt = Date.now();
  private decision: Decision | undefined;
  private decisionFailed = false;
  private waiting = false;
  private reader: CommandReader | undefined;
  /** The backend connection once connected; the backend's banner has arrived (the pipe owns the client). */
  private upstream: Socket | undefined;
  private bannerSeen = false;
  private dialogue: RefusedDialogue | undefined;
  private timers = new Set<NodeJS.Timeout>();
  private commandTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private scheduled = false;
  private peerEnded = false;
  private stopping = false;
  private readonly onDataBound = (chunk: Buffer): void => this.onData(chunk);

  constructor(socket: Socket, options: GateSessionOptions) {
    this.socket = socket;
    this.options = options;
    this.config = options.config;
    this.peer = options.peer;
    socket.setNoDelay(true);
    socket.on('data', this.onDataBound);
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClosed());
    if (options.proxied) {
      this.state = 'proxy';
      this.timer(this.config.proxyTimeoutMs, () => this.dropProxy('proxy-error', 'PROXY-ERROR', `no complete PROXY header within ${this.config.proxyTimeoutMs} ms`));
    } else {
      this.state = 'deciding';
      this.begin();
    }
  }

  stop(): void {
    this.stopping = true;
    if (this.state === 'proxy' || this.state === 'deciding' || this.state === 'refused' || this.state === 'answering') this.say(REPLIES.shutdown(this.options.host), true);
  }

  destroy(): void {
    this.socket.destroy();
  }

  // ---------------------------------------------------------------- connect phase

  private begin(): void {
    const ip = this.peer.ip;
    if (!this.options.admit(ip)) {
      this.count('limit-ip');
      this.say(REPLIES.tooManyFromIp(this.options.host, ip), true);
      return;
    }
    this.admitted = ip;
    this.waiting = this.config.pregreetWaitMs > 0;
    if (this.waiting) {
      this.timer(this.config.pregreetWaitMs, () => {
        this.waiting = false;
        this.proceed();
      });
    }
    this.decide();
  }

  private decide(): void {
    const abort = new Abort();
    let settled = false;
    const settle = (decision: Decision | undefined): void => {
      if (settled) return;
      settled = true;
      this.clearTimer(deadline);
      this.clearTimer(grace);
      if (decision === undefined) this.decisionFailed = true;
      else this.decision = decision;
      this.proceed();
    };
    let grace: NodeJS.Timeout | undefined;
    const deadline = this.timer(this.config.decisionTimeoutMs, () => {
      abort.abort();
      grace = this.timer(this.config.decisionGraceMs, () => {
        this.options.logger.warn(this.fields({ event: 'DECISION-TIMEOUT', ip: this.peer.ip }), 'no decision in time: 421');
        this.count('decision-timeout');
        settle(undefined);
      });
    });
    let pending: Promise<Decision>;
    try {
      pending = this.options.firewall.decide({ front: 'gate', ip: this.peer.ip, stage: 'connect', signal: abort });
    } catch (err) {
      pending = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    pending.then(settle, (err: unknown) => {
      if (settled) return;
      this.options.logger.error(this.fields({ event: 'GATE-ERROR', ip: this.peer.ip, err: peerText(err instanceof Error ? err.message : String(err)) }), 'the firewall failed: 421');
      this.count('error');
      settle(undefined);
    });
  }

  /** proceed - once the decision is known and the pregreet wait is over: hand over, refuse, or 421. */
  private proceed(): void {
    if (this.state !== 'deciding' || this.waiting) return;
    if (this.decisionFailed) {
      this.count('temporary');
      this.say(REPLIES.temporary(this.options.host, this.options.organisation()), true);
      return;
    }
    const d = this.decision;
    if (d === undefined) return;
    if (d.action === 'accept' || d.action === 'tag') {
      this.handOver();
      return;
    }
    if (d.reply === undefined) {
      this.options.logger.error(this.fields({ event: 'GATE-ERROR', ip: this.peer.ip, err: `a ${d.action} decision without a reply` }), 'the firewall failed: 421');
      this.say(REPLIES.temporary(this.options.host, this.options.organisation()), true);
      return;
    }
    this.refuse(d as RefusalDecision);
  }

  private onData(chunk: Buffer): void {
    switch (this.state) {
      case 'proxy':
        this.onProxyBytes(chunk);
        return;
      case 'deciding':
      case 'connecting':
        this.onEarlyBytes(chunk);
        return;
      case 'relaying':
        if (!this.bannerSeen) this.onEarlyBytes(chunk);
        return;
      case 'refused':
      case 'answering':
        this.reader?.push(chunk);
        if (this.state === 'refused' && !this.scheduled) this.pump();
        return;
      default:
        return; // closing: discarded; relaying: the pipe owns the socket
    }
  }

  private onProxyBytes(chunk: Buffer): void {
    this.head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    const result = decodeProxyHeader(this.head);
    if (result.kind === 'need-more') {
      if (this.head.length > V1_MAX_BYTES + V2_MAX_LENGTH) this.dropProxy('proxy-error', 'PROXY-ERROR', 'header too long');
      return;
    }
    if (result.kind === 'error') {
      this.dropProxy('proxy-error', 'PROXY-ERROR', `${result.code}: ${result.detail}`);
      return;
    }
    this.clearTimers();
    const a: ProxyEndpoints | undefined = result.addresses;
    if (a !== undefined) {
      let ip: string;
      let localIp: string;
      try {
        ip = normaliseAddress(a.sourceAddress).ip;
        localIp = normaliseAddress(a.destinationAddress).ip;
      } catch {
        this.dropProxy('proxy-error', 'PROXY-ERROR', 'an address the gate cannot use');
        return;
      }
      this.peer = { ip, port: a.sourcePort, localIp, localPort: a.destinationPort };
    }
    const rest = this.head.subarray(result.length);
    this.head = Buffer.alloc(0);
    this.state = 'deciding';
    this.begin();
    if (rest.length > 0 && this.state === 'deciding') this.onEarlyBytes(rest);
  }

  private onEarlyBytes(chunk: Buffer): void {
    const first = this.earlyBytes === 0;
    this.early.push(chunk);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes >= PROXY_SNIFF_BYTES && looksLikeProxyHeader(Buffer.concat(this.early).subarray(0, 12))) {
      this.dropProxy('proxy-untrusted', 'PROXY-UNTRUSTED', 'a PROXY header from a source not in gate.trustedProxies');
      return;
    }
    if (first) {
      this.count('pregreet');
      this.options.logger.info(
        this.fields({ event: 'PREGREET', ip: this.peer.ip, afterMs: Date.now() - this.startedAt, text: peerText(chunk.toString('latin1')), action: this.config.pregreetAction }),
        'client talked before the greeting',
      );
    }
    if (this.config.pregreetAction === 'drop' || this.earlyBytes > this.config.maxLineBytes) {
      this.say(REPLIES.pregreet(), true);
    }
  }

  private dropProxy(event: 'proxy-error' | 'proxy-untrusted', word: string, detail: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.count(event);
    this.options.logger.warn(this.fields({ event: word, detail }), 'connection dropped');
    this.state = 'closing';
    this.clearTimers();
    this.socket.destroy();
    this.upstream?.destroy();
  }

  // ---------------------------------------------------------------- accepted: relay

  private handOver(): void {
    this.state = 'connecting';
    this.count('accept');
    const { backend, proxy, backendConnectTimeoutMs, relayIdleTimeoutMs } = this.config;
    const [host, port] = splitHostPort(backend);
    let header: Buffer | undefined;
    try {
      header = proxyHeader(proxy, endpointsOf(this.peer));
    } catch (err) {
      this.options.logger.error(this.fields({ event: 'GATE-ERROR', err: peerText(String(err)) }), 'no PROXY header for this peer: 421');
      this.say(REPLIES.temporary(this.options.host, this.options.organisation()), true);
      return;
    }
    connectBackend({ host, port, timeoutMs: backendConnectTimeoutMs, header }).then(
      (upstream) => {
        if (this.state !== 'connecting') {
          upstream.destroy();
          return;
        }
        this.state = 'relaying';
        this.upstream = upstream;
        this.clearTimers();
        if (this.options.logger.isLevelEnabled('debug')) this.options.logger.debug(this.fields({ event: 'HANDOFF', ip: this.peer.ip, backend }), 'handed to the backend');
        relay(this.socket, upstream, {
          onBanner: () => {
            this.bannerSeen = true;
            this.socket.off('data', this.onDataBound);
            const early = Buffer.concat(this.early);
            this.early = [];
            return early;
          },
          idleTimeoutMs: relayIdleTimeoutMs,
          onEnd: (reason) => this.count(`relay-${reason}`),
        });
      },
      (err: unknown) => {
        if (this.state !== 'connecting') return;
        this.count('backend-down');
        this.options.logger.error(this.fields({ event: 'BACKEND-DOWN', ip: this.peer.ip, backend, err: peerText(err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err)) }), 'backend unreachable: 421');
        this.say(REPLIES.backendDown(this.options.host), true);
      },
    );
  }

  // ---------------------------------------------------------------- refused: the gate speaks

  private refuse(decision: RefusalDecision): void {
    this.count('refuse');
    this.dialogue = new RefusedDialogue({
      host: this.options.host,
      refusal: decision,
      rejectAtConnect: this.config.rejectAtConnect,
      maxCommandsCount: this.config.maxRefusedCommandsCount,
      decideRcpt: (fields) => this.decideRcpt(fields),
    });
    this.reader = new CommandReader({ maxLineBytes: this.config.maxLineBytes });
    for (const chunk of this.early) this.reader.push(chunk);
    this.early = [];
    this.state = 'refused';
    this.timer(this.config.sessionTimeoutMs, () => {
      this.count('session-timeout');
      this.say(REPLIES.timeout(this.options.host), true);
    });
    const greeting = this.dialogue.greeting();
    this.answer(greeting);
  }

  /** decideRcpt - the firewall again, with what the client said; the same deadline as at connect. */
  private decideRcpt(fields: RcptFields): Promise<Decision> {
    const abort = new Abort();
    return new Promise<Decision>((resolve, reject) => {
      let grace: NodeJS.Timeout | undefined;
      const deadline = setTimeout(() => {
        abort.abort();
        grace = setTimeout(() => reject(new Error('no RCPT decision in time')), this.config.decisionGraceMs).unref();
      }, this.config.decisionTimeoutMs).unref();
      const done = (): void => {
        clearTimeout(deadline);
        clearTimeout(grace);
      };
      let pending: Promise<Decision>;
      try {
        pending = this.options.firewall.decide({ front: 'gate', ip: this.peer.ip, stage: 'rcpt', signal: abort, ...fields });
      } catch (err) {
        pending = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      pending.then(
        (d) => {
          done();
          resolve(d);
        },
        (err: unknown) => {
          done();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** pump - answer the next complete command, one per turn of the event loop (pipelining is fair to others). */
  private pump(): void {
    if (this.state !== 'refused' || this.draining || this.reader === undefined || this.dialogue === undefined) return;
    const event = this.reader.next();
    if (event === undefined) {
      if (this.peerEnded) {
        this.end();
        return;
      }
      this.commandTimer ??= this.timer(this.config.commandTimeoutMs, () => {
        this.count('command-timeout');
        this.say(REPLIES.timeout(this.options.host), true);
      });
      this.socket.resume();
      return;
    }
    this.clearTimer(this.commandTimer);
    this.commandTimer = undefined;
    if (event.kind === 'error') {
      this.count('line-too-long');
      this.say(REPLIES.lineTooLong(), true);
      return;
    }
    if (event.bareLf && this.options.logger.isLevelEnabled('debug')) this.options.logger.debug(this.fields({ event: 'BARE-LF', ip: this.peer.ip }), 'command ended by a bare LF');
    const answer = this.dialogue.handle(event.command);
    if (answer instanceof Promise) {
      this.state = 'answering';
      this.socket.pause();
      answer.then(
        (a) => {
          if (this.state !== 'answering') return;
          this.state = 'refused';
          this.answer(a);
        },
        () => {
          if (this.state === 'answering') this.say(REPLIES.temporary(this.options.host, this.options.organisation()), true);
        },
      );
      return;
    }
    this.answer(answer);
  }

  private answer(answer: Answer): void {
    if (answer.event !== undefined) this.count(answer.event);
    if (answer.event === 'late-accept') {
      this.options.logger.info(this.fields({ event: 'LATE-ACCEPT', ip: this.peer.ip, recipient: peerText(this.dialogue?.recipients.at(-1) ?? '') }), 'accepted at RCPT after a refusal at connect: still refused (no hand-over of a spoken session)');
    }
    if (answer.close || this.stopping) {
      this.say(answer.close ? answer.text : answer.text + REPLIES.shutdown(this.options.host), true);
      return;
    }
    if (!this.socket.write(answer.text)) {
      this.draining = true;
      this.socket.pause();
      return;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.socket.pause();
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private onDrain(): void {
    if (!this.draining) return;
    this.draining = false;
    this.schedule();
  }

  private onEnd(): void {
    this.peerEnded = true;
    if (this.state === 'refused' && !this.scheduled) this.pump();
    else if (this.state === 'proxy' || this.state === 'deciding') this.end();
  }

  // ---------------------------------------------------------------- endings

  /** say - write `text`; with `close`, end the connection after it. */
  private say(text: string, close: boolean): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.socket.write(text);
    if (close) this.end();
  }

  /** end - FIN after what is written; read and discard until the client closes, at most commandTimeoutMs. */
  private end(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.clearTimers();
    // Dropped before the backend's banner: the MTA's half of the session goes too.
    if (!this.bannerSeen) this.upstream?.destroy();
    this.socket.end();
    this.socket.resume();
    this.timer(this.config.commandTimeoutMs, () => this.socket.destroy());
  }

  private onClosed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimers();
    if (this.admitted !== undefined) this.options.release(this.admitted);
    if (this.options.logger.isLevelEnabled('debug')) this.options.logger.debug(this.fields({ event: 'DISCONNECT', ip: this.peer.ip, ms: Date.now() - this.startedAt, ...(this.dialogue?.evidence ?? {}) }), 'connection closed');
    this.options.onClose(this);
  }

  private timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms).unref();
    this.timers.add(t);
    return t;
  }

  private clearTimer(t: NodeJS.Timeout | undefined): void {
    if (t === undefined) return;
    clearTimeout(t);
    this.timers.delete(t);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.commandTimer = undefined;
  }

  private count(event: string): void {
    this.options.metrics.frontEvent('gate', event);
  }

  private fields(extra: Record<string, unknown>): Record<string, unknown> {
    return { front: 'gate', cid: this.options.cid, client: `[${this.peer.ip}]:${this.peer.port}`, ...extra };
  }
}

function peerText(text: string): string {
  return printable(text, LOG_PEER_TEXT_MAX_CHARS);
}

/** splitHostPort - `127.0.0.1:10025` / `[::1]:10025` (already validated by the schema and at start). */
export function splitHostPort(value: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  return [m?.[1] ?? m?.[2] ?? '', Number(m?.[3] ?? 0)];
}

/** endpointsOf - the header's addresses; a destination of the other family becomes the unspecified address of the client's. */
function endpointsOf(peer: Peer): ProxyEndpoints {
  const v6 = peer.ip.includes(':');
  const sameFamily = peer.localIp.includes(':') === v6;
  return {
    sourceAddress: peer.ip,
    sourcePort: peer.port,
    destinationAddress: sameFamily ? peer.localIp : v6 ? '::' : '0.0.0.0',
    destinationPort: peer.localPort,
  };
}
