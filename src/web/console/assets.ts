/**
 * NAME
 *   web/console/assets - the console's stylesheet: the portal's, and a few rules of its own
 *
 * SYNOPSIS
 *   CONSOLE_CSS: Asset        served at /admin/static/console.css (index.ts)
 *
 * DESCRIPTION
 *   One file, so the console needs nothing from the portal's routes (it works with
 *   portal.enabled false). The added rules keep the portal's contrast (WCAG 2.2 AA: 4.5:1 for
 *   text, 3:1 for controls) and its one-column layout under 40rem. No script: every console
 *   page works with plain forms.
 */
import { ASSETS, type Asset } from '../assets.js';
import { createHash } from 'node:crypto';

const EXTRA = `
header.site .org{font-weight:400;color:var(--muted)}
nav a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}
form.signout{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin-left:auto}
form.signout button{padding:.25rem .75rem}
.who{color:var(--muted)}
input[type=password],select{font:inherit;padding:.45rem .55rem;border:1px solid #6b7683;border-radius:.25rem;background:#fff;color:var(--fg);max-width:100%}
form.inline>div{max-width:100%}
input[type=password]{width:100%}
form.filters{margin:1rem 0}
form.filters input[type=text]{width:16rem;max-width:100%}
button.danger{background:var(--bad);border-color:var(--bad);color:#fff}
button:focus-visible,select:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.tiles{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));margin:1rem 0}
.tile{border:1px solid var(--line);border-radius:.4rem;padding:.5rem 1rem;background:var(--panel)}
.tile p{margin:.25rem 0}
.tile .big{font-size:1.8rem;font-weight:700}
.note{white-space:pre-wrap;overflow-wrap:anywhere}
ul.plain{list-style:none;margin:0;padding:0}
ol.messages{list-style:none;padding:0;display:grid;gap:1rem}
ol.messages h2{font-size:1.1rem;margin:.5rem 0;overflow-wrap:anywhere}
.pager{margin:1rem 0}
.tabs ul{list-style:none;margin:0 0 1rem;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
.hint{margin-bottom:.2rem}
`;

const base = ASSETS['/static/portal.css']?.body ?? '';
const body = base + EXTRA;

export const CONSOLE_CSS: Asset = {
  body,
  type: 'text/css; charset=utf-8',
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
};
