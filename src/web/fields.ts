/**
 * NAME
 *   web/fields - one accessible form field: label, hint, error, value kept after a failed post
 *
 * SYNOPSIS
 *   field({ name, label, hint?, value?, error?, type?, required?, multiline?, autocomplete? }): Html
 *
 * DESCRIPTION
 *   The label is tied to the input (for/id), the hint and the error are named by
 *   aria-describedby, a field with an error has aria-invalid; the value the visitor typed comes
 *   back escaped.
 */
import { html, type Html } from './html.js';

export interface FieldInput {
  readonly name: string;
  readonly label: string;
  readonly hint?: string;
  readonly value?: string;
  readonly error?: string;
  readonly type?: 'text' | 'email';
  readonly required?: boolean;
  readonly multiline?: boolean;
  readonly autocomplete?: string;
  readonly maxLength?: number;
}

export function field(f: FieldInput): Html {
  const id = `f-${f.name}`;
  const described = [f.hint !== undefined ? `${id}-hint` : '', f.error !== undefined ? `${id}-error` : ''].filter((x) => x !== '').join(' ');
  const common = html`id="${id}" name="${f.name}"${f.required === true && html` required`}${described !== '' && html` aria-describedby="${described}"`}${f.error !== undefined && html` aria-invalid="true"`}${f.maxLength !== undefined && html` maxlength="${f.maxLength}"`}${f.autocomplete !== undefined && html` autocomplete="${f.autocomplete}"`}`;
  return html`<div><label for="${id}">${f.label}</label>
${f.hint !== undefined && html`<span class="hint" id="${id}-hint">${f.hint}</span>`}
${f.error !== undefined && html`<span class="error-text" id="${id}-error">${f.error}</span>`}
${f.multiline === true ? html`<textarea ${common}>${f.value ?? ''}</textarea>` : html`<input type="${f.type ?? 'text'}" ${common} value="${f.value ?? ''}">`}</div>`;
}
