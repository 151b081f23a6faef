/**
 * NAME
 *   check/fcrdns - one forward-confirmed reverse DNS check, every step of FCRDNS.md
 *
 * SYNOPSIS
 *   runFcrdns(address, input, deps, options): Promise<CheckResult>
 *
 * DESCRIPTION
 *   Steps 4 to 9 of ../shared/design/FCRDNS.md for an address that is already normalised and not
 *   bypassed (checker.ts does steps 1 to 3: normalise, bypass, cache and coalesce):
 *     PTR query → clean the names → cap → forward look-ups in the client's family only →
 *     aggregate → annotate.
 *   Aggregation: any match is `pass` (another name's timeout cannot undo it); else any temporary
 *   failure, or the deadline, is `temperror`; else `fail`. A DNS failure is never `fail` or
 *   `permerror`: the resolver returns failures as `outcome: 'temp'`, and only an NXDOMAIN or a
 *   NODATA (an answer from DNS itself) can make a permanent verdict.
 *
 *   By default the forward look-ups stop once a name confirms (names not yet started are
 *   `not-run`): the firewall wants the verdict. `complete` evaluates every name, and `otherFamily`
 *   also looks up the other address family of each name, to explain "this name has only AAAA"
 *   in the CLI and the portal.
 *
 *   What a result weighs. A result outlives its check (the caller keeps it, the verdict cache
 *   keeps most of it), and under a flood every caller's promise is already in V8's old
 *   generation when it is resolved, so whatever the result holds is promoted. Hence: empty lists
 *   are the one frozen NONE, the flags and the verdict step are shared frozen objects, every
 *   array is made to its exact length (a pushed-to array carries up to 17 slots), the trace is
 *   built once at the end (a pass without keepExchanges never copies its steps), and no object is
 *   made by a spread followed by new keys (on Node 20 each such object gets a hidden class of
 *   its own, in the old generation). bench/RESULTS.md has the figures.
 *
 * LIMITS
 *   check.deadlineMs (the whole check), check.maxNamesCount (names evaluated),
 *   check.forwardConcurrencyCount (forward look-ups at once); per-query limits are the
 *   resolver's.
 *
 * SEE ALSO
 *   checker.ts, names.ts, generic.ts, address.ts, ../dns/types.ts
 */
import type { LookupResult, Resolver } from '../dns/types.js';
import type { CheckConfig } from '../config/schema.js';
import { formatAddress, parseAnswerAddress, reverseName, sameAddress, type NormalisedAddress } from './address.js';
import { cleanPtrNames } from './names.js';
import { detectGenericAll } from './generic.js';
import { Abort, type AbortLike } from '../util/abort.js';
import type { CheckFlags, CheckResult, ForwardResult, GenericEvidence, GenericLevel, Reason, TraceStep, Verdict } from './types.js';

/**
 * The empty list every empty field of a result shares. Results are read-only (types.ts); freezing
 * makes a stray write fail loudly instead of changing every result at once.
 */
export const NONE: readonly never[] = Object.freeze([]);

const verdictSteps = new Map<Verdict, Map<Reason, TraceStep>>();

/** The verdict step of a trace: one frozen object per verdict and reason, shared by all results. */
export function verdictStep(verdict: Verdict, reason: Reason): TraceStep {
  let byReason = verdictSteps.get(verdict);
  if (byReason === undefined) verdictSteps.set(verdict, (byReason = new Map<Reason, TraceStep>()));
  let step = byReason.get(reason);
  if (step === undefined) byReason.set(reason, (step = Object.freeze({ step: 'verdict', verdict, reason })));
  return step;
}

const GENERIC_INDEX: Readonly<Record<GenericLevel, number>> = { none: 0, weak: 1, strong: 2 };
const FLAGS_KINDS = 3 * 32;
const flagsTable: (CheckFlags | undefined)[] = new Array<CheckFlags | undefined>(FLAGS_KINDS).fill(undefined);

/** The flags of a result: 96 possible values, each one frozen object shared by all results. */
function internFlags(flags: CheckFlags): CheckFlags {
  const index =
    GENERIC_INDEX[flags.generic] * 32 +
    (flags.truncated ? 1 : 0) +
    (flags.aliasTarget ? 2 : 0) +
    (flags.underscore ? 4 : 0) +
    (flags.ptrViaCname ? 8 : 0) +
    (flags.multiDomain ? 16 : 0);
  return (flagsTable[index] ??= Object.freeze({ ...flags }));
}

