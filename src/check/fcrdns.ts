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
import type { CheckResult, ForwardResult, Reason, TraceStep, Verdict } from './types.js';

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

/**
 * Run steps 4-9 for one address within `budgetMs` (default: check.deadlineMs). Never throws for
 * a DNS reason.
 */
export async function runFcrdns(
  address: NormalisedAddress,
  input: string,
  deps: FcrdnsDeps,
  options: FcrdnsOptions = {},
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
  const trace: TraceStep[] = [normaliseStep(input, address)];
  const result = buildResult(address, input, { ptrName: reverseName(address), verdict: 'temperror', reason, ttls: [], ptrViaCname: false, trace }, deps, startedAt);
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
  const trace: TraceStep[] = [normaliseStep(input, address)];

  const finish = (parts: Omit<ResultParts, 'trace'>): CheckResult =>
    buildResult(address, input, { ...parts, trace }, deps, startedAt, options.keepExchanges === true);

  // Step 4: the PTR query, on a name we build ourselves.
  const ptrName = reverseName(address);
  const ptr = await resolver.lookup(ptrName, 'PTR', lookupOptions);
  trace.push({
    step: 'ptr',
    qname: ptrName,
    outcome: ptr.outcome,
    ...(ptr.tempReason ? { tempReason: ptr.tempReason } : {}),
    records: ptr.records,
    cnameChain: ptr.cnameChain,
    exchanges: ptr.exchanges,
  });
  const ptrViaCname = ptr.cnameChain.length > 0;

  if (ptr.outcome === 'temp') {
    const reason: Reason = budget.deadlineHit ? 'deadline' : 'dns-temp-ptr';
    return finish({ ptrName, verdict: 'temperror', reason, ttls: [], ptrViaCname });
  }
  if (ptr.outcome === 'nxdomain' || ptr.outcome === 'nodata') {
    return finish({ ptrName, verdict: 'permerror', reason: 'no-ptr', ttls: [ptr.ttl], ptrViaCname });
  }

  // Steps 5 and 6: clean, de-duplicate, sort and cap the names.
  const cleaned = cleanPtrNames(
    ptr.records.map((r) => r.data),
    config.maxNamesCount,
  );
  trace.push({ step: 'names', valid: cleaned.valid, invalid: cleaned.invalid, notEvaluated: cleaned.notEvaluated });
  const nameParts = {
    names: cleaned.valid,
    invalidNames: cleaned.invalid,
    notEvaluated: cleaned.notEvaluated,
    underscore: cleaned.underscore,
    multiDomain: cleaned.multiDomain,
  };
  if (cleaned.valid.length === 0) {
    return finish({ ptrName, verdict: 'permerror', reason: 'no-valid-ptr', ttls: [ptr.ttl], ptrViaCname, ...nameParts });
  }

  // Step 7: forward look-ups in the client's family only, bounded parallelism.
  const qtype = address.family === 4 ? 'A' : 'AAAA';
  const forward = await forwardLookups(cleaned.evaluated, qtype, address, resolver, {
    signal,
    noCache: options.noCache === true,
    concurrency: config.forwardConcurrencyCount,
    stopAtMatch: options.complete !== true,
  });
  for (const f of forward) {
    trace.push({
      step: 'forward',
      name: f.name,
      qtype: f.qtype,
      outcome: f.outcome,
      ...(f.lookup?.tempReason ? { tempReason: f.lookup.tempReason } : {}),
      addresses: f.addresses,
      cnameChain: f.cnameChain,
      exchanges: f.lookup?.exchanges ?? [],
    });
  }

  // Step 8: aggregate.
  const { verdict, reason } = aggregate(forward, budget.deadlineHit);

  // Step 9 (diagnostics): the other family, so a person learns "only AAAA, add an A".
  if (options.otherFamily === true && verdict !== 'pass') {
    const other = address.family === 4 ? 'AAAA' : 'A';
    const results = await Promise.all(
      cleaned.evaluated.map((name) => resolver.lookup(name, other, lookupOptions)),
    );
    results.forEach((r, i) => {
      trace.push({
        step: 'other-family',
        name: cleaned.evaluated[i] ?? r.qname,
        qtype: other,
        addresses: r.outcome === 'answer' ? r.records.map((rec) => rec.data) : [],
      });
    });
  }

  const ttls = [ptr.ttl, ...forward.filter((f) => f.outcome !== 'temp' && f.outcome !== 'not-run').map((f) => f.ttl)];
  return finish({ ptrName, verdict, reason, ttls, ptrViaCname, forward, ...nameParts });
}

/** A pass's trace without the raw exchanges (see FcrdnsOptions.keepExchanges). */
function withoutExchanges(trace: readonly TraceStep[]): TraceStep[] {
  return trace.map((step) => (step.step === 'ptr' || step.step === 'forward' ? { ...step, exchanges: [] } : step));
}

