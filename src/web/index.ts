/**
 * NAME
 *   web - the public portal: server-rendered pages on the HTTP listener
 *
 * SYNOPSIS
 *   portalPlugins(config): FastifyPluginAsync<ApiPluginOptions>[]     [] when portal.enabled is false
 *   portalPlugin                                                      the plugin itself (tests)
 *   PORTAL_CSP(logoUrl): string
 *
 * DESCRIPTION
 *   Registered by fronts/api (startHttpFront passes it to buildHttpServer's `plugins`), in its
 *   own encapsulated scope: its form parser, error handler and headers do not touch the JSON API.
 *   The portal uses the FrontContext's firewall only (decide, test, unblock, requestWhitelist,
 *   contact, records.*, hotListing); nothing of the API's routes.
 *
 *   Pages (each in web/pages/):
 *     GET  /                       check an address; "am I blocked?" with the visitor's address
 *     GET  /lookup?ip=             303 to /ip/<ip>
 *     GET  /ip/:ip[?r=REF]         the explanation page (where the rejection's link lands)
 *     POST /ip/:ip/unblock         self-service unblock (CSRF)
 *     GET  /test/:ip, /test?ip=    the live test with its trace
 *     GET  /whitelist, POST /whitelist, GET /whitelist/status?ref=, GET /whitelist/:ref
 *     GET  /contact, POST /contact
 *     GET  /stats, GET /policy
 *     GET  /static/portal.css, /static/portal.js
 *
 * SECURITY
 *   Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src
 *   'self' (and the logo's origin); form-action 'self'; base-uri 'none'; frame-ancestors 'none'.
 *   No inline script or style anywhere. The API's onSend hook adds nosniff, X-Frame-Options DENY
 *   and Referrer-Policy no-referrer. Every POST needs a CSRF token (web/csrf.ts); every page that
 *   costs DNS work or store reads is limited per visitor (web/limits.ts). Everything from DNS and
 *   from visitors is escaped (web/html.ts).
 *
 * DIAGNOSTICS
 *   Log event PORTAL-ERROR (an unexpected error; the visitor gets a 500 page without details).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Config } from '../config/schema.js';
import { isBlockSmithError } from '../errors.js';
import type { ApiPluginOptions } from '../fronts/api/route.js';
import { ASSETS } from './assets.js';
import type { Portal } from './context.js';
import { Csrf } from './csrf.js';
import { registerFormParser } from './forms.js';
import { VisitorLimits } from './limits.js';
import { PortalReads } from './reads.js';
import { contactRoutes } from './pages/contact.js';
import { homeRoutes } from './pages/home.js';
import { ipRoutes } from './pages/ip.js';
import { policyRoutes } from './pages/policy.js';
import { statsRoutes } from './pages/stats.js';
import { testRoutes } from './pages/test.js';
import { unblockRoutes } from './pages/unblock.js';
import { whitelistRoutes } from './pages/whitelist.js';
import { sendError } from './respond.js';
import { texts } from './texts.js';

/** Static files are cached for a day (their ETag changes with their content). */
const ASSET_MAX_AGE_S = 86_400;

export function portalCsp(logoUrl: string): string {
  const logoOrigin = logoUrl === '' ? '' : ` ${new URL(logoUrl).origin}`;
  return (
    "default-src 'none'; script-src 'self'; style-src 'self'; " +
    `img-src 'self'${logoOrigin}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`
  );
}

export function makePortal(opts: ApiPluginOptions): Portal {
  const { config, firewall } = opts.front;
  const base = config.firewall.portalUrl;
  return {
    firewall,
    config,
    t: texts('en'),
    now: opts.now,
    csrf: new Csrf({ ttlMs: config.portal.csrfTokenTtlMs, now: opts.now }),
    limits: new VisitorLimits(config.http, opts.now),
    reads: new PortalReads(firewall),
    org: config.firewall.organisation.name,
    baseUrl: base.endsWith('/') ? base.slice(0, -1) : base,
  };
}

function staticRoutes(app: FastifyInstance): void {
  for (const [path, asset] of Object.entries(ASSETS)) {
    app.get(path, async (request, reply) => {
      void reply.header('etag', asset.etag).header('cache-control', `public, max-age=${ASSET_MAX_AGE_S}`);
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.header('content-type', asset.type).send(asset.body);
    });
  }
}

export const portalPlugin: FastifyPluginAsync<ApiPluginOptions> = (app, opts) => {
  const portal = makePortal(opts);
  const csp = portalCsp(portal.config.portal.logoUrl);
  app.addHook('onRequest', (_request, reply, done) => {
    // Set before the handler, so the API's onSend (which sets a default only when absent) keeps it.
    void reply.header('content-security-policy', csp);
    done();
  });
  registerFormParser(app);
  app.setErrorHandler((err, request, reply) => {
    if (isBlockSmithError(err) && err.code === 'BS_ERR_STORE_UNAVAILABLE') {
      return sendError(reply.header('retry-after', '30'), portal, 503, portal.t.errors.storeDown);
    }
    const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
    if (status >= 400 && status < 500) return sendError(reply, portal, status, portal.t.errors.title);
    request.log.error({ event: 'PORTAL-ERROR', err }, 'PORTAL-ERROR');
    return sendError(reply, portal, 500, portal.t.errors.internal);
  });
  staticRoutes(app);
  homeRoutes(app, portal);
  ipRoutes(app, portal);
  unblockRoutes(app, portal);
  testRoutes(app, portal);
  whitelistRoutes(app, portal);
  contactRoutes(app, portal);
  statsRoutes(app, portal);
  policyRoutes(app, portal);
  return Promise.resolve();
};

export function portalPlugins(config: Config): FastifyPluginAsync<ApiPluginOptions>[] {
  return config.portal.enabled ? [portalPlugin] : [];
}
