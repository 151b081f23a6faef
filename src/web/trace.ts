/**
 * NAME
 *   web/trace - a live check's trace as HTML: every step, in plain words, everything escaped
 *
 * SYNOPSIS
 *   renderTrace(portal, result): Html
 *   cacheSeconds(result): { negative?: number; positive?: number }
 *
 * DESCRIPTION
 *   FCRDNS.md "What the public test tool shows": the normalised address (and why it changed),
 *   the reverse name asked, the PTR outcome in plain words (NXDOMAIN = no PTR exists; SERVFAIL
 *   = the reverse zone's DNS is broken), each record with its TTL and any CNAME chain, each name
 *   valid or not and why, each forward look-up with its rcode, addresses and TTLs, "match" only
 *   on the client address; the DNS exchanges as tables (server, transport, rcode, time, records).
 *
 *   Every string from DNS goes through dnsText (visible escapes) and then html escaping.
 */
import type { CheckResult, TraceStep } from '../check/types.js';
import type { DnsExchange, DnsRecord } from '../dns/types.js';
import type { Portal } from './context.js';
import { dnsText, html, type Html } from './html.js';

type Step<K extends TraceStep['step']> = Extract<TraceStep, { step: K }>;

function records(portal: Portal, list: readonly DnsRecord[], highlight?: string): Html {
  const { t } = portal;
  if (list.length === 0) return html`<p>${t.test.noRecords}</p>`;
  return html`<div class="table-wrap"><table><thead><tr><th scope="col">${t.test.colRecord}</th><th scope="col">${t.test.colTtl}</th></tr></thead><tbody>
${list.map((r) => {
  const line = `${r.name} ${r.type} ${r.data}`;
  const hit = highlight !== undefined && r.data === highlight;
  return html`<tr><td class="mono">${dnsText(line, 600)}${hit && html` <strong class="pass">(${t.test.matchOn})</strong>`}</td><td>${t.test.ttlSeconds(r.ttl)}</td></tr>`;
})}</tbody></table></div>`;
}

function exchanges(portal: Portal, list: readonly DnsExchange[]): Html | undefined {
  const { t } = portal;
  if (list.length === 0) return undefined;
  return html`<details><summary>${t.test.exchanges} (${list.length})</summary><div class="table-wrap"><table>
<thead><tr><th scope="col">${t.test.colServer}</th><th scope="col">${t.test.colTransport}</th><th scope="col">${t.test.colRcode}</th><th scope="col">${t.test.colTime}</th><th scope="col">${t.test.colAnswers}</th></tr></thead><tbody>
${list.map(
  (ex) => html`<tr><td class="mono">${dnsText(ex.server)}</td><td>${ex.transport}</td>
<td>${ex.rcode !== undefined ? (t.test.rcodes[ex.rcode] ?? dnsText(ex.rcode)) : dnsText(`${ex.error ?? 'no answer'}${ex.errorDetail !== undefined ? ` (${ex.errorDetail})` : ''}`)}</td>
<td>${Math.round(ex.durationMs)} ms</td>
<td class="mono">${[...ex.answers, ...ex.authority].map((r) => html`${dnsText(`${r.name} ${r.ttl} ${r.type} ${r.data}`, 600)}<br>`)}</td></tr>`,
)}</tbody></table></div></details>`;
}

function chain(portal: Portal, list: readonly DnsRecord[]): Html | undefined {
  if (list.length === 0) return undefined;
  return html`<p><strong>${portal.t.test.chain}:</strong> <span class="mono">${list.map((r, i) => html`${i > 0 && ' → '}${dnsText(r.name)} → ${dnsText(r.data)} (${portal.t.test.ttlSeconds(r.ttl)})`)}</span></p>`;
}

function ptrStep(portal: Portal, s: Step<'ptr'>): Html {
  const { t } = portal;
  return html`<section class="step"><h3>${t.test.stepPtr}</h3><p class="mono">${t.test.question(dnsText(s.qname))}</p>
<p><strong class="${s.outcome === 'answer' ? 'pass' : 'fail'}">${t.test.outcomes[s.outcome] ?? s.outcome}</strong>
${s.tempReason !== undefined && html` ${t.test.tempReasons[s.tempReason] ?? dnsText(s.tempReason)}`}</p>
${chain(portal, s.cnameChain)}${s.outcome === 'answer' && records(portal, s.records)}${exchanges(portal, s.exchanges)}</section>`;
}

