/**
 * NAME
 *   store/sqlite/driver-errors - turn SQLite and file-system failures into BS_ERR_STORE_UNAVAILABLE
 *
 * SYNOPSIS
 *   storeUnavailable(file, doing, cause): BlockSmithError
 *   guarded(file, doing, fn): T          runs fn; any failure leaves as BS_ERR_STORE_UNAVAILABLE
 *
 * DESCRIPTION
 *   better-sqlite3 throws `SqliteError` with a `code` such as SQLITE_FULL, SQLITE_READONLY,
 *   SQLITE_CANTOPEN, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_IOERR_*, SQLITE_BUSY; node's fs throws
 *   errors with codes like EACCES or ENOTDIR. None of them may escape raw: the message names the
 *   file, what the store was doing and the code, and the original error is kept as `cause`.
 *   A BlockSmithError passing through (e.g. a bad page cursor) is rethrown unchanged.
 *
 * DIAGNOSTICS
 *   BlockSmithError('BS_ERR_STORE_UNAVAILABLE',
 *     'SQLite store <file>: <doing> failed (<CODE>): <driver message>').
 */
import { BlockSmithError, isBlockSmithError } from '../../errors.js';

/** errorCode - the driver's or the OS's code of an error, else its class name. */
function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  if (err instanceof Error) return err.name;
  return 'UNKNOWN';
}

/** storeUnavailable - the coded error for a failure of the file or the database. */
export function storeUnavailable(file: string, doing: string, cause: unknown): BlockSmithError {
  if (isBlockSmithError(cause)) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new BlockSmithError(
    'BS_ERR_STORE_UNAVAILABLE',
    `SQLite store ${file}: ${doing} failed (${errorCode(cause)}): ${detail}`,
    { cause },
  );
}

/** guarded - runs `fn`, converting any failure with storeUnavailable. */
export function guarded<T>(file: string, doing: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw storeUnavailable(file, doing, err);
  }
}
