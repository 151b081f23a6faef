/**
 * NAME
 *   web/assets - the portal's stylesheet and its one small script, served as static files
 *
 * SYNOPSIS
 *   ASSETS['/static/portal.css'] / ['/static/portal.js']     { body, type, etag }
 *
 * DESCRIPTION
 *   Kept as strings in a module so that the built package (dist/) carries them without a copy
 *   step. Served with a strong ETag and a day's public caching (web/index.ts).
 *
 *   The script is progressive enhancement only: it shows the "Copy" buttons (hidden without
 *   JavaScript; the text stays selectable in its box) and copies the message on a click. It is
 *   loaded as a file (`script-src 'self'`): no inline script, no eval.
 *
 *   Colours meet WCAG 2.2 AA contrast (4.5:1 for text) on their backgrounds; focus is always
 *   visible; the layout is one column under 40rem and works from 320 px wide.
 */
import { createHash } from 'node:crypto';

const CSS = `
:root{--fg:#1b1f24;--muted:#4a5360;--bg:#ffffff;--panel:#f4f6f8;--line:#c9d1da;--accent:#0b5cad;--bad:#a4161a;--bad-bg:#fdecec;--ok:#1d6b2f;--ok-bg:#e9f6ec;--warn:#7a4a00;--warn-bg:#fff4dc}
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;line-height:1.5;color:var(--fg);background:var(--bg)}
body{margin:0}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,textarea:focus-visible,summary:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--bg);padding:.5rem}
.skip:focus{left:.5rem}
header.site{border-bottom:1px solid var(--line);background:var(--panel)}
header.site .bar{max-width:60rem;margin:0 auto;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center}
header.site .brand{font-weight:700;color:var(--fg);text-decoration:none;display:flex;align-items:center;gap:.5rem}
header.site img{max-height:2rem;width:auto}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
main{max-width:60rem;margin:0 auto;padding:1rem}
footer.site{max-width:60rem;margin:2rem auto 0;padding:1rem;border-top:1px solid var(--line);color:var(--muted);font-size:.95rem}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.25rem;margin:2rem 0 .5rem}
h3{font-size:1.05rem;margin:1.25rem 0 .25rem}
.status{border-left:.4rem solid var(--line);background:var(--panel);padding:.75rem 1rem;margin:1rem 0}
.status.bad{border-color:var(--bad);background:var(--bad-bg)}
.status.ok{border-color:var(--ok);background:var(--ok-bg)}
.status.warn{border-color:var(--warn);background:var(--warn-bg)}
.status strong.badge{display:inline-block;font-size:1.1rem}
.ref{background:#fffbe6;border:2px solid #b58900;padding:.5rem .75rem;margin:1rem 0}
dl.facts{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.25rem 1rem;margin:0}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
pre,code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.95rem}
pre{background:var(--panel);border:1px solid var(--line);padding:.75rem;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.table-wrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5rem 0;min-width:100%}
th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:var(--panel)}
form.stack{display:grid;gap:.9rem;max-width:36rem}
form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}
label{font-weight:600;display:block}
.hint{color:var(--muted);font-size:.92rem;display:block;font-weight:400}
input[type=text],input[type=email],textarea{width:100%;max-width:36rem;font:inherit;padding:.45rem .55rem;border:1px solid #6b7683;border-radius:.25rem;background:#fff;color:var(--fg)}
textarea{min-height:8rem}
button,.button{font:inherit;display:inline-block;padding:.5rem 1rem;border-radius:.3rem;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-decoration:none}
.button.secondary,button.secondary{background:#fff;color:var(--accent)}
.error-text{color:var(--bad);font-weight:600}
.step{border:1px solid var(--line);border-radius:.3rem;padding:.5rem .9rem;margin:.75rem 0}
.step h3{margin-top:.25rem}
.pass{color:var(--ok);font-weight:700}
.fail{color:var(--bad);font-weight:700}
.chart{max-width:100%;height:auto;display:block}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
.legend span.sw{display:inline-block;width:.9rem;height:.9rem;margin-right:.35rem;vertical-align:-.1rem;border:1px solid #333}
.actions{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr))}
.card{border:1px solid var(--line);border-radius:.4rem;padding:.5rem 1rem 1rem}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:40rem){dl.facts{grid-template-columns:1fr}dl.facts dt{margin-top:.5rem}h1{font-size:1.35rem}}
`;

const JS = `'use strict';
(function () {
  if (!navigator.clipboard || typeof navigator.clipboard.writeText !== 'function') return;
  var buttons = document.querySelectorAll('button[data-copy-target]');
  Array.prototype.forEach.call(buttons, function (button) {
    var target = document.getElementById(button.getAttribute('data-copy-target'));
    var status = document.getElementById(button.getAttribute('data-copy-status'));
    if (!target) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(target.value || target.textContent || '').then(function () {
        if (status) status.textContent = button.getAttribute('data-copied') || 'Copied';
      }, function () {
        target.focus();
        if (typeof target.select === 'function') target.select();
      });
    });
  });
})();
`;

export interface Asset {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export const ASSETS: Readonly<Record<string, Asset>> = Object.freeze({
  '/static/portal.css': asset(CSS, 'text/css; charset=utf-8'),
  '/static/portal.js': asset(JS, 'text/javascript; charset=utf-8'),
});
