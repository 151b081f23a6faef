/**
 * NAME
 *   fronts/policy/server - the policy front's listeners: TCP addresses and a unix socket
 *
 * SYNOPSIS
 *   const server = new PolicyServer(options)
 *   await server.listenTcp({ host, port })        resolves with `tcp://host:port` once bound
 *   await server.listenUnix(path, mode)           resolves with `unix:<path>`
 *   server.connectionCount                        sessions open now
 *   await server.stop()
 *
 * DESCRIPTION
 *   Every listener feeds one set of sessions (session.ts), so maxConnectionsCount holds across
 *   all of them: a connection past it is destroyed at once, counted (`limit`) and logged once
 *   per episode (LIMIT when the cap is first hit, not for every refused connection: a flood
 *   must not flood the log too). Sockets allow half-open connections (Exim shuts its write
 *   side after a request and still reads the answer).
 *
 *   IPv6 addresses listen IPv6-only, so `0.0.0.0:p` and `[::]:p` can be listed together.
 *
 *   The unix socket: an existing file at the path is removed only when it is a socket that
 *   nobody answers on (a stale one from a crash); a regular file, a directory or a live
 *   socket stops start-up with an error naming policy.socket. After bind, the socket gets
 *   policy.socketMode (default 0660: owner and group may connect; put the BlockSmith user
 *   and Postfix's `postfix` user in one group, or use 0666 inside a private directory such
 *   as /var/spool/postfix/private). stop() removes the socket file.
 *
 *   stop(): no new connections; idle sessions close at once; a session deciding answers, then
 *   closes; after stopGraceMs whatever is left is cut.
 *
 * DIAGNOSTICS
 *   BS_ERR_CONFIG_INVALID when an address cannot be bound (in use, not local) or the socket
 *   path is taken. Log: LIMIT (warn). Front events: connect, limit.
 */
import { Sessions } from '../sessions.js';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import type { PolicyConfig } from '../../config/schema.js';
import { BlockSmithError } from '../../errors.js';
import type { Firewall } from '../../firewall/index.js';
import type { Metrics } from '../../metrics/types.js';
import type { Logger } from '../../util/log.js';
import { formatListen, type ListenAddress } from '../listen.js';
import { PolicySession } from './session.js';

export interface PolicyServerOptions {
  readonly config: PolicyConfig;
  readonly firewall: Pick<Firewall, 'decide'>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** firewall.organisation.name, read when needed. */
  readonly organisation: () => string;
}

export class PolicyServer {
  private readonly options: PolicyServerOptions;
  private readonly servers: Server[] = [];
  private readonly socketPaths: string[] = [];
  private readonly sessions = new Sessions<PolicySession>();
  private nextId = 0;
  private limited = false;
  private stopping = false;

  constructor(options: PolicyServerOptions) {
    this.options = options;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  async listenTcp(address: ListenAddress): Promise<string> {
    const server = this.newServer();
    const shown = formatListen(address.host, address.port);
    await this.listen(server, { host: address.host, port: address.port, ...(isIP(address.host) === 6 ? { ipv6Only: true } : {}) }, `policy.listen ${shown}`);
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    return `tcp://${formatListen(address.host, port)}`;
  }

  async listenUnix(path: string, mode: string): Promise<string> {
    await removeStaleSocket(path);
    const server = this.newServer();
    await this.listen(server, { path }, `policy.socket ${path}`);
    this.socketPaths.push(path);
    await chmod(path, Number.parseInt(mode, 8));
    return `unix:${path}`;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    await this.sessions.drain(this.options.config.stopGraceMs);
    await Promise.all(closed);
    for (const path of this.socketPaths) await removeStaleSocket(path).catch(() => undefined);
  }

  // ---------------------------------------------------------------- private

  private newServer(): Server {
    const server = createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
    server.on('error', (err) => this.options.logger.error({ event: 'POLICY-LISTEN-ERROR', front: 'policy', err: String(err) }, 'policy listener error'));
    this.servers.push(server);
    return server;
  }

  private listen(server: Server, options: { host?: string; port?: number; path?: string; ipv6Only?: boolean }, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new BlockSmithError('BS_ERR_CONFIG_INVALID', `${what}: cannot listen (${err.code ?? err.message})`, { cause: err }));
      };
      server.once('error', onError);
      server.listen(options, () => {
        server.off('error', onError);
        // A library holds no process open; `serve` decides to stay up.
        server.unref();
        resolve();
      });
    });
  }

  private onConnection(socket: Socket): void {
    socket.on('error', () => undefined);
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const { config, metrics, logger } = this.options;
    if (this.sessions.size >= config.maxConnectionsCount) {
      metrics.frontEvent('policy', 'limit');
      if (!this.limited) {
        this.limited = true;
        logger.warn({ event: 'LIMIT', front: 'policy', limit: 'maxConnectionsCount', count: config.maxConnectionsCount }, 'policy connections at their limit: new ones are closed');
      }
      socket.destroy();
      return;
    }
    this.limited = false;
    metrics.frontEvent('policy', 'connect');
    this.nextId += 1;
    const client = socket.remoteAddress === undefined ? 'unix' : `[${socket.remoteAddress}]:${socket.remotePort ?? 0}`;
    const session = new PolicySession(socket, {
      config,
      firewall: this.options.firewall,
      logger,
      metrics,
      organisation: this.options.organisation,
      cid: this.nextId.toString(36),
      client,
      onClose: (s) => this.onSessionClosed(s),
    });
    this.sessions.add(session);
  }

  private onSessionClosed(session: PolicySession): void {
    this.sessions.closed(session);
  }}

/** removeStaleSocket - unlink `path` if it is a socket nobody answers on; refuse anything else there. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `policy.socket ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!isSocket) throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `policy.socket ${path}: exists and is not a socket; not removed`);
  if (await answers(path)) throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `policy.socket ${path}: another process is listening on it`);
  await unlink(path);
}

/** answers - whether something accepts a connection on the unix socket (a connect either succeeds or fails at once). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
