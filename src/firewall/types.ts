/**
 * NAME
 *   firewall/types - what the firewall is asked, and what it answers
 *
 * DESCRIPTION
 *   A front (policy service, DNSBL, SMTP gate, HTTP API) turns what it saw into a `ClientContext`,
 *   calls `Firewall.decide()` and renders the `Decision`: the action, who decided (`source`), the
 *   verdict and reason behind it, and for a reject or defer the SMTP reply, the reference id and
 *   the portal URL. Only the firewall maps verdicts to actions (STYLE.md §6).
 *
 *   Peer-supplied strings in a context (HELO, sender, recipient) are untrusted; the firewall
 *   cleans them before they reach evidence or a log line.
 *
 * SEE ALSO
 *   firewall/firewall.ts, firewall/reply.ts, /work/shared/design/PRODUCT.md §3.
 */
import type { CheckResult, Reason, Verdict } from '../check/types.js';
import type { Front, Listing } from '../store/types.js';
import type { AbortLike } from '../util/abort.js';

/** The SMTP stage a front asks at (rejections land at RCPT where the front can). */
export type SmtpStage = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data';

export interface ClientContext {
  readonly front: Front;
  /** The client address as the socket reported it (normalised by the firewall). */
  readonly ip: string;
  readonly helo?: string;
  readonly sender?: string;
  readonly recipient?: string;
  readonly stage?: SmtpStage;
  /** The front's deadline for this decision; flows down to the check. */
  readonly signal?: AbortLike;
}

export type Action = 'accept' | 'reject' | 'defer' | 'tag';

/** Who decided: the first rule of PRODUCT.md §3's order that applied. */
export type DecisionSource = 'bypass' | 'allowlist' | 'postmaster' | 'listing' | 'check';

/** The verdict behind a decision: a check's, or `manual` for an operator's listing. */
export type DecisionVerdict = Verdict | 'manual';

/**
 * The reason behind a decision: a check's reason, or the firewall's own: `manual` (operator's
 * listing), `allowlisted`, `always-accept` (a postmaster/abuse recipient), `check-error` (the
 * check threw: handled as a temperror).
 */
export type DecisionReason = Reason | 'manual' | 'allowlisted' | 'always-accept' | 'check-error';

/** An SMTP reply: the basic code, the enhanced status code (RFC 3463) and the text of each line. */
export interface SmtpReply {
  readonly code: 450 | 451 | 550;
  readonly enhanced: '4.7.25' | '4.4.3' | '5.7.25';
  /** Text of each line, without the code prefix and CRLF; ASCII only. */
  readonly lines: readonly string[];
}

export interface Decision {
  readonly action: Action;
  /** The normalised client address. */
  readonly ip: string;
  readonly source: DecisionSource;
  readonly verdict: DecisionVerdict;
  readonly reason: DecisionReason;
  /** Present for reject and defer. */
  readonly reply?: SmtpReply;
  /** Reference id of the evidence kept for a reject or defer. */
  readonly ref?: string;
  /** The portal page for this IP and reference. */
  readonly url?: string;
  /** Report-only mode: the client was accepted but would have been refused. */
  readonly wouldReject?: boolean;
  /** The allow entry or bypass range that matched. */
  readonly range?: string;
  /** The check behind a `check` decision (or a due listing's re-check). */
  readonly check?: CheckResult;
}

/** What a self-service unblock did. */
export type UnblockResult =
  | { readonly outcome: 'cleared'; readonly ip: string; readonly check: CheckResult }
  | {
      readonly outcome: 'still-failing';
      readonly ip: string;
      readonly verdict: Verdict;
      readonly reason: Reason;
      /** The failing step in plain words (reply.ts stepWords). */
      readonly step: string;
      readonly check: CheckResult;
    }
  /** Listed by an operator: only an operator clears it. */
  | { readonly outcome: 'operator-listed'; readonly ip: string }
  | { readonly outcome: 'not-listed'; readonly ip: string }
  | { readonly outcome: 'rate-limited'; readonly ip: string; readonly retryAfterMs: number };

/**
 * Who asks for an unblock. A visitor of the portal is `self-service` and rate-limited (per
 * target and per requesting address); an operator (`cli:<user>`, `operator:<name>`) is not.
 * The rules are the same for both: not listed is left alone, a hand listing is refused, a fresh
 * check bypassing every cache clears only on pass.
 */
export type UnblockOptions =
  | { readonly actor: 'self-service'; readonly fromIp: string; readonly signal?: AbortLike }
  | { readonly actor: `cli:${string}` | `operator:${string}`; readonly signal?: AbortLike };

/** What a maintenance run (re-check of due listings, then expiry) did. */
export interface MaintenanceReport {
  /** False when another node holds the lease: nothing was done. */
  readonly ran: boolean;
  readonly checked: number;
  readonly cleared: number;
  readonly stillFailing: number;
  readonly temperror: number;
  readonly expired: number;
}

/** A log event with fixed fields (STYLE.md §11); `event` is the upper-case word to grep for. */
export interface FirewallLogEvent {
  readonly event: string;
  readonly ip?: string;
  readonly ref?: string;
  readonly front?: Front;
  /** Already cleaned text. */
  readonly detail?: string;
}

export type FirewallLogger = (event: FirewallLogEvent) => void;

export type { Listing };
