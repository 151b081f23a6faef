/**
 * NAME
 *   dns/types - the resolver's public contract
 *
 * DESCRIPTION
 *   What the FCrDNS check (and later the portal's trace) sees of DNS. A lookup never throws for a
 *   DNS reason: every failure is a value (`outcome: 'temp'` with a `tempReason`), because a DNS
 *   failure must travel up to the firewall as a temporary error, never as an exception that some
 *   caller might turn into "no PTR".
 *
 *   Names are presentation form, lower-case, without the trailing dot. Record data is kept as the
 *   wire gave it (after dns-packet's decoding): an attacker controls PTR data, so callers validate
 *   and escape it, this module does not.
 */

import type { AbortLike } from '../util/abort.js';

/** Record types the stub resolver asks for. */
export type QueryType = 'A' | 'AAAA' | 'PTR' | 'SOA' | 'NS' | 'TXT' | 'CNAME';

/** One resource record as received. `data` is the address, target name or text, as a string. */
export interface DnsRecord {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly data: string;
}

export interface DnsFlags {
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
}

/**
 * One question sent to one upstream and what came of it: a reply, a timeout or a network error.
 * A lookup records every exchange it made (retries, TCP after truncation, each CNAME hop), so a
 * trace can show the whole path. A lookup served from the cache has exchanges with `transport:
 * 'cache'` that copy the original answer's rcode and records.
 */
export interface DnsExchange {
  readonly qname: string;
  readonly qtype: QueryType;
  /** `host:port` of the upstream, `[v6]:port` for IPv6, or `cache`. */
  readonly server: string;
  readonly transport: 'udp' | 'tcp' | 'cache';
  /** Wall-clock start, milliseconds since the epoch. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** Set when a reply arrived: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, FORMERR, NOTIMP, … */
  readonly rcode?: string;
  readonly flags?: DnsFlags;
  readonly answers: readonly DnsRecord[];
  readonly authority: readonly DnsRecord[];
  /** Set when no usable reply arrived. */
  readonly error?: 'timeout' | 'network' | 'aborted';
  /** Human-readable detail for the error (e.g. `ECONNREFUSED`), safe to show. */
  readonly errorDetail?: string;
}

/** Why a lookup could not be completed. Each of these is temporary: try again later. */
export type TempReason =
  | 'servfail'
  | 'refused'
  | 'formerr'
  | 'notimp'
  | 'other-rcode'
  | 'timeout'
  | 'network'
  /** No answer, NS records in authority, AA not set: the upstream handed us a referral. */
  | 'referral'
  /** No answer, not authoritative, recursion not available: the upstream could not resolve it. */
  | 'no-recursion'
  | 'aborted';

/**
 * The result of resolving one name and type, CNAMEs followed.
 * - `answer`: `records` holds the records of the asked type at the end of the chain (never empty).
 * - `nxdomain`: the name (or the end of its CNAME chain) does not exist.
 * - `nodata`: the name exists but has no record of that type, or the CNAME chain leads nowhere
 *   (dangling, looping or longer than the limit: see `note`).
 * - `temp`: the lookup could not be completed; `tempReason` says why.
 */
export interface LookupResult {
  readonly qname: string;
  readonly qtype: QueryType;
  readonly outcome: 'answer' | 'nxdomain' | 'nodata' | 'temp';
  readonly tempReason?: TempReason;
  /** `cname-loop` or `cname-chain-too-long` when a nodata comes from a broken chain. */
  readonly note?: 'cname-loop' | 'cname-chain-too-long';
  readonly records: readonly DnsRecord[];
  /** The CNAME records followed, in order from `qname`. */
  readonly cnameChain: readonly DnsRecord[];
  /**
   * Seconds the result may be cached: the smallest TTL along the chain for an answer; for
   * nxdomain/nodata, min(SOA TTL, SOA minimum) per RFC 2308 (0 if no SOA came back);
   * 0 for temp.
   */
  readonly ttl: number;
  readonly fromCache: boolean;
  readonly exchanges: readonly DnsExchange[];
}

export interface LookupOptions {
  /** Aborting ends the lookup with `outcome: 'temp', tempReason: 'aborted'`. */
  readonly signal?: AbortLike;
  /** Skip the cache for this lookup (the answer still refreshes it). Used by self-service unblock. */
  readonly noCache?: boolean;
}

/** The one function the check needs from DNS. Tests and the CLI inject their own. */
export interface Resolver {
  lookup(qname: string, qtype: QueryType, options?: LookupOptions): Promise<LookupResult>;
}

/** An upstream server, parsed from `host[:port]` / `[v6]:port`. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
}
