/**
 * NAME
 *   fronts/api - the HTTP listener: the JSON API under /api/v1 and /metrics
 *
 * SYNOPSIS
 *   startHttpFront(ctx): Promise<RunningFront | undefined>     undefined when http.listen is empty
 *   buildHttpServer(ctx, options)                              (server.ts) for tests and the portal
 *
 * DESCRIPTION
 *   One fastify instance (server.ts), one node http.Server per address of http.listen, each
 *   handing its requests to fastify's router. The servers carry the connection limits:
 *   http.requestTimeoutMs (the whole request must arrive in time; slow senders are cut),
 *   http.connectionTimeoutMs (no traffic), http.keepAliveTimeoutMs, http.maxConnectionsCount.
 *   A malformed request line or header gets a JSON 400 and the connection closed.
 *
 *   stop(): the servers stop accepting and close idle connections; requests under way get
 *   http.closeGraceMs to finish, then every connection is cut; then fastify closes.
 *
 *   A port in use (or any bind error) rejects start with BS_ERR_CONFIG_INVALID naming the
 *   address; what was already bound is released.
 *
 * SECURITY
 *   Binds where http.listen says (loopback by default). X-Forwarded-For is believed only from
 *   http.trustedProxies. Operator routes need an API key; /metrics only for http.metricsAllow.
 *
 * STANDARDS
 *   RFC 9110 (HTTP semantics: 405 with Allow, 429 and Retry-After from RFC 6585 §4), RFC 6750
 *   (bearer tokens), OpenAPI 3.1.
 *
 * DIAGNOSTICS
 *   Log events LISTEN (endpoints), STOP, HTTP-ERROR (errors.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { BlockSmithError } from '../../errors.js';
import { formatListen, parseListen } from '../listen.js';
import type { FrontContext, RunningFront } from '../types.js';
import { clientErrorResponse } from './errors.js';
import { FRONT } from './guards.js';
import { buildHttpServer, type HttpServerOptions } from './server.js';
import { portalPlugins } from '../../web/index.js'; // PORTAL (issue 6)
import { consolePlugins } from '../../web/console/index.js'; // CONSOLE (issue 7)

export { buildHttpServer, type HttpServer, type HttpServerOptions } from './server.js';

function listen(server: Server, host: string, port: number, setting: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new BlockSmithError('BS_ERR_CONFIG_INVALID', `${setting}: cannot listen on ${formatListen(host, port)} (${err.code ?? err.message})`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServers(servers: readonly Server[], graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    let open = servers.length;
    if (open === 0) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      for (const server of servers) server.closeAllConnections();
    }, graceMs);
    timer.unref();
    for (const server of servers) {
      server.close(() => {
        open -= 1;
        if (open === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.closeIdleConnections();
    }
  });
}

export async function startHttpFront(ctx: FrontContext, options: HttpServerOptions = {}): Promise<RunningFront | undefined> {
  const http = ctx.config.http;
  if (http.listen.length === 0) return undefined;
  const { app } = await buildHttpServer(ctx, { ...options, plugins: [...(options.plugins ?? []), ...portalPlugins(ctx.config), ...consolePlugins(ctx.config)] }); // PORTAL (issue 6): the public pages of src/web
  const servers: Server[] = [];
  const endpoints: string[] = [];
  try {
    for (const value of http.listen) {
      const { host, port } = parseListen(value, 'http.listen');
      const server = createServer(
        { requestTimeout: http.requestTimeoutMs, headersTimeout: http.requestTimeoutMs, keepAliveTimeout: http.keepAliveTimeoutMs },
        (req, res) => app.routing(req, res),
      );
      server.maxConnections = http.maxConnectionsCount;
      server.setTimeout(http.connectionTimeoutMs, (socket: Socket) => socket.destroy());
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        // A reset or timed-out socket cannot be answered; anything else gets a JSON 400.
        if (err.code !== 'ECONNRESET' && socket.writable) socket.end(clientErrorResponse());
        else socket.destroy();
      });
      servers.push(server);
      const bound = await listen(server, host, port, 'http.listen');
      endpoints.push(`http://${formatListen(host, bound)}`);
    }
  } catch (err) {
    await closeServers(servers.filter((s) => s.listening), 0);
    await app.close();
    throw err;
  }
  ctx.logger.info({ event: 'LISTEN', front: FRONT, endpoints }, 'LISTEN');
  let stopping: Promise<void> | undefined;
  return {
    name: 'http',
    endpoints,
    stop(): Promise<void> {
      stopping ??= (async (): Promise<void> => {
        await closeServers(servers, http.closeGraceMs);
        await app.close();
        ctx.logger.info({ event: 'STOP', front: FRONT }, 'STOP');
      })();
      return stopping;
    },
  };
}
