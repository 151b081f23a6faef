/**
 * NAME
 *   web/console/common - small pieces the console's pages share
 *
 * SYNOPSIS
 *   expirySelect(name, label, { keep? }): Html      never / 1, 7, 30, 90, 365 days (/ keep as it is)
 *   readExpiry(value, now): { ok, expiresAt? | keep } | { ok: false }
 *   readNote(value): string                          trimmed, at most NOTE_MAX_CHARS
 *   nextLink(path, params, after): Html              "Next page" with the cursor, or nothing
 *   ipPath(ip): string                               /admin/listings/<ip>
 *   csrfField(session): Html
 *
 * DESCRIPTION
 *   Every value from a form or a query string is read here or in the page as untrusted text:
 *   bounded, validated, and shown only through web/html.
 */
import { html, type Html } from '../html.js';
import type { ConsoleSession } from './context.js';

export const NOTE_MAX_CHARS = 1_000;
export const QUERY_MAX_CHARS = 200;
const DAY_MS = 86_400_000;
const EXPIRY_DAYS = [1, 7, 30, 90, 365] as const;

export function csrfField(session: ConsoleSession): Html {
  return html`<input type="hidden" name="csrf" value="${session.csrf}">`;
}

export function expirySelect(name: string, label: string, options: { readonly keep?: boolean; readonly id?: string } = {}): Html {
  const id = options.id ?? `f-${name}`;
  return html`<div><label for="${id}">${label}</label><select id="${id}" name="${name}">
${options.keep === true && html`<option value="keep" selected>Keep the current expiry</option>`}
<option value="never"${options.keep !== true && html` selected`}>Never expires</option>
${EXPIRY_DAYS.map((d) => html`<option value="${d}">${d === 1 ? '1 day' : `${d} days`}</option>`)}
</select></div>`;
}

export type ExpiryChoice = { readonly ok: true; readonly keep: true } | { readonly ok: true; readonly keep: false; readonly expiresAt?: number } | { readonly ok: false };

export function readExpiry(value: unknown, now: number): ExpiryChoice {
  if (value === 'keep') return { ok: true, keep: true };
  if (value === 'never' || value === undefined || value === '') return { ok: true, keep: false };
  const days = typeof value === 'string' && /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(EXPIRY_DAYS as readonly number[]).includes(days)) return { ok: false };
  return { ok: true, keep: false, expiresAt: now + days * DAY_MS };
}

export function readNote(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, NOTE_MAX_CHARS) : '';
}

export function readQuery(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, QUERY_MAX_CHARS) : '';
}

/** A store cursor as it came back in a query string: bounded, printable ASCII, else none. */
export function readCursor(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 512 && /^[\x21-\x7e]+$/.test(value) ? value : undefined;
}

export function nextLink(path: string, params: Readonly<Record<string, string>>, next: string | undefined): Html {
  if (next === undefined) return html``;
  const q = new URLSearchParams({ ...Object.fromEntries(Object.entries(params).filter(([, v]) => v !== '')), after: next });
  return html`<nav aria-label="Pages" class="pager"><a href="${`${path}?${q.toString()}`}" rel="next">Next page</a></nav>`;
}

export function ipPath(ip: string): string {
  return `/admin/listings/${encodeURIComponent(ip).replace(/%3A/g, ':')}`;
}

/** A time or a dash. */
export function optionalTime(ms: number | undefined, render: (ms: number) => Html): Html {
  return ms === undefined ? html`-` : render(ms);
}

/**
 * freeText - text people typed (notes, messages, requests): kept readable in any language, but
 * control characters (line breaks and tabs excepted) and invisible or direction-changing
 * formatting characters (bidi overrides and isolates, zero-width characters, BOM) are written
 * as visible escapes, so nothing can reorder or hide what the operator reads. Escaped for
 * HTML afterwards like any string.
 */
export function freeText(text: string, maxChars = 4_000): string {
  // eslint-disable-next-line no-control-regex
  return text.slice(0, maxChars).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}
