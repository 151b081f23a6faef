/**
 * NAME
 *   store/redis/pages - pages and batches over RedisStore's order sets
 *
 * SYNOPSIS
 *   scanPage({ redis, key, descending, after, limit, chunk, lowest, fetch, accept }): Promise<Page<T>>
 *   scanBatches({ redis, key, size, fetch, accept, batch }): Promise<void>
 *   clampLimit(limit): number
 *   PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, SCAN_CHUNK_COUNT
 *
 * DESCRIPTION
 *   An order set (keys.ts) holds `<time>|<id>` members with score 0; ZRANGEBYLEX and
 *   ZREVRANGEBYLEX read them in time order, from just past a cursor member. `fetch` turns
 *   members into records (undefined for one that vanished), `accept` applies the caller's
 *   filter, re-checked on the record itself because the index and the record are read in two
 *   steps. scanPage reads until it holds limit + 1 accepted records (or the set ends): the
 *   extra one only proves there is a next page, so `next` is present exactly when more match
 *   and the last page is never empty. With a filter the set is read SCAN_CHUNK_COUNT members at
 *   a time; without one, limit + 1 at a time.
 *
 *   Correct over fast: a filter that few records pass (a narrow `within`, a rare reason, an
 *   audit target) reads the whole set. The sets are bounded by what the store keeps (the audit
 *   set by AUDIT_MAX_ENTRIES).
 *
 * LIMITS
 *   PAGE_LIMIT_DEFAULT 100 when no limit is given; PAGE_LIMIT_MAX 1,000 (larger limits are
 *   clamped); SCAN_CHUNK_COUNT 500 members per read while filtering.
 *
 * SEE ALSO
 *   store/redis/keys.ts (members and cursors), store/redis/redis-store.ts.
 */
import type { Redis } from 'ioredis';

import type { Page } from '../types.js';
import { decodeCursor, encodeCursor } from './keys.js';

/** Page size when the caller gives none. */
export const PAGE_LIMIT_DEFAULT = 100;
/** Largest page served; a larger limit is clamped to this. */
export const PAGE_LIMIT_MAX = 1_000;
/** Members read per round trip while a filter is applied. */
export const SCAN_CHUNK_COUNT = 500;

/** clampLimit - a whole page size within 1..PAGE_LIMIT_MAX (default PAGE_LIMIT_DEFAULT). */
export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return PAGE_LIMIT_DEFAULT;
  return Math.min(Math.max(Math.floor(limit), 1), PAGE_LIMIT_MAX);
}

export interface ScanPageOptions<T> {
  readonly redis: Redis;
  readonly key: string;
  readonly descending: boolean;
  readonly after: string | undefined;
  readonly limit: number;
  /** True when `accept` may refuse records (read in SCAN_CHUNK_COUNT chunks). */
  readonly filtering: boolean;
  /** Lowest member to read, as a ZRANGEBYLEX bound (`[…` or `(…`); default the set's start. */
  readonly lowest?: string;
  readonly fetch: (members: readonly string[]) => Promise<readonly (T | undefined)[]>;
  readonly accept: (record: T) => boolean;
}

/** scanPage - one page of accepted records after the cursor, with `next` when more match. */
export async function scanPage<T>(opts: ScanPageOptions<T>): Promise<Page<T>> {
  const chunk = opts.filtering ? Math.max(SCAN_CHUNK_COUNT, opts.limit + 1) : opts.limit + 1;
  const lowest = opts.lowest ?? '-';
  let bound = opts.after === undefined ? undefined : `(${decodeCursor(opts.after)}`;
  const found: { member: string; record: T }[] = [];
  for (;;) {
    const members = opts.descending
      ? await opts.redis.zrevrangebylex(opts.key, bound ?? '+', lowest, 'LIMIT', 0, chunk)
      : await opts.redis.zrangebylex(opts.key, bound ?? lowest, '+', 'LIMIT', 0, chunk);
    if (members.length === 0) break;
    const records = await opts.fetch(members);
    for (let i = 0; i < members.length && found.length <= opts.limit; i++) {
      const record = records[i];
      const member = members[i];
      if (record !== undefined && member !== undefined && opts.accept(record)) found.push({ member, record });
    }
    if (found.length > opts.limit || members.length < chunk) break;
    bound = `(${members[members.length - 1] ?? ''}`;
  }
  const items = found.slice(0, opts.limit);
  const last = items[items.length - 1];
  if (found.length > opts.limit && last !== undefined) return { items: items.map((f) => f.record), next: encodeCursor(last.member) };
  return { items: items.map((f) => f.record) };
}

export interface ScanBatchesOptions<T> {
  readonly redis: Redis;
  readonly key: string;
  readonly size: number;
  readonly fetch: (members: readonly string[]) => Promise<readonly (T | undefined)[]>;
  readonly accept: (record: T) => boolean;
  readonly batch: (records: readonly T[]) => void;
}

/** scanBatches - the whole set in ascending order, `size` members per read; empty batches are skipped. */
export async function scanBatches<T>(opts: ScanBatchesOptions<T>): Promise<void> {
  let bound = '-';
  for (;;) {
    const members = await opts.redis.zrangebylex(opts.key, bound, '+', 'LIMIT', 0, opts.size);
    if (members.length === 0) return;
    const records = await opts.fetch(members);
    const accepted = records.filter((r): r is T => r !== undefined && opts.accept(r));
    if (accepted.length > 0) opts.batch(accepted);
    if (members.length < opts.size) return;
    bound = `(${members[members.length - 1] ?? ''}`;
  }
}
