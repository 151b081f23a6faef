/**
 * NAME
 *   firewall/evidence - what is kept of a rejection or deferral, found later by its reference
 *
 * SYNOPSIS
 *   buildEvidence(input: EvidenceInput, limits: EvidenceLimits): Evidence
 *   trimTrace(trace: readonly TraceStep[], maxBytes: number): unknown
 *   cleanPeerText(text: string | undefined): string | undefined
 *
 * DESCRIPTION
 *   Evidence holds the time, front, HELO, sender, recipient, verdict, reason, the PTR names, the
 *   first reply line and the check's trace. Peer text (HELO, sender, recipient, names) goes
 *   through `printable()` (no CR, LF, controls; cut to DEFAULT_PRINTABLE_MAX_CHARS) before it is
 *   stored, so whatever later prints it cannot be fooled.
 *
 *   The trace is kept whole when its JSON is at most `evidenceTraceMaxBytes`; otherwise the raw
 *   DNS exchanges are dropped; if that is still too big, the leading steps that fit are kept,
 *   then a `{ step: 'trimmed', droppedSteps, originalBytes }` marker and the verdict step.
 *
 * LIMITS
 *   firewall.evidenceTraceMaxBytes (JSON size of the kept trace, UTF-8 bytes),
 *   firewall.evidenceNamesMaxCount (PTR names kept), DEFAULT_PRINTABLE_MAX_CHARS per string.
 */
import type { CheckResult, TraceStep, Verdict } from '../check/types.js';
import type { Evidence, Front } from '../store/types.js';
import { printable } from '../util/printable.js';

export interface EvidenceLimits {
  readonly traceMaxBytes: number;
  readonly namesMaxCount: number;
}

export interface EvidenceInput {
  readonly ref: string;
  readonly at: number;
  readonly front: Front;
  readonly ip: string;
  readonly verdict: Verdict;
  readonly reason: Evidence['reason'];
  readonly helo?: string;
  readonly sender?: string;
  readonly recipient?: string;
  /** The first reply line, with its code prefix. */
  readonly reply?: string;
  readonly check?: CheckResult;
}

/** cleanPeerText - printable, cut; undefined stays undefined. */
export function cleanPeerText(text: string | undefined): string | undefined {
  return text === undefined ? undefined : printable(text);
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** Drop the raw DNS exchanges from a step, keep the rest. */
function withoutExchanges(step: TraceStep): TraceStep {
  if (step.step === 'ptr' || step.step === 'forward') return { ...step, exchanges: [] };
  return step;
}

/** trimTrace - the trace as JSON-safe data of at most `maxBytes` bytes of JSON. */
export function trimTrace(trace: readonly TraceStep[], maxBytes: number): unknown {
  const originalBytes = jsonBytes(trace);
  if (originalBytes <= maxBytes) return trace;
  const lean = trace.map(withoutExchanges);
  if (jsonBytes(lean) <= maxBytes) return lean;
  const verdict = lean.find((s) => s.step === 'verdict');
  const tail: unknown[] = verdict === undefined ? [] : [verdict];
  const markerOf = (dropped: number): unknown => ({ step: 'trimmed', droppedSteps: dropped, originalBytes });
  // Brackets and commas: a step costs its JSON plus one comma.
  let used = jsonBytes([markerOf(lean.length), ...tail]);
  const kept: TraceStep[] = [];
  for (const step of lean) {
    if (step.step === 'verdict') continue;
    const cost = jsonBytes(step) + 1;
    if (used + cost > maxBytes) break;
    kept.push(step);
    used += cost;
  }
  const dropped = lean.length - kept.length - tail.length;
  const out: unknown[] = [...kept, markerOf(dropped), ...tail];
  return jsonBytes(out) <= maxBytes ? out : [markerOf(lean.length)];
}

/** buildEvidence - the record for store.putEvidence, cleaned and bounded. */
export function buildEvidence(input: EvidenceInput, limits: EvidenceLimits): Evidence {
  const names = input.check?.names.slice(0, limits.namesMaxCount).map((n) => printable(n));
  const optional: Record<string, unknown> = {};
  const helo = cleanPeerText(input.helo);
  const sender = cleanPeerText(input.sender);
  const recipient = cleanPeerText(input.recipient);
  if (helo !== undefined) optional.helo = helo;
  if (sender !== undefined) optional.sender = sender;
  if (recipient !== undefined) optional.recipient = recipient;
  if (input.reply !== undefined) optional.reply = input.reply;
  if (names !== undefined) optional.names = names;
  if (input.check !== undefined) optional.trace = trimTrace(input.check.trace, limits.traceMaxBytes);
  return {
    ref: input.ref,
    at: input.at,
    front: input.front,
    ip: input.ip,
    verdict: input.verdict,
    reason: input.reason,
    ...optional,
  };
}
