/**
 * NAME
 *   check/checker - the FCrDNS check as the rest of BlockSmith calls it
 *
 * SYNOPSIS
 *   const checker = new FcrdnsChecker({ resolver, config })
 *   await checker.check('192.0.2.1')            // CheckResult
 *   checker.cached('192.0.2.1')                  // CheckResult | undefined, synchronous
 *
 * DESCRIPTION
 *   Steps 1 to 3 of FCRDNS.md around check/fcrdns.ts: normalise the address (a malformed one
 *   throws BS_ERR_ADDRESS_INVALID before any DNS work), give `skipped` to bypassed ranges with no
 *   query, serve a fresh cached verdict, and coalesce: one check of one address at a time, every
 *   other caller waits for it. A warm check is a map look-up.
 *
 *   A cached verdict keeps everything but the DNS exchanges and the per-name forward details: its
 *   trace is the cache step, the normalised address and the verdict (the full trace belongs to the check that produced it, and
 *   to the evidence the firewall keeps). That is what lets 100,000 verdicts sit in memory.
 *
 *   `noCache` (self-service unblock) runs a fresh check that neither reads the verdict cache nor
 *   the resolver's cache, nor joins a check already running (which may have used cached DNS); its
 *   result replaces the cached verdict.
 *
 * LIMITS
 *   check.verdictCacheEntriesCount (LRU), TTLs per fcrdns.ts verdictTtl().
 */
import { LRUCache } from 'lru-cache';
import type { Resolver } from '../dns/types.js';
import type { CheckConfig } from '../config/schema.js';
import { normaliseAddress, type NormalisedAddress } from './address.js';
import { BypassList } from './bypass.js';
import { Admission } from './admission.js';
import { notRunResult, runFcrdns, type FcrdnsDeps, type FcrdnsOptions } from './fcrdns.js';
import type { CheckResult } from './types.js';

export interface CheckerOptions {
  readonly resolver: Resolver;
  readonly config: CheckConfig;
  /** Clock in milliseconds; injected by tests. */
  readonly now?: () => number;
}

export type CheckOptions = FcrdnsOptions;

interface CacheEntry {
  /** The result as served from the cache (`fromCache: true`), built once at insertion. */
  readonly result: CheckResult;
  readonly expiresAt: number;
}

export class FcrdnsChecker {
  private readonly resolver: Resolver;
  private readonly config: CheckConfig;
  private readonly now: () => number;
  private readonly bypass: BypassList;
  private readonly verdicts: LRUCache<string, CacheEntry> | null;
  private readonly running = new Map<string, Promise<CheckResult>>();
  private readonly admission: Admission;
  private readonly deps: FcrdnsDeps;

  constructor(options: CheckerOptions) {
    this.resolver = options.resolver;
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.bypass = new BypassList(options.config.bypass);
    this.deps = { resolver: this.resolver, config: this.config, now: this.now };
    this.admission = new Admission({
      maxRunning: options.config.maxRunningCount,
      maxWaiting: options.config.maxWaitingCount,
      deadlineMs: options.config.deadlineMs,
      now: this.now,
    });
    this.verdicts =
      options.config.verdictCacheEntriesCount > 0
        ? new LRUCache<string, CacheEntry>({ max: options.config.verdictCacheEntriesCount })
        : null;
  }

