/**
 * NAME
 *   fronts/api/server - the fastify instance of the HTTP listener: edge rules, then the plugins
 *
 * SYNOPSIS
 *   const server = await buildHttpServer(ctx, { now?, plugins? })
 *   server.app.inject(...)            tests
 *   server.app.routing(req, res)      what each node http.Server calls (index.ts)
 *   await server.app.close()
 *
 * DESCRIPTION
 *   One fastify instance serves every listen address (index.ts creates the sockets). On the
 *   root instance, so that every plugin inherits them, the portal's included:
 *   - zod validation of params, query and body (route.ts);
 *   - errors as JSON with stable codes, 404 and 405 included (errors.ts);
 *   - a JSON parser that takes an empty body as no body (a bodiless POST with a JSON content
 *     type is not an error) and refuses __proto__/constructor poisoning; no other parser (a
 *     text/plain body is 415 like any body that is not JSON);
 *   - answers serialised with <, > and & escaped (\u003c…): JSON read as HTML by a confused
 *     client still shows no markup;
 *   - headers on every answer: nosniff, frame-ancestors 'none' (and X-Frame-Options DENY),
 *     no referrer; a default Content-Security-Policy of `default-src 'none'` unless a plugin
 *     (the portal) sets its own; Cache-Control no-store on /api/ and /metrics.
 *
 *   Route groups are encapsulated plugins, each registered with ApiPluginOptions: public-ip,
 *   public-forms, operator-listings, operator-records, meta. The portal (a later issue) passes
 *   its own plugins in `plugins`; they are registered after the API's, with the same options.
 *
 * SEE ALSO
 *   fronts/api/index.ts (listening, stop), docs/api.md.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify';
import fastify, { LogController } from 'fastify';
import type { FrontContext } from '../types.js';
import { RangeList, trustProxyOption } from './client.js';
import { frameworkErrors, installErrorHandling } from './errors.js';
import { FRONT, Guards } from './guards.js';
import { securityHeaders } from './headers.js';
import { safeJson } from './server-json.js';
export { safeJson } from './server-json.js';
import { RouteRegistry, zodValidatorCompiler, type ApiPluginOptions } from './route.js';
import { metaRoutes } from './routes/meta.js';
import { operatorListingRoutes } from './routes/operator-listings.js';
import { operatorRecordRoutes } from './routes/operator-records.js';
import { publicFormRoutes } from './routes/public-forms.js';
import { publicIpRoutes } from './routes/public-ip.js';

export interface HttpServerOptions {
  /** Clock for rate limits and expiry checks (tests); Date.now by default. */
  readonly now?: () => number;
  /** More route plugins (the portal), registered after the API's. */
  readonly plugins?: readonly FastifyPluginAsync<ApiPluginOptions>[];
}

export interface HttpServer {
  readonly app: FastifyInstance;
  readonly registry: RouteRegistry;
  readonly guards: Guards;
  /** Every method and URL registered, HEAD included (for tests: the OpenAPI document must cover them). */
  readonly registered: readonly { readonly method: string; readonly url: string }[];
}

/** The API's route groups, in registration order. */
export const API_PLUGINS: readonly FastifyPluginAsync<ApiPluginOptions>[] = [
  publicIpRoutes,
  publicFormRoutes,
  operatorListingRoutes,
  operatorRecordRoutes,
  metaRoutes,
];

export async function buildHttpServer(ctx: FrontContext, options: HttpServerOptions = {}): Promise<HttpServer> {
  const http = ctx.config.http;
  const now = options.now ?? Date.now;
  const logger: FastifyBaseLogger = ctx.logger.child({ front: FRONT });
  const app = fastify({
    loggerInstance: logger,
    // One log line per request would be noise; errors are logged by errors.ts.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: http.bodyLimitBytes,
    trustProxy: trustProxyOption(http.trustedProxies),
    frameworkErrors,
    // index.ts closes the sockets itself, with a grace; fastify's own 503 body is not ours.
    return503OnClosing: false,
    forceCloseConnections: false,
  });
  const registered: { method: string; url: string }[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) registered.push({ method, url: route.url });
  });
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setReplySerializer((payload) => safeJson(payload));
  installErrorHandling(app);

  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    void jsonParser(request, text, done);
  });
  // fastify parses text/plain by default; a JSON route would then refuse the string as 400. Any
  // body that is not JSON is 415 instead (docs/api.md), a cross-site "simple" text/plain POST
  // included. The portal and the console add their form parser in their own scopes.
  app.removeContentTypeParser('text/plain');

  app.addHook('onSend', (request, reply, payload, done) => {
    securityHeaders(reply, request.url.split('?')[0] ?? '');
    done(null, payload);
  });

  const guards = new Guards({ http, metrics: ctx.metrics, now });
  const registry = new RouteRegistry();
  const pluginOptions: ApiPluginOptions = { front: ctx, deps: { guards, registry }, bypass: new RangeList(ctx.config.check.bypass), now };
  for (const plugin of [...API_PLUGINS, ...(options.plugins ?? [])]) await app.register(plugin, pluginOptions);
  await app.ready();
  return { app, registry, guards, registered };
}
