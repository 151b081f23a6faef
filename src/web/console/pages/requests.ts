/**
 * NAME
 *   web/console/pages/requests - the whitelist request queue: approve with an expiry, or deny
 *
 * SYNOPSIS
 *   GET  /admin/requests[?state=pending|approved|denied|any&after=]
 *   GET  /admin/requests/:ref                   the request in full, the approve and deny forms
 *   POST /admin/requests/:ref/approve           expiry chosen -> its allow entry, in force at once
 *   POST /admin/requests/:ref/deny              a reason, which the requester sees on the status page
 *
 * DESCRIPTION
 *   firewall.approveRequest writes the request's new state and its allow entry as one atomic
 *   store write (REQUEST-APPROVE); firewall.denyRequest writes the state and the reason
 *   (REQUEST-DENY). A request decided meanwhile (another operator, another node) is reported,
 *   not decided twice.
 *
 *   Everything a requester typed (domain, contact, why) is hostile text: escaped, and the
 *   contact is shown as text, never as a link.
 */
import type { FastifyInstance } from 'fastify';
import { isReference } from '../../../firewall/index.js';
import type { RequestState, WhitelistRequest } from '../../../store/types.js';
import { dnsText, html } from '../../html.js';
import { when } from '../../layout.js';
import { csrfField, expirySelect, freeText, nextLink, readCursor, readExpiry, readNote } from '../common.js';
import { actorOf, type Console } from '../context.js';
import { flash, sendConsoleError, sendConsolePage } from '../layout.js';
import { sessionOf } from '../session.js';

const PAGE_SIZE = 50;
const STATE_NAMES: Readonly<Record<string, string>> = { pending: 'Pending', approved: 'Approved', denied: 'Denied', any: 'Any' };

function requestPath(r: { readonly ref: string }): string {
  return `/admin/requests/${r.ref}`;
}

