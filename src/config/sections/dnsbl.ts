/**
 * NAME
 *   config/sections/dnsbl - the DNSBL zone front (fronts/dnsbl), RFC 5782
 */
import { z } from 'zod';
import { listenList } from './listen.js';

export const dnsblSchema = z
  .strictObject({
    /** UDP and TCP addresses; empty = the zone is not served (the default: a zone name is the operator's choice). */
    listen: listenList([]),
    /** The zone served, e.g. fcrdns.example.net; queries outside it are REFUSED. */
    zone: z
      .string()
      .max(200)
      .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/i, 'a DNS name')
      .default('fcrdns.blocksmith.invalid'),
  })
  .prefault({});

export const DNSBL_DESCRIPTIONS = {
  section: 'A DNSBL zone (RFC 5782) any MTA can query (docs/dnsbl.md).',
  keys: {
    'dnsbl.listen': 'UDP and TCP addresses as host:port; empty = not served',
    'dnsbl.zone': 'the zone served; queries outside it are REFUSED',
  },
} as const;

export type DnsblConfig = z.infer<typeof dnsblSchema>;
