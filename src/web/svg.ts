/**
 * NAME
 *   web/svg - bar charts drawn on the server as inline SVG (no script, no external file)
 *
 * SYNOPSIS
 *   barChart({ id, title, description, labels, series: [{ name, colour, values }], stacked }): Html
 *
 * DESCRIPTION
 *   role="img" with <title> and <desc> (aria-labelledby), so a screen reader gets a sentence;
 *   the page puts the same numbers in a table next to it. A bar carries a <title> tooltip with
 *   its value. The y axis has four ticks from 0 to a rounded maximum. Colours are given by the
 *   caller (chosen for contrast with white and with each other). All text goes through web/html.
 */
import { html, type Html } from './html.js';

export interface Series {
  readonly name: string;
  readonly colour: string;
  readonly values: readonly number[];
}

export interface ChartInput {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly labels: readonly string[];
  readonly series: readonly Series[];
  readonly stacked: boolean;
}

const WIDTH = 720;
const HEIGHT = 260;
const PAD_LEFT = 44;
const PAD_BOTTOM = 36;
const PAD_TOP = 10;
const PAD_RIGHT = 8;
const TICKS = 4;

function niceMax(n: number): number {
  if (n <= TICKS) return TICKS;
  const pow = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= n) return Math.ceil((m * pow) / TICKS) * TICKS;
  return Math.ceil(n / TICKS) * TICKS;
}

export function barChart(c: ChartInput): Html {
  const n = c.labels.length;
  const plotW = WIDTH - PAD_LEFT - PAD_RIGHT;
  const plotH = HEIGHT - PAD_TOP - PAD_BOTTOM;
  const totals = c.labels.map((_, i) =>
    c.stacked ? c.series.reduce((a, s) => a + (s.values[i] ?? 0), 0) : Math.max(0, ...c.series.map((s) => s.values[i] ?? 0)),
  );
  const max = niceMax(Math.max(0, ...totals));
  const slot = plotW / Math.max(1, n);
  const barW = c.stacked ? slot * 0.7 : (slot * 0.8) / Math.max(1, c.series.length);
  const y = (v: number): number => PAD_TOP + plotH - (v / max) * plotH;
  const bars: Html[] = [];
  for (let i = 0; i < n; i++) {
    let base = 0;
    c.series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      if (v <= 0) return;
      const x = c.stacked ? PAD_LEFT + i * slot + (slot - barW) / 2 : PAD_LEFT + i * slot + slot * 0.1 + k * barW;
      const top = c.stacked ? y(base + v) : y(v);
      const bottom = c.stacked ? y(base) : y(0);
      bars.push(html`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(0.5, bottom - top).toFixed(1)}" fill="${s.colour}"><title>${c.labels[i] ?? ''}: ${s.name} ${v}</title></rect>`);
      if (c.stacked) base += v;
    });
  }
  const ticks: Html[] = [];
  for (let k = 0; k <= TICKS; k++) {
    const v = (max / TICKS) * k;
    ticks.push(html`<line x1="${PAD_LEFT}" x2="${WIDTH - PAD_RIGHT}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#c9d1da" stroke-width="1"/><text x="${PAD_LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="12" fill="#1b1f24">${v}</text>`);
  }
  const every = Math.max(1, Math.ceil(n / 10));
  const xLabels = c.labels.map((l, i) =>
    i % every === 0 ? html`<text x="${(PAD_LEFT + i * slot + slot / 2).toFixed(1)}" y="${HEIGHT - PAD_BOTTOM + 16}" text-anchor="middle" font-size="12" fill="#1b1f24">${l}</text>` : html``,
  );
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-labelledby="${c.id}-t ${c.id}-d" xmlns="http://www.w3.org/2000/svg">
<title id="${c.id}-t">${c.title}</title><desc id="${c.id}-d">${c.description}</desc>
${ticks}${bars}${xLabels}</svg>
<ul class="legend">${c.series.map((s) => html`<li><svg class="sw" width="14" height="14" aria-hidden="true" focusable="false"><rect width="14" height="14" fill="${s.colour}" stroke="#333"/></svg> ${s.name}</li>`)}</ul>`;
}
