/**
 * NAME
 *   dns/stub-resolver - the Resolver the FCrDNS check uses: upstream failover, CNAME following,
 *   reply classification, caching, coalescing and a global in-flight cap
 *
 * SYNOPSIS
 *   const r = StubResolver.fromConfig(config)                   // reads resolv.conf if no servers
 *   const r = await StubResolver.fromConfigAsync(config)        // the same, non-blocking read
 *   const r = new StubResolver(config, { now, upstreams })      // sync; tests inject a clock
 *   await r.lookup('2.2.0.192.in-addr.arpa', 'PTR', { signal, noCache }): Promise<LookupResult>
 *   r.upstreams, r.upstreamInfo, r.stats
 *   r.close()
 *
 * DESCRIPTION
 *   lookup() never throws and never rejects: every failure is a `temp` result (dns/types.ts).
 *
 *   Names. The qname is normalised (A-Z lower-cased, one trailing dot stripped). A name that
 *   cannot be put on the wire (empty label, label > 63 bytes, name > 253 characters, control
 *   characters) is a caller bug; such a name cannot exist in the DNS, so the result is `nxdomain`
 *   with ttl 0, no exchange, and it is not cached. It is never `answer` and never `temp` (a
 *   hostile PTR name must not be able to turn a check into a temporary error).
 *
 *   Upstreams. For each upstream in order, up to `tries` attempts of `timeoutMs` each. A timeout
 *   retries the same upstream; a network error (e.g. ECONNREFUSED), SERVFAIL or REFUSED moves to
 *   the next upstream at once (one broken upstream must not decide); when all upstreams fail the
 *   result is `temp` with the last reason seen. Any NOERROR or NXDOMAIN reply is final, and so are
 *   FORMERR and NOTIMP (temp/formerr, temp/notimp).
 *
 *   Classification of an accepted reply for name N (FCRDNS.md step 4):
 *     SERVFAIL → temp/servfail, REFUSED → temp/refused, FORMERR → temp/formerr,
 *     NOTIMP → temp/notimp, any other non-NOERROR/NXDOMAIN → temp/other-rcode.
 *     Otherwise the CNAME chain from N is walked inside the answer section (owner names compared
 *     case-insensitively; records whose owner is not the current chain name are ignored), then:
 *     NXDOMAIN → nxdomain (for the end of the chain, RFC 6604); records of qtype at the chain's
 *     end → answer; chain ends in a CNAME with no data → query the target (a new exchange);
 *     no answer at all: AA unset, NS in authority and no SOA → temp/referral; AA unset, RA unset,
 *     no SOA → temp/no-recursion; otherwise nodata. An authoritative (AA) NODATA/NXDOMAIN is
 *     final whatever RA says. A qtype of CNAME is not followed: the CNAME is the answer.
 *   CNAME chain: at most `maxCnameChainCount` CNAMEs; one more → nodata, note
 *   'cname-chain-too-long'; a target seen before → nodata, note 'cname-loop' (both ttl 0: no SOA
 *   vouches for them); an unencodable target → nodata, ttl 0.
 *
 *   TTL: answer → smallest TTL over the CNAMEs and the final records; nxdomain/nodata →
 *   min(SOA TTL, SOA MINIMUM) of the final reply (0 without SOA), lowered to the smallest CNAME
 *   TTL; temp → 0. The cache (dns/cache.ts) caps what it stores.
 *
 *   Coalescing: identical lookups (same normalised name, type and noCache flag) in flight share
 *   one resolution. A waiter's abort answers that waiter only (temp/aborted); when every waiter
 *   has left, the shared resolution is aborted too and forgotten. noCache lookups skip the cache
 *   read and never join a normal lookup's resolution (they may share one with other noCache
 *   lookups); their result still refreshes the cache.
 *
 *   Results are frozen and lean (they are cached): arrays of exactly their length, empty ones
 *   shared, the answer section itself as `records` when every record is the answer, and no
 *   object made by a spread followed by new keys (see unresolved()).
 *
 *   close() aborts what is in flight (those lookups settle as temp/aborted), empties the cache,
 *   and makes later lookups temp/network. The resolver holds no timers of its own; the transport's
 *   per-exchange timers are cleared when the exchange settles.
 *
 * LIMITS
 *   All from ResolverConfig: timeoutMs, tries, maxInFlightCount, maxQueuedCount (queue full →
 *   temp/network with an exchange whose errorDetail says so), cacheEntriesCount, cacheMaxTtlS,
 *   negativeCacheMaxTtlS, maxCnameChainCount, maxTcpReplyBytes.
 *
 * DIAGNOSTICS
 *   The constructor throws BS_ERR_UPSTREAM_INVALID for a bad `servers` entry (start-up only).
 */
