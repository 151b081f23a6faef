/**
 * NAME
 *   web/pages/ip - GET /ip/:ip[?r=REF]: where the link in a rejection lands
 *
 * DESCRIPTION
 *   In order: refused now or not (and the reference from the bounce, highlighted); since when,
 *   why, the last rejection; what FCrDNS is and that this is a DNS rule, not a spam accusation;
 *   Fix (the records written out for this address, who controls the reverse zone); Verify (the
 *   live test); Unblock (a POST form with a CSRF token); Can't fix it (the whitelist request);
 *   Not the administrator (a message to forward, with a copy button that appears only with
 *   JavaScript; the text is selectable in its box without).
 *
 *   Costs: store reads only (the listing and the reference's evidence, each kept for a second by
 *   web/reads.ts; allow entries from the firewall's memory); no DNS. Limited per visitor as a
 *   `read`.
 *
 *   The rendered page is kept (PAGE_MEMO_COUNT pages, the oldest goes first) under a key made of
 *   everything it shows: the address, the reference, the identity of the listing and evidence
 *   objects read (web/reads.ts hands out the same object while its copy is used, a new one after
 *   any change), every field of the status and the re-check wait in words. The CSRF token is the
 *   one part that differs per view: the kept page has a slot where it goes (TOKEN_SLOT, markup
 *   that escaped data can never spell, since escaping turns every '<' of data into &lt;).
 */
import type { FastifyInstance } from 'fastify';
import type { Portal } from '../context.js';
import { fixFor, soaFromTrace } from '../fix.js';
import { dnsText, html, trustedHtml, type Html } from '../html.js';
import { duration, renderPage, utcText, when } from '../layout.js';
import { readIp, sendBadAddress, sendDocument, takeLimit } from '../respond.js';
import { addressStatus, type AddressStatus } from '../status.js';

const FIXABLE = new Set(['no-ptr', 'no-valid-ptr', 'no-forward-match', 'forward-nodata', 'listed']);

function ipPath(ip: string): string {
  return `/ip/${encodeURIComponent(ip).replace(/%3A/g, ':')}`;
}

export function testPath(ip: string): string {
  return `/test/${encodeURIComponent(ip).replace(/%3A/g, ':')}`;
}

function refBox(portal: Portal, s: AddressStatus): Html | undefined {
  const { t } = portal;
  if (s.ref === undefined) return undefined;
  return html`<div class="ref" id="reference"><p><strong>${t.ip.reference}: <span class="mono">${s.ref}</span></strong></p>
<p>${s.refEvidence === undefined ? t.ip.refUnknown : t.ip.refMatches}</p></div>`;
}

function facts(portal: Portal, s: AddressStatus): Html {
  const { t } = portal;
  const ev = s.refEvidence ?? s.listing?.latestEvidence;
  const rows: Html[] = [];
  if (s.listed && s.listing !== undefined) rows.push(html`<dt>${t.ip.since}</dt><dd>${when(s.listing.listedAt)}</dd>`);
  if (s.step !== undefined) rows.push(html`<dt>${t.ip.why}</dt><dd>${dnsText(s.step)}</dd>`);
  if (ev !== undefined && (s.refEvidence !== undefined || s.rejectCount > 0)) {
    rows.push(html`<dt>${t.ip.lastRejection}</dt><dd>${when(s.refEvidence?.at ?? s.listing?.lastRejectAt ?? ev.at)}</dd>`);
    if (ev.reply !== undefined) rows.push(html`<dt>${t.ip.replyGiven}</dt><dd><code>${dnsText(ev.reply, 600)}</code></dd>`);
  }
  // The HELO only for the holder of this address's reference (evidence tiers).
  if (s.refEvidence?.helo !== undefined) rows.push(html`<dt>${t.ip.helo}</dt><dd><code>${dnsText(s.refEvidence.helo)}</code></dd>`);
  if (s.listed && s.rejectCount > 0) rows.push(html`<dt>${t.ip.rejections}</dt><dd>${s.rejectCount}</dd>`);
  if (s.listed) rows.push(html`<dt>${t.ip.recheck}</dt><dd>${s.recheckDueAt === undefined ? t.ip.recheckNever : when(s.recheckDueAt)}</dd>`);
  if (rows.length === 0) return html``;
  return html`<h2>${t.ip.facts}</h2><dl class="facts">${rows}</dl>`;
}

