/**
 * NAME
 *   web/layout - the page around every portal page: head, header with branding, nav, footer
 *
 * SYNOPSIS
 *   renderPage(portal, { title, main, lead? }): string      a whole HTML document
 *   when(ms): Html                                          <time> in UTC
 *   duration(portal, ms): string                            "15 minutes", "2 hours"
 *
 * DESCRIPTION
 *   One column, a skip link, landmarks (header, nav, main, footer), lang from the texts, the
 *   stylesheet and the script as files (the CSP allows no inline script or style). The
 *   organisation's name, the contact address and the logo come from the configuration and
 *   are escaped like any data.
 */
import { escapeHtml, html, type Html } from './html.js';
import type { Portal } from './context.js';

export interface PageInput {
  readonly title: string;
  readonly main: Html;
}

/** utcText - `2030-01-01 12:00 UTC` as plain text. */
export function utcText(ms: number): string {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '-';
}

export function when(ms: number): Html {
  const d = new Date(ms);
  if (!Number.isFinite(d.getTime())) return html`-`;
  const iso = d.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export function duration(portal: Portal, ms: number): string {
  const t = portal.t.time;
  if (ms < MINUTE_MS) return t.seconds(Math.max(1, Math.ceil(ms / 1_000)));
  if (ms < 2 * HOUR_MS) return t.minutes(Math.ceil(ms / MINUTE_MS));
  if (ms < 2 * DAY_MS) return t.hours(Math.round(ms / HOUR_MS));
  return `${Math.round(ms / DAY_MS)} days`;
}

/** The page around the title and the main part: the same for every page of one portal. */
type Frame = readonly [beforeTitle: string, beforeHeading: string, beforeMain: string, afterMain: string];

const frames = new WeakMap<Portal, Frame>();

function frameOf(portal: Portal): Frame {
  const known = frames.get(portal);
  if (known !== undefined) return known;
  const { t, org, config } = portal;
  const logo = config.portal.logoUrl;
  const contact = config.portal.contactEmail;
  const frame: Frame = [
    html`<!doctype html>
<html lang="${t.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>`.value,
    html` - ${t.portalName(org)}</title>
<link rel="stylesheet" href="/static/portal.css">
<script src="/static/portal.js" defer></script>
</head>
<body>
<a class="skip" href="#main">${t.skip}</a>
<header class="site"><div class="bar">
<a class="brand" href="/">${logo !== '' && html`<img src="${logo}" alt="" width="32" height="32">`}<span>${t.portalName(org)}</span></a>
<nav aria-label="Portal"><ul>
<li><a href="/">${t.nav.home}</a></li>
<li><a href="/stats">${t.nav.stats}</a></li>
<li><a href="/policy">${t.nav.policy}</a></li>
<li><a href="/whitelist">${t.nav.whitelist}</a></li>
<li><a href="/contact">${t.nav.contact}</a></li>
</ul></nav>
</div></header>
<main id="main" tabindex="-1">
<h1>`.value,
    html`</h1>
`.value,
    html`
</main>
<footer class="site"><p>${t.footer(org)}<a href="mailto:${contact}">${contact}</a></p></footer>
</body>
</html>
`.value,
  ];
  frames.set(portal, frame);
  return frame;
}

/**
 * renderPage - a whole document. The frame is rendered once per portal (its parts come from the
 * configuration and the texts only); the title is escaped like any interpolated text.
 */
export function renderPage(portal: Portal, input: PageInput): string {
  const [beforeTitle, beforeHeading, beforeMain, afterMain] = frameOf(portal);
  const title = escapeHtml(input.title);
  return beforeTitle + title + beforeHeading + title + beforeMain + input.main.value + afterMain;
}
