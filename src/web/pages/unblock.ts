/**
 * NAME
 *   web/pages/unblock - POST /ip/:ip/unblock: the self-service unblock button
 *
 * DESCRIPTION
 *   The CSRF token is checked first (403 and the form again, nothing done), then the visitor's
 *   `check` budget, then firewall.unblock(ip, { actor: 'self-service', fromIp }), which counts
 *   the firewall's own limits per target address and per requester and runs a fresh check that
 *   bypasses every cache. The page says "cleared, effective now" or names the failing step;
 *   when a limit is hit, 429 with Retry-After and the limits in words.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Portal } from '../context.js';
import { dnsText, html } from '../html.js';
import { duration } from '../layout.js';
import { visitorAddress } from '../limits.js';
import { readIp, retryAfterSeconds, sendBadAddress, sendPage, takeLimit } from '../respond.js';
import { REF_PATTERN } from '../status.js';
import { testPath } from './ip.js';
import { visitorGone } from './test.js';

export function sendCsrfRefused(reply: FastifyReply, portal: Portal, back: string): FastifyReply {
  const { t } = portal;
  return sendPage(reply, portal, t.csrf.title, html`<div class="status warn" role="status"><p>${t.csrf.text}</p></div><p><a class="button" href="${back}">${t.csrf.again}</a></p>`, 403);
}

export function unblockRoutes(app: FastifyInstance, portal: Portal): void {
  app.post<{ Params: { ip: string }; Body: Record<string, string> | undefined }>('/ip/:ip/unblock', async (request, reply) => {
    const { t } = portal;
    const parsed = readIp(request.params.ip);
    if (!parsed.ok) return sendBadAddress(reply, portal, parsed.why);
    const ip = parsed.ip;
    const ipUrl = `/ip/${encodeURIComponent(ip).replace(/%3A/g, ':')}`;
    const ref = request.body?.r;
    const back = typeof ref === 'string' && REF_PATTERN.test(ref) ? `${ipUrl}?r=${ref}` : ipUrl;
    if (!portal.csrf.verify(request, request.body?.csrf)) return sendCsrfRefused(reply, portal, back);
    if (!takeLimit(request, reply, portal, 'check')) return reply;
    const result = await portal.firewall.unblock(ip, { actor: 'self-service', fromIp: visitorAddress(request), signal: visitorGone(reply) });
    const title = t.unblock.title(ip);
    const backLink = html`<p><a class="button secondary" href="${back}">${t.test.back}</a></p>`;
    switch (result.outcome) {
      case 'cleared':
        return sendPage(reply, portal, title, html`<div class="status ok" role="status" id="outcome"><p><strong class="badge">${t.unblock.cleared}</strong></p><p>${t.unblock.clearedRetry}</p></div>${backLink}`);
      case 'still-failing': {
        const temp = result.verdict === 'temperror';
        return sendPage(
          reply,
          portal,
          title,
          html`<div class="status ${temp ? 'warn' : 'bad'}" role="status" id="outcome"><p><strong>${temp ? t.unblock.temporary : t.unblock.stillFailing(dnsText(result.step))}</strong></p>
${!temp && html`<p>${t.unblock.stillFailingNext}</p>`}</div><p><a class="button" href="${testPath(ip)}">${t.ip.verifyButton}</a></p>${backLink}`,
        );
      }
      case 'rate-limited': {
        const seconds = retryAfterSeconds(result.retryAfterMs);
        const fw = portal.config.firewall;
        void reply.header('retry-after', String(seconds));
        return sendPage(
          reply,
          portal,
          t.unblock.limitedTitle,
          html`<div class="status warn" role="status" id="outcome"><p><strong>${t.unblock.limited(seconds)}</strong></p><p>${t.unblock.limitedWhy(fw.unblockPerIpCount, fw.unblockPerRequesterCount, duration(portal, fw.unblockWindowMs))}</p></div>${backLink}`,
          429,
        );
      }
      case 'operator-listed':
        return sendPage(reply, portal, title, html`<div class="status bad" role="status" id="outcome"><p>${t.unblock.operatorListed}</p></div><p><a class="button" href="/contact?ip=${encodeURIComponent(ip)}">${t.nav.contact}</a></p>`);
      case 'not-listed':
        return sendPage(reply, portal, title, html`<div class="status ok" role="status" id="outcome"><p>${t.unblock.notListed}</p></div>${backLink}`);
    }
  });
}
