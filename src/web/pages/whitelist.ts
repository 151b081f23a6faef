/**
 * NAME
 *   web/pages/whitelist - whitelist requests: the form, the post, the status by reference
 *
 * SYNOPSIS
 *   GET  /whitelist[?ip=&r=]          the form (prefilled from the address page) and a status look-up
 *   POST /whitelist                   CSRF, the visitor's `form` budget, validation, then 303 to the status
 *   GET  /whitelist/status?ref=       303 to /whitelist/:ref
 *   GET  /whitelist/:ref              the state as the requester may see it (and the reason when denied)
 *
 * DESCRIPTION
 *   A request is structured (PRODUCT.md §5): the address or range, the sending domain, a
 *   contact address, the rejection reference, why DNS cannot be fixed. firewall.requestWhitelist
 *   stores it with its audit entry and the visitor's address (for abuse handling, never shown).
 *   The status page shows the state, range, domain and dates; never the contact or the text.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isAddressOrRange } from '../../config/sections/http.js';
import { isReference } from '../../firewall/index.js';
import type { Portal } from '../context.js';
import { field } from '../fields.js';
import { fieldErrors } from '../forms.js';
import { html } from '../html.js';
import { when } from '../layout.js';
import { visitorAddress } from '../limits.js';
import { sendError, sendPage, takeLimit } from '../respond.js';
import { sendCsrfRefused } from './unblock.js';

export const FIELD_MAX_CHARS = 254;
export const TEXT_MAX_CHARS = 4_000;

const domain = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;

export const requestSchema = z.object({
  range: z.string().trim().max(64).refine(isAddressOrRange, 'Enter an IPv4 or IPv6 address or a CIDR range.'),
  domain: z.string().trim().regex(domain, 'Enter a domain name such as example.com.'),
  contact: z.email('Enter an e-mail address.').max(FIELD_MAX_CHARS),
  why: z.string().trim().min(1, 'Please say why the DNS cannot be fixed.').max(TEXT_MAX_CHARS),
  r: z.union([z.literal(''), z.string().trim().toUpperCase().refine(isReference, 'A reference has 8 letters and digits, as in the rejection link.')]),
});

type Values = Partial<Record<'range' | 'domain' | 'contact' | 'why' | 'r', string>>;

function form(portal: Portal, token: string, values: Values, errors: Record<string, string>): ReturnType<typeof html> {
  const { t } = portal;
  return html`<p>${t.whitelist.lead}</p><p><strong>${t.whitelist.first}</strong></p>
${Object.keys(errors).length > 0 && html`<div class="status bad" role="alert"><p>${t.whitelist.invalid}</p></div>`}
<form class="stack" method="post" action="/whitelist" novalidate>
<input type="hidden" name="csrf" value="${token}">
${field({ name: 'range', label: t.whitelist.range, hint: t.whitelist.rangeHint, value: values.range, error: errors.range, required: true, maxLength: 64 })}
${field({ name: 'domain', label: t.whitelist.domain, value: values.domain, error: errors.domain, required: true, maxLength: 253 })}
${field({ name: 'contact', label: t.whitelist.contact, hint: t.whitelist.contactHint, value: values.contact, error: errors.contact, type: 'email', required: true, autocomplete: 'email', maxLength: FIELD_MAX_CHARS })}
${field({ name: 'r', label: t.whitelist.ref, hint: t.whitelist.refHint, value: values.r, error: errors.r, maxLength: 16 })}
${field({ name: 'why', label: t.whitelist.why, value: values.why, error: errors.why, required: true, multiline: true, maxLength: TEXT_MAX_CHARS })}
<div><button type="submit">${t.whitelist.submit}</button></div>
</form>
<h2>${t.whitelist.statusTitle}</h2>
<form class="inline" method="get" action="/whitelist/status">${field({ name: 'ref', label: t.whitelist.statusLabel, maxLength: 16 })}<div><button type="submit" class="secondary">${t.whitelist.statusSubmit}</button></div></form>`;
}

export function whitelistRoutes(app: FastifyInstance, portal: Portal): void {
  const { t } = portal;

  app.get<{ Querystring: { ip?: string; r?: string } }>('/whitelist', async (request, reply) => {
    const { token, cookie } = portal.csrf.issue(request);
    if (cookie !== undefined) void reply.header('set-cookie', cookie);
    const values: Values = {
      ...(typeof request.query.ip === 'string' && isAddressOrRange(request.query.ip) ? { range: request.query.ip } : {}),
      ...(typeof request.query.r === 'string' && isReference(request.query.r.toUpperCase()) ? { r: request.query.r.toUpperCase() } : {}),
    };
    return sendPage(reply, portal, t.whitelist.title, form(portal, token, values, {}));
  });

  app.post<{ Body: Record<string, string> | undefined }>('/whitelist', async (request, reply) => {
    const body = request.body ?? {};
    if (!portal.csrf.verify(request, body.csrf)) return sendCsrfRefused(reply, portal, '/whitelist');
    if (!takeLimit(request, reply, portal, 'form')) return reply;
    const parsed = requestSchema.safeParse({ range: body.range ?? '', domain: body.domain ?? '', contact: body.contact ?? '', why: body.why ?? '', r: body.r ?? '' });
    if (!parsed.success) {
      const { token } = portal.csrf.issue(request);
      const values: Values = { range: body.range, domain: body.domain, contact: body.contact, why: body.why, r: body.r };
      return sendPage(reply, portal, t.whitelist.title, form(portal, token, values, fieldErrors(parsed.error.issues)), 400);
    }
    const v = parsed.data;
    const created = await portal.firewall.requestWhitelist({
      range: v.range,
      domain: v.domain,
      contact: v.contact,
      why: v.why,
      fromIp: visitorAddress(request),
      ...(v.r === '' ? {} : { rejectionRef: v.r }),
    });
    return reply.redirect(`/whitelist/${created.ref}?new=1`, 303);
  });

  app.get<{ Querystring: { ref?: string } }>('/whitelist/status', async (request, reply) => {
    const ref = typeof request.query.ref === 'string' ? request.query.ref.trim().toUpperCase() : '';
    if (!isReference(ref)) return sendError(reply, portal, 400, t.whitelist.notFound(ref.slice(0, 16)));
    return reply.redirect(`/whitelist/${ref}`, 303);
  });

  app.get<{ Params: { ref: string }; Querystring: { new?: string } }>('/whitelist/:ref', async (request, reply) => {
    if (!takeLimit(request, reply, portal, 'read')) return reply;
    const ref = request.params.ref.toUpperCase();
    const found = isReference(ref) ? await portal.firewall.records.request(ref) : undefined;
    if (found === undefined) return sendError(reply, portal, 404, t.whitelist.notFound(ref.slice(0, 16)));
    const fresh = request.query.new === '1';
    return sendPage(
      reply,
      portal,
      fresh ? t.whitelist.sentTitle : t.whitelist.statusTitle,
      html`${fresh && html`<div class="status ok" role="status"><p>${t.whitelist.sent(found.ref)}</p></div>`}
<dl class="facts" id="request-status"><dt>${t.whitelist.statusLabel}</dt><dd class="mono">${found.ref}</dd>
<dt>${t.whitelist.range}</dt><dd class="mono">${found.range}</dd><dt>${t.whitelist.domain}</dt><dd>${found.domain}</dd>
<dt>${t.whitelist.created}</dt><dd>${when(found.createdAt)}</dd>
<dt>${t.whitelist.state}</dt><dd><strong data-state="${found.state}">${t.whitelist.states[found.state] ?? found.state}</strong></dd>
${found.decidedAt !== undefined && html`<dt>${t.whitelist.decided}</dt><dd>${when(found.decidedAt)}</dd>`}
${found.state === 'denied' && found.decisionReason !== undefined && html`<dt>${t.whitelist.deniedWhy}</dt><dd>${found.decisionReason}</dd>`}</dl>`,
    );
  });
}
