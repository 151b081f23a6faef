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
import { runFcrdns, type FcrdnsOptions } from './fcrdns.js';
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

  constructor(options: CheckerOptions) {
    this.resolver = options.resolver;
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.bypass = new BypassList(options.config.bypass);
    this.verdicts =
      options.config.verdictCacheEntriesCount > 0
        ? new LRUCache<string, CacheEntry>({ max: options.config.verdictCacheEntriesCount })
        : null;
  }

  /**
   * Check one address. Throws BlockSmithError(BS_ERR_ADDRESS_INVALID) for a malformed input;
   * every DNS outcome, failures included, is a CheckResult.
   */
  async check(input: string, options: CheckOptions = {}): Promise<CheckResult> {
    if (options.noCache !== true) {
      const warm = this.cached(input);
      if (warm !== undefined) return warm;
    }
    const address = normaliseAddress(input);
    const range = this.bypass.match(address);
    if (range !== null) return this.skipped(input, address, range);

    if (options.noCache === true) return this.runAndStore(address, input, options);
    const fresh = this.freshEntry(address.ip);
    if (fresh !== undefined) return forInput(fresh, input);
    const running = this.running.get(address.ip);
    if (running !== undefined) return forInput(await running, input);
    const promise = this.runAndStore(address, input, options).finally(() => {
      this.running.delete(address.ip);
    });
    this.running.set(address.ip, promise);
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

  /** True when the address is in a bypass range. Throws for a malformed input. */
  bypassRange(input: string): string | null {
    return this.bypass.match(normaliseAddress(input));
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

  private async runAndStore(address: NormalisedAddress, input: string, options: CheckOptions): Promise<CheckResult> {
    const result = await runFcrdns(address, input, { resolver: this.resolver, config: this.config, now: this.now }, options);
    if (this.verdicts !== null && result.ttl > 0) {
      const expiresAt = result.checkedAt + result.ttl * 1000;
      const cacheStep = { step: 'cache' as const, checkedAt: result.checkedAt, expiresAt };
      this.verdicts.set(address.ip, {
        result: { ...result, fromCache: true, trace: [cacheStep, ...result.trace] },
        expiresAt,
      });
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
