/**
 * NAME
 *   config/schema - every setting BlockSmith has, its default, its bounds
 *
 * DESCRIPTION
 *   One zod schema, validated at start-up: unknown keys are rejected (a typo must not silently
 *   fall back to a default), every limit carries its unit in its name and has a minimum and a
 *   maximum, defaults are filled in, and the result is frozen. Each part of BlockSmith receives
 *   only its own slice (`ResolverConfig`, `CheckConfig`).
 *
 * SEE ALSO
 *   docs/configuration.md (the operator's view of the same keys), config/load.ts.
 */
import { z } from 'zod';
import { consoleSchema } from './sections/console.js';
import { dnsblSchema } from './sections/dnsbl.js';
import { gateSchema } from './sections/gate.js';
import { httpSchema } from './sections/http.js';
import { portalSchema } from './sections/portal.js';
import { policySchema } from './sections/policy.js';

/** `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address. Parsed in dns/upstream.ts. */
const upstreamString = z.string().min(1).max(300);

/** Ranges that are never checked (verdict `skipped`). The documentation ranges are NOT here. */
export const DEFAULT_BYPASS: readonly string[] = Object.freeze([
  '127.0.0.0/8', // loopback
  '::1/128',
  '10.0.0.0/8', // RFC 1918
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16', // link-local
  'fe80::/10',
  '100.64.0.0/10', // CGNAT, RFC 6598
  'fc00::/7', // ULA, RFC 4193
  '0.0.0.0/8', // "this network": never a real client
  '::/128', // unspecified
]);

export const resolverSchema = z
  .strictObject({
    /** Upstream servers; empty = the nameservers of /etc/resolv.conf (127.0.0.1 if none). */
    servers: z.array(upstreamString).max(16).default([]),
    /** Where to read nameservers from when `servers` is empty. */
    resolvConfPath: z.string().min(1).default('/etc/resolv.conf'),
    /** Time to wait for one reply, per try. */
    timeoutMs: z.number().int().min(50).max(30_000).default(2_000),
    /** Tries per upstream before failing over to the next one. */
    tries: z.number().int().min(1).max(5).default(2),
    /** Questions on the wire at once, all lookups together; the rest wait in a queue. */
    maxInFlightCount: z.number().int().min(1).max(10_000).default(256),
    /** Lookups allowed to wait for a slot; past this a lookup fails at once (temp, network). */
    maxQueuedCount: z.number().int().min(0).max(1_000_000).default(100_000),
    /**
     * Entries in the answer cache (positive and negative together). 0 disables it. Modest by
     * default: the check keeps its own verdict cache, and production points at a caching
     * recursive resolver.
     */
    cacheEntriesCount: z.number().int().min(0).max(10_000_000).default(10_000),
    /** Upper bound on any cached TTL. */
    cacheMaxTtlS: z.number().int().min(0).max(604_800).default(86_400),
    /** Upper bound on a negative-cache TTL (RFC 2308 suggests 1-3 hours). */
    negativeCacheMaxTtlS: z.number().int().min(0).max(86_400).default(3_600),
    /** CNAMEs followed before the chain counts as broken. */
    maxCnameChainCount: z.number().int().min(1).max(32).default(8),
    /**
     * Questions one UDP socket carries before it is replaced by one on a new random source port
     * (1 = a socket per question: the most port randomisation, the slowest).
     */
    udpQueriesPerSocketCount: z.number().int().min(1).max(65_535).default(100),
    /** Largest reply accepted over TCP (bytes, after the length prefix). */
    maxTcpReplyBytes: z.number().int().min(512).max(65_535).default(65_535),
  })
  .prefault({});

export const checkSchema = z
  .strictObject({
    /** Whole-check budget: past it the verdict is temperror / deadline. */
    deadlineMs: z.number().int().min(100).max(120_000).default(10_000),
    /** PTR names evaluated at most (RFC 7208 §4.6.4 precedent). */
    maxNamesCount: z.number().int().min(1).max(50).default(10),
    /** Forward look-ups of one check at once. */
    forwardConcurrencyCount: z.number().int().min(1).max(50).default(4),
    /**
     * Checks running at once; the others wait their turn (their deadline still runs). Keeps a
     * flood of new addresses from holding thousands of half-done checks in memory.
     */
    maxRunningCount: z.number().int().min(1).max(100_000).default(64),
    /** Checks allowed to wait; past this a check is temperror / overload at once. */
    maxWaitingCount: z.number().int().min(0).max(10_000_000).default(100_000),
    /** CIDR ranges given `skipped` without a DNS query. */
    bypass: z.array(z.string().min(1).max(64)).max(10_000).default([...DEFAULT_BYPASS]),
    /** Verdict cache size (IPs). 0 disables it. */
    verdictCacheEntriesCount: z.number().int().min(0).max(10_000_000).default(100_000),
    /** A verdict is cached for the smallest DNS TTL involved, clamped to these bounds. */
    verdictCacheMinTtlS: z.number().int().min(0).max(86_400).default(60),
    verdictCacheMaxTtlS: z.number().int().min(0).max(86_400).default(3_600),
    /** temperror is cached at most this long (a DNS outage must clear itself soon). */
    temperrorCacheTtlS: z.number().int().min(0).max(3_600).default(60),
  })
  .prefault({});

/** How the firewall acts on a refusing verdict (PRODUCT.md §3). */
export const firewallModeSchema = z.enum(['soft', 'hard', 'report-only']);

/** Printable ASCII without `%` and `\\` (they mean something to some MTAs' reply handling). */
const replySafeText = /^[\x20-\x24\x26-\x5b\x5d-\x7e]+$/;

