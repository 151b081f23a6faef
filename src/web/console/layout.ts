/**
 * NAME
 *   web/console/layout - the page around every console page, and how pages are sent
 *
 * SYNOPSIS
 *   sendConsolePage(reply, con, { title, main, session?, current?, status? })
 *   sendConsoleError(reply, con, status, message, session?)
 *   flash(key): Html                     the fixed message of a `?done=` key after a POST (303)
 *   CONSOLE_CSS_PATH
 *
 * DESCRIPTION
 *   Like the portal's page (web/layout.ts): a skip link, landmarks, one column, the stylesheet as
 *   a file (no inline style or script: the portal's CSP). The header names the console and the
 *   organisation; with a session, the navigation (aria-current on the section shown), the
 *   account's name and a "Sign out" button (a POST carrying the session's CSRF token). The login
 *   page has no navigation.
 *
 *   Pages are text/html, Cache-Control no-store, and never cached or framed. A message after a
 *   POST is chosen by a fixed key in the redirect's query (`?done=cleared`): nothing the browser
 *   sends is echoed as a message.
 */
import type { FastifyReply } from 'fastify';
import { html, type Html } from '../html.js';
import type { Console, ConsoleSession } from './context.js';

export const CONSOLE_CSS_PATH = '/admin/static/console.css';

export type Section = 'dashboard' | 'listings' | 'allowlist' | 'requests' | 'messages' | 'audit';

const NAV: readonly (readonly [Section, string, string])[] = [
  ['dashboard', '/admin', 'Dashboard'],
  ['listings', '/admin/listings', 'Listings'],
  ['allowlist', '/admin/allowlist', 'Allowlist'],
  ['requests', '/admin/requests', 'Whitelist requests'],
  ['messages', '/admin/messages', 'Messages'],
  ['audit', '/admin/audit', 'Audit log'],
];

export interface ConsolePageInput {
  readonly title: string;
  readonly main: Html;
  readonly session?: ConsoleSession;
  readonly current?: Section;
  readonly status?: number;
}

/** The fixed messages shown after an action (the `done` query key of the 303). */
const DONE: Readonly<Record<string, string>> = {
  cleared: 'The listing was cleared, effective now.',
  'not-listed': 'That address had no active listing: nothing to clear.',
  listed: 'The address was listed by hand.',
  'allow-added': 'The allow entry was added.',
  'allow-edited': 'The allow entry was changed.',
  'allow-removed': 'The allow entry was removed.',
  'allow-gone': 'That allow entry no longer exists.',
  approved: 'The request was approved: its allow entry is in force now.',
  denied: 'The request was denied; the requester sees the reason on the status page.',
  decided: 'That request had already been decided.',
  'signed-out': 'You are signed out.',
};

export function flash(key: unknown): Html {
  const text = typeof key === 'string' ? DONE[key] : undefined;
  return text === undefined ? html`` : html`<div class="status ok" role="status" id="done"><p>${text}</p></div>`;
}

function renderConsole(con: Console, input: ConsolePageInput): string {
  const s = input.session;
  const nav =
    s === undefined
      ? html``
      : html`<nav aria-label="Console"><ul>${NAV.map(
          ([key, href, label]) => html`<li><a href="${href}"${key === input.current && html` aria-current="page"`}>${label}</a></li>`,
        )}</ul></nav>
<form class="signout" method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${s.csrf}"><span class="who">Signed in as <strong>${s.account}</strong></span> <button type="submit" class="secondary">Sign out</button></form>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${input.title} - BlockSmith console - ${con.org}</title>
<link rel="stylesheet" href="${CONSOLE_CSS_PATH}">
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="site"><div class="bar">
<a class="brand" href="/admin"><span>BlockSmith console</span> <span class="org">${con.org}</span></a>
${nav}
</div></header>
<main id="main" tabindex="-1">
<h1>${input.title}</h1>
${input.main}
</main>
<footer class="site"><p>Operator's console of ${con.org}. Every action is recorded in the audit log with your account.</p></footer>
</body>
</html>
`.value;
}

export function sendConsolePage(reply: FastifyReply, con: Console, input: ConsolePageInput): FastifyReply {
  return reply
    .code(input.status ?? 200)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(renderConsole(con, input));
}

export function sendConsoleError(reply: FastifyReply, con: Console, status: number, message: string, session?: ConsoleSession, extra?: Html): FastifyReply {
  return sendConsolePage(reply, con, {
    title: status === 404 ? 'Not found' : 'Something went wrong',
    main: html`<div class="status bad" role="alert"><p>${message}</p></div>${extra}<p><a href="/admin">Back to the dashboard</a></p>`,
    status,
    ...(session === undefined ? {} : { session }),
  });
}
