/**
 * NAME
 *   web/console/session - the console's session cookie, the guard of every page, CSRF on POSTs
 *
 * SYNOPSIS
 *   sessionCookie(request, session, now): string       Set-Cookie for a new session
 *   clearedCookie(request): string                     Set-Cookie that ends it in the browser
 *   guard(con): onRequest/preHandler hooks             (index.ts adds them to the private scope)
 *   sessionOf(request): ConsoleSession                 inside a guarded route
 *   sameToken(a, b): boolean                           constant-time comparison
 *   safeNext(text): string                             a path under /admin to go back to, or /admin
 *                                                      (no scheme, host, `//`, backslash or dot segment)
 *
 * DESCRIPTION
 *   The session id lives in the cookie `bs_session`: Path=/admin (the portal never sees it),
 *   HttpOnly, SameSite=Strict, Max-Age up to the session's expiry, and Secure when the request
 *   came over https (request.protocol: fastify believes X-Forwarded-Proto only from
 *   http.trustedProxies). The server side is firewall.accounts: an unknown or expired id is no
 *   session.
 *
 *   Every guarded request without a session is sent to /admin/login?next=<path> (303), a GET
 *   or a POST alike, and nothing is done. Every guarded POST must carry the session's own CSRF
 *   token in the form field `csrf`, compared in constant time; without it the answer is 403 and
 *   nothing is done. SameSite=Strict already keeps other sites' forms from carrying the cookie;
 *   the token is the second, independent guard.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { readCookie } from '../csrf.js';
import { html } from '../html.js';
import type { Console, ConsoleSession } from './context.js';
import { sendConsolePage } from './layout.js';

export const SESSION_COOKIE = 'bs_session';
/** A session id as firewall.accounts issues it: URL-safe, bounded (anything else is no session). */
const SESSION_ID = /^[A-Za-z0-9_-]{16,128}$/;
const NEXT_MAX_CHARS = 512;

const sessions = new WeakMap<FastifyRequest, ConsoleSession>();

function secure(request: FastifyRequest): string {
  return request.protocol === 'https' ? '; Secure' : '';
}

export function sessionCookie(request: FastifyRequest, session: ConsoleSession, now: number): string {
  const maxAge = Math.max(0, Math.floor((session.expiresAt - now) / 1_000));
  return `${SESSION_COOKIE}=${session.id}; Path=/admin; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure(request)}`;
}

export function clearedCookie(request: FastifyRequest): string {
  return `${SESSION_COOKIE}=; Path=/admin; Max-Age=0; HttpOnly; SameSite=Strict${secure(request)}`;
}

export function sessionId(request: FastifyRequest): string | undefined {
  const id = readCookie(request.headers.cookie, SESSION_COOKIE);
  return id !== undefined && SESSION_ID.test(id) ? id : undefined;
}

export function sameToken(a: unknown, b: string): boolean {
  if (typeof a !== 'string') return false;
  const given = Buffer.from(a);
  const expected = Buffer.from(b);
  // Length is not secret (every token has the same length); the content is compared in constant time.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** safeNext - a local path under /admin (no scheme, no host, no `//`, no backslash), else /admin. */
export function safeNext(text: unknown): string {
  if (typeof text !== 'string' || text.length > NEXT_MAX_CHARS) return '/admin';
  if (!/^\/admin(?:[/?][\x21-\x7e]*)?$/.test(text) || text.includes('//') || text.includes('\\') || text.includes('/.')) return '/admin';
  return text.startsWith('/admin/login') ? '/admin' : text;
}

export function loginPath(request: FastifyRequest): string {
  const next = request.method === 'GET' ? safeNext(request.url) : '/admin';
  return next === '/admin' ? '/admin/login' : `/admin/login?next=${encodeURIComponent(next)}`;
}

/** sessionOf - the session of a guarded request (guard() ran first). */
export function sessionOf(request: FastifyRequest): ConsoleSession {
  const s = sessions.get(request);
  if (s === undefined) throw new Error('console: sessionOf outside a guarded route');
  return s;
}

/** findSession - the request's session, or undefined (no cookie, unknown, expired). */
export async function findSession(con: Console, request: FastifyRequest): Promise<ConsoleSession | undefined> {
  const known = sessions.get(request);
  if (known !== undefined) return known;
  const id = sessionId(request);
  if (id === undefined) return undefined;
  const s = await con.accounts.session(id);
  if (s !== undefined) sessions.set(request, s);
  return s;
}

export function sendCsrfRefused(reply: FastifyReply, con: Console, session: ConsoleSession): FastifyReply {
  return sendConsolePage(reply, con, {
    title: 'Form expired',
    main: html`<div class="status warn" role="alert"><p>This form could not be accepted: its security token is missing or wrong. Nothing was changed. Open the page again and repeat the action.</p></div><p><a class="button" href="/admin">Back to the dashboard</a></p>`,
    session,
    status: 403,
  });
}

/** guard - the hooks of the private scope: a session for every request, its token on every POST. */
export function guard(con: Console): {
  readonly onRequest: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  readonly preHandler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
} {
  return {
    async onRequest(request, reply) {
      const s = await findSession(con, request);
      if (s === undefined) {
        if (sessionId(request) !== undefined) void reply.header('set-cookie', clearedCookie(request));
        return reply.redirect(loginPath(request), 303);
      }
      return undefined;
    },
    async preHandler(request, reply) {
      if (request.method !== 'POST') return undefined;
      const s = sessionOf(request);
      const body = request.body as Record<string, unknown> | undefined;
      if (!sameToken(body?.csrf, s.csrf)) return sendCsrfRefused(reply, con, s);
      return undefined;
    },
  };
}

/** knownSession - the session guard() or findSession() found for this request, if any (error pages). */
export function knownSession(request: FastifyRequest): ConsoleSession | undefined {
  return sessions.get(request);
}
