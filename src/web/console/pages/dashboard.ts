/**
 * NAME
 *   web/console/pages/dashboard - GET /admin: decisions, refusals, listings, requests, DNS health
 *
 * DESCRIPTION
 *   Two windows, the last 24 hours (hourly bars) and the last 30 days (daily bars, UTC), each
 *   with two SVG charts (web/svg.ts): decisions by action, refusals by reason (the portal's
 *   categories, web/stats.ts); each chart's numbers follow in a table. Then the listings in
 *   force now (this node's hot cache), the pending whitelist requests, and DNS health
 *   (dns-health.ts): the temperror rate of both windows and this node's check latency.
 *
 *   Counters come from the store (every node's), as flushed every firewall.statsFlushMs.
 */
import type { FastifyInstance } from 'fastify';
import { HOUR_MS } from '../../../firewall/stats.js';
import { html, type Html } from '../../html.js';
import { CATEGORIES, DAY_MS } from '../../stats.js';
import { barChart } from '../../svg.js';
import { ACTIONS, bucketStats, type Bucket } from '../buckets.js';
import type { Console } from '../context.js';
import { readDnsHealth, temperrorRate } from '../dns-health.js';
import { sendConsolePage } from '../layout.js';
import { sessionOf } from '../session.js';

const DAYS = 30;
const HOURS = 24;
const PENDING_SHOWN = 100;

/** Colours: distinct, each at least 3:1 against white (WCAG 1.4.11), as on the portal. */
const ACTION_COLOURS: Readonly<Record<string, string>> = { accept: '#2b8a3e', reject: '#a4161a', defer: '#1864ab', tag: '#5f3dc4' };
const CATEGORY_COLOURS: Readonly<Record<string, string>> = { 'no-ptr': '#a4161a', 'no-match': '#d9480f', listed: '#5f3dc4', temp: '#1864ab', other: '#495057' };
export const CATEGORY_NAMES: Readonly<Record<string, string>> = {
  'no-ptr': 'No usable PTR',
  'no-match': 'PTR does not confirm',
  listed: 'Already listed',
  temp: 'Temporary DNS failure',
  other: 'Other',
};

function pct(part: number, whole: number): string {
  return whole === 0 ? 'no checks' : `${((part / whole) * 100).toFixed(1)}% (${part} of ${whole} checks)`;
}

function ms(seconds: number | undefined): string {
  if (seconds === undefined) return 'not measured yet';
  if (!Number.isFinite(seconds)) return 'over 120 s';
  return seconds < 1 ? `under ${Math.round(seconds * 1_000)} ms` : `under ${seconds} s`;
}

function windowCharts(id: string, label: string, buckets: readonly Bucket[], labelOf: (b: Bucket) => string, rowOf: (b: Bucket) => string): Html {
  const labels = buckets.map(labelOf);
  const decisions = barChart({
    id: `${id}-decisions`,
    title: `Decisions by action, ${label}`,
    description: `Stacked bars: decisions of every front by action (accept, reject, defer, tag), ${label}. The numbers are in the table below.`,
    labels,
    stacked: true,
    series: ACTIONS.map((a) => ({ name: a, colour: ACTION_COLOURS[a] ?? '#495057', values: buckets.map((b) => b.decisions[a]) })),
  });
  const refusals = barChart({
    id: `${id}-refusals`,
    title: `Refusals by reason, ${label}`,
    description: `Stacked bars: refusals by reason, ${label}. The numbers are in the table below.`,
    labels,
    stacked: true,
    series: CATEGORIES.map((c) => ({ name: CATEGORY_NAMES[c] ?? c, colour: CATEGORY_COLOURS[c] ?? '#495057', values: buckets.map((b) => b.byCategory[c]) })),
  });
  const total = (f: (b: Bucket) => number): number => buckets.reduce((a, b) => a + f(b), 0);
  return html`<h3>Decisions</h3>${decisions}<h3>Refusals by reason</h3>${refusals}
<details><summary>The numbers, ${label}</summary><div class="table-wrap"><table><thead><tr><th scope="col">Period</th>${ACTIONS.map((a) => html`<th scope="col">${a}</th>`)}${CATEGORIES.map((c) => html`<th scope="col">${CATEGORY_NAMES[c] ?? c}</th>`)}</tr></thead><tbody>
${buckets.map((b) => html`<tr><th scope="row">${rowOf(b)}</th>${ACTIONS.map((a) => html`<td>${b.decisions[a]}</td>`)}${CATEGORIES.map((c) => html`<td>${b.byCategory[c]}</td>`)}</tr>`)}
<tr><th scope="row">Total</th>${ACTIONS.map((a) => html`<td>${total((b) => b.decisions[a])}</td>`)}${CATEGORIES.map((c) => html`<td>${total((b) => b.byCategory[c])}</td>`)}</tr></tbody></table></div></details>`;
}

