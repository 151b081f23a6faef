/**
 * NAME
 *   store/sqlite/cursor - opaque page cursors (`after`) for the SQLite store
 *
 * SYNOPSIS
 *   encodeCursor(kind, key): string
 *   decodeCursor(kind, text, shape): key        throws BS_ERR_USAGE when not one of ours
 *
 * DESCRIPTION
 *   A cursor is base64url of JSON `[kind, ...sort key]`: the sort key of the last item of the
 *   previous page (listings: ip; requests: createdAt, ref; contacts and audit: at, id). The
 *   kind stops a cursor from one listing being replayed on another. Callers treat it as opaque.
 *
 * LIMITS
 *   CURSOR_MAX_CHARS (1,024): a longer cursor is refused before it is decoded.
 *
 * DIAGNOSTICS
 *   BlockSmithError('BS_ERR_USAGE', 'page cursor for <kind> is not valid (…)').
 */
import { BlockSmithError } from '../../errors.js';

/** Longest cursor text accepted (characters); ours are far shorter. */
export const CURSOR_MAX_CHARS = 1024;

export type CursorKind = 'listings' | 'requests' | 'contacts' | 'audit';
export type CursorPart = 'string' | 'number';
type PartValue<P extends CursorPart> = P extends 'string' ? string : number;
export type CursorKey<S extends readonly CursorPart[]> = { -readonly [I in keyof S]: PartValue<S[I]> };

export function encodeCursor(kind: CursorKind, key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([kind, ...key]), 'utf8').toString('base64url');
}

function invalid(kind: CursorKind, why: string): BlockSmithError {
  return new BlockSmithError('BS_ERR_USAGE', `page cursor for ${kind} is not valid (${why}); start from the first page`);
}

export function decodeCursor<const S extends readonly CursorPart[]>(kind: CursorKind, text: string, shape: S): CursorKey<S> {
  if (text.length > CURSOR_MAX_CHARS) throw invalid(kind, `longer than ${CURSOR_MAX_CHARS} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid(kind, 'not one of ours');
  }
  if (!Array.isArray(parsed) || parsed.length !== shape.length + 1 || parsed[0] !== kind) {
    throw invalid(kind, 'not one of ours');
  }
  const key = parsed.slice(1) as unknown[];
  shape.forEach((part, i) => {
    const v = key[i];
    const ok = part === 'string' ? typeof v === 'string' : typeof v === 'number' && Number.isFinite(v);
    if (!ok) throw invalid(kind, `part ${i + 1} is not a ${part}`);
  });
  return key as CursorKey<S>;
}