export const firewallSchema = z
  .strictObject({
    /** soft: 450 4.7.25 and listing; hard: 550 5.7.25 and listing; report-only: accept, log "would reject". */
    mode: firewallModeSchema.default('soft'),
    /** Per verdict class overrides of `mode` (temperror is a 451 in soft and hard alike). */
    modeByVerdict: z
      .strictObject({
        fail: firewallModeSchema.optional(),
        permerror: firewallModeSchema.optional(),
        temperror: firewallModeSchema.optional(),
      })
      .prefault({}),
    organisation: z
      .strictObject({
        /** Who decided, as named in every reply ("Rejected by <name> mail gateway"). */
        name: z.string().min(1).max(64).regex(replySafeText).default('BlockSmith'),
      })
      .prefault({}),
    /** Base of the portal links in replies: `<portalUrl>/ip/<ip>?r=<ref>`. http or https, no query. */
    portalUrl: z
      .url({ protocol: /^https?$/ })
      .max(200)
      .regex(/^[\x21-\x24\x26-\x5b\x5d-\x7e]+$/)
      .refine((u) => !u.includes('?') && !u.includes('#'), 'portalUrl takes no query or fragment')
      .default('http://127.0.0.1:8025'),
    /** Recipient local parts always accepted (RFC 5321 requires postmaster); case-insensitive. */
    alwaysAcceptLocalParts: z.array(z.string().min(1).max(64)).max(100).default(['postmaster', 'abuse']),
    /** A listed IP is refused from its listing, with no DNS work, this long (never before the negative TTL ends). */
    recheckIntervalMs: z.number().int().min(10_000).max(7 * 86_400_000).default(15 * 60_000),
    /** Period of the background re-check and expiry run (one node at a time, by lease). */
    maintenanceEveryMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
    /** Due listings re-checked per maintenance run. */
    recheckBatchCount: z.number().int().min(1).max(100_000).default(500),
    /** A listing with no new rejection for this long expires. */
    listingExpiryMs: z.number().int().min(3_600_000).max(365 * 86_400_000).default(30 * 86_400_000),
    /** Rejections of a listed IP update its stored listing at most this often (one write per IP). */
    listingUpdateFlushMs: z.number().int().min(100).max(3_600_000).default(10_000),
    /** Self-service unblocks per target IP per window. */
    unblockPerIpCount: z.number().int().min(1).max(1_000).default(3),
    /** Self-service unblocks per requesting address per window. */
    unblockPerRequesterCount: z.number().int().min(1).max(10_000).default(10),
    unblockWindowMs: z.number().int().min(1_000).max(86_400_000).default(10 * 60_000),
    /** Keys (IPs and requesters) the unblock limiter tracks at once; when full, unblocks are refused. */
    unblockTrackedKeysCount: z.number().int().min(100).max(10_000_000).default(100_000),
    /** Hourly counters are written to the store this often, and at stop(). */
    statsFlushMs: z.number().int().min(100).max(3_600_000).default(10_000),
    /** Hours of counters kept in memory while the store cannot take them; older hours are dropped. */
    statsPendingHoursCount: z.number().int().min(1).max(8_760).default(168),
    /** Listing and evidence writes kept for retry while the store is unavailable; the oldest go first. */
    retryQueueCount: z.number().int().min(0).max(10_000_000).default(10_000),
    /** Period of the retry of queued writes. */
    retryEveryMs: z.number().int().min(100).max(3_600_000).default(5_000),
    /** Largest JSON size of a trace kept with evidence; a larger one is trimmed. */
    evidenceTraceMaxBytes: z.number().int().min(1_024).max(1_048_576).default(16_384),
    /** PTR names kept with evidence. */
    evidenceNamesMaxCount: z.number().int().min(1).max(100).default(20),
    /** Longest PTR name shown in a reply (longer ones are cut with "..."). */
    replyNameMaxChars: z.number().int().min(16).max(255).default(64),
    /** Holder name for cluster leases; empty = `<hostname>:<pid>`, computed at start. */
    nodeId: z.string().max(128).regex(/^[\x21-\x7e]*$/).default(''),
  })
  .prefault({});

export const storeSchema = z
  .strictObject({
    /** sqlite: one node, a file (the default); redis: several nodes sharing state. */
    backend: z.enum(['sqlite', 'redis']).default('sqlite'),
    /** The SQLite file; its directory is created if missing. */
    path: z.string().min(1).max(4096).default('./data/blocksmith.db'),
    /** Redis, for backend redis: redis://[user:password@]host:port[/db] or rediss://. */
    redisUrl: z
      .string()
      .max(2048)
      .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379'),
    /** Key prefix in Redis (several BlockSmith clusters can share one Redis). */
    redisPrefix: z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/).default('blocksmith:'),
  })
  .prefault({});

export const logSchema = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    resolver: resolverSchema,
    check: checkSchema,
    firewall: firewallSchema,
    store: storeSchema,
    log: logSchema,
    policy: policySchema,
    dnsbl: dnsblSchema,
    http: httpSchema,
    portal: portalSchema,
    gate: gateSchema,
    console: consoleSchema,
  })
  .prefault({});

export type { ConsoleConfig } from './sections/console.js';
export type { DnsblConfig } from './sections/dnsbl.js';
export type { GateConfig } from './sections/gate.js';
export type { HttpConfig } from './sections/http.js';
export type { PortalConfig } from './sections/portal.js';
export type { PolicyConfig } from './sections/policy.js';
export type StoreConfig = z.infer<typeof storeSchema>;

export type ResolverConfig = z.infer<typeof resolverSchema>;
export type CheckConfig = z.infer<typeof checkSchema>;
export type Config = z.infer<typeof configSchema>;
export type FirewallConfig = z.infer<typeof firewallSchema>;
export type FirewallMode = z.infer<typeof firewallModeSchema>;
