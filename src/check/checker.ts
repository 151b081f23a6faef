/**
 * NAME
 *   check/checker - the FCrDNS check as the rest of BlockSmith calls it
 *
 * SYNOPSIS
 *   const checker = new FcrdnsChecker({ resolver, config })
 *   await checker.check('192.0.2.1')            // CheckResult
 *   checker.cached('192.0.2.1')                  // CheckResult | undefined, synchronous
 *   checker.stats                                // { cacheHits, cacheEntries } for metrics
 *   checker.setBypass(ranges); checker.setResolver(resolver)   live reload (SIGHUP)
 *
 * DESCRIPTION
 *   Steps 1 to 3 of FCRDNS.md around check/fcrdns.ts: normalise the address (a malformed one
 *   throws BS_ERR_ADDRESS_INVALID before any DNS work), give `skipped` to bypassed ranges with no
 *   query, serve a fresh cached verdict, and coalesce: one check of one address at a time, every
 *   other caller waits for it. A warm check is a map look-up.
 *
 *   A check that has to run is one small record (PendingCheck): the address text, the options,
 *   when it was asked, and the resolve function of the caller's promise. That record is what
 *   waits for admission (admission.ts), what later callers of the same address join, and what
 *   the run's result settles; nothing else is allocated for a check until it is admitted (the
 *   parsed address is parsed again then). Under a flood, thousands of checks are asked for at
 *   once and wait for seconds: everything they hold is promoted to V8's old generation, and the
 *   size of that old generation at a full collection decides how far the heap may grow before
 *   the next one (bench/RESULTS.md).
 *
 *   A cached verdict keeps everything but the DNS exchanges and the per-name forward details: its
 *   trace is the cache step, the normalised address and the verdict (the full trace belongs to the
 *   check that produced it, and to the evidence the firewall keeps). It shares its arrays, flags
 *   and strings with the result the caller got, so the caller's result costs little more than
 *   its own object and trace. That is what lets 100,000 verdicts sit in memory.
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
import { Admission, type Refusal, type Ticket } from './admission.js';
import { NONE, notRunResult, runFcrdns, verdictStep, type FcrdnsDeps, type FcrdnsOptions } from './fcrdns.js';
import type { CheckResult, TraceStep } from './types.js';

export interface CheckerOptions {
  readonly resolver: Resolver;
  readonly config: CheckConfig;
  /** Clock in milliseconds; injected by tests. */
  readonly now?: () => number;
}

export type CheckOptions = FcrdnsOptions;

export interface CheckerStats {
  /** Checks answered from the verdict cache since start: a counter. */
  readonly cacheHits: number;
  readonly cacheEntries: number;
}

/** A check is not started with less than this left of its deadline (see admission.ts). */
const MIN_RUN_MS = 100;

/** The options of a caller who gave none: one object, not one per call. */
const NO_OPTIONS: CheckOptions = Object.freeze({});

type Resolve = (result: CheckResult | PromiseLike<CheckResult>) => void;

/**
 * `new Promise(captureResolve)` leaves the promise's resolve function here, to be taken at once
 * by takeResolve(): the executor is one shared function, not a closure made for every check.
 * (The executor runs synchronously inside the constructor, so nothing can come in between.)
 */
let captured: Resolve | undefined;
function captureResolve(resolve: Resolve): void {
  captured = resolve;
}
function takeResolve(): Resolve {
  const resolve = captured as Resolve;
  captured = undefined;
  return resolve;
}

/** A caller who joined a check of the same address already asked for, with its own input. */
interface Joiner {
  readonly input: string;
  readonly resolve: Resolve;
}

/** One check asked for and not finished: waiting for admission, or running. */
class PendingCheck implements Ticket {
  queued = false;
  /** Later callers of the same address; made on the first join. */
  joined: Joiner[] | undefined = undefined;
  /** Listener on the first caller's signal, while the check waits. */
  onAbort: (() => void) | undefined = undefined;

  constructor(
    /** The normalised address (the input itself when that is canonical). */
    readonly ip: string,
    readonly input: string,
    readonly options: CheckOptions,
    /** When it was asked for: the deadline runs from here, and the result's checkedAt. */
    readonly enqueuedAt: number,
    readonly resolve: Resolve,
    /** Registered for coalescing (every check but noCache ones). */
    readonly shared: boolean,
  ) {}
}

