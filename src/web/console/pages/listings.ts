/**
 * NAME
 *   web/console/pages/listings - search listings, one listing's page, clear or list by hand
 *
 * SYNOPSIS
 *   GET  /admin/listings[?q=IP|CIDR&state=&reason=&after=]    search, filter, paginate
 *   POST /admin/listings                                      list an address by hand (ip, note)
 *   GET  /admin/listings/:ip                                  the listing, its evidence, its history
 *   POST /admin/listings/:ip/clear                            clear it, with a note
 *   POST /admin/listings/:ip/list                             list it by hand, with a note
 *
 * DESCRIPTION
 *   Reads through firewall.records.listings (the store's filter: state, range, reason, a cursor)
 *   and records.audit (the history: every audit entry whose target is the address). Actions
 *   through firewall.clear / firewall.list with the actor `operator:<account>`: each is one
 *   store write with its audit entry, in force on this node at once.
 *
 *   Evidence holds what the client sent (HELO, sender, recipient) and what DNS said (PTR
 *   names): all of it hostile, shown through dnsText (visible escapes) and html escaping.
 */
import type { FastifyInstance } from 'fastify';
import { isAddressOrRange } from '../../../config/sections/http.js';
import type { Evidence, Listing, ListingFilter, ListingState } from '../../../store/types.js';
import { dnsText, html, type Html } from '../../html.js';
import { when } from '../../layout.js';
import { readIp } from '../../respond.js';
import { csrfField, freeText, ipPath, nextLink, optionalTime, readCursor, readNote, readQuery } from '../common.js';
import { actorOf, type Console } from '../context.js';
import { flash, sendConsoleError, sendConsolePage } from '../layout.js';
import { sessionOf } from '../session.js';

const PAGE_SIZE = 50;
const HISTORY_SIZE = 100;
const STATES: readonly ListingState[] = ['active', 'cleared', 'expired'];
export const LISTING_REASONS: Readonly<Record<string, string>> = {
  'no-ptr': 'No PTR record',
  'no-valid-ptr': 'No usable PTR name',
  'no-forward-match': 'PTR names resolve elsewhere',
  'forward-nodata': 'PTR names have no address of this family',
  manual: 'Listed by hand',
};

type Query = { q?: string; state?: string; reason?: string; after?: string; done?: string };

function select(name: string, label: string, options: readonly (readonly [string, string])[], chosen: string): Html {
  return html`<div><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}">${options.map(
    ([value, text]) => html`<option value="${value}"${value === chosen && html` selected`}>${text}</option>`,
  )}</select></div>`;
}

function evidenceFacts(e: Evidence): Html {
  return html`<dl class="facts">
<dt>Reference</dt><dd class="mono">${e.ref}</dd><dt>When</dt><dd>${when(e.at)}</dd><dt>Front</dt><dd>${e.front}</dd>
<dt>Verdict</dt><dd>${e.verdict} (${e.reason})</dd>
${e.helo !== undefined && html`<dt>HELO</dt><dd class="mono">${dnsText(e.helo)}</dd>`}
${e.sender !== undefined && html`<dt>Sender</dt><dd class="mono">${dnsText(e.sender)}</dd>`}
${e.recipient !== undefined && html`<dt>Recipient</dt><dd class="mono">${dnsText(e.recipient)}</dd>`}
${e.reply !== undefined && html`<dt>Reply given</dt><dd class="mono">${dnsText(e.reply, 600)}</dd>`}
${e.names !== undefined && html`<dt>PTR names</dt><dd>${e.names.length === 0 ? 'none' : html`<ul class="plain">${e.names.map((n) => html`<li class="mono">${dnsText(n)}</li>`)}</ul>`}</dd>`}
</dl>`;
}

function row(l: Listing): Html {
  return html`<tr><th scope="row" class="mono"><a href="${ipPath(l.ip)}">${l.ip}</a></th><td>${l.state}</td><td>${LISTING_REASONS[l.reason] ?? l.reason}</td><td>${when(l.listedAt)}</td><td>${dnsText(l.listedBy, 80)}</td><td>${l.rejectCount}</td><td>${when(l.lastRejectAt)}</td></tr>`;
}