import { UdpPool } from './udp-pool.js';
import { Abort, type AbortLike } from '../util/abort.js';
import type { ResolverConfig } from '../config/schema.js';
import { LookupCache, negativeTtl } from './cache.js';
import { InFlightLimiter } from './limiter.js';
import { exchange, isEncodableName, normaliseName } from './transport.js';
import { formatUpstream, parseUpstream, readResolvConf, readResolvConfSync } from './upstream.js';
import type { ResolvConf } from './upstream.js';
import type {
  DnsExchange,
  DnsRecord,
  LookupOptions,
  LookupResult,
  QueryType,
  Resolver,
  TempReason,
  Upstream,
} from './types.js';

/** Where the upstream list came from, for start-up logs and `blocksmith config`. */
export interface UpstreamInfo {
  readonly source: 'config' | 'injected' | 'resolv.conf' | 'fallback';
  readonly servers: readonly string[];
  readonly detail?: string;
  readonly skipped: readonly string[];
}

export interface StubResolverOptions {
  /** Clock for the cache, milliseconds (Date.now by default). */
  readonly now?: () => number;
  /** Use these upstreams instead of `config.servers` / resolv.conf. */
  readonly upstreams?: readonly Upstream[];
  /** Internal: what fromConfig() read from resolv.conf. */
  readonly resolvConf?: ResolvConf;
}

export interface ResolverStats {
  readonly inFlight: number;
  readonly queued: number;
  readonly cacheEntries: number;
  readonly coalescing: number;
  /** Questions put on the wire since start (every try, TCP retries included): a counter. */
  readonly queriesSent: number;
  /** Lookups answered from the cache since start: a counter. */
  readonly cacheHits: number;
}

/** Reasons that may mean "this upstream is broken": try the next one. */
const FAILOVER_RCODE_REASONS: ReadonlySet<TempReason> = new Set<TempReason>(['servfail', 'refused']);

type Verdict =
  | { readonly kind: 'answer'; readonly cnames: readonly DnsRecord[]; readonly records: readonly DnsRecord[] }
  | { readonly kind: 'cname'; readonly cnames: readonly DnsRecord[]; readonly target: string }
  | { readonly kind: 'nxdomain' | 'nodata'; readonly cnames: readonly DnsRecord[]; readonly negTtl: number }
  | { readonly kind: 'temp'; readonly reason: TempReason };

interface Flight {
  readonly promise: Promise<LookupResult>;
  readonly controller: Abort;
  waiters: number;
}

const RCODE_TEMP: Readonly<Record<string, TempReason>> = {
  SERVFAIL: 'servfail',
  REFUSED: 'refused',
  FORMERR: 'formerr',
  NOTIMP: 'notimp',
};

