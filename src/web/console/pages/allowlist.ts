/**
 * NAME
 *   web/console/pages/allowlist - the allowlist: add, edit, remove; expired entries apart
 *
 * SYNOPSIS
 *   GET  /admin/allowlist                  entries in force, then expired ones; the add form
 *   POST /admin/allowlist                  add (range, note, expiry)
 *   GET  /admin/allowlist/:id              one entry and its edit form
 *   POST /admin/allowlist/:id              edit (range, note, expiry or keep it)
 *   POST /admin/allowlist/:id/remove       remove
 *
 * DESCRIPTION
 *   firewall.allow / editAllow / removeAllow with the actor `operator:<account>`: each one store
 *   write with its audit entry (ALLOW-ADD, ALLOW-EDIT, ALLOW-REMOVE), in force on this node at
 *   once and on the others through the store's events. An allowlisted client is accepted with
 *   no DNS work at all, before any listing.
 *
 *   An expired entry no longer lets anybody in (the hot cache ignores it); it stays in the store
 *   until removed, and is shown apart so it can be renewed (edit) or removed.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isAddressOrRange } from '../../../config/sections/http.js';
import type { AllowEntry } from '../../../store/types.js';
import { dnsText, html, type Html } from '../../html.js';
import { when } from '../../layout.js';
import { csrfField, expirySelect, freeText, readExpiry, readNote } from '../common.js';
import { actorOf, type Console, type ConsoleSession } from '../context.js';
import { flash, sendConsoleError, sendConsolePage } from '../layout.js';
import { sessionOf } from '../session.js';

const RANGE_HINT = 'An IPv4 or IPv6 address, or a CIDR range such as 192.0.2.0/24.';
const ID = /^[0-9a-f-]{36}$/;

function entryPath(e: AllowEntry): string {
  return `/admin/allowlist/${e.id}`;
}

function table(id: string, entries: readonly AllowEntry[]): Html {
  return html`<div class="table-wrap"><table id="${id}"><thead><tr><th scope="col">Address or range</th><th scope="col">Note</th><th scope="col">Added</th><th scope="col">Expires</th><th scope="col">By</th></tr></thead><tbody>
${entries.map(
  (e) => html`<tr><th scope="row" class="mono"><a href="${entryPath(e)}">${e.range}</a></th><td class="note">${freeText(e.note)}</td><td>${when(e.createdAt)}</td><td>${e.expiresAt === undefined ? 'never' : when(e.expiresAt)}</td><td>${dnsText(e.author, 80)}${e.requestRef !== undefined && html` (request <a href="/admin/requests/${e.requestRef}">${e.requestRef}</a>)`}</td></tr>`,
)}</tbody></table></div>`;
}

function rangeField(value: string, error?: string): Html {
  return html`<div><label for="f-range">Address or range</label><span class="hint" id="f-range-hint">${RANGE_HINT}</span>${error !== undefined && html`<span class="error-text" id="f-range-error">${error}</span>`}<input type="text" id="f-range" name="range" required maxlength="64" value="${value}" aria-describedby="f-range-hint${error !== undefined ? ' f-range-error' : ''}"${error !== undefined && html` aria-invalid="true"`}></div>`;
}

function noteField(value: string): Html {
  return html`<div><label for="f-note">Note</label><span class="hint" id="f-note-hint">Who this is and why; kept in the audit log.</span><textarea id="f-note" name="note" maxlength="1000" aria-describedby="f-note-hint">${value}</textarea></div>`;
}

async function listPage(reply: FastifyReply, con: Console, session: ConsoleSession, input: { done?: unknown; range?: string; note?: string; error?: string; status?: number }): Promise<FastifyReply> {
  const now = con.now();
  const all = [...(await con.firewall.records.allows())].sort((a, b) => b.createdAt - a.createdAt);
  const live = all.filter((e) => e.expiresAt === undefined || e.expiresAt > now);
  const expired = all.filter((e) => e.expiresAt !== undefined && e.expiresAt <= now);
  const main = html`${flash(input.done)}
${input.error !== undefined && html`<div class="status bad" role="alert"><p>The entry was not added: ${input.error}</p></div>`}
<h2>In force</h2>${live.length === 0 ? html`<p>No entry.</p>` : table('allow-live', live)}
<h2>Expired</h2>${expired.length === 0 ? html`<p>No expired entry.</p>` : html`<p class="hint">These let nobody in any more. Edit one to renew it, or remove it.</p>${table('allow-expired', expired)}`}
<h2>Add an entry</h2>
<form class="stack" method="post" action="/admin/allowlist">${csrfField(session)}
${rangeField(input.range ?? '', input.error)}${noteField(input.note ?? '')}${expirySelect('expires', 'Expiry')}
<div><button type="submit">Add to the allowlist</button></div></form>`;
  return sendConsolePage(reply, con, { title: 'Allowlist', main, session, current: 'allowlist', status: input.status ?? 200 });
}

export function allowlistRoutes(app: FastifyInstance, con: Console): void {
  app.get<{ Querystring: { done?: string } }>('/allowlist', async (request, reply) => listPage(reply, con, sessionOf(request), { done: request.query.done }));

  app.post<{ Body: Record<string, string> | undefined }>('/allowlist', async (request, reply) => {
    const session = sessionOf(request);
    const range = typeof request.body?.range === 'string' ? request.body.range.trim().slice(0, 64) : '';
    const note = readNote(request.body?.note);
    const expiry = readExpiry(request.body?.expires, con.now());
    if (!isAddressOrRange(range)) return listPage(reply, con, session, { range, note, error: RANGE_HINT, status: 400 });
    if (!expiry.ok || expiry.keep) return listPage(reply, con, session, { range, note, error: 'choose an expiry from the list.', status: 400 });
    await con.firewall.allow(range, note, actorOf(session.account), expiry.expiresAt);
    return reply.redirect('/admin/allowlist?done=allow-added', 303);
  });

  app.get<{ Params: { id: string }; Querystring: { done?: string } }>('/allowlist/:id', async (request, reply) => {
    const session = sessionOf(request);
    const entry = ID.test(request.params.id) ? (await con.firewall.records.allows()).find((e) => e.id === request.params.id) : undefined;
    if (entry === undefined) return sendConsoleError(reply, con, 404, 'There is no such allow entry (it may have been removed).', session);
    const expired = entry.expiresAt !== undefined && entry.expiresAt <= con.now();
    const main = html`${flash(request.query.done)}
<dl class="facts"><dt>Address or range</dt><dd class="mono">${entry.range}</dd><dt>State</dt><dd>${expired ? 'Expired: lets nobody in' : 'In force'}</dd>
<dt>Added</dt><dd>${when(entry.createdAt)} by ${dnsText(entry.author, 80)}</dd><dt>Expires</dt><dd>${entry.expiresAt === undefined ? 'never' : when(entry.expiresAt)}</dd>
${entry.requestRef !== undefined && html`<dt>From request</dt><dd><a href="/admin/requests/${entry.requestRef}">${entry.requestRef}</a></dd>`}</dl>
<h2>Change it</h2>
<form class="stack" method="post" action="${entryPath(entry)}">${csrfField(session)}
${rangeField(entry.range)}${noteField(entry.note)}${expirySelect('expires', 'Expiry (from now)', { keep: true })}
<div><button type="submit">Save the changes</button></div></form>
<h2>Remove it</h2>
<form method="post" action="${entryPath(entry)}/remove">${csrfField(session)}<button type="submit" class="danger">Remove this entry</button></form>`;
    return sendConsolePage(reply, con, { title: `Allow entry ${entry.range}`, main, session, current: 'allowlist' });
  });

  app.post<{ Params: { id: string }; Body: Record<string, string> | undefined }>('/allowlist/:id', async (request, reply) => {
    const session = sessionOf(request);
    const entry = ID.test(request.params.id) ? (await con.firewall.records.allows()).find((e) => e.id === request.params.id) : undefined;
    if (entry === undefined) return reply.redirect('/admin/allowlist?done=allow-gone', 303);
    const range = typeof request.body?.range === 'string' ? request.body.range.trim().slice(0, 64) : '';
    const expiry = readExpiry(request.body?.expires, con.now());
    if (!isAddressOrRange(range) || !expiry.ok) return sendConsoleError(reply, con, 400, `Nothing was changed: ${isAddressOrRange(range) ? 'choose an expiry from the list.' : RANGE_HINT}`, session);
    const expiresAt = expiry.keep ? entry.expiresAt : expiry.expiresAt;
    const edited = await con.firewall.editAllow(entry.id, { range, note: readNote(request.body?.note), ...(expiresAt === undefined ? {} : { expiresAt }) }, actorOf(session.account));
    return reply.redirect(edited === undefined ? '/admin/allowlist?done=allow-gone' : `/admin/allowlist/${entry.id}?done=allow-edited`, 303);
  });

  app.post<{ Params: { id: string } }>('/allowlist/:id/remove', async (request, reply) => {
    const session = sessionOf(request);
    if (!ID.test(request.params.id)) return reply.redirect('/admin/allowlist?done=allow-gone', 303);
    const removed = await con.firewall.removeAllow(request.params.id, actorOf(session.account));
    return reply.redirect(`/admin/allowlist?done=${removed ? 'allow-removed' : 'allow-gone'}`, 303);
  });
}
