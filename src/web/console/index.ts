/**
 * NAME
 *   web/console - the operator's console: server-rendered pages under /admin
 *
 * SYNOPSIS
 *   consolePlugins(config): FastifyPluginAsync<ApiPluginOptions>[]     [] when console.enabled is false
 *   consolePlugin                                                      uses firewall.accounts
 *   consolePluginWith(accounts)                                        the plugin with other accounts (tests)
 *
 * DESCRIPTION
 *   On the same HTTP listener as the portal and the JSON API (fronts/api passes it to
 *   buildHttpServer's `plugins`), in an encapsulated scope of its own with the prefix /admin:
 *   its form parser, error and not-found handlers and hooks touch nothing else. Two scopes
 *   inside: the public one (the login page and the stylesheet) and the private one, whose
 *   hooks (session.ts) demand a session on every request and the session's CSRF token on
 *   every POST.
 *
 *   Pages (web/console/pages/):
 *     GET  /admin                                   dashboard.ts
 *     GET  /admin/listings, /admin/listings/:ip     listings.ts (POST: list, clear)
 *     GET  /admin/allowlist, /admin/allowlist/:id   allowlist.ts (POST: add, edit, remove)
 *     GET  /admin/requests, /admin/requests/:ref    requests.ts (POST: approve, deny)
 *     GET  /admin/messages                          messages.ts
 *     GET  /admin/audit                             audit.ts
 *     GET  /admin/login, POST /admin/login, POST /admin/logout     login.ts
 *     GET  /admin/static/console.css
 *
 *   Every action goes through the firewall with the actor `operator:<account>`, so the audit log
 *   names the account; reads go through firewall.records.
 *
 * SECURITY
 *   The portal's Content-Security-Policy (web/index.ts portalCsp, without a logo origin): no
 *   inline script or style; the console has no script at all. Session cookie and CSRF:
 *   session.ts. Login throttling per account and per address: firewall.accounts. Everything
 *   shown is escaped (web/html.ts); DNS and visitor text through dnsText as well.
 *
 * DIAGNOSTICS
 *   Log event CONSOLE-ERROR (an unexpected error; the operator gets a 500 page without details).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Config } from '../../config/schema.js';
import { isBlockSmithError } from '../../errors.js';
import type { ApiPluginOptions } from '../../fronts/api/route.js';
import { Csrf } from '../csrf.js';
import { registerFormParser } from '../forms.js';
import { portalCsp } from '../index.js';
import { CONSOLE_CSS } from './assets.js';
import type { Console, ConsoleAccounts } from './context.js';
import { CONSOLE_CSS_PATH, sendConsoleError } from './layout.js';
import { allowlistRoutes } from './pages/allowlist.js';
import { auditRoutes } from './pages/audit.js';
import { dashboardRoutes } from './pages/dashboard.js';
import { listingRoutes } from './pages/listings.js';
import { loginRoutes } from './pages/login.js';
import { messageRoutes } from './pages/messages.js';
import { requestRoutes } from './pages/requests.js';
import { findSession, guard, knownSession, loginPath } from './session.js';

const ASSET_MAX_AGE_S = 86_400;

function makeConsole(opts: ApiPluginOptions, accounts: ConsoleAccounts): Console {
  const { config, firewall, metrics } = opts.front;
  return {
    firewall,
    accounts,
    metrics,
    config,
    now: opts.now,
    // The login form's token lives as long as the portal's forms' (portal.csrfTokenTtlMs).
    loginCsrf: new Csrf({ ttlMs: config.portal.csrfTokenTtlMs, now: opts.now }),
    org: config.firewall.organisation.name,
  };
}

function adminScope(con: Console): FastifyPluginAsync {
  const csp = portalCsp('');
  return async (admin: FastifyInstance) => {
    admin.addHook('onRequest', (_request, reply, done) => {
      // Before the handler, so the API's onSend (a default only when absent) keeps it. no-store on
      // every answer, redirects included (a 303 may carry the session cookie); the stylesheet's
      // handler replaces it.
      void reply.header('content-security-policy', csp).header('cache-control', 'no-store');
      done();
    });
    registerFormParser(admin);
    admin.setErrorHandler((err, request, reply) => {
      const session = knownSession(request);
      if (isBlockSmithError(err) && err.code === 'BS_ERR_STORE_UNAVAILABLE') {
        return sendConsoleError(reply.header('retry-after', '30'), con, 503, 'The store cannot be reached just now. Nothing was changed; try again in a moment.', session);
      }
      if (isBlockSmithError(err) && err.code === 'BS_ERR_CIDR_INVALID') return sendConsoleError(reply, con, 400, 'That is not an address or CIDR range. Nothing was changed.', session);
      const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
      if (status >= 400 && status < 500) return sendConsoleError(reply, con, status, 'The request could not be understood.', session);
      request.log.error({ event: 'CONSOLE-ERROR', err }, 'CONSOLE-ERROR');
      return sendConsoleError(reply, con, 500, 'Something went wrong on our side. Nothing more is known here; the log has the details.', session);
    });
    admin.setNotFoundHandler(async (request, reply) => {
      const session = await findSession(con, request);
      if (session === undefined) return reply.redirect(loginPath(request), 303);
      return sendConsoleError(reply, con, 404, 'There is no such page in the console.', session);
    });
    admin.get(CONSOLE_CSS_PATH.slice('/admin'.length), async (request, reply) => {
      void reply.header('etag', CONSOLE_CSS.etag).header('cache-control', `public, max-age=${ASSET_MAX_AGE_S}`);
      if (request.headers['if-none-match'] === CONSOLE_CSS.etag) return reply.code(304).send();
      return reply.header('content-type', CONSOLE_CSS.type).send(CONSOLE_CSS.body);
    });
    loginRoutes(admin, con);
    await admin.register((priv, _opts, done) => {
      const hooks = guard(con);
      priv.addHook('onRequest', hooks.onRequest);
      priv.addHook('preHandler', hooks.preHandler);
      dashboardRoutes(priv, con);
      listingRoutes(priv, con);
      allowlistRoutes(priv, con);
      requestRoutes(priv, con);
      messageRoutes(priv, con);
      auditRoutes(priv, con);
      done();
    });
  };
}

export function consolePluginWith(accounts?: ConsoleAccounts): FastifyPluginAsync<ApiPluginOptions> {
  return async (app, opts) => {
    // firewall.accounts is read here, once the firewall exists (a getter: see firewall.ts).
    const found = accounts ?? opts.front.firewall.accounts;
    await app.register(adminScope(makeConsole(opts, found)), { prefix: '/admin' });
  };
}

export const consolePlugin: FastifyPluginAsync<ApiPluginOptions> = consolePluginWith();

export function consolePlugins(config: Config): FastifyPluginAsync<ApiPluginOptions>[] {
  return config.console.enabled ? [consolePlugin] : [];
}
