/**
 * NAME
 *   store/redis/events - change events on the `<prefix>events` channel, and their listeners
 *
 * SYNOPSIS
 *   encodeEvent(event, nodeId): string       the channel message
 *   parseEvent(message, ownNode?): { event, local } | undefined
 *   const listeners = new EventListeners(); const stop = listeners.add(fn); listeners.deliver(event, local)
 *
 * DESCRIPTION
 *   A message is the StoreEvent as JSON plus `node`, the writer's node id (for operators reading
 *   the channel with redis-cli; listeners get the bare StoreEvent, and `local` true when `node`
 *   is this store's own node id: a write it made itself). A message that is not one of ours is
 *   ignored.
 *
 *   deliver calls every listener in the order added; one that throws is reported with
 *   process.emitWarning (code BS_STORE_LISTENER) and the others still hear the event. The same
 *   function added twice is two subscriptions, each removed by its own stop function.
 *
 * SEE ALSO
 *   store/redis/scripts.ts (PUBLISH inside each write), store/redis/redis-store.ts.
 */
import type { StoreEvent } from '../types.js';

export type EventListener = (event: StoreEvent, local: boolean) => void;

/** encodeEvent - the channel message for an event written by `nodeId`. */
export function encodeEvent(event: StoreEvent, nodeId: string): string {
  return JSON.stringify({ ...event, node: nodeId });
}

/** parseEvent - a channel message as a StoreEvent (local: written by `ownNode`), or undefined when it is not one. */
export function parseEvent(message: string, ownNode?: string): { readonly event: StoreEvent; readonly local: boolean } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const local = ownNode !== undefined && v.node === ownNode;
  if (v.type === 'listing' && typeof v.ip === 'string') return { event: { type: 'listing', ip: v.ip }, local };
  if (v.type === 'allow' && typeof v.id === 'string') return { event: { type: 'allow', id: v.id }, local };
  return undefined;
}

/** EventListeners - the listeners of one store. */
export class EventListeners {
  private readonly entries = new Set<EventListener>();

  /** add - subscribe; returns the unsubscribe (harmless to call twice). */
  add(listener: EventListener): () => void {
    const entry: EventListener = (event, local) => listener(event, local);
    this.entries.add(entry);
    return () => {
      this.entries.delete(entry);
    };
  }

  /** deliver - the event to every listener; a throwing one is reported, not fatal. */
  deliver(event: StoreEvent, local: boolean): void {
    for (const listener of [...this.entries]) {
      try {
        listener(event, local);
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        process.emitWarning(`a store event listener threw: ${detail}`, { code: 'BS_STORE_LISTENER' });
      }
    }
  }
}
