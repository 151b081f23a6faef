/**
 * Shared set-up of the portal's unit tests: a real Firewall (test/unit/firewall/helpers.ts:
 * SQLite in a temporary directory, the real checker over the in-process DNS test server, a
 * movable clock), and the HTTP server built exactly as startHttpFront builds it, with the
 * portal's plugin. `form()` fetches a page the way a browser does (keeping the CSRF cookie and
 * the form's token) so POSTs can be sent with or without them.
 */
import type { LightMyRequestResponse } from 'fastify';
import { configSchema, type Config } from '../../../src/config/schema.js';
import { buildHttpServer, type HttpServer } from '../../../src/fronts/api/server.js';
import type { FrontContext } from '../../../src/fronts/types.js';
import { silentLogger } from '../../../src/util/log.js';
import { portalPlugins } from '../../../src/web/index.js';
import type { Env, Harness } from '../firewall/helpers.js';

export interface PortalEnv {
  readonly env: Env;
  readonly server: HttpServer;
  readonly config: Config;
  get(url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** GET a page with a form; returns the cookie header to send back and the form's token. */
  form(url: string): Promise<{ readonly res: LightMyRequestResponse; readonly cookie: string; readonly token: string }>;
  post(url: string, fields: Record<string, string>, cookie?: string): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface PortalEnvOptions {
  readonly http?: Record<string, unknown>;
  readonly firewall?: Record<string, unknown>;
  readonly portal?: Record<string, unknown>;
}

export async function portalEnv(harness: Harness, options: PortalEnvOptions = {}): Promise<PortalEnv> {
  const firewall = { portalUrl: 'https://portal.example.test', organisation: { name: 'Example Org' }, ...options.firewall };
  const env = await harness.env({ firewall });
  const config = configSchema.parse({
    http: { listen: ['127.0.0.1:0'], ...options.http },
    firewall,
    portal: { contactEmail: 'postmaster@example.test', ...options.portal },
  });
  const ctx: FrontContext = {
    config,
    firewall: env.firewall,
    logger: silentLogger,
    metrics: { contentType: 'text/plain', render: () => Promise.resolve(''), frontEvent: () => undefined },
  };
  const server = await buildHttpServer(ctx, { now: env.clock.now, plugins: portalPlugins(config) });
  const app = server.app;
  return {
    env,
    server,
    config,
    get: (url, headers = {}) => app.inject({ method: 'GET', url, headers }),
    async form(url) {
      const res = await app.inject({ method: 'GET', url });
      const set = res.headers['set-cookie'];
      const cookie = (Array.isArray(set) ? set[0] : set)?.split(';')[0] ?? '';
      const token = /name="csrf" value="([^"]+)"/.exec(res.body)?.[1] ?? '';
      return { res, cookie, token };
    },
    post: (url, fields, cookie) =>
      app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie === undefined ? {} : { cookie }) },
        payload: new URLSearchParams(fields).toString(),
      }),
    close: () => app.close(),
  };
}

/** The text of a page without tags, whitespace collapsed (for assertions on what a visitor reads). */
export function visibleText(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, ' ');
}