export interface FcrdnsDeps {
  readonly resolver: Resolver;
  readonly config: CheckConfig;
  readonly now: () => number;
}

export interface FcrdnsOptions {
  readonly signal?: AbortLike;
  /** Bypass the resolver's cache (self-service unblock). */
  readonly noCache?: boolean;
  /** Evaluate every name even after a match (diagnostics). */
  readonly complete?: boolean;
  /** Also look up the other family of each evaluated name (diagnostics). */
  readonly otherFamily?: boolean;
  /**
   * Keep the raw DNS exchanges in the trace of a `pass` too (diagnostics). Without it a pass
   * keeps its steps, names, answers and TTLs but not the exchanges: nobody needs them for a
   * client that is let in, and under a flood they are most of what a result weighs. Any other
   * verdict always keeps them (they are the evidence).
   */
  readonly keepExchanges?: boolean;
}

const NO_OPTIONS: FcrdnsOptions = Object.freeze({});

/**
 * Run steps 4-9 for one address within `budgetMs` (default: check.deadlineMs). Never throws for
 * a DNS reason.
 */
export async function runFcrdns(
  address: NormalisedAddress,
  input: string,
  deps: FcrdnsDeps,
  options: FcrdnsOptions = NO_OPTIONS,
  budgetMs: number = deps.config.deadlineMs,
  startedAt: number = deps.now(),
): Promise<CheckResult> {
  const budget = new CheckBudget(Math.max(1, budgetMs), options.signal);
  try {
    return await checkSteps(address, input, deps, options, budget, startedAt);
  } finally {
    budget.release();
  }
}

/**
 * The temperror result of a check that never ran (not admitted in time, or too many waiting).
 * Its TTL is 0: it says nothing about the address's DNS, so it is never cached.
 */
export function notRunResult(address: NormalisedAddress, input: string, reason: 'deadline' | 'overload', deps: FcrdnsDeps, startedAt: number): CheckResult {
  const result = buildResult(address, input, { ptrName: reverseName(address), verdict: 'temperror', reason, ttls: NONE, ptrViaCname: false }, deps, startedAt);
  return { ...result, ttl: 0 };
}

/**
 * The whole-check deadline and the caller's signal as one cheap signal (util/abort.ts). A timer
 * cleared when the check ends, rather than AbortSignal.timeout() (whose timer and listeners
 * outlive the check for the whole deadline) or AbortSignal.any() (which leaks on Node 20 when a
 * source signal lives long).
 */
class CheckBudget {
  private readonly controller = new Abort();
  private readonly timer: NodeJS.Timeout;
  private expired = false;
  private readonly onCallerAbort = (): void => this.controller.abort();

  constructor(
    deadlineMs: number,
    private readonly caller: AbortLike | undefined,
  ) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort();
    }, deadlineMs);
    if (caller?.aborted === true) this.controller.abort();
    else caller?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortLike {
    return this.controller;
  }

  /** True once the deadline (not the caller) ended the check. */
  get deadlineHit(): boolean {
    return this.expired;
  }

  release(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}