  /**
   * Check one address. Throws BlockSmithError(BS_ERR_ADDRESS_INVALID) for a malformed input;
   * every DNS outcome, failures included, is a CheckResult.
   */
  check(input: string, options: CheckOptions = {}): Promise<CheckResult> {
    // Not an async function: a check waiting for admission holds no suspended frame here.
    if (options.noCache !== true) {
      const warm = this.cached(input);
      if (warm !== undefined) return Promise.resolve(warm);
    }
    let address: NormalisedAddress;
    try {
      address = normaliseAddress(input);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const range = this.bypass.match(address);
    if (range !== null) return Promise.resolve(this.skipped(input, address, range));

    if (options.noCache === true) return this.runAndStore(address, input, options);
    const fresh = this.freshEntry(address.ip);
    if (fresh !== undefined) return Promise.resolve(forInput(fresh, input));
    const running = this.running.get(address.ip);
    if (running !== undefined) return running.then((result) => forInput(result, input));
    const promise = this.runAndStore(address, input, options);
    this.running.set(address.ip, promise);
    const done = (): void => {
      if (this.running.get(address.ip) === promise) this.running.delete(address.ip);
    };
    promise.then(done, done);
    return promise;
  }

  /**
   * The cached verdict for an input, without DNS work, or undefined. Keys are normalised
   * addresses; an input in canonical form (the usual case: fronts hand over what the socket
   * reported) is found without parsing it.
   */
  cached(input: string): CheckResult | undefined {
    const direct = this.freshEntry(input);
    if (direct !== undefined) return forInput(direct, input);
    let ip: string;
    try {
      ip = normaliseAddress(input).ip;
    } catch {
      return undefined;
    }
    if (ip === input) return undefined;
    const entry = this.freshEntry(ip);
    return entry === undefined ? undefined : forInput(entry, input);
  }

  /** Forget the cached verdict for an address (after an operator action). */
  forget(input: string): void {
    try {
      this.verdicts?.delete(normaliseAddress(input).ip);
    } catch {
      // A malformed address has no cached verdict.
    }
  }

  /**
   * The bypass range the address is in, or null. Takes the text (parsed here; throws for a
   * malformed one) or an address already parsed by the caller, so a decision parses it once.
   */
  bypassRange(input: string | NormalisedAddress): string | null {
    return this.bypass.match(typeof input === 'string' ? normaliseAddress(input) : input);
  }

  private freshEntry(ip: string): CheckResult | undefined {
    const entry = this.verdicts?.get(ip);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.verdicts?.delete(ip);
      return undefined;
    }
    return entry.result;
  }

  /**
   * Admit, run, cache. Deliberately not an async function: while a check waits for admission it
   * must hold nothing but its small waiting record (see admission.ts).
   */
  private runAndStore(address: NormalisedAddress, input: string, options: CheckOptions): Promise<CheckResult> {
    const deps = this.deps;
    const startedAt = this.now();
    // The deadline runs from the call: time spent waiting to be admitted counts against it. A
    // check that never runs (too late, too many waiting) costs no DNS work and is not cached.
    return this.admission
      .run(
        (waitedMs) => runFcrdns(address, input, deps, options, this.config.deadlineMs - waitedMs, startedAt),
        (why) => notRunResult(address, input, why === 'overload' ? 'overload' : 'deadline', deps, startedAt),
        options.signal,
      )
      .then((result) => this.store(address.ip, result));
  }

  private store(ip: string, result: CheckResult): CheckResult {
    if (this.verdicts !== null && result.ttl > 0) {
      const expiresAt = result.checkedAt + result.ttl * 1000;
      this.verdicts.set(ip, { result: compactForCache(result, expiresAt), expiresAt });
    }
    return result;
  }

  private skipped(input: string, address: NormalisedAddress, range: string): CheckResult {
    const now = this.now();
    return {
      input,
      ip: address.ip,
      family: address.family,
      verdict: 'skipped',
      reason: 'bypass',
      names: [],
      invalidNames: [],
      notEvaluated: [],
      confirmed: [],
      otherAddresses: [],
      forward: [],
      flags: {
        generic: 'none',
        truncated: false,
        aliasTarget: false,
        underscore: false,
        ptrViaCname: false,
        multiDomain: false,
      },
      genericEvidence: { level: 'none', evidence: [] },
      bypassRange: range,
      ttl: 0,
      trace: [
        { step: 'normalise', input, ip: address.ip, ...(address.note ? { note: address.note } : {}) },
        { step: 'bypass', range },
        { step: 'verdict', verdict: 'skipped', reason: 'bypass' },
      ],
      checkedAt: now,
      durationMs: 0,
      fromCache: false,
    };
  }
}

/**
 * A result shared between callers (cached or coalesced) reports each caller's own input. The
 * usual case, the same text, costs nothing.
 */
function forInput(result: CheckResult, input: string): CheckResult {
  if (result.input === input) return result;
  const trace = result.trace.map((step) => (step.step === 'normalise' ? { ...step, input } : step));
  return { ...result, input, trace };
}

/**
 * The form a verdict is cached in: `fromCache`, no per-name forward details (their addresses are
 * in `otherAddresses`, the confirmed names in `confirmed`), and a trace without the DNS exchanges.
 */
function compactForCache(result: CheckResult, expiresAt: number): CheckResult {
  const normalise = result.trace.find((step) => step.step === 'normalise');
  return {
    ...result,
    forward: [],
    fromCache: true,
    trace: [
      { step: 'cache', checkedAt: result.checkedAt, expiresAt },
      ...(normalise === undefined ? [] : [normalise]),
      { step: 'verdict', verdict: result.verdict, reason: result.reason },
    ],
  };
}
