/**
 * NAME
 *   config/sections/http - the HTTP listener: JSON API (fronts/api), later the portal and console
 *
 * DESCRIPTION
 *   Operator API keys are kept as SHA-256 hashes with a name (`blocksmith api-key NAME` makes
 *   one): the configuration never holds a usable key. Ranges (trusted proxies, the /metrics allow
 *   list) are IPv4/IPv6 addresses or CIDR ranges, checked here so a typo stops the start instead
 *   of trusting nobody, or everybody. Every limit has its unit in its name, a default and bounds.
 *
 * SEE ALSO
 *   docs/api.md, docs/configuration.md (`http`), fronts/api/server.ts.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { listenList } from './listen.js';

export const DEFAULT_HTTP_LISTEN = '127.0.0.1:8025';

/**
 * An address or a CIDR range (IPv4 or IPv6), as proxy-addr and the front match them. IPv4 must
 * be four decimal parts: inet_aton's `0x7f.1` forms are refused (the reader and the matcher
 * must not disagree about which host is trusted).
 */
export const addressOrRange = z
  .string()
  .max(64)
  .refine(isAddressOrRange, 'an IPv4/IPv6 address or CIDR range');

export function isAddressOrRange(text: string): boolean {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const strict = ipaddr.IPv4.isValidFourPartDecimal(address) || (ipaddr.IPv6.isValid(address) && address.includes(':'));
  if (!strict) return false;
  if (slash === -1) return true;
  return /^\d{1,3}$/.test(text.slice(slash + 1)) && ipaddr.isValidCIDR(text);
}

/** One operator key: a name (the audit actor is `operator:<name>`) and the key's SHA-256 in hex. */
export const apiKeyEntry = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_", "-"; at most 64'),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, '64 hexadecimal digits (the SHA-256 of the key)')
    .transform((hex) => hex.toLowerCase()),
});

export const httpSchema = z
  .strictObject({
    /** Addresses of the HTTP listener; empty = no HTTP. */
    listen: listenList([DEFAULT_HTTP_LISTEN]),
    /** Operator keys (hashes only); empty = the operator API answers 401 to everyone. */
    apiKeys: z
      .array(apiKeyEntry)
      .max(100)
      .default([])
      .refine((keys) => new Set(keys.map((k) => k.name)).size === keys.length, 'api key names must be unique'),
    /** Proxies whose X-Forwarded-For is believed; empty = the socket address is the client. */
    trustedProxies: z.array(addressOrRange).max(100).default([]),
    /** Client ranges allowed to read /metrics. */
    metricsAllow: z.array(addressOrRange).max(100).default(['127.0.0.0/8', '::1/128']),
    /** Largest request body accepted. */
    bodyLimitBytes: z.number().int().min(1_024).max(1_048_576).default(16_384),
    /** Time a client has to send a whole request (headers and body): slow senders are cut. */
    requestTimeoutMs: z.number().int().min(1_000).max(300_000).default(10_000),
    /** A connection with no traffic for this long is closed (above check.deadlineMs: a check sends nothing while it runs). */
    connectionTimeoutMs: z.number().int().min(1_000).max(600_000).default(30_000),
    /** An idle keep-alive connection is closed after this long. */
    keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
    /** Connections open at once, per listen address; more are refused. */
    maxConnectionsCount: z.number().int().min(1).max(100_000).default(1_024),
    /** At stop, requests under way get this long to finish; then their connections are cut. */
    closeGraceMs: z.number().int().min(0).max(60_000).default(5_000),
    /** The window of every rate limit below: each is a token bucket refilled over this time. */
    rateWindowMs: z.number().int().min(1_000).max(86_400_000).default(60_000),
    /** Public reads (IP status, request status) per client per window. */
    readLimitCount: z.number().int().min(1).max(100_000).default(120),
    /** Live checks and unblocks (DNS work) per client per window. */
    checkLimitCount: z.number().int().min(1).max(10_000).default(10),
    /** Public forms (whitelist requests, contact) per client per window. */
    formLimitCount: z.number().int().min(1).max(10_000).default(3),
    /** Operator API calls per client per window (counted before the key is checked). */
    operatorLimitCount: z.number().int().min(1).max(1_000_000).default(600),
    /** Clients (IPv4 addresses, IPv6 /64s) the limiter tracks at once; when full, new ones wait. */
    rateTrackedClientsCount: z.number().int().min(100).max(10_000_000).default(100_000),
  })
  .prefault({});

export const HTTP_DESCRIPTIONS = {
  section: 'The HTTP listener: the JSON API under /api/v1 (docs/api.md) and /metrics.',
  keys: {
    'http.listen': 'addresses as host:port ([v6]:port); empty = no HTTP listener',
    'http.apiKeys': 'operator keys as [{ name, sha256 }] (make one with `blocksmith api-key NAME`); empty = no operator API',
    'http.trustedProxies': 'addresses or CIDR ranges whose X-Forwarded-For is believed; empty = nobody',
    'http.metricsAllow': 'client addresses or ranges allowed to read /metrics',
    'http.bodyLimitBytes': 'largest request body accepted',
    'http.requestTimeoutMs': 'time a client has to send a whole request (ms)',
    'http.connectionTimeoutMs': 'a connection with no traffic for this long is closed (ms); keep it above check.deadlineMs',
    'http.keepAliveTimeoutMs': 'an idle keep-alive connection is closed after this long (ms)',
    'http.maxConnectionsCount': 'connections open at once per listen address',
    'http.closeGraceMs': 'at stop, requests under way get this long to finish (ms)',
    'http.rateWindowMs': 'the window of the rate limits (ms)',
    'http.readLimitCount': 'public reads per client per window',
    'http.checkLimitCount': 'live checks and unblocks per client per window',
    'http.formLimitCount': 'public form posts (whitelist requests, contact) per client per window',
    'http.operatorLimitCount': 'operator API calls per client per window',
    'http.rateTrackedClientsCount': 'clients (IPv4 addresses, IPv6 /64s) the rate limiter tracks at once',
  },
} as const;

export type HttpConfig = z.infer<typeof httpSchema>;
export type ApiKeyEntry = z.infer<typeof apiKeyEntry>;