async function checkSteps(
  address: NormalisedAddress,
  input: string,
  deps: FcrdnsDeps,
  options: FcrdnsOptions,
  budget: CheckBudget,
  startedAt: number,
): Promise<CheckResult> {
  const { config, resolver } = deps;
  const signal = budget.signal;
  const lookupOptions = { signal, noCache: options.noCache === true };
  // The trace is built once, at the end, when the verdict says whether it keeps the exchanges.
  const parts: ResultParts = { ptrName: reverseName(address), verdict: 'temperror', reason: 'deadline', ttls: NONE, ptrViaCname: false };

  // Step 4: the PTR query, on a name we build ourselves.
  const ptr = await resolver.lookup(parts.ptrName, 'PTR', lookupOptions);
  parts.ptr = ptr;
  parts.ptrViaCname = ptr.cnameChain.length > 0;

  if (ptr.outcome === 'temp') {
    parts.reason = budget.deadlineHit ? 'deadline' : 'dns-temp-ptr';
    return buildResult(address, input, parts, deps, startedAt, options.keepExchanges === true);
  }
  if (ptr.outcome === 'nxdomain' || ptr.outcome === 'nodata') {
    parts.verdict = 'permerror';
    parts.reason = 'no-ptr';
    parts.ttls = [ptr.ttl];
    return buildResult(address, input, parts, deps, startedAt, options.keepExchanges === true);
  }

  // Steps 5 and 6: clean, de-duplicate, sort and cap the names.
  const cleaned = cleanPtrNames(
    ptr.records.map((r) => r.data),
    config.maxNamesCount,
  );
  // Arrays of exactly their length (`valid` and `invalid` grew by push): they may be cached.
  parts.names = cleaned.notEvaluated.length === 0 ? cleaned.evaluated : cleaned.valid.slice();
  parts.invalidNames = cleaned.invalid.length === 0 ? NONE : cleaned.invalid.slice();
  parts.notEvaluated = cleaned.notEvaluated;
  parts.underscore = cleaned.underscore;
  parts.multiDomain = cleaned.multiDomain;
  if (cleaned.valid.length === 0) {
    parts.verdict = 'permerror';
    parts.reason = 'no-valid-ptr';
    parts.ttls = [ptr.ttl];
    return buildResult(address, input, parts, deps, startedAt, options.keepExchanges === true);
  }

  // Step 7: forward look-ups in the client's family only, bounded parallelism.
  const qtype = address.family === 4 ? 'A' : 'AAAA';
  const lookups: (LookupResult | undefined)[] = [];
  const forward = await forwardLookups(cleaned.evaluated, qtype, address, resolver, lookups, {
    signal,
    noCache: options.noCache === true,
    concurrency: config.forwardConcurrencyCount,
    stopAtMatch: options.complete !== true,
  });
  parts.forward = forward;
  parts.lookups = lookups;

  // Step 8: aggregate.
  const { verdict, reason } = aggregate(forward, budget.deadlineHit);
  parts.verdict = verdict;
  parts.reason = reason;

  // Step 9 (diagnostics): the other family, so a person learns "only AAAA, add an A".
  if (options.otherFamily === true && verdict !== 'pass') {
    const other = address.family === 4 ? 'AAAA' : 'A';
    const results = await Promise.all(
      cleaned.evaluated.map((name) => resolver.lookup(name, other, lookupOptions)),
    );
    parts.otherFamily = results.map((r, i) => ({
      step: 'other-family',
      name: cleaned.evaluated[i] ?? r.qname,
      qtype: other,
      addresses: r.outcome === 'answer' ? r.records.map((rec) => rec.data) : [],
    }));
  }

  parts.ttls = [ptr.ttl, ...forward.filter((f) => f.outcome !== 'temp' && f.outcome !== 'not-run').map((f) => f.ttl)];
  return buildResult(address, input, parts, deps, startedAt, options.keepExchanges === true);
}

interface ForwardOptions {
  readonly signal: AbortLike;
  readonly noCache: boolean;
  readonly concurrency: number;
  readonly stopAtMatch: boolean;
}

/**
 * Look up every name (at most `concurrency` at once); results in the order of `names`, and each
 * name's lookup (for the trace's exchanges) at the same index of `lookups`.
 */
async function forwardLookups(
  names: readonly string[],
  qtype: 'A' | 'AAAA',
  address: NormalisedAddress,
  resolver: Resolver,
  lookups: (LookupResult | undefined)[],
  options: ForwardOptions,
): Promise<ForwardResult[]> {
  const results: ForwardResult[] = names.map((name) => ({
    name,
    qtype,
    outcome: 'not-run',
    addresses: NONE,
    cnameChain: NONE,
    ttl: 0,
  }));
  let next = 0;
  let matched = false;
  const worker = async (): Promise<void> => {
    while (next < names.length && !(matched && options.stopAtMatch)) {
      const index = next++;
      const name = names[index] as string;
      const lookup = await resolver.lookup(name, qtype, { signal: options.signal, noCache: options.noCache });
      const result = classifyForward(name, qtype, lookup, address);
      results[index] = result;
      lookups[index] = lookup;
      if (result.outcome === 'match') matched = true;
    }
  };
  if (names.length === 1 || options.concurrency === 1) await worker();
  else await Promise.all(Array.from({ length: Math.min(options.concurrency, names.length) }, () => worker()));
  return results;
}

