/**
 * NAME
 *   web/console/pages/messages - contact messages, newest first, searchable
 *
 * SYNOPSIS
 *   GET /admin/messages[?q=&after=]
 *
 * DESCRIPTION
 *   Messages from the portal's contact form (firewall.records.contacts). `q` searches the
 *   sender's address and name, the subject, the text, the address and the reference
 *   (case-insensitive; scan.ts: at most SCAN_BUDGET messages per page of results). A message is
 *   hostile text: escaped, its line breaks kept by CSS, its address shown as text (no mailto
 *   link built from it).
 */
import type { FastifyInstance } from 'fastify';
import { dnsText, html } from '../../html.js';
import { when } from '../../layout.js';
import { freeText, nextLink, readCursor, readQuery } from '../common.js';
import type { Console } from '../context.js';
import { sendConsolePage } from '../layout.js';
import { contains, scan } from '../scan.js';
import { sessionOf } from '../session.js';

const WANT = 25;
const SCAN_BUDGET = 5_000;

export function messageRoutes(app: FastifyInstance, con: Console): void {
  app.get<{ Querystring: { q?: string; after?: string } }>('/messages', async (request, reply) => {
    const session = sessionOf(request);
    const q = readQuery(request.query.q);
    const after = readCursor(request.query.after);
    const found = await scan(
      (limit, cursor) => con.firewall.records.contacts(limit, cursor),
      (m) => q === '' || contains(q, m.email, m.name, m.subject, m.body, m.ip, m.ref),
      { ...(after === undefined ? {} : { after }), want: WANT, budget: SCAN_BUDGET },
    );
    const main = html`<form class="inline filters" method="get" action="/admin/messages" role="search">
<div><label for="f-q">Search the messages</label><input type="text" id="f-q" name="q" value="${q}" maxlength="200"></div>
<div><button type="submit">Search</button></div></form>
${found.cut && html`<p class="hint" role="status">Searched ${found.scanned} messages so far; more may match on the next page.</p>`}
${found.items.length === 0
  ? html`<p id="no-results">No message${q === '' ? '' : ' matches'}.</p>`
  : html`<ol class="messages" id="messages">${found.items.map(
      (m) => html`<li><article class="card"><h2 class="subject">${freeText(m.subject, 300)}</h2>
<dl class="facts"><dt>From</dt><dd>${m.name !== undefined && html`${freeText(m.name, 300)} `}&lt;${dnsText(m.email)}&gt;</dd><dt>When</dt><dd>${when(m.at)}</dd>
${m.ip !== undefined && html`<dt>About</dt><dd class="mono">${dnsText(m.ip, 64)}</dd>`}${m.ref !== undefined && html`<dt>Reference</dt><dd class="mono">${dnsText(m.ref, 20)}</dd>`}</dl>
<div class="note">${freeText(m.body)}</div></article></li>`,
    )}</ol>`}
${nextLink('/admin/messages', { q }, found.next)}`;
    return sendConsolePage(reply, con, { title: 'Contact messages', main, session, current: 'messages' });
  });
}