/** Addresses remembered for a fresh next check after forget(); far above any clear rate. */
const REFRESH_NEXT_MAX_COUNT = 10_000;

export class FcrdnsChecker {
  private resolver: Resolver;
  private readonly config: CheckConfig;
  private readonly now: () => number;
  private bypass: BypassList;
  /** Keyed by normalised address; a verdict expires at checkedAt + ttl seconds. */
  private readonly verdicts: LRUCache<string, CheckResult> | null;
  private readonly running = new Map<string, PendingCheck>();
  private readonly admission: Admission<PendingCheck>;
  private deps: FcrdnsDeps;
  private cacheHits = 0;
  /**
   * Addresses whose next check must ask DNS afresh (forget() puts them here): after a listing
   * ends, the resolver may still hold the old negative answer for up to its SOA minimum, and a
   * check answered from it would list the address again at once — on this node, after a clear
   * made on another node or by the CLI. Bounded: past the cap the oldest are dropped.
   */
  private readonly refreshNext = new Set<string>();

  constructor(options: CheckerOptions) {
    this.resolver = options.resolver;
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.bypass = new BypassList(options.config.bypass);
    this.deps = { resolver: this.resolver, config: this.config, now: this.now };
    this.admission = new Admission<PendingCheck>({
      maxRunning: options.config.maxRunningCount,
      maxWaiting: options.config.maxWaitingCount,
      deadlineMs: options.config.deadlineMs,
      // At least a few DNS round trips: 100 ms, or a tenth of a shorter deadline.
      minRunMs: Math.min(MIN_RUN_MS, options.config.deadlineMs / 10),
      now: this.now,
      start: (pending, waitedMs) => this.start(pending, waitedMs),
      refuse: (pending, why) => this.refuse(pending, why),
    });
    this.verdicts =
      options.config.verdictCacheEntriesCount > 0
        ? new LRUCache<string, CheckResult>({ max: options.config.verdictCacheEntriesCount })
        : null;
  }