function classifyForward(
  name: string,
  qtype: 'A' | 'AAAA',
  lookup: LookupResult,
  address: NormalisedAddress,
): ForwardResult {
  const cnameChain = lookup.cnameChain.length === 0 ? NONE : lookup.cnameChain;
  if (lookup.outcome === 'temp') return { name, qtype, outcome: 'temp', addresses: NONE, cnameChain, ttl: lookup.ttl };
  if (lookup.outcome !== 'answer') return { name, qtype, outcome: 'no-address', addresses: NONE, cnameChain, ttl: lookup.ttl };
  const addresses: string[] = [];
  let match = false;
  for (const record of lookup.records) {
    const parsed = parseAnswerAddress(record.data, address.family);
    if (parsed === null) continue;
    if (sameAddress(parsed, address)) {
      match = true;
      addresses.push(address.ip); // the same text, one string
    } else addresses.push(formatAddress(parsed));
  }
  if (addresses.length === 0) return { name, qtype, outcome: 'no-address', addresses: NONE, cnameChain, ttl: lookup.ttl };
  return { name, qtype, outcome: match ? 'match' : 'no-match', addresses: addresses.slice(), cnameChain, ttl: lookup.ttl };
}

function aggregate(forward: readonly ForwardResult[], deadlineHit: boolean): { verdict: Verdict; reason: Reason } {
  if (forward.some((f) => f.outcome === 'match')) return { verdict: 'pass', reason: 'confirmed' };
  if (deadlineHit) return { verdict: 'temperror', reason: 'deadline' };
  if (forward.some((f) => f.outcome === 'temp' || f.outcome === 'not-run')) {
    return { verdict: 'temperror', reason: 'dns-temp-forward' };
  }
  if (forward.some((f) => f.outcome === 'no-match')) return { verdict: 'fail', reason: 'no-forward-match' };
  return { verdict: 'fail', reason: 'forward-nodata' };
}

function normaliseStep(input: string, address: NormalisedAddress): TraceStep {
  return address.note ? { step: 'normalise', input, ip: address.ip, note: address.note } : { step: 'normalise', input, ip: address.ip };
}

/** What a check found, filled in step by step; buildResult turns it into the result. */
interface ResultParts {
  readonly ptrName: string;
  verdict: Verdict;
  reason: Reason;
  ttls: readonly number[];
  ptrViaCname: boolean;
  ptr?: LookupResult;
  names?: readonly string[];
  invalidNames?: CheckResult['invalidNames'];
  notEvaluated?: readonly string[];
  underscore?: boolean;
  multiDomain?: boolean;
  forward?: readonly ForwardResult[];
  /** The lookup of each forward result, same index (undefined: not run). */
  lookups?: readonly (LookupResult | undefined)[];
  otherFamily?: readonly TraceStep[];
}

/** Exchanges for the trace: none for a pass unless asked (see FcrdnsOptions.keepExchanges). */
function exchangesOf(lookup: LookupResult | undefined, keep: boolean): LookupResult['exchanges'] {
  return keep && lookup !== undefined && lookup.exchanges.length > 0 ? lookup.exchanges : NONE;
}

