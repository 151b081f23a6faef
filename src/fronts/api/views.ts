/**
 * NAME
 *   fronts/api/views - records and results as the API shows them
 *
 * SYNOPSIS
 *   checkView(result): CheckView                  a check, every field plain JSON data
 *   wouldReply(firewallConfig, result): { action, wouldReject, reply? }
 *   ipStatus(deps, ip): Promise<IpStatus>         the public status of one address
 *   requestStatus(request): RequestStatus         what a requester may see of a whitelist request
 *   allowView(entry, now)
 *
 * DESCRIPTION
 *   Public views follow the portal research's evidence tiers (../shared/research/portals.md e6):
 *   listed or not, the failing step, dates, the reference; never the HELO, sender or recipient
 *   of a rejection, nor the contact or address of a requester. Operators get the records whole.
 *
 *   Strings from DNS (PTR names, trace data) are carried as JSON strings: JSON escaping is
 *   the medium's escaping, and the API never answers in HTML.
 */
import type { CheckResult } from '../../check/types.js';
import type { Config, FirewallConfig } from '../../config/schema.js';
import { buildReply, oneLineReply, portalLink, ruleFor, stepWords, type Firewall } from '../../firewall/index.js';
import type { AllowEntry, WhitelistRequest } from '../../store/types.js';
import { RangeList } from './client.js';
import type { z } from 'zod';
import type { allowEntrySchema, checkViewSchema, ipStatusSchema, requestStatusSchema, smtpReplySchema } from './schemas.js';

export type CheckView = z.infer<typeof checkViewSchema>;
export type IpStatus = z.infer<typeof ipStatusSchema>;
export type RequestStatus = z.infer<typeof requestStatusSchema>;
export type AllowView = z.infer<typeof allowEntrySchema>;

/** core.ts NEVER: an operator's listing is never re-checked. */
const NEVER = Number.MAX_SAFE_INTEGER;

export function checkView(result: CheckResult, nameMaxChars: number): CheckView {
  return {
    ip: result.ip,
    family: result.family,
    verdict: result.verdict,
    reason: result.reason,
    step: result.verdict === 'pass' || result.verdict === 'skipped' ? 'passed' : stepWords(result.reason, result.family, result.names[0], nameMaxChars),
    ...(result.ptrName === undefined ? {} : { ptrName: result.ptrName }),
    names: [...result.names],
    invalidNames: result.invalidNames.map((n) => ({ name: n.name, why: n.why })),
    notEvaluated: [...result.notEvaluated],
    confirmed: [...result.confirmed],
    otherAddresses: [...result.otherAddresses],
    flags: { ...result.flags },
    generic: {
      level: result.genericEvidence.level,
      ...(result.genericEvidence.name === undefined ? {} : { name: result.genericEvidence.name }),
      evidence: [...result.genericEvidence.evidence],
    },
    trace: result.trace.map((step) => ({ ...step })),
    checkedAt: result.checkedAt,
    durationMs: result.durationMs,
  };
}

export interface WouldReply {
  readonly action: 'accept' | 'reject' | 'defer';
  readonly wouldReject: boolean;
  readonly reply?: z.infer<typeof smtpReplySchema>;
}

/**
 * wouldReply - what the firewall's policy (policy.ts, the one place verdicts become actions)
 * makes of this result in this node's mode, and the reply text it would send. The real reply
 * links `<portalUrl>/ip/<ip>?r=<ref>` with the reference of the evidence it keeps; a test keeps
 * none, so the link here has no reference.
 */
