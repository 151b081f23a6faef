/**
 * NAME
 *   web/pages/home - GET / and GET /lookup?ip=: check an address, "am I blocked?"
 *
 * DESCRIPTION
 *   A form for the address from the bounce (GET, so it works without JavaScript and can be
 *   bookmarked), and the visitor's own address with the caveat that a browser's address is
 *   usually not the mail server's. The visitor's address is fastify's request.ip: the socket's
 *   peer, or the client named by X-Forwarded-For only when the peer is one of
 *   http.trustedProxies (web/limits.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { Portal } from '../context.js';
import { field } from '../fields.js';
import { html } from '../html.js';
import { visitorAddress } from '../limits.js';
import { readIp, sendBadAddress, sendPage } from '../respond.js';

export function homeRoutes(app: FastifyInstance, portal: Portal): void {
  const { t } = portal;
  app.get('/', async (request, reply) => {
    const visitor = readIp(visitorAddress(request));
    const main = html`<p>${t.home.intro}</p>
<form class="inline" method="get" action="/lookup" role="search">
${field({ name: 'ip', label: t.home.label, hint: t.home.hint, required: true, maxLength: 64, autocomplete: 'off' })}
<div><button type="submit">${t.home.submit}</button></div></form>
${visitor.ok && html`<h2>${t.home.yours}: <span class="mono">${visitor.ip}</span></h2>
<p><a href="/ip/${encodeURIComponent(visitor.ip).replace(/%3A/g, ':')}">${t.home.checkYours}</a></p>
<p class="status warn">${t.home.caveat}</p>`}
<h2>${t.home.notAdmin}</h2><p>${t.home.notAdminText}</p>`;
    return sendPage(reply, portal, t.home.title, main);
  });

  app.get<{ Querystring: { ip?: string } }>('/lookup', async (request, reply) => {
    const parsed = readIp(typeof request.query.ip === 'string' ? request.query.ip.trim() : request.query.ip);
    if (!parsed.ok) return sendBadAddress(reply, portal, parsed.why);
    return reply.redirect(`/ip/${encodeURIComponent(parsed.ip).replace(/%3A/g, ':')}`, 303);
  });
}