function buildTrace(input: string, address: NormalisedAddress, parts: ResultParts, keepExchanges: boolean): TraceStep[] {
  const keep = keepExchanges || parts.verdict !== 'pass';
  const trace: TraceStep[] = [normaliseStep(input, address)];
  const ptr = parts.ptr;
  if (ptr !== undefined) {
    const records = ptr.records.length === 0 ? NONE : ptr.records;
    const cnameChain = ptr.cnameChain.length === 0 ? NONE : ptr.cnameChain;
    const exchanges = exchangesOf(ptr, keep);
    // Two literals rather than a spread in the middle: one shape each, no property backing store.
    trace.push(
      ptr.tempReason
        ? { step: 'ptr', qname: parts.ptrName, outcome: ptr.outcome, tempReason: ptr.tempReason, records, cnameChain, exchanges }
        : { step: 'ptr', qname: parts.ptrName, outcome: ptr.outcome, records, cnameChain, exchanges },
    );
  }
  if (parts.names !== undefined) {
    trace.push({ step: 'names', valid: parts.names, invalid: parts.invalidNames ?? NONE, notEvaluated: parts.notEvaluated ?? NONE });
  }
  const forward = parts.forward ?? NONE;
  for (let i = 0; i < forward.length; i++) {
    const f = forward[i] as ForwardResult;
    const lookup = parts.lookups?.[i];
    const exchanges = exchangesOf(lookup, keep);
    const { name, qtype, outcome, addresses, cnameChain } = f;
    trace.push(
      lookup?.tempReason
        ? { step: 'forward', name, qtype, outcome, tempReason: lookup.tempReason, addresses, cnameChain, exchanges }
        : { step: 'forward', name, qtype, outcome, addresses, cnameChain, exchanges },
    );
  }
  if (parts.otherFamily !== undefined) trace.push(...parts.otherFamily);
  trace.push(verdictStep(parts.verdict, parts.reason));
  return trace.slice(); // exactly its length: it outlives the check
}

/** `list` itself, or the shared empty list. */
function orNone<T>(list: readonly T[] | undefined): readonly T[] {
  return list === undefined || list.length === 0 ? NONE : list;
}

/** `b` when it holds the same strings as `a`, so that one array serves both fields. */
function sameList(a: readonly string[], b: readonly string[]): readonly string[] {
  if (a.length !== b.length) return b;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return b;
  return a;
}

function buildResult(
  address: NormalisedAddress,
  input: string,
  parts: ResultParts,
  deps: FcrdnsDeps,
  startedAt: number,
  keepExchanges = true,
): CheckResult {
  const forward = orNone(parts.forward);
  const names = orNone(parts.names);
  const confirmed = sameList(names, orNone(forward.filter((f) => f.outcome === 'match').map((f) => f.name)));
  const clientText = address.ip;
  const otherAddresses = orNone([...new Set(forward.flatMap((f) => f.addresses).filter((a) => a !== clientText))]);
  // Generic names: judged on the confirmed names for a pass, on every valid name otherwise.
  const generic = detectGenericAll(confirmed.length > 0 ? confirmed : names, address);
  const genericEvidence = generic.evidence.length === 0 && generic.name === undefined ? NO_GENERIC_EVIDENCE : generic;
  const notEvaluated = orNone(parts.notEvaluated);
  return {
    input,
    ip: address.ip,
    family: address.family,
    verdict: parts.verdict,
    reason: parts.reason,
    ptrName: parts.ptrName,
    names,
    invalidNames: orNone(parts.invalidNames),
    notEvaluated,
    confirmed,
    otherAddresses,
    forward,
    flags: internFlags({
      generic: genericEvidence.level,
      truncated: notEvaluated.length > 0,
      aliasTarget: forward.some((f) => f.outcome !== 'not-run' && f.cnameChain.length > 0),
      underscore: parts.underscore ?? false,
      ptrViaCname: parts.ptrViaCname,
      multiDomain: parts.multiDomain ?? false,
    }),
    genericEvidence,
    ttl: verdictTtl(parts.verdict, parts.ttls, deps.config),
    trace: buildTrace(input, address, parts, keepExchanges),
    checkedAt: startedAt,
    durationMs: deps.now() - startedAt, // whole milliseconds: the clock is Date.now()
    fromCache: false,
  };
}

const NO_GENERIC_EVIDENCE: GenericEvidence = Object.freeze({ level: 'none', evidence: NONE });

/**
 * Seconds a verdict may be cached: the smallest DNS TTL involved, clamped to
 * [verdictCacheMinTtlS, verdictCacheMaxTtlS]; temperror at most temperrorCacheTtlS.
 */
export function verdictTtl(verdict: Verdict, ttls: readonly number[], config: CheckConfig): number {
  if (verdict === 'temperror') return Math.min(config.temperrorCacheTtlS, config.verdictCacheMaxTtlS);
  const smallest = ttls.length > 0 ? Math.min(...ttls) : config.verdictCacheMinTtlS;
  return Math.min(Math.max(smallest, config.verdictCacheMinTtlS), config.verdictCacheMaxTtlS);
}