export function wouldReply(config: FirewallConfig, result: CheckResult): WouldReply {
  const rule = ruleFor(config, result.verdict);
  if (rule.action === 'accept') return { action: 'accept', wouldReject: rule.wouldReject };
  const url = portalLink(config.portalUrl, result.ip, '').replace(/\?r=$/, '');
  const reply = buildReply({
    kind: rule.kind,
    ip: result.ip,
    family: result.family,
    reason: result.reason,
    url,
    organisation: config.organisation.name,
    nameMaxChars: config.replyNameMaxChars,
    ...(result.names[0] === undefined ? {} : { name: result.names[0] }),
  });
  return {
    action: rule.action,
    wouldReject: false,
    reply: { code: reply.code, enhanced: reply.enhanced, lines: [...reply.lines], text: oneLineReply(reply) },
  };
}

export function allowView(entry: AllowEntry, now: number): AllowView {
  return { ...entry, expired: entry.expiresAt !== undefined && entry.expiresAt <= now };
}

/** The unexpired allow entry covering `ip`, if any. */
export function allowFor(entries: readonly AllowEntry[], ip: string, now: number): AllowEntry | undefined {
  for (const entry of entries) {
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) continue;
    if (new RangeList([entry.range]).has(ip)) return entry;
  }
  return undefined;
}

export interface StatusDeps {
  readonly firewall: Firewall;
  readonly config: Config;
  readonly bypass: RangeList;
  readonly now: () => number;
}

export async function ipStatus(deps: StatusDeps, ip: string): Promise<IpStatus> {
  const { firewall, config } = deps;
  const [stored, allows] = await Promise.all([firewall.records.listing(ip), firewall.records.allows()]);
  const hot = firewall.hotListing(ip);
  const allow = allowFor(allows, ip, deps.now());
  const bypassRange = deps.bypass.match(ip);
  const family = ip.includes(':') ? 6 : 4;
  const common = {
    ip,
    allowlisted: allow !== undefined,
    ...(allow === undefined ? {} : { allowRange: allow.range }),
    bypassed: bypassRange !== undefined,
    ...(bypassRange === undefined ? {} : { bypassRange }),
  };
  if (stored === undefined && hot === undefined) return { ...common, listed: false, state: 'none', unblock: 'not-listed' };
  const active = stored?.state === 'active' || hot !== undefined;
  const verdict = hot?.verdict ?? stored?.verdict ?? 'fail';
  const reason = stored?.reason ?? (verdict === 'manual' ? 'manual' : undefined);
  const recheckDueAt = hot?.recheckDueAt ?? stored?.recheckDueAt;
  const latest = stored?.latestEvidence;
  return {
    ...common,
    listed: active,
    state: active ? 'active' : (stored?.state ?? 'none'),
    ...(active ? { verdict } : {}),
    ...(reason === undefined ? {} : { reason, step: stepWords(reason, family, latest?.names?.[0], config.firewall.replyNameMaxChars) }),
    ...(stored === undefined ? {} : { since: stored.listedAt, rejectCount: Math.max(stored.rejectCount, hot?.rejectCount ?? 0) }),
    ...(active && recheckDueAt !== undefined ? { recheckDueAt: recheckDueAt >= NEVER ? null : recheckDueAt } : {}),
    ...(latest === undefined ? {} : { ref: latest.ref }),
    ...(latest === undefined || stored === undefined || stored.rejectCount === 0
      ? {}
      : { lastRejection: { at: stored.lastRejectAt, ref: latest.ref, ...(latest.reply === undefined ? {} : { reply: latest.reply }) } }),
    ...(stored?.clearedAt === undefined || active ? {} : { clearedAt: stored.clearedAt }),
    ...(stored?.clearCause === undefined || active ? {} : { clearCause: stored.clearCause }),
    unblock: !active ? 'not-listed' : verdict === 'manual' ? 'operator-only' : 'available',
  };
}

export function requestStatus(request: WhitelistRequest): RequestStatus {
  return {
    ref: request.ref,
    state: request.state,
    range: request.range,
    domain: request.domain,
    createdAt: request.createdAt,
    ...(request.decidedAt === undefined ? {} : { decidedAt: request.decidedAt }),
    ...(request.state === 'denied' && request.decisionReason !== undefined ? { decisionReason: request.decisionReason } : {}),
  };
}
