/**
 * NAME
 *   metrics/decision-log - one DECISION log line per decision
 *
 * SYNOPSIS
 *   const listener = decisionLogger(logger)       // a DecisionListener (Firewall onDecision)
 *
 * DESCRIPTION
 *   Fields: event DECISION, front, ip (the normalised address), action, verdict, reason,
 *   source, ref (refusals: the reference the refused person quotes), ms (decide() time), and
 *   when the front gave them helo, sender, recipient — peer-supplied, so through printable()
 *   (no control characters, at most DECISION_TEXT_MAX_CHARS each). `wouldReject: true` marks a
 *   report-only acceptance that would have been a refusal; `range` names the bypass range or
 *   allow entry that matched.
 *
 *   Levels: a refusal (reject, defer) and a report-only would-reject are `info`: rare, and each
 *   is something a person may ask about. Every other acceptance (cached passes: the bulk of the
 *   traffic) is `debug`. The level test comes first, so with debug off an acceptance costs one
 *   boolean test and builds nothing: the two booleans follow the logger's `level-change` event
 *   (pino's isLevelEnabled() costs more than the rest of the listener).
 */
import type { DecisionListener } from '../firewall/firewall.js';
import type { ClientContext, Decision } from '../firewall/types.js';
import type { Logger } from '../util/log.js';
import { printable } from '../util/printable.js';

/** Longest HELO/sender/recipient written (RFC 5321's path limit is 256 octets). */
export const DECISION_TEXT_MAX_CHARS = 256;

export function decisionLogger(logger: Logger): DecisionListener {
  let debugOn = logger.isLevelEnabled('debug');
  let infoOn = logger.isLevelEnabled('info');
  logger.on('level-change', () => {
    debugOn = logger.isLevelEnabled('debug');
    infoOn = logger.isLevelEnabled('info');
  });
  return (ctx: ClientContext, decision: Decision, elapsedMs: number): void => {
    if (decision.action === 'accept' && decision.wouldReject !== true) {
      if (debugOn) logger.debug(decisionFields(ctx, decision, elapsedMs), 'decision');
      return;
    }
    if (infoOn) logger.info(decisionFields(ctx, decision, elapsedMs), 'decision');
  };
}

/** The fields of one DECISION line. */
export function decisionFields(ctx: ClientContext, decision: Decision, elapsedMs: number): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    event: 'DECISION',
    front: ctx.front,
    ip: decision.ip,
    action: decision.action,
    verdict: decision.verdict,
    reason: decision.reason,
    source: decision.source,
    ms: Math.round(elapsedMs * 100) / 100,
  };
  if (decision.ref !== undefined) fields.ref = decision.ref;
  if (decision.wouldReject === true) fields.wouldReject = true;
  if (decision.range !== undefined) fields.range = printable(decision.range, DECISION_TEXT_MAX_CHARS);
  if (ctx.helo !== undefined) fields.helo = printable(ctx.helo, DECISION_TEXT_MAX_CHARS);
  if (ctx.sender !== undefined) fields.sender = printable(ctx.sender, DECISION_TEXT_MAX_CHARS);
  if (ctx.recipient !== undefined) fields.recipient = printable(ctx.recipient, DECISION_TEXT_MAX_CHARS);
  return fields;
}