export function dashboardRoutes(app: FastifyInstance, con: Console): void {
  app.get('/', async (request, reply) => {
    const session = sessionOf(request);
    const now = con.now();
    const thisHour = Math.floor(now / HOUR_MS) * HOUR_MS;
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const fromDays = today - (DAYS - 1) * DAY_MS;
    const fromHours = thisHour - (HOURS - 1) * HOUR_MS;
    const [hours, pending, metricsText] = await Promise.all([
      con.firewall.records.stats(Math.min(fromDays, fromHours), thisHour + HOUR_MS - 1),
      con.firewall.records.requests('pending', PENDING_SHOWN),
      con.metrics.render().catch(() => ''),
    ]);
    const hourly = bucketStats(hours, fromHours, HOURS, HOUR_MS);
    const daily = bucketStats(hours, fromDays, DAYS, DAY_MS);
    const temp24 = temperrorRate(hours.filter((h) => h.hour >= fromHours));
    const temp30 = temperrorRate(hours.filter((h) => h.hour >= fromDays));
    const dns = readDnsHealth(metricsText);
    const status = con.firewall.status();
    const pendingCount = `${pending.items.length}${pending.next !== undefined ? '+' : ''}`;
    const refusals24 = hourly.reduce((a, b) => a + b.refusals, 0);
    const main = html`<div class="tiles">
<div class="tile"><p class="big" id="listings-now">${status.listings}</p><p>listings in force now <a href="/admin/listings">(see them)</a></p></div>
<div class="tile"><p class="big" id="pending-count">${pendingCount}</p><p>whitelist requests pending <a href="/admin/requests">(the queue)</a></p></div>
<div class="tile"><p class="big">${refusals24}</p><p>refusals in the last 24 hours</p></div>
<div class="tile"><p class="big">${status.allows}</p><p>allow entries <a href="/admin/allowlist">(the allowlist)</a></p></div>
</div>
<h2>DNS health</h2>
<dl class="facts" id="dns-health">
<dt>Temporary DNS failures, 24 hours</dt><dd>${pct(temp24.temperror, temp24.checks)}</dd>
<dt>Temporary DNS failures, 30 days</dt><dd>${pct(temp30.temperror, temp30.checks)}</dd>
<dt>Check latency (this node, since start)</dt><dd>${dns.checks === undefined ? 'not available (no metrics on this node)' : html`median ${ms(dns.medianS)}, 90% ${ms(dns.p90S)}, over ${dns.checks} live checks`}</dd>
${dns.queriesSent !== undefined && html`<dt>DNS questions sent (this node)</dt><dd>${dns.queriesSent}</dd>`}
${dns.inFlight !== undefined && html`<dt>DNS questions in flight / waiting now</dt><dd>${dns.inFlight} / ${dns.queued ?? 0}</dd>`}
${status.queuedWrites > 0 && html`<dt>Store writes waiting</dt><dd>${status.queuedWrites} (the store is slow or away)</dd>`}
</dl>
<p class="hint">A temporary failure is a 451 at most and never lists anybody. A rising share usually means the resolver or an upstream is in trouble.</p>
<h2>Last 24 hours</h2>
${windowCharts('h24', 'last 24 hours (UTC hours)', hourly, (b) => new Date(b.start).toISOString().slice(11, 13), (b) => `${new Date(b.start).toISOString().slice(0, 13).replace('T', ' ')}:00 UTC`)}
<h2>Last 30 days</h2>
${windowCharts('d30', 'last 30 days (UTC days)', daily, (b) => new Date(b.start).toISOString().slice(5, 10), (b) => new Date(b.start).toISOString().slice(0, 10))}`;
    return sendConsolePage(reply, con, { title: 'Dashboard', main, session, current: 'dashboard' });
  });
}
