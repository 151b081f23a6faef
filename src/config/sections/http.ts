/**
 * NAME
 *   config/sections/http - the HTTP listener: JSON API (fronts/api), later the portal and console
 */
import { z } from 'zod';
import { listenList } from './listen.js';

export const DEFAULT_HTTP_LISTEN = '127.0.0.1:8025';

export const httpSchema = z
  .strictObject({
    /** Addresses of the HTTP listener; empty = no HTTP. */
    listen: listenList([DEFAULT_HTTP_LISTEN]),
  })
  .prefault({});

export const HTTP_DESCRIPTIONS = {
  section: 'The HTTP listener: the JSON API under /api/v1 (docs/api.md) and /metrics.',
  keys: {
    'http.listen': 'addresses as host:port ([v6]:port); empty = no HTTP listener',
  },
} as const;

export type HttpConfig = z.infer<typeof httpSchema>;
