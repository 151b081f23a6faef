/**
 * NAME
 *   web/html - the portal's templating: HTML built from tagged templates, escaped by default
 *
 * SYNOPSIS
 *   html`<p>${text}</p>`              Html; every interpolated string is escaped
 *   html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`     arrays and nested Html are joined as they are
 *   escapeHtml(text): string          & < > " ' as entities
 *   dnsText(text, maxChars?): string  DNS/peer data made printable (util/printable), before escaping
 *   trustedHtml(markup): Html         constant markup written in this code base (never data)
 *
 * DESCRIPTION
 *   The one way the portal writes HTML. Interpolating a string, number or boolean escapes it,
 *   so a PTR record `<script>…` is shown as text; only another Html value (or an array of
 *   them) goes in as markup. undefined, null and false write nothing, so `${cond && html`…`}`
 *   works. Attribute values are quoted with double quotes in the templates, and escapeHtml
 *   encodes both quote characters, so data cannot leave an attribute either.
 *
 *   DNS data is attacker-controlled twice over: it may hold markup (escaped here) and control
 *   or invisible characters (dnsText writes them as visible escapes, `\x0a`, `\u{202e}`, so a
 *   right-to-left override cannot reorder what the visitor reads).
 */
import { printable } from '../util/printable.js';

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type Interpolation = Html | string | number | boolean | undefined | null | readonly Interpolation[];

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const SPECIAL = /[&<>"']/;

export function escapeHtml(text: string): string {
  // Most text has nothing to escape: a test is cheaper than a replace with a callback.
  return SPECIAL.test(text) ? text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c) : text;
}

function write(value: Interpolation): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return (value as readonly Interpolation[]).map(write).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: readonly Interpolation[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += write(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** trustedHtml - markup from this code base (the texts module's fixed markup); never data. */
export function trustedHtml(markup: string): Html {
  return new Html(markup);
}

/** Longest DNS string shown (a name is at most 253 characters; escapes lengthen it). */
export const DNS_TEXT_MAX_CHARS = 300;

/** dnsText - DNS or peer data made visible: controls and non-ASCII as escapes, cut to maxChars. */
export function dnsText(text: string, maxChars: number = DNS_TEXT_MAX_CHARS): string {
  return printable(text, maxChars);
}
