/**
 * NAME
 *   fronts/smtp-gate/server - the gate's listeners, the connection limits, shutdown
 *
 * SYNOPSIS
 *   const server = new GateServer(options)      throws BS_ERR_CONFIG_INVALID for a bad trustedProxies entry
 *   await server.listen({ host, port })         `smtp://host:port` once bound
 *   server.connectionCount                      sessions open now
 *   server.connectionsFrom(ip)                  sessions counted for one client address
 *   await server.stop()
 *
 * DESCRIPTION
 *   Every listener feeds one set of sessions (session.ts). maxConnectionsCount holds across all
 *   of them: a connection past it gets `421 4.3.2 All server ports are busy` (postscreen's text)
 *   and is closed, counted (`limit`) and logged once per episode. maxConnectionsPerIpCount is
 *   kept here as a map (only addresses with a connection open are in it) and enforced by the
 *   session once it knows the real client address.
 *
 *   IPv6 addresses listen IPv6-only, so `0.0.0.0:25` and `[::]:25` can be listed together and
 *   no client arrives as `::ffff:a.b.c.d`.
 *
 *   stop(): no new connections; sessions still deciding or refused get 421 and close; relayed
 *   sessions (mail in flight between a client and the MTA) get stopGraceMs to finish, then
 *   everything left is cut.
 *
 * DIAGNOSTICS
 *   BS_ERR_CONFIG_INVALID when an address cannot be bound or a trusted proxy is no CIDR. Log:
 *   LIMIT (warn). Front events: connect, limit.
 */
import { Sessions } from '../sessions.js';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { normaliseAddress } from '../../check/address.js';
import { BypassList } from '../../check/bypass.js';
import type { GateConfig } from '../../config/sections/gate.js';
import { BlockSmithError } from '../../errors.js';
import type { Firewall } from '../../firewall/index.js';
import type { Metrics } from '../../metrics/types.js';
import type { Logger } from '../../util/log.js';
import { formatListen, type ListenAddress } from '../listen.js';
import { REPLIES } from './render.js';
import { GateSession } from './session.js';

export interface GateServerOptions {
  readonly config: GateConfig;
  readonly firewall: Pick<Firewall, 'decide'>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The name in the gate's replies. */
  readonly host: string;
  readonly organisation: () => string;
}

export class GateServer {
  private readonly options: GateServerOptions;
  private readonly trusted: BypassList;
  private readonly servers: Server[] = [];
  private readonly sessions = new Sessions<GateSession>();
  private readonly perIp = new Map<string, number>();
  private nextId = 0;
  private limited = false;
  private limitedIp = false;
  private stopping = false;

  constructor(options: GateServerOptions) {
    this.options = options;
    try {
      this.trusted = new BypassList(options.config.trustedProxies);
    } catch (err) {
      throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `gate.trustedProxies: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  connectionsFrom(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  async listen(address: ListenAddress): Promise<string> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.onConnection(socket));
    server.on('error', (err) => this.options.logger.error({ event: 'GATE-LISTEN-ERROR', front: 'gate', err: String(err) }, 'gate listener error'));
    this.servers.push(server);
    const shown = formatListen(address.host, address.port);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new BlockSmithError('BS_ERR_CONFIG_INVALID', `gate.listen ${shown}: cannot listen (${err.code ?? err.message})`, { cause: err }));
      };
      server.once('error', onError);
      server.listen({ host: address.host, port: address.port, ...(isIP(address.host) === 6 ? { ipv6Only: true } : {}) }, () => {
        server.off('error', onError);
        server.unref();
        resolve();
      });
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    return `smtp://${formatListen(address.host, port)}`;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    await this.sessions.drain(this.options.config.stopGraceMs);
    await Promise.all(closed);
  }

  // ---------------------------------------------------------------- private

  private onConnection(socket: Socket): void {
    socket.on('error', () => undefined);
    const { config, metrics, logger } = this.options;
    if (this.stopping || socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    if (this.sessions.size >= config.maxConnectionsCount) {
      metrics.frontEvent('gate', 'limit');
      if (!this.limited) {
        this.limited = true;
        logger.warn({ event: 'LIMIT', front: 'gate', limit: 'maxConnectionsCount', count: config.maxConnectionsCount }, 'gate connections at their limit: new ones get 421');
      }
      refuseConnection(socket, REPLIES.busy(), config.commandTimeoutMs);
      return;
    }
    this.limited = false;
    let ip: string;
    let localIp: string;
    try {
      ip = normaliseAddress(socket.remoteAddress).ip;
      localIp = normaliseAddress(socket.localAddress ?? '').ip;
    } catch {
      socket.destroy();
      return;
    }
    metrics.frontEvent('gate', 'connect');
    this.nextId += 1;
    const proxied = this.trusted.size > 0 && this.trusted.match(normaliseAddress(ip)) !== null;
    const session = new GateSession(socket, {
      config,
      firewall: this.options.firewall,
      logger,
      metrics,
      host: this.options.host,
      organisation: this.options.organisation,
      cid: this.nextId.toString(36),
      peer: { ip, port: socket.remotePort ?? 0, localIp, localPort: socket.localPort ?? 0 },
      proxied,
      admit: (client) => this.admit(client),
      release: (client) => this.release(client),
      onClose: (s) => this.onSessionClosed(s),
    });
    // A session may close synchronously (a reply and end() at once does not; destroy() closes later): add first.
    this.sessions.add(session);
  }

  private admit(ip: string): boolean {
    const count = this.perIp.get(ip) ?? 0;
    if (count >= this.options.config.maxConnectionsPerIpCount) {
      if (!this.limitedIp) {
        this.limitedIp = true;
        this.options.logger.warn({ event: 'LIMIT', front: 'gate', limit: 'maxConnectionsPerIpCount', ip, count }, 'connections from one address at their limit: new ones get 421');
      }
      return false;
    }
    this.limitedIp = false;
    this.perIp.set(ip, count + 1);
    return true;
  }

  private release(ip: string): void {
    const count = (this.perIp.get(ip) ?? 1) - 1;
    if (count <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, count);
  }

  private onSessionClosed(session: GateSession): void {
    this.sessions.closed(session);
  }}

/** refuseConnection - one reply, FIN, input discarded, cut after `ms` whatever happens. */
function refuseConnection(socket: Socket, text: string, ms: number): void {
  socket.on('data', () => undefined);
  socket.end(text);
  setTimeout(() => socket.destroy(), ms).unref();
}
