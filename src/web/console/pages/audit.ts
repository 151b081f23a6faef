/**
 * NAME
 *   web/console/pages/audit - the audit log, newest first, searchable
 *
 * SYNOPSIS
 *   GET /admin/audit[?actor=&action=&target=&q=&after=]
 *
 * DESCRIPTION
 *   firewall.records.audit with the store's exact filters (actor such as `operator:alice`,
 *   action such as CLEAR, target: an address, range or reference), and `q` a case-insensitive
 *   search of every field, detail included (scan.ts). Every console action is here with its
 *   account (`operator:<name>`), as are the CLI's, the API's, self-service and the firewall's own
 *   (re-check, expiry).
 */
import type { FastifyInstance } from 'fastify';
import type { AuditFilter } from '../../../store/types.js';
import { dnsText, html } from '../../html.js';
import { when } from '../../layout.js';
import { freeText, nextLink, readCursor, readQuery } from '../common.js';
import type { Console } from '../context.js';
import { sendConsolePage } from '../layout.js';
import { contains, scan } from '../scan.js';
import { sessionOf } from '../session.js';

const WANT = 50;
const SCAN_BUDGET = 10_000;
const FILTER_MAX_CHARS = 128;

function exact(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, FILTER_MAX_CHARS) : '';
}

export function auditRoutes(app: FastifyInstance, con: Console): void {
  app.get<{ Querystring: { actor?: string; action?: string; target?: string; q?: string; after?: string } }>('/audit', async (request, reply) => {
    const session = sessionOf(request);
    const actor = exact(request.query.actor);
    const action = exact(request.query.action).toUpperCase();
    const target = exact(request.query.target);
    const q = readQuery(request.query.q);
    const after = readCursor(request.query.after);
    const base: AuditFilter = { ...(actor === '' ? {} : { actor }), ...(action === '' ? {} : { action }), ...(target === '' ? {} : { target }) };
    const found = await scan(
      (limit, cursor) => con.firewall.records.audit({ ...base, limit, ...(cursor === undefined ? {} : { after: cursor }) }),
      (a) => q === '' || contains(q, a.actor, a.action, a.target, a.detail),
      { ...(after === undefined ? {} : { after }), want: WANT, budget: SCAN_BUDGET },
    );
    const input = (name: string, label: string, value: string, hint: string) =>
      html`<div><label for="f-${name}">${label}</label><span class="hint" id="f-${name}-hint">${hint}</span><input type="text" id="f-${name}" name="${name}" value="${value}" maxlength="${FILTER_MAX_CHARS}" aria-describedby="f-${name}-hint"></div>`;
    const main = html`<form class="inline filters" method="get" action="/admin/audit" role="search">
${input('actor', 'Who', actor, 'exactly, e.g. operator:alice')}${input('action', 'Action', action, 'e.g. CLEAR, ALLOW-ADD')}${input('target', 'Target', target, 'an address, range or reference')}${input('q', 'Text', q, 'anywhere, detail included')}
<div><button type="submit">Search</button></div></form>
${found.cut && html`<p class="hint" role="status">Searched ${found.scanned} entries so far; more may match on the next page.</p>`}
${found.items.length === 0
  ? html`<p id="no-results">No entry matches.</p>`
  : html`<div class="table-wrap"><table id="audit"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Detail</th></tr></thead><tbody>${found.items.map(
      (a) => html`<tr><td>${when(a.at)}</td><td>${dnsText(a.actor, 80)}</td><td>${dnsText(a.action, 40)}</td><td class="mono">${dnsText(a.target, 120)}</td><td class="note">${freeText(a.detail ?? '')}</td></tr>`,
    )}</tbody></table></div>`}
${nextLink('/admin/audit', { actor, action, target, q }, found.next)}`;
    return sendConsolePage(reply, con, { title: 'Audit log', main, session, current: 'audit' });
  });
}
