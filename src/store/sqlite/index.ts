/**
 * NAME
 *   store/sqlite - the SQLite store's public surface
 *
 * SYNOPSIS
 *   import { SqliteStore } from './store/sqlite/index.js'
 *
 * DESCRIPTION
 *   Re-exports SqliteStore, its options and limits, and the schema version. See sqlite-store.ts.
 */
export {
  BUSY_TIMEOUT_MS,
  DEFAULT_ACTIVE_BATCH,
  DEFAULT_PAGE_LIMIT,
  DEFAULT_POLL_INTERVAL_MS,
  MAX_PAGE_LIMIT,
  MIN_POLL_INTERVAL_MS,
  RETENTION_CHUNK_ROWS,
  RETENTION_EVERY_MS,
  RETENTION_MAX_CHUNKS,
  SqliteStore,
  WITHIN_SCAN_CHUNK,
} from './sqlite-store.js';
export type { SqliteStoreOptions } from './sqlite-store.js';
export { SCHEMA_VERSION } from './migrations.js';
export { EVENT_RETENTION_MS } from './events.js';