interface ForwardOptions {
  readonly signal: AbortLike;
  readonly noCache: boolean;
  readonly concurrency: number;
  readonly stopAtMatch: boolean;
}

/** Look up every name (at most `concurrency` at once); results in the order of `names`. */
async function forwardLookups(
  names: readonly string[],
  qtype: 'A' | 'AAAA',
  address: NormalisedAddress,
  resolver: Resolver,
  options: ForwardOptions,
): Promise<ForwardResult[]> {
  const results: ForwardResult[] = names.map((name) => ({
    name,
    qtype,
    outcome: 'not-run',
    addresses: [],
    cnameChain: [],
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
      if (result.outcome === 'match') matched = true;
    }
  };
  const workers = Array.from({ length: Math.min(options.concurrency, names.length) }, () => worker());
  await Promise.all(workers);
  return results;
}

function classifyForward(
  name: string,
  qtype: 'A' | 'AAAA',
  lookup: LookupResult,
  address: NormalisedAddress,
): ForwardResult {
  const base = { name, qtype, cnameChain: lookup.cnameChain, ttl: lookup.ttl, lookup };
  if (lookup.outcome === 'temp') return { ...base, outcome: 'temp', addresses: [] };
  if (lookup.outcome !== 'answer') return { ...base, outcome: 'no-address', addresses: [] };
  const addresses: string[] = [];
  let match = false;
  for (const record of lookup.records) {
    const parsed = parseAnswerAddress(record.data, address.family);
    if (parsed === null) continue;
    addresses.push(formatAddress(parsed));
    if (sameAddress(parsed, address)) match = true;
  }
  if (addresses.length === 0) return { ...base, outcome: 'no-address', addresses };
  return { ...base, outcome: match ? 'match' : 'no-match', addresses };
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
  return { step: 'normalise', input, ip: address.ip, ...(address.note ? { note: address.note } : {}) };
}

interface ResultParts {
  readonly ptrName: string;
  readonly verdict: Verdict;
  readonly reason: Reason;
  readonly ttls: readonly number[];
  readonly ptrViaCname: boolean;
  readonly names?: readonly string[];
  readonly invalidNames?: CheckResult['invalidNames'];
  readonly notEvaluated?: readonly string[];
  readonly underscore?: boolean;
  readonly multiDomain?: boolean;
  readonly forward?: readonly ForwardResult[];
  readonly trace: TraceStep[];
}

function buildResult(
  address: NormalisedAddress,
  input: string,
  parts: ResultParts,
  deps: FcrdnsDeps,
  startedAt: number,
  keepExchanges = true,
): CheckResult {
  const forward = parts.forward ?? [];
  const names = parts.names ?? [];
  const confirmed = forward.filter((f) => f.outcome === 'match').map((f) => f.name);
  const clientText = address.ip;
  const otherAddresses = [...new Set(forward.flatMap((f) => f.addresses).filter((a) => a !== clientText))];
  // Generic names: judged on the confirmed names for a pass, on every valid name otherwise.
  const genericEvidence = detectGenericAll(confirmed.length > 0 ? confirmed : names, address);
  parts.trace.push({ step: 'verdict', verdict: parts.verdict, reason: parts.reason });
  return {
    input,
    ip: address.ip,
    family: address.family,
    verdict: parts.verdict,
    reason: parts.reason,
    ptrName: parts.ptrName,
    names,
    invalidNames: parts.invalidNames ?? [],
    notEvaluated: parts.notEvaluated ?? [],
    confirmed,
    otherAddresses,
    forward: forward.map(({ lookup: _lookup, ...rest }) => rest),
    flags: {
      generic: genericEvidence.level,
      truncated: (parts.notEvaluated ?? []).length > 0,
      aliasTarget: forward.some((f) => f.outcome !== 'not-run' && f.cnameChain.length > 0),
      underscore: parts.underscore ?? false,
      ptrViaCname: parts.ptrViaCname,
      multiDomain: parts.multiDomain ?? false,
    },
    genericEvidence,
    ttl: verdictTtl(parts.verdict, parts.ttls, deps.config),
    trace: parts.verdict === 'pass' && !keepExchanges ? withoutExchanges(parts.trace) : parts.trace,
    checkedAt: startedAt,
    durationMs: deps.now() - startedAt, // whole milliseconds: the clock is Date.now()
    fromCache: false,
  };
}

/**
 * Seconds a verdict may be cached: the smallest DNS TTL involved, clamped to
 * [verdictCacheMinTtlS, verdictCacheMaxTtlS]; temperror at most temperrorCacheTtlS.
 */
export function verdictTtl(verdict: Verdict, ttls: readonly number[], config: CheckConfig): number {
  if (verdict === 'temperror') return Math.min(config.temperrorCacheTtlS, config.verdictCacheMaxTtlS);
  const smallest = ttls.length > 0 ? Math.min(...ttls) : config.verdictCacheMinTtlS;
  return Math.min(Math.max(smallest, config.verdictCacheMinTtlS), config.verdictCacheMaxTtlS);
}