function namesStep(portal: Portal, s: Step<'names'>): Html {
  const { t } = portal;
  return html`<section class="step"><h3>${t.test.stepNames}</h3>
<p><strong>${t.test.valid}:</strong> ${s.valid.length === 0 ? t.test.none : html`<span class="mono">${s.valid.map((n, i) => html`${i > 0 && ', '}${dnsText(n)}`)}</span>`}</p>
${s.invalid.length > 0 && html`<p><strong>${t.test.invalid}:</strong></p><ul>${s.invalid.map((n) => html`<li><span class="mono">${dnsText(n.name)}</span>: ${t.test.invalidWhy[n.why] ?? n.why}</li>`)}</ul>`}
${s.notEvaluated.length > 0 && html`<p><strong>${t.test.notEvaluated}:</strong> <span class="mono">${s.notEvaluated.map((n, i) => html`${i > 0 && ', '}${dnsText(n)}`)}</span></p>`}</section>`;
}

function forwardStep(portal: Portal, s: Step<'forward'>, ip: string): Html {
  const { t } = portal;
  const lookupRecords: DnsRecord[] = [];
  for (const ex of s.exchanges) for (const r of ex.answers) if (r.type === s.qtype) lookupRecords.push(r);
  return html`<section class="step"><h3>${t.test.stepForward(dnsText(s.name), s.qtype)}</h3>
<p><strong class="${s.outcome === 'match' ? 'pass' : s.outcome === 'not-run' ? '' : 'fail'}">${t.test.forwardOutcomes[s.outcome] ?? s.outcome}</strong>
${s.tempReason !== undefined && html` ${t.test.tempReasons[s.tempReason] ?? dnsText(s.tempReason)}`}</p>
${chain(portal, s.cnameChain)}
${s.addresses.length > 0 && (lookupRecords.length > 0 ? records(portal, lookupRecords, ip) : html`<p class="mono">${s.addresses.map((a, i) => html`${i > 0 && ', '}${dnsText(a)}`)}</p>`)}
${exchanges(portal, s.exchanges)}</section>`;
}

export function renderTrace(portal: Portal, result: CheckResult): Html {
  const { t } = portal;
  const parts: Html[] = [];
  for (const step of result.trace) {
    switch (step.step) {
      case 'normalise':
        parts.push(html`<section class="step"><h3>${t.test.stepNormalise}</h3><p>${t.test.normalised(dnsText(step.input), step.ip)}</p>${step.note !== undefined && html`<p>${dnsText(step.note)}</p>`}</section>`);
        break;
      case 'ptr':
        parts.push(ptrStep(portal, step));
        break;
      case 'names':
        parts.push(namesStep(portal, step));
        break;
      case 'forward':
        parts.push(forwardStep(portal, step, result.ip));
        break;
      case 'other-family':
        parts.push(html`<section class="step"><h3>${t.test.stepOther(dnsText(step.name), step.qtype)}</h3><p class="mono">${step.addresses.length === 0 ? t.test.none : step.addresses.map((a, i) => html`${i > 0 && ', '}${dnsText(a)}`)}</p></section>`);
        break;
      default:
        // bypass, cache and verdict are shown by the page itself (a test never uses the cache).
        break;
    }
  }
  return html`${parts}`;
}

/** cacheSeconds - how long other caches may keep what this test saw: the longest negative TTL (SOA) and the longest positive TTL seen. */
export function cacheSeconds(result: CheckResult): { readonly negative?: number; readonly positive?: number } {
  let negative: number | undefined;
  let positive: number | undefined;
  for (const step of result.trace) {
    if (step.step !== 'ptr' && step.step !== 'forward') continue;
    for (const ex of step.exchanges) {
      if (ex.answers.length === 0) {
        for (const r of ex.authority) {
          if (r.type !== 'SOA') continue;
          const minimum = Number(r.data.split(' ')[6]);
          const ttl = Number.isFinite(minimum) ? Math.min(r.ttl, minimum) : r.ttl;
          negative = Math.max(negative ?? 0, ttl);
        }
      }
      for (const r of ex.answers) positive = Math.max(positive ?? 0, r.ttl);
    }
  }
  return { ...(negative === undefined ? {} : { negative }), ...(positive === undefined ? {} : { positive }) };
}
