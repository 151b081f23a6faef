/**
 * NAME
 *   config/descriptions - one line of explanation per setting, for `blocksmith init`
 *
 * DESCRIPTION
 *   test/unit/config/init.test.ts fails when a key of the schema has no line here, when a line
 *   names a key the schema does not have, or when docs/configuration.md does not mention a key:
 *   a new setting cannot be added without its explanation.
 */
import { CONSOLE_DESCRIPTIONS } from './sections/console.js';
import { DNSBL_DESCRIPTIONS } from './sections/dnsbl.js';
import { GATE_DESCRIPTIONS } from './sections/gate.js';
import { HTTP_DESCRIPTIONS } from './sections/http.js';
import { POLICY_DESCRIPTIONS } from './sections/policy.js';
import { PORTAL_DESCRIPTIONS } from './sections/portal.js';

/** Sections that keep their descriptions beside their schema (config/sections/). */
const SECTIONS = { policy: POLICY_DESCRIPTIONS, dnsbl: DNSBL_DESCRIPTIONS, http: HTTP_DESCRIPTIONS, portal: PORTAL_DESCRIPTIONS, gate: GATE_DESCRIPTIONS, console: CONSOLE_DESCRIPTIONS } as const;

export const SECTION_DESCRIPTIONS: Readonly<Record<string, string>> = {
  resolver: 'DNS: BlockSmith asks these servers itself (point it at a local caching resolver).',
  check: 'The FCrDNS check (../shared/design/FCRDNS.md).',
  firewall: 'Decisions, replies and listings (PRODUCT.md §3-§6).',
  store: 'Where state lives: sqlite for one node, redis for several.',
  log: 'One JSON line per event on stdout.',
  ...Object.fromEntries(Object.entries(SECTIONS).map(([name, d]) => [name, d.section])),
};

export const KEY_DESCRIPTIONS: Readonly<Record<string, string>> = {
  'resolver.servers': 'upstreams as host, host:port or [v6]:port (IP literals); empty = the nameservers of resolvConfPath',
  'resolver.resolvConfPath': 'where the default upstreams come from',
  'resolver.timeoutMs': 'wait for one reply, per try (ms)',
  'resolver.tries': 'tries per upstream, then the next upstream',
  'resolver.maxInFlightCount': 'questions on the wire at once; the rest queue',
  'resolver.maxQueuedCount': 'questions allowed to wait; past it a lookup fails at once (temporary)',
  'resolver.cacheEntriesCount': 'answers cached (0 disables)',
  'resolver.cacheMaxTtlS': 'upper bound on any cached TTL (s)',
  'resolver.negativeCacheMaxTtlS': 'upper bound on an NXDOMAIN/NODATA TTL (s); the TTL is the SOA minimum (RFC 2308)',
  'resolver.maxCnameChainCount': 'CNAMEs followed before a chain counts as broken',
  'resolver.udpQueriesPerSocketCount': 'questions per UDP socket before a new random source port (1 = a socket each)',
  'resolver.maxTcpReplyBytes': 'largest reply accepted over TCP',
  'check.deadlineMs': 'whole-check budget (ms); past it the verdict is temperror',
  'check.maxNamesCount': 'PTR names evaluated at most (RFC 7208 §4.6.4 precedent)',
  'check.forwardConcurrencyCount': 'forward look-ups of one check at once',
  'check.maxRunningCount': 'checks running at once; the rest wait within their deadline',
  'check.maxWaitingCount': 'checks allowed to wait; past it a check is temperror (overload)',
  'check.bypass': 'ranges never checked (verdict skipped); the documentation ranges are not in the default',
  'check.verdictCacheEntriesCount': 'verdicts cached per address (0 disables)',
  'check.verdictCacheMinTtlS': 'a verdict is cached at least this long (s)',
  'check.verdictCacheMaxTtlS': 'and at most this long (s)',
  'check.temperrorCacheTtlS': 'a temperror is cached at most this long (s)',
  'firewall.mode': 'soft (450 + listing), hard (550 + listing) or report-only (accept, log "would reject")',
  'firewall.modeByVerdict': 'per verdict overrides: { fail, permerror, temperror }',
  'firewall.organisation': 'who decided, named in every reply: { name }',
  'firewall.portalUrl': 'base of the link in every reply: <portalUrl>/ip/<ip>?r=<ref>',
  'firewall.alwaysAcceptLocalParts': 'recipients always accepted (RFC 5321 requires postmaster)',
  'firewall.recheckIntervalMs': 'a listed IP is refused without DNS work this long, then re-checked (ms)',
  'firewall.maintenanceEveryMs': 'period of background re-checks and expiry, one node at a time (ms)',
  'firewall.recheckBatchCount': 'due listings re-checked per run',
  'firewall.listingExpiryMs': 'a listing with no new rejection for this long expires (ms)',
  'firewall.listingUpdateFlushMs': 'rejections of a listed IP update the stored listing at most this often (ms)',
  'firewall.unblockPerIpCount': 'self-service unblocks per target IP per window',
  'firewall.unblockPerRequesterCount': 'self-service unblocks per requesting address per window',
  'firewall.unblockWindowMs': 'the unblock rate-limit window (ms)',
  'firewall.unblockTrackedKeysCount': 'addresses the unblock limiter tracks at once',
  'firewall.statsFlushMs': 'hourly counters are written to the store this often (ms)',
  'firewall.statsPendingHoursCount': 'hours of counters kept while the store is down',
  'firewall.retryQueueCount': 'listing writes kept for retry while the store is down (oldest dropped first)',
  'firewall.retryEveryMs': 'period of the retry of queued writes (ms)',
  'firewall.evidenceTraceMaxBytes': 'largest trace kept with a rejection\'s evidence',
  'firewall.evidenceNamesMaxCount': 'PTR names kept with a rejection\'s evidence',
  'firewall.replyNameMaxChars': 'longest PTR name quoted in a reply',
  'firewall.nodeId': 'this node\'s name for cluster leases; empty = <hostname>:<pid>',
  'store.backend': 'sqlite or redis',
  'store.path': 'the SQLite file (its directory is created)',
  'store.redisUrl': 'redis:// or rediss:// URL, for backend redis',
  'store.redisPrefix': 'key prefix in Redis',
  'log.level': 'fatal, error, warn, info, debug, trace or silent',
  ...(Object.assign({}, ...Object.values(SECTIONS).map((d) => d.keys)) as Record<string, string>),
};