export function listingRoutes(app: FastifyInstance, con: Console): void {
  app.get<{ Querystring: Query }>('/listings', async (request, reply) => {
    const session = sessionOf(request);
    const q = readQuery(request.query.q);
    const state = typeof request.query.state === 'string' && (STATES as readonly string[]).concat('any').includes(request.query.state) ? request.query.state : 'active';
    const reason = typeof request.query.reason === 'string' && request.query.reason in LISTING_REASONS ? request.query.reason : '';
    const after = readCursor(request.query.after);
    const badQuery = q !== '' && !isAddressOrRange(q);
    const filter: ListingFilter = {
      limit: PAGE_SIZE,
      ...(state === 'any' ? {} : { state: state as ListingState }),
      ...(q === '' || badQuery ? {} : { within: q }),
      ...(reason === '' ? {} : { reason: reason as Listing['reason'] }),
      ...(after === undefined ? {} : { after }),
    };
    const page = badQuery ? { items: [] as readonly Listing[] } : await con.firewall.records.listings(filter);
    const main = html`${flash(request.query.done)}
<form class="inline filters" method="get" action="/admin/listings" role="search">
<div><label for="f-q">Address or range</label><input type="text" id="f-q" name="q" value="${q}" maxlength="64"${badQuery && html` aria-invalid="true" aria-describedby="f-q-error"`}></div>
${select('state', 'State', [['active', 'In force'], ['cleared', 'Cleared'], ['expired', 'Expired'], ['any', 'Any']], state)}
${select('reason', 'Reason', [['', 'Any reason'], ...Object.entries(LISTING_REASONS)], reason)}
<div><button type="submit">Search</button></div>
</form>
${badQuery && html`<p class="error-text" id="f-q-error" role="alert">Enter an IPv4 or IPv6 address or a CIDR range, such as 192.0.2.0/24.</p>`}
<h2>Listings</h2>
${page.items.length === 0
  ? html`<p id="no-results">No listing matches.</p>`
  : html`<div class="table-wrap"><table id="listings"><thead><tr><th scope="col">Address</th><th scope="col">State</th><th scope="col">Reason</th><th scope="col">Listed</th><th scope="col">By</th><th scope="col">Refusals</th><th scope="col">Last refusal</th></tr></thead><tbody>${page.items.map(row)}</tbody></table></div>`}
${nextLink('/admin/listings', { q, state, reason }, page.next)}
<h2>List an address by hand</h2>
<form class="stack" method="post" action="/admin/listings">${csrfField(session)}
<div><label for="f-ip">Address</label><input type="text" id="f-ip" name="ip" required maxlength="64"></div>
<div><label for="f-note">Note</label><span class="hint" id="f-note-hint">Why; kept with the listing and in the audit log.</span><textarea id="f-note" name="note" maxlength="1000" aria-describedby="f-note-hint"></textarea></div>
<div><button type="submit">List this address</button></div></form>`;
    return sendConsolePage(reply, con, { title: 'Listings', main, session, current: 'listings', status: badQuery ? 400 : 200 });
  });

  app.post<{ Body: Record<string, string> | undefined }>('/listings', async (request, reply) => {
    const session = sessionOf(request);
    const parsed = readIp(request.body?.ip?.trim());
    if (!parsed.ok) return sendConsoleError(reply, con, 400, `That is not an address: ${parsed.why}`, session);
    await con.firewall.list(parsed.ip, readNote(request.body?.note), actorOf(session.account));
    return reply.redirect(`${ipPath(parsed.ip)}?done=listed`, 303);
  });

  app.get<{ Params: { ip: string }; Querystring: Query }>('/listings/:ip', async (request, reply) => {
    const session = sessionOf(request);
    const parsed = readIp(request.params.ip);
    if (!parsed.ok) return sendConsoleError(reply, con, 400, `That is not an address: ${parsed.why}`, session);
    const ip = parsed.ip;
    const [listing, history] = await Promise.all([con.firewall.records.listing(ip), con.firewall.records.audit({ target: ip, limit: HISTORY_SIZE })]);
    const active = listing?.state === 'active';
    const path = ipPath(ip);
    const facts =
      listing === undefined
        ? html`<p id="listing-state">This address has never been listed.</p>`
        : html`<dl class="facts" id="listing-facts">
<dt>State</dt><dd id="listing-state"><strong>${active ? 'In force: refused' : listing.state}</strong></dd>
<dt>Reason</dt><dd>${LISTING_REASONS[listing.reason] ?? listing.reason} (${listing.verdict})</dd>
<dt>Listed</dt><dd>${when(listing.listedAt)} by ${dnsText(listing.listedBy, 80)}</dd>
<dt>Refusals</dt><dd>${listing.rejectCount}, the last ${when(listing.lastRejectAt)}</dd>
${active && html`<dt>Next re-check</dt><dd>${listing.verdict === 'manual' ? 'never (listed by hand)' : when(listing.recheckDueAt)}</dd>`}
${listing.note !== undefined && listing.note !== '' && html`<dt>Note</dt><dd class="note">${freeText(listing.note)}</dd>`}
${listing.clearedAt !== undefined && html`<dt>Ended</dt><dd>${optionalTime(listing.clearedAt, when)}${listing.clearedBy !== undefined && html` by ${dnsText(listing.clearedBy, 80)}`}${listing.clearCause !== undefined && html` (${listing.clearCause})`}</dd>`}
</dl>`;
    const action = active
      ? html`<h2>Clear this listing</h2><form class="stack" method="post" action="${path}/clear">${csrfField(session)}
<div><label for="f-note">Note</label><span class="hint" id="f-note-hint">Why it is cleared; kept in the audit log.</span><textarea id="f-note" name="note" maxlength="1000" aria-describedby="f-note-hint"></textarea></div>
<div><button type="submit">Clear the listing</button></div></form>
<p class="hint">If its DNS still fails, the next connection lists it again: to let it in regardless, add it to the <a href="/admin/allowlist">allowlist</a>.</p>`
      : html`<h2>List this address by hand</h2><form class="stack" method="post" action="${path}/list">${csrfField(session)}
<div><label for="f-note">Note</label><span class="hint" id="f-note-hint">Why; kept with the listing and in the audit log.</span><textarea id="f-note" name="note" maxlength="1000" aria-describedby="f-note-hint"></textarea></div>
<div><button type="submit">List this address</button></div></form>`;
    const main = html`${flash(request.query.done)}${facts}
${listing !== undefined && html`<h2>Evidence</h2><h3>When it was listed</h3>${evidenceFacts(listing.firstEvidence)}${listing.latestEvidence.ref !== listing.firstEvidence.ref && html`<h3>The latest refusal</h3>${evidenceFacts(listing.latestEvidence)}`}`}
${action}
<h2>History</h2>
${history.items.length === 0
  ? html`<p>No audit entry names this address.</p>`
  : html`<div class="table-wrap"><table id="history"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Detail</th></tr></thead><tbody>${history.items.map(
      (a) => html`<tr><td>${when(a.at)}</td><td>${dnsText(a.actor, 80)}</td><td>${a.action}</td><td class="note">${freeText(a.detail ?? '')}</td></tr>`,
    )}</tbody></table></div>`}
<p><a href="/ip/${ip}">The public page of this address</a> · <a href="/admin/listings">All listings</a></p>`;
    return sendConsolePage(reply, con, { title: `Address ${ip}`, main, session, current: 'listings' });
  });

  app.post<{ Params: { ip: string }; Body: Record<string, string> | undefined }>('/listings/:ip/clear', async (request, reply) => {
    const session = sessionOf(request);
    const parsed = readIp(request.params.ip);
    if (!parsed.ok) return sendConsoleError(reply, con, 400, `That is not an address: ${parsed.why}`, session);
    const cleared = await con.firewall.clear(parsed.ip, readNote(request.body?.note), actorOf(session.account));
    return reply.redirect(`${ipPath(parsed.ip)}?done=${cleared === undefined ? 'not-listed' : 'cleared'}`, 303);
  });

  app.post<{ Params: { ip: string }; Body: Record<string, string> | undefined }>('/listings/:ip/list', async (request, reply) => {
    const session = sessionOf(request);
    const parsed = readIp(request.params.ip);
    if (!parsed.ok) return sendConsoleError(reply, con, 400, `That is not an address: ${parsed.why}`, session);
    await con.firewall.list(parsed.ip, readNote(request.body?.note), actorOf(session.account));
    return reply.redirect(`${ipPath(parsed.ip)}?done=listed`, 303);
  });
}