export function requestRoutes(app: FastifyInstance, con: Console): void {
  app.get<{ Querystring: { state?: string; after?: string; done?: string } }>('/requests', async (request, reply) => {
    const session = sessionOf(request);
    const state = typeof request.query.state === 'string' && request.query.state in STATE_NAMES ? request.query.state : 'pending';
    const page = await con.firewall.records.requests(state === 'any' ? undefined : (state as RequestState), PAGE_SIZE, readCursor(request.query.after));
    const main = html`${flash(request.query.done)}
<nav aria-label="Request states" class="tabs"><ul>${['pending', 'approved', 'denied', 'any'].map(
      (s) => html`<li><a href="/admin/requests?state=${s}"${s === state && html` aria-current="page"`}>${STATE_NAMES[s] ?? s}</a></li>`,
    )}</ul></nav>
${page.items.length === 0
  ? html`<p id="no-results">No ${state === 'any' ? '' : (STATE_NAMES[state] ?? '').toLowerCase()} request.</p>`
  : html`<div class="table-wrap"><table id="requests"><thead><tr><th scope="col">Reference</th><th scope="col">Address or range</th><th scope="col">Domain</th><th scope="col">Filed</th><th scope="col">State</th></tr></thead><tbody>${page.items.map(
      (r: WhitelistRequest) => html`<tr><th scope="row" class="mono"><a href="${requestPath(r)}">${r.ref}</a></th><td class="mono">${r.range}</td><td>${dnsText(r.domain)}</td><td>${when(r.createdAt)}</td><td>${STATE_NAMES[r.state] ?? r.state}</td></tr>`,
    )}</tbody></table></div>`}
${nextLink('/admin/requests', { state }, page.next)}`;
    return sendConsolePage(reply, con, { title: 'Whitelist requests', main, session, current: 'requests' });
  });

  app.get<{ Params: { ref: string }; Querystring: { done?: string } }>('/requests/:ref', async (request, reply) => {
    const session = sessionOf(request);
    const ref = request.params.ref.toUpperCase();
    const r = isReference(ref) ? await con.firewall.records.request(ref) : undefined;
    if (r === undefined) return sendConsoleError(reply, con, 404, 'There is no request with that reference.', session);
    const path = requestPath(r);
    const main = html`${flash(request.query.done)}
<dl class="facts" id="request-facts">
<dt>Reference</dt><dd class="mono">${r.ref}</dd><dt>State</dt><dd id="request-state"><strong>${STATE_NAMES[r.state] ?? r.state}</strong></dd>
<dt>Address or range</dt><dd class="mono">${r.range}</dd><dt>Domain</dt><dd>${dnsText(r.domain)}</dd>
<dt>Contact</dt><dd>${dnsText(r.contact)}</dd>
${r.rejectionRef !== undefined && html`<dt>Rejection reference</dt><dd class="mono">${dnsText(r.rejectionRef, 20)}</dd>`}
${r.fromIp !== undefined && html`<dt>Filed from</dt><dd class="mono">${dnsText(r.fromIp, 64)}</dd>`}
<dt>Filed</dt><dd>${when(r.createdAt)}</dd>
<dt>Why DNS cannot be fixed</dt><dd class="note">${freeText(r.why)}</dd>
${r.decidedAt !== undefined && html`<dt>Decided</dt><dd>${when(r.decidedAt)}${r.decidedBy !== undefined && html` by ${dnsText(r.decidedBy, 80)}`}</dd>`}
${r.decisionReason !== undefined && html`<dt>Reason given</dt><dd class="note">${freeText(r.decisionReason)}</dd>`}
${r.allowId !== undefined && html`<dt>Allow entry</dt><dd><a href="/admin/allowlist/${r.allowId}">the entry this request made</a></dd>`}
</dl>
<p><a href="/admin/listings?q=${encodeURIComponent(r.range)}&amp;state=any">Listings in ${r.range}</a></p>
${r.state === 'pending' &&
  html`<div class="actions">
<form class="card stack" method="post" action="${path}/approve"><h2>Approve</h2>${csrfField(session)}
<p>Adds ${r.range} to the allowlist at once.</p>${expirySelect('expires', 'Expiry of the allow entry')}
<div><button type="submit">Approve the request</button></div></form>
<form class="card stack" method="post" action="${path}/deny"><h2>Deny</h2>${csrfField(session)}
<div><label for="f-reason">Reason</label><span class="hint" id="f-reason-hint">The requester sees this on the request's status page.</span><textarea id="f-reason" name="reason" required maxlength="1000" aria-describedby="f-reason-hint"></textarea></div>
<div><button type="submit" class="danger">Deny the request</button></div></form>
</div>`}`;
    return sendConsolePage(reply, con, { title: `Request ${r.ref}`, main, session, current: 'requests' });
  });

  app.post<{ Params: { ref: string }; Body: Record<string, string> | undefined }>('/requests/:ref/approve', async (request, reply) => {
    const session = sessionOf(request);
    const ref = request.params.ref.toUpperCase();
    if (!isReference(ref)) return sendConsoleError(reply, con, 404, 'There is no request with that reference.', session);
    const expiry = readExpiry(request.body?.expires, con.now());
    if (!expiry.ok || expiry.keep) return sendConsoleError(reply, con, 400, 'Nothing was done: choose an expiry from the list.', session);
    const outcome = await con.firewall.approveRequest(ref, actorOf(session.account), expiry.expiresAt);
    if (outcome.outcome === 'not-found') return sendConsoleError(reply, con, 404, 'There is no request with that reference.', session);
    return reply.redirect(`/admin/requests/${ref}?done=${outcome.outcome === 'approved' ? 'approved' : 'decided'}`, 303);
  });

  app.post<{ Params: { ref: string }; Body: Record<string, string> | undefined }>('/requests/:ref/deny', async (request, reply) => {
    const session = sessionOf(request);
    const ref = request.params.ref.toUpperCase();
    if (!isReference(ref)) return sendConsoleError(reply, con, 404, 'There is no request with that reference.', session);
    const reason = readNote(request.body?.reason);
    if (reason === '') return sendConsoleError(reply, con, 400, 'Nothing was done: a denial needs a reason (the requester sees it).', session);
    const outcome = await con.firewall.denyRequest(ref, actorOf(session.account), reason);
    if (outcome.outcome === 'not-found') return sendConsoleError(reply, con, 404, 'There is no request with that reference.', session);
    return reply.redirect(`/admin/requests/${ref}?done=${outcome.outcome === 'denied' ? 'denied' : 'decided'}`, 303);
  });
}