function fixSection(portal: Portal, s: AddressStatus): Html | undefined {
  const { t } = portal;
  const reason = s.reason === 'listed' ? s.listing?.reason : s.reason;
  if (reason === undefined || !FIXABLE.has(reason)) return undefined;
  const owner = soaFromTrace((s.refEvidence ?? s.listing?.latestEvidence)?.trace);
  const fix = fixFor(s.ip, s.family, reason === 'no-ptr' || reason === 'no-valid-ptr' ? [] : s.names, t.ip.fixPlaceholder, owner);
  return html`<section aria-labelledby="fix"><h2 id="fix">${t.ip.fixTitle}</h2>
<p>${t.ip.fixLead}</p>
<p>${t.ip.fixPtr(dnsText(fix.zone))}</p><pre>${dnsText(fix.ptrLine, 600)}</pre>
<p>${t.ip.fixForward(fix.recordType)}</p><pre>${dnsText(fix.forwardLine, 600)}</pre>
${fix.placeholder && html`<p class="hint">${t.ip.fixPlaceholderNote}</p>`}
<h3>${t.ip.fixWhoPtr}</h3><p>${t.ip.fixWhoPtrText}</p>
${owner === undefined
  ? html`<p>${t.ip.fixSoaUnknown}</p>`
  : html`<p>${t.ip.fixSoa(dnsText(owner.zone), dnsText(owner.server))} ${owner.mail !== undefined && t.ip.fixSoaMail(dnsText(owner.mail))}</p>`}
<h3>${t.ip.fixWhoForward}</h3><p>${t.ip.fixWhoForwardText}</p>
<p>${t.ip.fixHelo}</p><p>${t.ip.fixCache}</p></section>`;
}

export function forwardMessage(portal: Portal, s: AddressStatus): string {
  const { t } = portal;
  const reason = s.reason === 'listed' ? s.listing?.reason : s.reason;
  const fix = fixFor(s.ip, s.family, reason === 'no-ptr' || reason === 'no-valid-ptr' ? [] : s.names, t.ip.fixPlaceholder);
  const url = `${portal.baseUrl}${ipPath(s.ip)}${s.ref === undefined ? '' : `?r=${s.ref}`}`;
  return t.ip.forwardBody(s.ip, portal.org, dnsText(s.step ?? '-'), `${dnsText(fix.ptrLine, 600)}\n${dnsText(fix.forwardLine, 600)}`, url);
}

/** The re-check wait in words ('' when there is none): the one part of the page that moves with the clock. */
function waitText(portal: Portal, s: AddressStatus): string {
  return s.recheckDueAt === undefined ? '' : duration(portal, Math.max(0, s.recheckDueAt - portal.now()));
}

export function renderIpPage(portal: Portal, s: AddressStatus, csrfToken: string): Html {
  return renderIpMain(portal, s, csrfToken, waitText(portal, s));
}

function renderIpMain(portal: Portal, s: AddressStatus, csrfToken: string | Html, wait: string): Html {
  const { t } = portal;
  const tp = testPath(s.ip);
  const refused = s.listed && s.allowRange === undefined;
  const temp = !s.listed && s.refEvidence?.verdict === 'temperror';
  const badge = refused
    ? html`<div class="status bad" role="status"><p><strong class="badge">${t.ip.refusedNow}</strong></p><p>${s.manual ? t.ip.manual : t.ip.refusedLead(portal.org)}</p></div>`
    : html`<div class="status ${temp ? 'warn' : 'ok'}" role="status"><p><strong class="badge">${t.ip.notRefused}</strong></p><p>${t.ip.notRefusedLead}</p>
${temp ? html`<p>${t.test.reasons['dns-temp-ptr']}</p>` : html`<p>${t.ip.notRefusedHint}</p>`}
${s.allowRange !== undefined && html`<p>${t.ip.allowlisted(s.allowRange)}</p>`}
${s.bypassRange !== undefined && html`<p>${t.ip.bypassed(s.bypassRange)}</p>`}
${s.listing?.clearedAt !== undefined && !s.listed && html`<p>${t.ip.cleared(utcText(s.listing.clearedAt), t.ip.clearCauses[s.listing.clearCause ?? ''] ?? '-')}</p>`}
</div>`;
  const subject = t.ip.forwardSubject(s.ip);
  const unblock =
    refused && !s.manual
      ? html`<div class="card"><h3>${t.ip.unblockTitle}</h3><p>${t.ip.unblockText}</p>
<form method="post" action="${ipPath(s.ip)}/unblock"><input type="hidden" name="csrf" value="${csrfToken}">${s.ref !== undefined && html`<input type="hidden" name="r" value="${s.ref}">`}<button type="submit">${t.ip.unblockButton}</button></form>
${s.recheckDueAt !== undefined && html`<p class="hint">${t.ip.unblockWait(wait)}</p>`}</div>`
      : undefined;
  const wl = `/whitelist?ip=${encodeURIComponent(s.ip)}${s.ref === undefined ? '' : `&r=${s.ref}`}`;
  return html`${badge}${refBox(portal, s)}${facts(portal, s)}
<section aria-labelledby="what"><h2 id="what">${t.ip.whatTitle}</h2><p>${t.ip.what}</p><p><strong>${t.ip.notAccusation}</strong></p></section>
${refused && !s.manual && fixSection(portal, s)}
<section aria-labelledby="act"><h2 id="act" class="visually-hidden">${t.ip.verifyTitle}</h2><div class="actions">
<div class="card"><h3>${t.ip.verifyTitle}</h3><p>${t.ip.verifyText}</p><p><a class="button" href="${tp}">${t.ip.verifyButton}</a></p></div>
${unblock}
<div class="card"><h3>${t.ip.cantFixTitle}</h3><p>${s.manual ? t.ip.manual : t.ip.cantFixText}</p><p><a class="button secondary" href="${s.manual ? '/contact' : wl}">${s.manual ? t.nav.contact : t.ip.cantFixButton}</a></p></div>
</div></section>
${refused && html`<section aria-labelledby="forward"><h2 id="forward">${t.ip.notAdminTitle}</h2><p>${t.ip.notAdminText}</p>
<p><strong>${subject}</strong></p>
<label for="forward-text" class="visually-hidden">${t.ip.notAdminTitle}</label>
<textarea id="forward-text" readonly rows="12">${forwardMessage(portal, s)}</textarea>
<p><button type="button" class="secondary" hidden data-copy-target="forward-text" data-copy-status="copy-status" data-copied="${t.ip.copied}">${t.ip.copy}</button> <span id="copy-status" role="status"></span></p></section>`}`;
}

