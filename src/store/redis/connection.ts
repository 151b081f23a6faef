/**
 * NAME
 *   store/redis/connection - ioredis clients that fail fast, and the store's error mapping
 *
 * SYNOPSIS
 *   createClient(url, { commandTimeoutMs, name }): Redis          not connected yet (lazy)
 *   connectClient(client, safeUrl, timeoutMs): Promise<void>      throws BS_ERR_STORE_UNAVAILABLE
 *   safeUrl(url): string                                          the URL without its password
 *   storeError(safeUrl, what, err): Error     BlockSmithError, or the caller's own RangeError
 *   COMMAND_TIMEOUT_MS_DEFAULT, OPEN_TIMEOUT_MS, RECONNECT_DELAY_STEP_MS, RECONNECT_DELAY_MAX_MS
 *
 * DESCRIPTION
 *   Losing Redis must not stop mail (PRODUCT.md §7): the firewall goes on from its hot cache,
 *   so a store call must fail quickly rather than wait for Redis. The clients are built so that:
 *   - a command sent while disconnected rejects at once (`enableOfflineQueue: false`);
 *   - a command sent into a stalled connection rejects after `commandTimeoutMs`;
 *   - a command in flight when the connection drops is not re-sent after reconnecting
 *     (`maxRetriesPerRequest: 0`): a write whose answer was lost must not be applied twice
 *     (its audit entry would be doubled); the caller sees the error and decides;
 *   - the client reconnects forever, RECONNECT_DELAY_STEP_MS × attempts up to
 *     RECONNECT_DELAY_MAX_MS apart, and a subscriber re-subscribes on its own (ioredis
 *     `autoResubscribe`).
 *
 *   Every error leaves the store as BlockSmithError BS_ERR_STORE_UNAVAILABLE naming the URL
 *   (password replaced by `***`) and what was being done; the ioredis error is the cause.
 *
 * LIMITS
 *   COMMAND_TIMEOUT_MS_DEFAULT 2,000; OPEN_TIMEOUT_MS 2,000 (open gives up; no background
 *   retry continues); reconnect delay 50 ms steps up to 1,000 ms.
 *
 * SEE ALSO
 *   store/redis/redis-store.ts.
 */
import { Redis } from 'ioredis';

import { BlockSmithError } from '../../errors.js';

/** Default deadline of one command (ms). */
export const COMMAND_TIMEOUT_MS_DEFAULT = 2_000;
/** open() gives up connecting after this long (ms). */
export const OPEN_TIMEOUT_MS = 2_000;
/** Reconnect delay grows by this much per failed attempt (ms)… */
export const RECONNECT_DELAY_STEP_MS = 50;
/** …up to this (ms). */
export const RECONNECT_DELAY_MAX_MS = 1_000;

export interface ClientOptions {
  readonly commandTimeoutMs: number;
  /** CLIENT SETNAME, seen in CLIENT LIST (e.g. `blocksmith:<node>`). */
  readonly name: string;
}

/** createClient - a lazy ioredis client that fails fast and reconnects forever. */
export function createClient(url: string, opts: ClientOptions): Redis {
  return new Redis(url, {
    lazyConnect: true,
    connectionName: opts.name,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: OPEN_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: true,
    retryStrategy: (attempts: number) => Math.min(attempts * RECONNECT_DELAY_STEP_MS, RECONNECT_DELAY_MAX_MS),
  });
}

/** safeUrl - the URL for messages: any password becomes `***`; unparsable text is cut short. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis URL (unparsable)';
  }
}

/** storeError - any failure as BS_ERR_STORE_UNAVAILABLE naming the URL and the call (a RangeError is re-thrown). */
export function storeError(url: string, what: string, err: unknown): Error {
  if (err instanceof BlockSmithError) return err;
  // A caller's bug (a cursor that is not ours, a bad ttl) stays what it is.
  if (err instanceof RangeError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new BlockSmithError('BS_ERR_STORE_UNAVAILABLE', `redis ${url}: ${what} failed: ${detail}`, { cause: err });
}

/**
 * connectClient - connect within timeoutMs or give up for good (no retry left running);
 * rejects with BS_ERR_STORE_UNAVAILABLE naming the URL.
 */
export async function connectClient(client: Redis, url: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let lastError: Error | undefined;
  const onError = (err: Error): void => {
    lastError = err;
  };
  client.on('error', onError);
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([client.connect(), deadline]);
  } catch (err) {
    client.disconnect(false);
    const reason = lastError ?? err;
    const detail = reason instanceof Error ? reason.message || reason.name : String(reason);
    throw new BlockSmithError('BS_ERR_STORE_UNAVAILABLE', `redis ${url} cannot be reached: ${detail}`, { cause: reason });
  } finally {
    clearTimeout(timer);
    client.off('error', onError);
  }
}
