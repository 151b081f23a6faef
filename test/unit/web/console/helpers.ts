/**
 * Shared set-up of the console's unit tests: a real Firewall (test/unit/firewall/helpers.ts:
 * SQLite in a temporary directory, the real checker over the in-process DNS test server, a
 * movable clock), the HTTP server built as startHttpFront builds it with the console's plugin,
 * and accounts that keep sessions in memory (the console's side of the contract is what is
 * tested here; firewall/accounts.ts has tests of its own). `signIn()` goes through the login
 * form as a browser does; `page()` and `post()` carry the session cookie.
 */
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { configSchema, type Config } from '../../../../src/config/schema.js';
import { buildHttpServer, type HttpServer } from '../../../../src/fronts/api/server.js';
import type { FrontContext } from '../../../../src/fronts/types.js';
import { silentLogger } from '../../../../src/util/log.js';
import type { ConsoleAccounts, ConsoleSession, LoginResult } from '../../../../src/web/console/context.js';
import { consolePluginWith } from '../../../../src/web/console/index.js';
import type { Env, Harness } from '../../firewall/helpers.js';

export const ACCOUNT = 'alice';
export const PASSWORD = 'correct horse battery staple';
/** Failures per account (or per address) before the fake throttles, as the real one does. */
export const THROTTLE_AFTER = 5;

/** In-memory accounts: one account, sessions with a TTL, throttling after THROTTLE_AFTER failures. */
export class MemoryAccounts implements ConsoleAccounts {
  readonly sessions = new Map<string, ConsoleSession>();
  readonly failures = new Map<string, number>();
  readonly logins: { name: string; fromIp: string }[] = [];
  constructor(
    private readonly now: () => number,
    private readonly ttlMs = 3_600_000,
  ) {}

  login(name: string, password: string, fromIp: string): Promise<LoginResult> {
    this.logins.push({ name, fromIp });
    const keys = [`a:${name}`, `ip:${fromIp}`];
    if (keys.some((k) => (this.failures.get(k) ?? 0) >= THROTTLE_AFTER)) return Promise.resolve({ ok: false, reason: 'throttled', retryAfterMs: 60_000 });
    if (name !== ACCOUNT || password !== PASSWORD) {
      for (const k of keys) this.failures.set(k, (this.failures.get(k) ?? 0) + 1);
      return Promise.resolve({ ok: false, reason: 'invalid' });
    }
    const at = this.now();
    const session: ConsoleSession = { id: randomBytes(24).toString('base64url'), account: name, csrf: randomBytes(24).toString('base64url'), createdAt: at, expiresAt: at + this.ttlMs };
    this.sessions.set(session.id, session);
    return Promise.resolve({ ok: true, session });
  }

  session(id: string): Promise<ConsoleSession | undefined> {
    const s = this.sessions.get(id);
    return Promise.resolve(s !== undefined && s.expiresAt > this.now() ? s : undefined);
  }

  logout(id: string): Promise<void> {
    this.sessions.delete(id);
    return Promise.resolve();
  }
}

export interface ConsoleEnv {
  readonly env: Env;
  readonly server: HttpServer;
  readonly config: Config;
  readonly accounts: MemoryAccounts;
  get(url: string, cookie?: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  post(url: string, fields: Record<string, string>, cookie?: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Signs in through the form; the cookie header of the session and the session's CSRF token. */
  signIn(): Promise<{ readonly cookie: string; readonly csrf: string; readonly res: LightMyRequestResponse }>;
  /** The login form: its CSRF cookie and token. */
  loginForm(): Promise<{ readonly cookie: string; readonly token: string }>;
  close(): Promise<void>;
}

export function cookieOf(res: LightMyRequestResponse, name: string): string | undefined {
  const set = res.headers['set-cookie'];
  for (const c of Array.isArray(set) ? set : set === undefined ? [] : [set]) if (c.startsWith(`${name}=`)) return c;
  return undefined;
}

export interface ConsoleEnvOptions {
  readonly http?: Record<string, unknown>;
  /** The text the node's metrics render (the dashboard's DNS health); empty by default. */
  readonly metrics?: string;
  /** Use the firewall's own accounts (firewall/accounts.ts, in the store) instead of MemoryAccounts. */
  readonly realAccounts?: boolean;
}

export async function consoleEnv(harness: Harness, options: ConsoleEnvOptions = {}): Promise<ConsoleEnv> {
  const firewall = { portalUrl: 'https://portal.example.test', organisation: { name: 'Example <Org>' } };
  const env = await harness.env({ firewall });
  const config = configSchema.parse({ http: { listen: ['127.0.0.1:0'], ...options.http }, firewall, portal: { contactEmail: 'postmaster@example.test' } });
  const ctx: FrontContext = {
    config,
    firewall: env.firewall,
    logger: silentLogger,
    metrics: { contentType: 'text/plain', render: () => Promise.resolve(options.metrics ?? ''), frontEvent: () => undefined },
  };
  const accounts = new MemoryAccounts(env.clock.now);
  const server = await buildHttpServer(ctx, { now: env.clock.now, plugins: [consolePluginWith(options.realAccounts === true ? undefined : accounts)] });
  const app = server.app;
  const get = (url: string, cookie?: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'GET', url, headers: { ...headers, ...(cookie === undefined ? {} : { cookie }) } });
  const post = (url: string, fields: Record<string, string>, cookie?: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers, ...(cookie === undefined ? {} : { cookie }) },
      payload: new URLSearchParams(fields).toString(),
    });
  const loginForm = async (): Promise<{ cookie: string; token: string }> => {
    const res = await get('/admin/login');
    const cookie = cookieOf(res, 'bs_csrf')?.split(';')[0] ?? '';
    const token = /name="csrf" value="([^"]+)"/.exec(res.body)?.[1] ?? '';
    return { cookie, token };
  };
  return {
    env,
    server,
    config,
    accounts,
    get,
    post,
    loginForm,
    async signIn() {
      const form = await loginForm();
      const res = await post('/admin/login', { csrf: form.token, name: ACCOUNT, password: PASSWORD, next: '/admin' }, form.cookie);
      const session = cookieOf(res, 'bs_session')?.split(';')[0] ?? '';
      const page = await get('/admin', session);
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
      return { cookie: session, csrf, res };
    },
    close: () => app.close(),
  };
}

export { visibleText } from '../helpers.js';
