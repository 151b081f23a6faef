/**
 * NAME
 *   web/pages/stats - GET /stats: refusals by reason per day, the broken-DNS share, listings
 *
 * DESCRIPTION
 *   portal.statsDays UTC days up to today, from firewall.records.stats (hourly counters of
 *   every node). Two SVG charts drawn here (web/svg.ts), each followed by its numbers as a
 *   table, and the method: window, numerator, denominator (portals.md e5.16). No address
 *   appears on this page.
 */
import type { FastifyInstance } from 'fastify';
import type { Portal } from '../context.js';
import { html } from '../html.js';
import { sendPage, takeLimit } from '../respond.js';
import { brokenShare, CATEGORIES, DAY_MS, dailyStats } from '../stats.js';
import { barChart } from '../svg.js';

/** Colours of the categories: distinct, each ≥ 3:1 against white (WCAG 1.4.11). */
const COLOURS: Readonly<Record<string, string>> = {
  'no-ptr': '#a4161a',
  'no-match': '#d9480f',
  listed: '#5f3dc4',
  temp: '#1864ab',
  other: '#495057',
  created: '#a4161a',
  cleared: '#2b8a3e',
};

export function statsRoutes(app: FastifyInstance, portal: Portal): void {
  app.get('/stats', async (request, reply) => {
    if (!takeLimit(request, reply, portal, 'read')) return reply;
    const { t } = portal;
    const days = portal.config.portal.statsDays;
    const today = Math.floor(portal.now() / DAY_MS) * DAY_MS;
    const from = today - (days - 1) * DAY_MS;
    const hours = await portal.firewall.records.stats(from, today + DAY_MS - 1);
    const daily = dailyStats(hours, from, days);
    const labels = daily.map((d) => new Date(d.day).toISOString().slice(5, 10));
    const share = brokenShare(daily);
    const pct = share.total === 0 ? '' : `${((share.broken / share.total) * 100).toFixed(1)}%`;
    const refusalChart = barChart({
      id: 'refusals',
      title: t.stats.refusalsTitle,
      description: t.stats.lead(days),
      labels,
      stacked: true,
      series: CATEGORIES.map((c) => ({ name: t.stats.categories[c] ?? c, colour: COLOURS[c] ?? '#495057', values: daily.map((d) => d.byCategory[c]) })),
    });
    const listingChart = barChart({
      id: 'listings',
      title: t.stats.listingsTitle,
      description: t.stats.listingsTitle,
      labels,
      stacked: false,
      series: [
        { name: t.stats.created, colour: COLOURS.created ?? '#a4161a', values: daily.map((d) => d.created) },
        { name: t.stats.clearedLabel, colour: COLOURS.cleared ?? '#2b8a3e', values: daily.map((d) => d.cleared) },
      ],
    });
    const main = html`<p>${t.stats.lead(days)}</p>
<h2>${t.stats.shareTitle}</h2><p id="share">${share.total === 0 ? t.stats.shareNone : t.stats.share(pct, share.broken, share.total)}</p>
<h2>${t.stats.refusalsTitle}</h2>${refusalChart}
<details><summary>${t.stats.table}</summary><div class="table-wrap"><table><thead><tr><th scope="col">${t.stats.day}</th>${CATEGORIES.map((c) => html`<th scope="col">${t.stats.categories[c] ?? c}</th>`)}<th scope="col">${t.stats.total}</th></tr></thead><tbody>
${daily.map((d) => html`<tr><th scope="row">${new Date(d.day).toISOString().slice(0, 10)}</th>${CATEGORIES.map((c) => html`<td>${d.byCategory[c]}</td>`)}<td>${d.refusals}</td></tr>`)}</tbody></table></div></details>
<h2>${t.stats.listingsTitle}</h2>${listingChart}
<details><summary>${t.stats.table}</summary><div class="table-wrap"><table><thead><tr><th scope="col">${t.stats.day}</th><th scope="col">${t.stats.created}</th><th scope="col">${t.stats.clearedLabel}</th></tr></thead><tbody>
${daily.map((d) => html`<tr><th scope="row">${new Date(d.day).toISOString().slice(0, 10)}</th><td>${d.created}</td><td>${d.cleared}</td></tr>`)}</tbody></table></div></details>
<h2>${t.stats.methodTitle}</h2><ul>${t.stats.method(days).map((m) => html`<li>${m}</li>`)}</ul>`;
    return sendPage(reply, portal, t.stats.title, main);
  });
}