/** classifyReply - what one accepted reply says about `name` (see DESCRIPTION). Pure. */
export function classifyReply(ex: DnsExchange, name: string, qtype: QueryType): Verdict {
  const rcode = ex.rcode ?? 'UNKNOWN';
  if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN') return { kind: 'temp', reason: RCODE_TEMP[rcode] ?? 'other-rcode' };
  const cnames: DnsRecord[] = [];
  let current = name;
  if (qtype !== 'CNAME') {
    const visited = new Set([name]);
    for (;;) {
      const c = ex.answers.find((r) => r.type === 'CNAME' && r.name === current);
      if (c === undefined) break;
      cnames.push(c);
      if (visited.has(c.data)) break; // a loop inside the reply: the resolver reports it
      visited.add(c.data);
      current = c.data;
    }
  }
  if (rcode === 'NXDOMAIN') return { kind: 'nxdomain', cnames, negTtl: negativeTtl(ex.authority) };
  const records = ownedRecords(ex.answers, qtype, current);
  if (records.length > 0) return { kind: 'answer', cnames, records };
  if (cnames.length > 0) return { kind: 'cname', cnames, target: current };
  const aa = ex.flags?.aa === true;
  const ra = ex.flags?.ra === true;
  const hasSoa = ex.authority.some((r) => r.type === 'SOA');
  const hasNs = ex.authority.some((r) => r.type === 'NS');
  if (!aa && hasNs && !hasSoa) return { kind: 'temp', reason: 'referral' };
  if (!aa && !ra && !hasSoa) return { kind: 'temp', reason: 'no-recursion' };
  return { kind: 'nodata', cnames, negTtl: negativeTtl(ex.authority) };
}

/**
 * The records of `type` owned by `owner`: the answer section itself when that is all of it (the
 * usual reply), else an array of exactly their number. A result may sit in the cache for hours.
 */
function ownedRecords(answers: readonly DnsRecord[], type: QueryType, owner: string): readonly DnsRecord[] {
  let count = 0;
  for (const r of answers) if (r.type === type && r.name === owner) count += 1;
  if (count === answers.length) return answers;
  const out = new Array<DnsRecord>(count);
  let n = 0;
  for (const r of answers) if (r.type === type && r.name === owner) out[n++] = r;
  return out;
}

/** The empty list every empty field of a result shares (results are frozen). */
const NONE: readonly never[] = Object.freeze([]);

/**
 * A result with no records and no exchange: the name cannot be asked, the resolver is closed, or
 * the caller aborted. Made only when needed, as a literal of fixed keys: on Node 20, a spread
 * followed by new keys (`{ ...base, outcome }`) gives every object a hidden class of its own,
 * allocated in the old generation and freed only by a full collection (bench/RESULTS.md).
 */
function unresolved(qname: string, qtype: QueryType, outcome: 'nxdomain' | 'temp', tempReason?: TempReason): LookupResult {
  if (tempReason === undefined) {
    return Object.freeze({ qname, qtype, records: NONE, cnameChain: NONE, ttl: 0, fromCache: false, exchanges: NONE, outcome });
  }
  return Object.freeze({ qname, qtype, records: NONE, cnameChain: NONE, ttl: 0, fromCache: false, exchanges: NONE, outcome, tempReason });
}

function minTtl(records: readonly DnsRecord[], start: number): number {
  return records.reduce((m, r) => Math.min(m, r.ttl), start);
}

export class StubResolver implements Resolver {
  readonly upstreams: readonly Upstream[];
  readonly upstreamInfo: UpstreamInfo;
  private readonly config: ResolverConfig;
  private readonly cache: LookupCache;
  private readonly limiter: InFlightLimiter;
  private readonly flights = new Map<string, Flight>();
  private readonly pool: UdpPool;
  private closed = false;
  private queriesSent = 0;
  private cacheHits = 0;

