/**
 * NAME
 *   firewall/policy - PRODUCT.md §3's table: a verdict and a mode give an action
 *
 * SYNOPSIS
 *   modeFor(config, verdict): FirewallMode
 *   ruleFor(config, verdict): Rule
 *
 * DESCRIPTION
 *   pass and skipped accept. fail and permerror (and an operator's listing, `manual`) reject:
 *   soft mode with a 4xx (450 4.7.25), hard mode with a 5xx (550 5.7.25), both with a listing;
 *   report-only accepts and marks the decision `wouldReject` (nobody is listed). temperror defers
 *   with 451 4.4.3 in soft and hard mode alike, is never listed and never a 5xx; report-only
 *   accepts it.
 *
 *   The mode is `firewall.modeByVerdict[<verdict>]` when set, else `firewall.mode`; an operator's
 *   listing follows `firewall.mode`.
 */
import type { Verdict } from '../check/types.js';
import type { FirewallConfig, FirewallMode } from '../config/schema.js';
import type { DecisionVerdict } from './types.js';
import type { ReplyKind } from './reply.js';

export type Rule =
  | { readonly action: 'accept'; readonly wouldReject: boolean }
  | { readonly action: 'reject'; readonly kind: Extract<ReplyKind, 'soft' | 'hard'>; readonly list: true }
  | { readonly action: 'defer'; readonly kind: 'temp'; readonly list: false };

/** modeFor - the mode that applies to a verdict. */
export function modeFor(config: Pick<FirewallConfig, 'mode' | 'modeByVerdict'>, verdict: DecisionVerdict): FirewallMode {
  if (verdict === 'fail' || verdict === 'permerror' || verdict === 'temperror') {
    return config.modeByVerdict[verdict] ?? config.mode;
  }
  return config.mode;
}

/** ruleFor - what to do about a verdict (PRODUCT.md §3). */
export function ruleFor(config: Pick<FirewallConfig, 'mode' | 'modeByVerdict'>, verdict: DecisionVerdict): Rule {
  const refusing: ReadonlySet<DecisionVerdict> = REFUSING;
  if (!refusing.has(verdict) && verdict !== 'temperror') return { action: 'accept', wouldReject: false };
  const mode = modeFor(config, verdict);
  if (verdict === 'temperror') {
    return mode === 'report-only' ? { action: 'accept', wouldReject: false } : { action: 'defer', kind: 'temp', list: false };
  }
  switch (mode) {
    case 'report-only':
      return { action: 'accept', wouldReject: true };
    case 'hard':
      return { action: 'reject', kind: 'hard', list: true };
    case 'soft':
      return { action: 'reject', kind: 'soft', list: true };
  }
}

const REFUSING: ReadonlySet<DecisionVerdict> = new Set<DecisionVerdict>(['fail', 'permerror', 'manual']);

/** isRefusing - fail, permerror: the verdicts that list. */
export function isRefusing(verdict: Verdict): verdict is 'fail' | 'permerror' {
  return verdict === 'fail' || verdict === 'permerror';
}
