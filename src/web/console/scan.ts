/**
 * NAME
 *   web/console/scan - free-text search over a store listing that has no text filter
 *
 * SYNOPSIS
 *   await scan(fetch, matches, { after?, want, budget }): { items, next?, scanned, cut }
 *
 * DESCRIPTION
 *   Contact messages and the audit log are listed by the store newest first, by cursor, with
 *   exact filters at most. A text search reads pages of PAGE_SIZE in order and keeps the
 *   records that match, until `want` are found or `budget` records were read; `next` is the
 *   store's cursor after the last page read, so "Next page" goes on where this one stopped and
 *   nothing is skipped or shown twice. `cut` says the budget ended the search (the page says so).
 */
import type { Page } from '../../store/types.js';

const PAGE_SIZE = 100;

export interface ScanResult<T> {
  readonly items: readonly T[];
  readonly next?: string;
  readonly scanned: number;
  readonly cut: boolean;
}

export async function scan<T>(
  fetch: (limit: number, after: string | undefined) => Promise<Page<T>>,
  matches: (item: T) => boolean,
  options: { readonly after?: string; readonly want: number; readonly budget: number },
): Promise<ScanResult<T>> {
  const items: T[] = [];
  let after = options.after;
  let scanned = 0;
  for (;;) {
    const page = await fetch(PAGE_SIZE, after);
    scanned += page.items.length;
    for (const item of page.items) if (matches(item)) items.push(item);
    after = page.next;
    if (after === undefined) return { items, scanned, cut: false };
    if (items.length >= options.want) return { items, next: after, scanned, cut: false };
    if (scanned >= options.budget) return { items, next: after, scanned, cut: true };
  }
}

/** contains - case-insensitive substring test over some fields. */
export function contains(needle: string, ...fields: readonly (string | undefined)[]): boolean {
  const n = needle.toLowerCase();
  return fields.some((f) => f !== undefined && f.toLowerCase().includes(n));
}