  /**
   * Check one address. Throws BlockSmithError(BS_ERR_ADDRESS_INVALID) for a malformed input;
   * every DNS outcome, failures included, is a CheckResult.
   */
  check(input: string, options: CheckOptions = NO_OPTIONS): Promise<CheckResult> {
    // Not an async function: a check waiting for admission holds no suspended frame here.
    const noCache = options.noCache === true;
    if (!noCache) {
      // An input in canonical form (the usual case) is found without parsing it.
      const warm = this.freshEntry(input);
      if (warm !== undefined) return Promise.resolve(forInput(warm, input));
    }
    let address: NormalisedAddress;
    try {
      address = normaliseAddress(input);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const range = this.bypass.match(address);
    if (range !== null) return Promise.resolve(this.skipped(input, address, range));
    const ip = address.ip;
    // One string kept for both when the input is canonical (the parsed text is flat; the
    // caller's may be a rope of concatenations).
    if (ip === input) input = ip;

    if (noCache) return this.submit(ip, input, options, false);
    if (this.refreshNext.size > 0 && this.refreshNext.delete(ip)) {
      // Not joined to a check already running: that one may be answered from the old answers.
      return this.submit(ip, input, { ...options, noCache: true }, true);
    }
    if (ip !== input) {
      const fresh = this.freshEntry(ip);
      if (fresh !== undefined) return Promise.resolve(forInput(fresh, input));
    }
    const pending = this.running.get(ip);
    if (pending !== undefined) {
      return new Promise<CheckResult>((resolve) => (pending.joined ??= []).push({ input, resolve }));
    }
    return this.submit(ip, input, options, true);
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

  /**
   * Forget the cached verdict for an address (its listing ended: an operator's clear, an
   * unblock, on this node or another), and make its next check bypass the resolver's cache too.
   */
  forget(input: string): void {
    let ip: string;
    try {
      ip = normaliseAddress(input).ip;
    } catch {
      return; // A malformed address has no cached verdict.
    }
    this.verdicts?.delete(ip);
    this.refreshNext.delete(ip);
    this.refreshNext.add(ip);
    if (this.refreshNext.size > REFRESH_NEXT_MAX_COUNT) {
      const oldest = this.refreshNext.values().next().value;
      if (oldest !== undefined) this.refreshNext.delete(oldest);
    }
  }

  /** Verdicts served from the cache (check() and cached() alike) and the cache's size. */
  get stats(): CheckerStats {
    return { cacheHits: this.cacheHits, cacheEntries: this.verdicts?.size ?? 0 };
  }

  /**
   * setBypass - new bypass ranges (a configuration reload). Throws BS_ERR_CIDR_INVALID with
   * nothing changed. The verdict cache is emptied: a cached verdict of an address now bypassed
   * must not outlive the change.
   */
  setBypass(ranges: readonly string[]): void {
    this.bypass = new BypassList(ranges);
    this.verdicts?.clear();
  }

  /**
   * setResolver - checks started from now on use `resolver`; those running finish on the one
   * they started with (the caller closes it once they are done). Returns the previous one.
   */
  setResolver(resolver: Resolver): Resolver {
    const previous = this.resolver;
    this.resolver = resolver;
    this.deps = { ...this.deps, resolver };
    return previous;
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
    if (entry.checkedAt + entry.ttl * 1000 <= this.now()) {
      this.verdicts?.delete(ip);
      return undefined;
    }
    this.cacheHits += 1;
    return entry;
  }

  /**
   * A check that has to run: its record, registered for coalescing unless noCache, handed to the
   * admission. The deadline runs from this call: time spent waiting counts against it.
   */
  private submit(ip: string, input: string, options: CheckOptions, shared: boolean): Promise<CheckResult> {
    const promise = new Promise<CheckResult>(captureResolve);
    const pending = new PendingCheck(ip, input, options, this.now(), takeResolve(), shared);
    if (shared) this.running.set(ip, pending);
    const signal = options.signal;
    if (signal?.aborted === true) {
      this.refuse(pending, 'aborted');
      return promise;
    }
    if (signal !== undefined) {
      pending.onAbort = () => this.admission.cancel(pending);
      signal.addEventListener('abort', pending.onAbort, { once: true });
    }
    this.admission.submit(pending);
    return promise;
  }

  /** Admitted: run it, cache the verdict, answer every caller. Never rejects. */
  private start(pending: PendingCheck, waitedMs: number): Promise<void> {
    this.unlisten(pending);
    // Parsed again rather than kept while waiting (see DESCRIPTION); it parsed before.
    const address = normaliseAddress(pending.input);
    return runFcrdns(address, pending.input, this.deps, pending.options, this.config.deadlineMs - waitedMs, pending.enqueuedAt).then(
      (result) => this.settle(pending, this.store(pending.ip, result)),
      (err: unknown) => this.settle(pending, Promise.reject(err instanceof Error ? err : new Error(String(err)))),
    );
  }

  /**
   * Never run (too late, too many waiting, caller aborted): a temperror that costs no DNS work
   * and is not cached.
   */
  private refuse(pending: PendingCheck, why: Refusal): void {
    this.unlisten(pending);
    const address = normaliseAddress(pending.input);
    const reason = why === 'overload' ? 'overload' : 'deadline';
    this.settle(pending, notRunResult(address, pending.input, reason, this.deps, pending.enqueuedAt));
  }

  private settle(pending: PendingCheck, outcome: CheckResult | Promise<CheckResult>): void {
    if (pending.shared && this.running.get(pending.ip) === pending) this.running.delete(pending.ip);
    pending.resolve(outcome);
    const joined = pending.joined;
    if (joined === undefined) return;
    pending.joined = undefined;
    for (const joiner of joined) {
      joiner.resolve(outcome instanceof Promise ? outcome : forInput(outcome, joiner.input));
    }
  }

  private unlisten(pending: PendingCheck): void {
    if (pending.onAbort === undefined) return;
    pending.options.signal?.removeEventListener('abort', pending.onAbort);
    pending.onAbort = undefined;
  }

  private store(ip: string, result: CheckResult): CheckResult {
    if (this.verdicts !== null && result.ttl > 0) this.verdicts.set(ip, compactForCache(result));
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
 * Every other part is the result's own (frozen or never changed), not a copy.
 */
function compactForCache(result: CheckResult): CheckResult {
  const expiresAt = result.checkedAt + result.ttl * 1000;
  const normalise = result.trace.find((step) => step.step === 'normalise');
  const cache: TraceStep = { step: 'cache', checkedAt: result.checkedAt, expiresAt };
  const verdict = verdictStep(result.verdict, result.reason);
  const trace = normalise === undefined ? [cache, verdict] : [cache, normalise, verdict];
  return { ...result, forward: NONE, fromCache: true, trace };
}
