/**
 * NAME
 *   web/pages/test - GET /test/:ip (and GET /test?ip= from a form): the live FCrDNS test
 *
 * DESCRIPTION
 *   firewall.test(): a fresh check bypassing every BlockSmith cache, every PTR name evaluated,
 *   the raw exchanges kept; it changes nothing. Shown: the verdict and reason in plain words,
 *   the SMTP reply this node's policy would give (firewall/policy.ts and reply.ts, the one
 *   place verdicts become replies), the generic-name warning and the other flags, how long
 *   caches may keep the old answer, the reverse zone's owner (SOA of a negative answer), then
 *   the trace step by step (web/trace.ts).
 *
 *   Only an IP address is accepted. Reserved and internal targets (web/ranges.ts; unless
 *   portal.testReservedTargets) and this node's bypass ranges are refused with 422 and no DNS work. Limited per visitor as `check`;
 *   the check stops when the visitor goes away, and in any case at check.deadlineMs.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { CheckResult } from '../../check/types.js';
import { buildReply, portalLink, replyLine, ruleFor } from '../../firewall/index.js';
import type { Portal } from '../context.js';
import { fixFor, soaFromExchanges } from '../fix.js';
import { dnsText, html, type Html } from '../html.js';
import { readIp, sendBadAddress, sendError, sendPage, takeLimit } from '../respond.js';
import { normaliseAddress } from '../../check/address.js';
import { isReservedTarget } from '../../fronts/reserved-targets.js';
import { cacheSeconds, renderTrace } from '../trace.js';
import { testPath } from './ip.js';

/** An AbortSignal that fires when the visitor disconnects before the answer is sent. */
export function visitorGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** wouldReply - the reply lines this node would send for this result, or undefined for accept. */
export function wouldReplyLines(portal: Portal, result: CheckResult): readonly string[] | undefined {
  const config = portal.config.firewall;
  const rule = ruleFor(config, result.verdict);
  if (rule.action === 'accept') return undefined;
  const url = portalLink(config.portalUrl, result.ip, '').replace(/\?r=$/, '');
  const reply = buildReply({
    kind: rule.kind,
    ip: result.ip,
    family: result.family,
    reason: result.reason,
    url,
    organisation: config.organisation.name,
    nameMaxChars: config.replyNameMaxChars,
    ...(result.names[0] === undefined ? {} : { name: result.names[0] }),
  });
  return reply.lines.map((_, i) => replyLine(reply, i));
}

function flagsList(portal: Portal, result: CheckResult): Html | undefined {
  const { t } = portal;
  const items: string[] = [];
  for (const key of ['aliasTarget', 'underscore', 'ptrViaCname', 'multiDomain', 'truncated'] as const) if (result.flags[key]) items.push(t.test.flags[key]);
  return items.length === 0 ? undefined : html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`;
}

export function renderTestPage(portal: Portal, result: CheckResult, allowRange: string | undefined): Html {
  const { t } = portal;
  const ok = result.verdict === 'pass' || result.verdict === 'skipped';
  const temp = result.verdict === 'temperror';
  const lines = allowRange === undefined ? wouldReplyLines(portal, result) : undefined;
  const cache = cacheSeconds(result);
  const ptrStep = result.trace.find((s) => s.step === 'ptr');
  const owner = ptrStep?.step === 'ptr' ? soaFromExchanges(ptrStep.exchanges) : undefined;
  const fix = ok || temp ? undefined : fixFor(result.ip, result.family, result.reason === 'no-ptr' || result.reason === 'no-valid-ptr' ? [] : result.names, t.ip.fixPlaceholder, owner);
  const g = result.genericEvidence;
  return html`<p>${t.test.lead}</p>
<div class="status ${ok ? 'ok' : temp ? 'warn' : 'bad'}" role="status" id="verdict"><p><strong class="badge">${t.test.verdicts[result.verdict]}</strong></p><p>${t.test.reasons[result.reason]}</p>
${result.confirmed.length > 0 && html`<p class="mono">${result.confirmed.map((n, i) => html`${i > 0 && ', '}${dnsText(n)}`)}</p>`}
${allowRange !== undefined && html`<p>${t.test.allowlisted(allowRange)}</p>`}</div>
<h2>${t.test.reply}</h2>
${lines === undefined ? html`<p>${t.test.replyAccept}</p>` : html`<pre>${lines.join('\n')}</pre><p class="hint">${t.test.replyNoRef}</p>`}
${g.level !== 'none' && html`<div class="status warn"><h2>${t.test.genericTitle}</h2><p>${t.test.genericText}</p><p class="mono">${g.name !== undefined && dnsText(g.name)}: ${g.evidence.map((e, i) => html`${i > 0 && '; '}${dnsText(e)}`)}</p></div>`}
${flagsList(portal, result)}
${fix !== undefined && html`<h2>${t.ip.fixTitle}</h2><p>${t.ip.fixPtr(dnsText(fix.zone))}</p><pre>${dnsText(fix.ptrLine, 600)}</pre><p>${t.ip.fixForward(fix.recordType)}</p><pre>${dnsText(fix.forwardLine, 600)}</pre>
${owner === undefined ? html`<p>${t.ip.fixWhoPtrText}</p>` : html`<p>${t.ip.fixSoa(dnsText(owner.zone), dnsText(owner.server))} ${owner.mail !== undefined && t.ip.fixSoaMail(dnsText(owner.mail))}</p>`}`}
<h2>${t.test.cacheTitle}</h2>
${cache.negative !== undefined && html`<p>${t.test.cacheNegative(cache.negative)}</p>`}
${cache.positive !== undefined && html`<p>${t.test.cachePositive(cache.positive)}</p>`}
<p>${t.test.cacheOurs}</p>
<h2>${t.test.steps}</h2>
${renderTrace(portal, result)}
<p class="hint">${t.test.duration(Math.round(result.durationMs))}</p>
<p><a class="button" href="${testPath(result.ip)}">${t.test.again}</a> <a class="button secondary" href="/ip/${encodeURIComponent(result.ip).replace(/%3A/g, ':')}">${t.test.back}</a></p>`;
}

export function testRoutes(app: FastifyInstance, portal: Portal): void {
  app.get<{ Querystring: { ip?: string } }>('/test', async (request, reply) => {
    const parsed = readIp(request.query.ip);
    if (!parsed.ok) return sendBadAddress(reply, portal, parsed.why);
    return reply.redirect(testPath(parsed.ip), 303);
  });

  app.get<{ Params: { ip: string } }>('/test/:ip', async (request, reply) => {
    const { t } = portal;
    const parsed = readIp(request.params.ip);
    if (!parsed.ok) return sendBadAddress(reply, portal, parsed.why);
    if (!portal.config.portal.testReservedTargets && isReservedTarget(parsed.ip)) return sendError(reply, portal, 422, t.test.reserved(parsed.ip));
    // From the firewall's memory, as its decisions see it (bypass ranges as reloaded, allow entries).
    const exemption = portal.firewall.exemption(normaliseAddress(parsed.ip));
    if (exemption?.kind === 'bypass') return sendError(reply, portal, 422, t.test.bypassedTarget(parsed.ip, exemption.range));
    if (!takeLimit(request, reply, portal, 'check')) return reply;
    const result = await portal.firewall.test(parsed.ip, { signal: visitorGone(reply) });
    const allowRange = exemption?.kind === 'allowlist' ? exemption.range : undefined;
    return sendPage(reply, portal, t.test.title(parsed.ip), renderTestPage(portal, result, allowRange));
  });
}