  constructor(config: ResolverConfig, options: StubResolverOptions = {}) {
    this.config = config;
    let rc: ResolvConf | undefined;
    let source: UpstreamInfo['source'];
    if (options.upstreams !== undefined && options.upstreams.length > 0) {
      this.upstreams = [...options.upstreams];
      source = options.resolvConf === undefined ? 'injected' : options.resolvConf.fallback ? 'fallback' : 'resolv.conf';
      rc = options.resolvConf;
    } else if (config.servers.length > 0) {
      this.upstreams = config.servers.map(parseUpstream);
      source = 'config';
    } else {
      rc = readResolvConfSync(config.resolvConfPath);
      this.upstreams = rc.servers;
      source = rc.fallback ? 'fallback' : 'resolv.conf';
    }
    this.upstreamInfo = Object.freeze({
      source,
      servers: this.upstreams.map(formatUpstream),
      ...(rc?.detail === undefined ? {} : { detail: rc.detail }),
      skipped: rc?.skipped ?? [],
    });
    this.cache = new LookupCache({
      entriesCount: config.cacheEntriesCount,
      maxTtlS: config.cacheMaxTtlS,
      negativeMaxTtlS: config.negativeCacheMaxTtlS,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    this.limiter = new InFlightLimiter(config.maxInFlightCount, config.maxQueuedCount);
    this.pool = new UdpPool(config.udpQueriesPerSocketCount);
  }

  /**
   * fromConfig - the resolver of a validated config: `servers`, else the nameservers of
   * `resolvConfPath` (read synchronously, once, at start-up), else 127.0.0.1:53 (see upstreamInfo).
   */
  static fromConfig(config: ResolverConfig, options: Pick<StubResolverOptions, 'now'> = {}): StubResolver {
    return new StubResolver(config, options);
  }

  /** fromConfigAsync - the same, reading resolv.conf without blocking the event loop. */
  static async fromConfigAsync(config: ResolverConfig, options: Pick<StubResolverOptions, 'now'> = {}): Promise<StubResolver> {
    if (config.servers.length > 0) return new StubResolver(config, options);
    const resolvConf = await readResolvConf(config.resolvConfPath);
    return new StubResolver(config, { ...options, upstreams: resolvConf.servers, resolvConf });
  }

  get stats(): ResolverStats {
    return {
      inFlight: this.limiter.inFlight,
      queued: this.limiter.queued,
      cacheEntries: this.cache.size,
      coalescing: this.flights.size,
      queriesSent: this.queriesSent,
      cacheHits: this.cacheHits,
    };
  }

  /** close - abort in-flight lookups, empty the cache, refuse new lookups (temp/network). */
  close(): void {
    this.closed = true;
    for (const flight of this.flights.values()) flight.controller.abort();
    this.flights.clear();
    this.cache.clear();
    this.pool.close();
  }

  lookup(qnameIn: string, qtype: QueryType, options: LookupOptions = {}): Promise<LookupResult> {
    const qname = normaliseName(qnameIn);
    if (!isEncodableName(qname)) return Promise.resolve(unresolved(qname, qtype, 'nxdomain'));
    if (this.closed) return Promise.resolve(unresolved(qname, qtype, 'temp', 'network'));
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.resolve(unresolved(qname, qtype, 'temp', 'aborted'));
    const noCache = options.noCache === true;
    if (!noCache) {
      const hit = this.cache.get(qname, qtype);
      if (hit !== undefined) {
        this.cacheHits += 1;
        return Promise.resolve(hit);
      }
    }
    const key = `${noCache ? 'fresh' : 'cached'}/${qtype}/${qname}`;
    const flight = this.flights.get(key) ?? this.startFlight(key, qname, qtype);
    return this.waitFor(flight, key, signal, qname, qtype);
  }

  private startFlight(key: string, qname: string, qtype: QueryType): Flight {
    const controller = new Abort();
    const promise = this.resolve(qname, qtype, controller)
      .catch((): LookupResult => {
        // A bug, not a DNS failure: still the temporary-failure path, never an exception.
        return { qname, qtype, outcome: 'temp', tempReason: 'network', records: [], cnameChain: [], ttl: 0, fromCache: false, exchanges: [] };
      })
      .then((result) => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
        if (!controller.aborted && !this.closed) this.cache.set(result);
        return result;
      });
    const flight: Flight = { promise, controller, waiters: 0 };
    this.flights.set(key, flight);
    return flight;
  }

  private waitFor(flight: Flight, key: string, signal: AbortLike | undefined, qname: string, qtype: QueryType): Promise<LookupResult> {
    flight.waiters += 1;
    return new Promise<LookupResult>((resolve) => {
      let done = false;
      const onAbort = (): void => {
        if (done) return;
        done = true;
        flight.waiters -= 1;
        if (flight.waiters === 0) {
          if (this.flights.get(key) === flight) this.flights.delete(key);
          flight.controller.abort();
        }
        resolve(unresolved(qname, qtype, 'temp', 'aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      void flight.promise.then((result) => {
        if (done) return;
        done = true;
        flight.waiters -= 1;
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      });
    });
  }

  /** resolve - one name and type, CNAMEs followed across replies. */
  private async resolve(qname: string, qtype: QueryType, signal: AbortLike): Promise<LookupResult> {
    const exchanges: DnsExchange[] = [];
    const chain: DnsRecord[] = [];
    const seen = new Set([qname]);
    // Arrays of exactly their length and no spread: a result may sit in the cache for hours.
    const finish = (outcome: LookupResult['outcome'], extra: Partial<LookupResult> = {}): LookupResult => {
      const records = extra.records ?? NONE;
      const cnameChain = chain.length === 0 ? NONE : chain.slice();
      const ttl = extra.ttl ?? 0;
      const done = exchanges.slice();
      if (extra.tempReason !== undefined) {
        return Object.freeze({ qname, qtype, outcome, records, cnameChain, ttl, fromCache: false, exchanges: done, tempReason: extra.tempReason });
      }
      if (extra.note !== undefined) {
        return Object.freeze({ qname, qtype, outcome, records, cnameChain, ttl, fromCache: false, exchanges: done, note: extra.note });
      }
      return Object.freeze({ qname, qtype, outcome, records, cnameChain, ttl, fromCache: false, exchanges: done });
    };
    let current = qname;
    for (;;) {
      const verdict = await this.askUpstreams(current, qtype, signal, exchanges);
      if (verdict.kind === 'temp') return finish('temp', { tempReason: verdict.reason });
      for (const c of verdict.cnames) {
        chain.push(c);
        if (seen.has(c.data)) return finish('nodata', { note: 'cname-loop' });
        if (chain.length > this.config.maxCnameChainCount) return finish('nodata', { note: 'cname-chain-too-long' });
        seen.add(c.data);
      }
      switch (verdict.kind) {
        case 'answer':
          return finish('answer', { records: verdict.records, ttl: minTtl(verdict.records, minTtl(chain, Infinity)) });
        case 'nxdomain':
        case 'nodata':
          return finish(verdict.kind, { ttl: minTtl(chain, verdict.negTtl) });
        case 'cname':
          if (!isEncodableName(verdict.target)) return finish('nodata');
          current = verdict.target;
          break;
      }
    }
  }

  /** askUpstreams - one name and type to the upstreams in order, with tries and failover. */
  private async askUpstreams(name: string, qtype: QueryType, signal: AbortLike, exchanges: DnsExchange[]): Promise<Verdict> {
    let last: TempReason = 'network';
    for (const upstream of this.upstreams) {
      for (let attempt = 0; attempt < this.config.tries; attempt += 1) {
        const slot = await this.limiter.acquire(signal);
        if (!slot.ok) {
          const queueFull = slot.reason === 'queue-full';
          exchanges.push(
            Object.freeze({
              qname: name,
              qtype,
              server: formatUpstream(upstream),
              transport: 'udp',
              startedAt: Date.now(),
              durationMs: 0,
              answers: [],
              authority: [],
              error: queueFull ? 'network' : 'aborted',
              errorDetail: queueFull
                ? `not sent: ${this.config.maxQueuedCount} queries already wait for one of ${this.config.maxInFlightCount} slots (maxQueuedCount)`
                : 'aborted while waiting for a slot',
            }),
          );
          return { kind: 'temp', reason: queueFull ? 'network' : 'aborted' };
        }
        let result;
        try {
          result = await exchange({
            upstream,
            qname: name,
            qtype,
            timeoutMs: this.config.timeoutMs,
            maxTcpReplyBytes: this.config.maxTcpReplyBytes,
            signal,
            pool: this.pool,
          });
        } finally {
          slot.release();
        }
        exchanges.push(...result.exchanges);
        this.queriesSent += result.exchanges.length;
        const final = result.final;
        if (final.error === 'aborted') return { kind: 'temp', reason: 'aborted' };
        if (final.error === 'timeout') {
          last = 'timeout';
          continue;
        }
        if (final.error === 'network') {
          last = 'network';
          break;
        }
        const verdict = classifyReply(final, name, qtype);
        if (verdict.kind === 'temp' && FAILOVER_RCODE_REASONS.has(verdict.reason)) {
          last = verdict.reason;
          break;
        }
        return verdict;
      }
    }
    return { kind: 'temp', reason: last };
  }
}
