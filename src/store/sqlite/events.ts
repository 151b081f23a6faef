/**
 * NAME
 *   store/sqlite/events - change events across processes: the `events` table and its poller
 *
 * SYNOPSIS
 *   const feed = new ChangeFeed(source, { pollIntervalMs, now, onError })
 *   feed.start(lastId)                  begin polling after the event with id lastId
 *   feed.announceLocal(id, event)       the own process's write: emit now (local), never again from the poll
 *   feed.subscribe(listener) → unsubscribe
 *   feed.stop()
 *
 * DESCRIPTION
 *   SQLite has no pub/sub. Every write that changes a decision (listing put, allow added or
 *   removed) inserts a row `(id AUTOINCREMENT, type, key, at)` into `events` in the same
 *   transaction. Each store instance polls `id > lastSeen` every `pollIntervalMs` (an unref'd
 *   timer: it never keeps the process alive) and hands new rows to its listeners, so a CLI
 *   process writing to the file reaches a running `serve` within about one interval.
 *
 *   The writer's own process hears its change at once (`announceLocal`, right after the
 *   commit, with `local` true for the listeners); the id is remembered so the poll skips that
 *   row instead of emitting it twice.
 *   AUTOINCREMENT guarantees ids are never reused, even after pruning.
 *
 *   Now and then (every EVENT_PRUNE_EVERY_MS) rows older than EVENT_RETENTION_MS are deleted.
 *   A process that does not poll for longer than that (suspended, say) can miss events; its
 *   owner should reload from the store after such a pause.
 *
 *   A listener that throws does not stop the others; the error goes to `onError`, as do
 *   failures of a poll (the next tick tries again).
 *
 * LIMITS
 *   EVENT_POLL_BATCH (500 rows a query, repeated up to EVENT_POLL_MAX_BATCHES a tick),
 *   EVENT_RETENTION_MS (10 minutes), EVENT_PRUNE_EVERY_MS (1 minute).
 */
import type { StoreEvent } from '../types.js';

/** Rows read by one poll query. */
export const EVENT_POLL_BATCH = 500;
/** Poll queries per tick at most; the rest waits for the next tick. */
export const EVENT_POLL_MAX_BATCHES = 20;
/** Events older than this are pruned. */
export const EVENT_RETENTION_MS = 10 * 60_000;
/** How often a store prunes old events. */
export const EVENT_PRUNE_EVERY_MS = 60_000;

export interface EventRow {
  readonly id: number;
  readonly type: string;
  readonly key: string;
}

/**
 * What the feed needs from the database (each call is one small prepared statement). The
 * SQLite store answers through its writer thread (write-channel.ts), in order with its writes.
 */
export interface EventSource {
  since(afterId: number, limit: number): readonly EventRow[] | Promise<readonly EventRow[]>;
  prune(olderThan: number): void | Promise<void>;
}

export interface ChangeFeedOptions {
  readonly pollIntervalMs: number;
  readonly now: () => number;
  readonly onError: (err: unknown) => void;
}

/** eventKey - the `key` column of an event. */
export function eventKey(event: StoreEvent): string {
  return event.type === 'listing' ? event.ip : event.id;
}

/** eventFrom - a row back into an event; unknown types (from a newer release) are skipped. */
export function eventFrom(row: EventRow): StoreEvent | undefined {
  if (row.type === 'listing') return { type: 'listing', ip: row.key };
  if (row.type === 'allow') return { type: 'allow', id: row.key };
  return undefined;
}

export class ChangeFeed {
  private readonly listeners = new Set<(event: StoreEvent, local: boolean) => void>();
  /** Ids the own process wrote and already emitted, still ahead of the poll. */
  private readonly own = new Set<number>();
  private lastSeen = 0;
  private lastPruneAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A poll is under way (the source answers asynchronously): the timer skips a tick. */
  private polling = false;

  constructor(
    private readonly source: EventSource,
    private readonly options: ChangeFeedOptions,
  ) {}

  start(lastId: number): void {
    this.lastSeen = lastId;
    this.lastPruneAt = this.options.now();
    this.timer = setInterval(() => {
      if (!this.polling) void this.poll();
    }, this.options.pollIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
    this.own.clear();
  }

  subscribe(listener: (event: StoreEvent, local: boolean) => void): () => void {
    // Wrap, so the same function subscribed twice gets two independent subscriptions.
    const entry = (event: StoreEvent, local: boolean): void => listener(event, local);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  announceLocal(id: number, event: StoreEvent): void {
    if (id === this.lastSeen + 1) this.lastSeen = id;
    else this.own.add(id);
    this.emit(event, true);
  }

  /** poll - one tick: new rows since lastSeen, then pruning when it is due. */
  async poll(): Promise<void> {
    this.polling = true;
    try {
      for (let i = 0; i < EVENT_POLL_MAX_BATCHES; i++) {
        const rows = await this.source.since(this.lastSeen, EVENT_POLL_BATCH);
        if (this.timer === undefined) return; // stopped meanwhile
        for (const row of rows) {
          // Announced by this process while the read was on its way (the answer was read
          // before that announcement was handled): already emitted.
          if (row.id <= this.lastSeen) continue;
          this.lastSeen = row.id;
          if (this.own.delete(row.id)) continue;
          const event = eventFrom(row);
          if (event !== undefined) this.emit(event, false);
        }
        if (rows.length < EVENT_POLL_BATCH) break;
      }
      for (const id of this.own) if (id <= this.lastSeen) this.own.delete(id);
      const now = this.options.now();
      if (now - this.lastPruneAt >= EVENT_PRUNE_EVERY_MS) {
        this.lastPruneAt = now;
        await this.source.prune(now - EVENT_RETENTION_MS);
      }
    } catch (err) {
      this.options.onError(err);
    } finally {
      this.polling = false;
    }
  }

  private emit(event: StoreEvent, local: boolean): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event, local);
      } catch (err) {
        this.options.onError(err);
      }
    }
  }
}