/** Where the CSRF token goes in a kept page: markup, which no escaped value can contain. */
const TOKEN_SLOT = '<!--csrf-token-->';
/** Rendered pages kept at most (about 6 KB each). */
const PAGE_MEMO_COUNT = 256;

const objectIds = new WeakMap<object, number>();
let lastObjectId = 0;

/** A number per object read (0 for none): a new object, a new number. */
function idOf(o: object | undefined): number {
  if (o === undefined) return 0;
  let id = objectIds.get(o);
  if (id === undefined) {
    id = ++lastObjectId;
    objectIds.set(o, id);
  }
  return id;
}

/** Everything the page shows, as one string. */
function pageKey(s: AddressStatus, wait: string): string {
  return [
    s.ip,
    s.family,
    s.ref ?? '',
    idOf(s.listing),
    idOf(s.refEvidence),
    s.listed,
    s.manual,
    s.reason ?? '',
    s.step ?? '',
    s.names.join(' '),
    s.recheckDueAt ?? '',
    s.rejectCount,
    s.allowRange ?? '',
    s.bypassRange ?? '',
    wait,
  ].join('\n');
}

/** The page split at its token slot: one part (no form on it) or two. */
class PageMemo {
  private readonly pages = new Map<string, readonly string[]>();

  get(key: string): readonly string[] | undefined {
    return this.pages.get(key);
  }

  set(key: string, parts: readonly string[]): void {
    if (this.pages.size >= PAGE_MEMO_COUNT) {
      const oldest = this.pages.keys().next();
      if (oldest.done !== true) this.pages.delete(oldest.value);
    }
    this.pages.set(key, parts);
  }
}

export function ipRoutes(app: FastifyInstance, portal: Portal): void {
  const memo = new PageMemo();
  app.get<{ Params: { ip: string }; Querystring: { r?: string } }>('/ip/:ip', async (request, reply) => {
    if (!takeLimit(request, reply, portal, 'read')) return reply;
    const parsed = readIp(request.params.ip);
    if (!parsed.ok) return sendBadAddress(reply, portal, parsed.why);
    const status = await addressStatus(portal, parsed.ip, parsed.family, request.query.r, parsed.address);
    const { token, cookie } = portal.csrf.issue(request);
    if (cookie !== undefined) void reply.header('set-cookie', cookie);
    const wait = waitText(portal, status);
    const key = pageKey(status, wait);
    let parts = memo.get(key);
    if (parts === undefined) {
      const page = renderPage(portal, { title: portal.t.ip.title(parsed.ip), main: renderIpMain(portal, status, trustedHtml(TOKEN_SLOT), wait) });
      parts = page.split(TOKEN_SLOT);
      // Never more than one form on the page; anything else is rendered per view, as before.
      if (parts.length > 2) return sendDocument(reply, renderPage(portal, { title: portal.t.ip.title(parsed.ip), main: renderIpMain(portal, status, token, wait) }));
      memo.set(key, parts);
    }
    return sendDocument(reply, parts.length === 1 ? (parts[0] ?? '') : `${parts[0] ?? ''}${token}${parts[1] ?? ''}`);
  });
}
