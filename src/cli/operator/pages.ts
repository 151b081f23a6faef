/**
 * NAME
 *   cli/operator/pages - read a store listing page by page, up to a limit
 *
 * SYNOPSIS
 *   const { items, more } = await readPages(limit, (size, after) => store.listListings({ …, limit: size, after }))
 *
 * DESCRIPTION
 *   Asks for pages of at most PAGE_SIZE items, following `next`, until `limit` items are read or
 *   the store has no more. `more` is true when the store had items beyond the limit.
 *
 * LIMITS
 *   PAGE_SIZE (500 items a store call); DEFAULT_LIMIT (100) and MAX_LIMIT (100,000) for --limit.
 */
import type { Page } from '../../store/types.js';

export const PAGE_SIZE = 500;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 100_000;

export async function readPages<T>(limit: number, fetch: (size: number, after: string | undefined) => Promise<Page<T>>): Promise<{ items: T[]; more: boolean }> {
  const items: T[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await fetch(Math.min(PAGE_SIZE, limit - items.length), after);
    items.push(...page.items.slice(0, limit - items.length));
    if (page.next === undefined) return { items, more: false };
    if (items.length >= limit) return { items, more: true };
    after = page.next;
  }
}
