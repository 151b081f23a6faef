/**
 * NAME
 *   store/retention - how long a store keeps what grows with traffic, the same on every backend
 *
 * DESCRIPTION
 *   Evidence records (one per refusal episode), hourly counters and audit entries grow with the
 *   mail a node sees; listings, allow entries, requests and accounts grow with what people do
 *   and are kept. Redis drops the first three by itself (key TTLs, a capped sorted set:
 *   redis/redis-store.ts); SQLite deletes them in the background, hourly, a bounded chunk at a
 *   time (sqlite/sqlite-store.ts applyRetention). A reference older than EVIDENCE_RETENTION_MS
 *   is answered as unknown on either store.
 *
 * LIMITS
 *   EVIDENCE_RETENTION_MS 90 days; STATS_RETENTION_MS 400 days (a year of statistics and the
 *   same month of the year before); AUDIT_MAX_ENTRIES 250,000 (the oldest go first).
 */

/** Evidence is kept this long after it was written (ms): 90 days. */
export const EVIDENCE_RETENTION_MS = 90 * 24 * 3_600_000;
/** An hour's counters are kept this long (ms): 400 days. */
export const STATS_RETENTION_MS = 400 * 24 * 3_600_000;
/** The audit log keeps at most this many entries; the oldest (by `at`) go first. */
export const AUDIT_MAX_ENTRIES = 250_000;
