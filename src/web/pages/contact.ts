/**
 * NAME
 *   web/pages/contact - GET/POST /contact: a message to the operator
 *
 * DESCRIPTION
 *   The form works for people whose mail is refused (PRODUCT.md §5, portals.md e6.21): the
 *   message goes to the store through firewall.contact (with its audit entry) and reaches the
 *   operator's console and CLI, never through the mail path this gateway filters. CSRF and the
 *   visitor's `form` budget as for whitelist requests.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isReference } from '../../firewall/index.js';
import type { Portal } from '../context.js';
import { field } from '../fields.js';
import { fieldErrors } from '../forms.js';
import { html } from '../html.js';
import { readIp, sendPage, takeLimit } from '../respond.js';
import { sendCsrfRefused } from './unblock.js';
import { FIELD_MAX_CHARS, TEXT_MAX_CHARS } from './whitelist.js';

export const contactSchema = z.object({
  email: z.email('Enter an e-mail address.').max(FIELD_MAX_CHARS),
  name: z.string().trim().max(FIELD_MAX_CHARS),
  subject: z.string().trim().min(1, 'Enter a subject.').max(FIELD_MAX_CHARS),
  body: z.string().trim().min(1, 'Enter a message.').max(TEXT_MAX_CHARS),
  ip: z.union([z.literal(''), z.string().trim().refine((s) => readIp(s).ok, 'Enter an IPv4 or IPv6 address, or leave it empty.')]),
  ref: z.union([z.literal(''), z.string().trim().toUpperCase().refine(isReference, 'A reference has 8 letters and digits.')]),
});

type Values = Partial<Record<'email' | 'name' | 'subject' | 'body' | 'ip' | 'ref', string>>;

function form(portal: Portal, token: string, values: Values, errors: Record<string, string>): ReturnType<typeof html> {
  const { t } = portal;
  const mail = portal.config.portal.contactEmail;
  return html`<p>${t.contact.lead}</p><p>${t.contact.orMail} <a href="mailto:${mail}">${mail}</a>.</p>
${Object.keys(errors).length > 0 && html`<div class="status bad" role="alert"><p>${t.whitelist.invalid}</p></div>`}
<form class="stack" method="post" action="/contact" novalidate>
<input type="hidden" name="csrf" value="${token}">
${field({ name: 'email', label: t.contact.email, value: values.email, error: errors.email, type: 'email', required: true, autocomplete: 'email', maxLength: FIELD_MAX_CHARS })}
${field({ name: 'name', label: t.contact.name, value: values.name, error: errors.name, autocomplete: 'name', maxLength: FIELD_MAX_CHARS })}
${field({ name: 'ip', label: t.contact.ip, value: values.ip, error: errors.ip, maxLength: 64 })}
${field({ name: 'ref', label: t.contact.ref, value: values.ref, error: errors.ref, maxLength: 16 })}
${field({ name: 'subject', label: t.contact.subject, value: values.subject, error: errors.subject, required: true, maxLength: FIELD_MAX_CHARS })}
${field({ name: 'body', label: t.contact.body, value: values.body, error: errors.body, required: true, multiline: true, maxLength: TEXT_MAX_CHARS })}
<div><button type="submit">${t.contact.submit}</button></div>
</form>`;
}

export function contactRoutes(app: FastifyInstance, portal: Portal): void {
  const { t } = portal;
  app.get<{ Querystring: { ip?: string; r?: string } }>('/contact', async (request, reply) => {
    const { token, cookie } = portal.csrf.issue(request);
    if (cookie !== undefined) void reply.header('set-cookie', cookie);
    const ip = readIp(request.query.ip);
    const ref = typeof request.query.r === 'string' ? request.query.r.toUpperCase() : '';
    return sendPage(reply, portal, t.contact.title, form(portal, token, { ...(ip.ok ? { ip: ip.ip } : {}), ...(isReference(ref) ? { ref } : {}) }, {}));
  });

  app.post<{ Body: Record<string, string> | undefined }>('/contact', async (request, reply) => {
    const body = request.body ?? {};
    if (!portal.csrf.verify(request, body.csrf)) return sendCsrfRefused(reply, portal, '/contact');
    if (!takeLimit(request, reply, portal, 'form')) return reply;
    const input = { email: body.email ?? '', name: body.name ?? '', subject: body.subject ?? '', body: body.body ?? '', ip: body.ip ?? '', ref: body.ref ?? '' };
    const parsed = contactSchema.safeParse(input);
    if (!parsed.success) {
      const { token } = portal.csrf.issue(request);
      return sendPage(reply, portal, t.contact.title, form(portal, token, input, fieldErrors(parsed.error.issues)), 400);
    }
    const v = parsed.data;
    const ip = readIp(v.ip);
    await portal.firewall.contact({
      email: v.email,
      subject: v.subject,
      body: v.body,
      ...(v.name === '' ? {} : { name: v.name }),
      ...(ip.ok ? { ip: ip.ip } : {}),
      ...(v.ref === '' ? {} : { ref: v.ref }),
    });
    return sendPage(reply, portal, t.contact.sentTitle, html`<div class="status ok" role="status"><p>${t.contact.sent}</p></div>`, 201);
  });
}
