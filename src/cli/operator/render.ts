/**
 * NAME
 *   cli/operator/render - tables and times for the operator commands' text output
 *
 * SYNOPSIS
 *   table(headers, rows): string     columns padded to their widest cell, the last one not padded
 *   time(ms): string                 ISO 8601 to the second, UTC
 *   cell(text, max?): string         peer-supplied or free text made printable (util/printable.ts)
 *   jsonLine(value): string
 *
 * DESCRIPTION
 *   Every string that is not produced by BlockSmith itself (notes, HELO, PTR names, form fields,
 *   audit details) goes through cell() before it reaches a terminal. JSON output is left to
 *   JSON.stringify, which escapes every control character.
 */
import { printable } from '../../util/printable.js';

/** Widest free-text cell in a table (notes, details). */
export const CELL_MAX_CHARS = 60;
const COLUMN_GAP = '  ';

export function cell(text: string | undefined, max = CELL_MAX_CHARS): string {
  return text === undefined || text === '' ? '-' : printable(text, max);
}

export function time(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms >= Number.MAX_SAFE_INTEGER) return '-';
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join(COLUMN_GAP)
      .trimEnd() + '\n';
  return line(headers) + rows.map(line).join('');
}

export function jsonLine(value: unknown): string {
  return JSON.stringify(value) + '\n';
}
