/**
 * NAME
 *   config/sections/dnsbl - the DNSBL zone front (fronts/dnsbl), RFC 5782
 *
 * DESCRIPTION
 *   TTLs in seconds (`…TtlS`), times in milliseconds (`…Ms`), caps as `…Count`. Empty SOA and NS
 *   names are filled from the zone at start (fronts/dnsbl/zone.ts): `soaMname` = the zone
 *   itself, `soaRname` = hostmaster.<zone>, `nsNames` = [soaMname]. Set them to the real names
 *   the parent zone delegates to.
 */
import { z } from 'zod';
import { listenList } from './listen.js';

/** One DNS host name (LDH labels, at most 253 characters), an optional trailing dot. */
const hostName = z
  .string()
  .max(254)
  .regex(/^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/i, 'a DNS name');

/** The zone's name (also `blocksmith export rbldnsd --zone`). */
export const zoneName = z
  .string()
  .max(200)
  .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/i, 'a DNS name');

export const dnsblSchema = z
  .strictObject({
    /** UDP and TCP addresses; empty = the zone is not served (the default: a zone name is the operator's choice). */
    listen: listenList([]),
    /** The zone served, e.g. fcrdns.example.net; queries outside it are REFUSED. */
    zone: zoneName.default('fcrdns.blocksmith.invalid'),
    /** TTL of the A and TXT records of a listed address (postscreen clamps TTLs to [60 s, 1 h]). */
    listedTtlS: z.number().int().min(0).max(86_400).default(300),
    /** Negative TTL (RFC 2308): the SOA minimum, and the TTL of the SOA sent with NXDOMAIN/NODATA. Small, so new listings show soon. */
    negativeTtlS: z.number().int().min(0).max(86_400).default(60),
    /** TTL of the SOA and NS records asked for at the apex. */
    apexTtlS: z.number().int().min(0).max(604_800).default(3_600),
    /** SOA MNAME; empty = the zone name itself. */
    soaMname: z.union([z.literal(''), hostName]).default(''),
    /** SOA RNAME (the contact mailbox, `.` for `@`); empty = hostmaster.<zone>. */
    soaRname: z.union([z.literal(''), hostName]).default(''),
    /** NS records at the apex; empty = one NS, the SOA MNAME. */
    nsNames: z.array(hostName).max(16).default([]),
    /** Answers per second per client network over UDP (token bucket refill); 0 turns rate limiting off. */
    rateLimitPerSecondCount: z.number().int().min(0).max(1_000_000).default(1_000),
    /** Bucket size: answers a client network may get in a burst. */
    rateLimitBurstCount: z.number().int().min(1).max(10_000_000).default(2_000),
    /** Over the limit, every n-th answer is sent empty with TC=1 (the client retries over TCP) and the rest dropped; 0 = drop all. */
    rateLimitSlipCount: z.number().int().min(0).max(100).default(2),
    /** Client networks: IPv4 clients are counted per this prefix. */
    rateLimitIpv4PrefixLength: z.number().int().min(8).max(32).default(24),
    /** Client networks: IPv6 clients are counted per this prefix. */
    rateLimitIpv6PrefixLength: z.number().int().min(16).max(128).default(56),
    /** Client networks tracked at once (least recently seen forgotten first). */
    rateLimitTrackedCount: z.number().int().min(100).max(10_000_000).default(100_000),
    /** TCP connections open at once, all listen addresses together; more are closed at once. */
    tcpMaxConnectionsCount: z.number().int().min(1).max(100_000).default(256),
    /** A TCP connection with no complete query for this long is closed (RFC 7766 §6.2.3). */
    tcpIdleTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** Largest query accepted (UDP datagram or TCP message); larger ones are dropped (TCP: connection closed). */
    maxQueryBytes: z.number().int().min(512).max(65_535).default(4_096),
    /**
     * How UDP is read and written: `native` = the recvmmsg/sendmmsg addon (native/udp-batch, built at
     * npm install; Linux), `dgram` = node:dgram, `auto` = native when built, else dgram. `native`
     * when it is not built is a start-up error.
     */
    udpEngine: z.enum(['auto', 'native', 'dgram']).default('auto'),
    /** Largest UDP answer to an EDNS query (RFC 6891; 1232 avoids fragmentation); without EDNS 512. */
    ednsUdpBytes: z.number().int().min(512).max(4_096).default(1_232),
    /** Live mode: an address the firewall has not judged is checked before the answer (off: NXDOMAIN). */
    live: z.boolean().default(false),
    /** Live mode: the check's deadline; past it the answer is SERVFAIL, never "listed". */
    liveDeadlineMs: z.number().int().min(100).max(60_000).default(3_000),
    /** Live mode: checks waiting at once; past this the answer is SERVFAIL at once. */
    liveMaxPendingCount: z.number().int().min(1).max(1_000_000).default(1_000),
  })
  .prefault({});

export const DNSBL_DESCRIPTIONS = {
  section: 'A DNSBL zone (RFC 5782) any MTA can query (docs/dnsbl.md).',
  keys: {
    'dnsbl.listen': 'UDP and TCP addresses as host:port; empty = not served',
    'dnsbl.zone': 'the zone served; queries outside it are REFUSED',
    'dnsbl.listedTtlS': 'TTL (s) of the A and TXT records of a listed address',
    'dnsbl.negativeTtlS': 'negative TTL (s): the SOA minimum, and the SOA TTL in NXDOMAIN/NODATA answers',
    'dnsbl.apexTtlS': 'TTL (s) of the SOA and NS records at the apex',
    'dnsbl.soaMname': 'SOA MNAME; empty = the zone name',
    'dnsbl.soaRname': 'SOA RNAME (contact mailbox, "." for "@"); empty = hostmaster.<zone>',
    'dnsbl.nsNames': 'NS names at the apex; empty = the SOA MNAME',
    'dnsbl.rateLimitPerSecondCount': 'UDP answers per second per client network; 0 = no rate limit',
    'dnsbl.rateLimitBurstCount': 'UDP answers a client network may get in a burst',
    'dnsbl.rateLimitSlipCount': 'over the limit, every n-th answer goes out empty with TC=1, the rest are dropped; 0 = drop all',
    'dnsbl.rateLimitIpv4PrefixLength': 'IPv4 clients are rate-limited per this prefix',
    'dnsbl.rateLimitIpv6PrefixLength': 'IPv6 clients are rate-limited per this prefix',
    'dnsbl.rateLimitTrackedCount': 'client networks the rate limiter tracks at once',
    'dnsbl.tcpMaxConnectionsCount': 'TCP connections open at once (all addresses); more are closed',
    'dnsbl.tcpIdleTimeoutMs': 'a TCP connection idle this long is closed',
    'dnsbl.maxQueryBytes': 'largest query accepted; larger ones are dropped',
    'dnsbl.udpEngine': 'UDP path: "native" (recvmmsg/sendmmsg addon built at npm install), "dgram" (node:dgram), "auto" = native when built',
    'dnsbl.ednsUdpBytes': 'largest UDP answer to an EDNS query (512 without EDNS)',
    'dnsbl.live': 'check addresses the firewall has not judged yet before answering',
    'dnsbl.liveDeadlineMs': 'live mode: deadline of that check; past it SERVFAIL',
    'dnsbl.liveMaxPendingCount': 'live mode: checks waiting at once; past it SERVFAIL',
  },
} as const;

export type DnsblConfig = z.infer<typeof dnsblSchema>;
