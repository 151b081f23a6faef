/**
 * NAME
 *   web/console/pages/login - GET/POST /admin/login, POST /admin/logout
 *
 * DESCRIPTION
 *   The login form carries a double-submit CSRF token (web/csrf.ts: there is no session yet, so
 *   the token is tied to the browser's `bs_csrf` nonce). firewall.accounts.login(name, password,
 *   fromIp) decides and throttles (per account and per address); the page says only "wrong name
 *   or password" (never which), or, when throttled, 429 with Retry-After and the wait in words.
 *   On success the session cookie is set (session.ts) and the browser goes to `next` (a path
 *   under /admin only: no open redirect).
 *
 *   Sign out (a POST with the session's token) ends the session on the server and in the browser.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientAddress } from '../../../fronts/api/client.js';
import { field } from '../../fields.js';
import { html } from '../../html.js';
import { retryAfterSeconds } from '../../respond.js';
import type { Console } from '../context.js';
import { flash, sendConsolePage } from '../layout.js';
import { clearedCookie, findSession, safeNext, sameToken, sendCsrfRefused, sessionCookie, sessionId } from '../session.js';

const NAME_MAX_CHARS = 64;
const PASSWORD_MAX_CHARS = 1_024;

function loginPage(reply: FastifyReply, con: Console, request: FastifyRequest, input: { next: string; name?: string; error?: string; done?: unknown; status?: number }): FastifyReply {
  const { token, cookie } = con.loginCsrf.issue(request);
  if (cookie !== undefined) void reply.header('set-cookie', cookie);
  const main = html`${flash(input.done)}
${input.error !== undefined && html`<div class="status bad" role="alert" id="login-error"><p>${input.error}</p></div>`}
<form class="stack" method="post" action="/admin/login">
<input type="hidden" name="csrf" value="${token}">
<input type="hidden" name="next" value="${input.next}">
${field({ name: 'name', label: 'Account name', value: input.name ?? '', required: true, autocomplete: 'username', maxLength: NAME_MAX_CHARS })}
<div><label for="f-password">Password</label><input type="password" id="f-password" name="password" required autocomplete="current-password" maxlength="${PASSWORD_MAX_CHARS}"></div>
<div><button type="submit">Sign in</button></div>
</form>`;
  return sendConsolePage(reply, con, { title: 'Sign in', main, status: input.status ?? 200 });
}

export function loginRoutes(app: FastifyInstance, con: Console): void {
  app.get<{ Querystring: { next?: string; done?: string } }>('/login', async (request, reply) => {
    const next = safeNext(request.query.next);
    if ((await findSession(con, request)) !== undefined) return reply.redirect(next, 303);
    return loginPage(reply, con, request, { next, done: request.query.done });
  });

  app.post<{ Body: Record<string, string> | undefined }>('/login', async (request, reply) => {
    const body = request.body ?? {};
    const next = safeNext(body.next);
    const name = typeof body.name === 'string' ? body.name.trim().slice(0, NAME_MAX_CHARS) : '';
    if (!con.loginCsrf.verify(request, body.csrf)) {
      return loginPage(reply, con, request, { next, name, error: 'The form had expired or was not sent by this page. Nothing was done; please sign in again.', status: 403 });
    }
    const password = typeof body.password === 'string' ? body.password.slice(0, PASSWORD_MAX_CHARS) : '';
    if (name === '' || password === '') return loginPage(reply, con, request, { next, name, error: 'Enter your account name and your password.', status: 400 });
    const result = await con.accounts.login(name, password, clientAddress(request));
    if (!result.ok) {
      if (result.reason === 'throttled') {
        const seconds = retryAfterSeconds(result.retryAfterMs ?? 60_000);
        void reply.header('retry-after', String(seconds));
        return loginPage(reply, con, request, { next, name, error: `Too many failed sign-ins for this account or from this address. Try again in ${seconds} seconds.`, status: 429 });
      }
      return loginPage(reply, con, request, { next, name, error: 'Wrong account name or password.', status: 401 });
    }
    void reply.header('set-cookie', sessionCookie(request, result.session, con.now()));
    return reply.redirect(next, 303);
  });

  app.post<{ Body: Record<string, string> | undefined }>('/logout', async (request, reply) => {
    const s = await findSession(con, request);
    // Without a session there is nothing to end; with one, only its own token may end it.
    if (s !== undefined) {
      if (!sameToken(request.body?.csrf, s.csrf)) return sendCsrfRefused(reply, con, s);
      await con.accounts.logout(s.id);
    }
    if (sessionId(request) !== undefined) void reply.header('set-cookie', clearedCookie(request));
    return reply.redirect('/admin/login?done=signed-out', 303);
  });
}
