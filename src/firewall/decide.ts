/**
 * NAME
 *   firewall/decide - one client, one decision (PRODUCT.md §3)
 *
 * SYNOPSIS
 *   decide(core, ctx): Promise<Decision>        throws BS_ERR_ADDRESS_INVALID for a malformed ctx.ip
 *
 * DESCRIPTION
 *   Order: bypass ranges (checker.bypassRange) and the allowlist (hot cache) accept; then a
 *   recipient whose local part is in firewall.alwaysAcceptLocalParts accepts (only when the
 *   front gave a recipient); then a current listing refuses from memory with no DNS work
 *   until its recheckDueAt (a due one gets a live check: pass clears it, `dns-fixed`); then
 *   the cached verdict or a live check (checker.check, coalesced) decides by policy.ts.
 *
 *   A refusal (reject or defer) gets a reference, a reply (reply.ts) and evidence written by
 *   ref (evidence.ts). fail/permerror list the IP: a new listing (evidence as first and latest)
 *   or, for one already listed, a touch (rejectCount, lastRejectAt, latestEvidence, and after
 *   a re-check a new recheckDueAt). temperror never lists; a check that throws is handled as a
 *   temperror (`check-error`), never as an accept. Report-only never refuses and lists nobody:
 *   a refusing verdict is accepted with `wouldReject` and a WOULD-REJECT log line.
 *
 *   The decision never waits for the store: listing and evidence writes go to writer.ts, which
 *   batches them. A warm decision (no live check needed) is made synchronously. Repeated
 *   identical refusals of a listed IP share one reference and one evidence record within a
 *   short window (episodes.ts), so the warm path writes nothing per refusal but a count.
 *
 * DIAGNOSTICS
 *   Log events: REJECT, DEFER, LIST, CLEAR (dns-fixed), WOULD-REJECT, CHECK-ERROR.
 */
import type { NormalisedAddress } from '../check/address.js';
import type { CheckResult } from '../check/types.js';
import type { Evidence, Listing } from '../store/types.js';
import { printable } from '../util/printable.js';
import { clientAddress } from './client-address.js';
import { evidenceLimits, nextRecheckAt, type Core } from './core.js';
import { buildEvidence } from './evidence.js';
import type { HotListing } from './hot-cache.js';
import { isRefusing, ruleFor } from './policy.js';
import { newReference } from './reference.js';
import { buildReply, portalLink, replyLine, type ReplyKind } from './reply.js';
import { counterName } from './stats.js';
import type { ClientContext, Decision, DecisionReason, DecisionSource, DecisionVerdict } from './types.js';

const SOURCE_LISTING = 'source.listing';

/** localPart - the local part of an RFC 5321 path (`<Postmaster@x>`, `"abuse"@x`, `postmaster`), lower-cased. */
export function localPart(recipient: string): string {
  let path = recipient.trim();
  if (path.startsWith('<')) path = path.slice(1);
  if (path.endsWith('>')) path = path.slice(0, -1);
  if (path.startsWith('@')) path = path.slice(path.indexOf(':') + 1); // a source route
  const at = path.lastIndexOf('@');
  let local = at === -1 ? path : path.slice(0, at);
  if (local.length >= 2 && local.startsWith('"') && local.endsWith('"')) local = local.slice(1, -1);
  return local.toLowerCase();
}

/**
 * decide - not an async function: a warm decision (bypass, allowlist, postmaster, listing,
 * cached verdict) is made synchronously and handed back already resolved; only a decision that
 * needs a live check waits (decideLive).
 */
export function decide(core: Core, ctx: ClientContext): Promise<Decision> {
  let address: NormalisedAddress;
  try {
    address = clientAddress(ctx.ip);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  const ip = address.ip;
  const bypass = core.checker.bypassRange(address);
  if (bypass !== null) return Promise.resolve(accepted(core, ctx, ip, 'bypass', 'skipped', 'bypass', { range: bypass }));
  const allow = core.hot.matchAllow(address);
  if (allow !== undefined) return Promise.resolve(accepted(core, ctx, ip, 'allowlist', 'skipped', 'allowlisted', { range: allow.range }));
  if (ctx.recipient !== undefined && core.alwaysAccept.has(localPart(ctx.recipient))) {
    return Promise.resolve(accepted(core, ctx, ip, 'postmaster', 'skipped', 'always-accept', {}));
  }
  const listed = core.hot.listing(ip);
  if (listed !== undefined && (listed.verdict === 'manual' || core.now() < listed.recheckDueAt)) {
    return Promise.resolve(fromListing(core, ctx, address, listed));
  }
  // The cached verdict (the checker's own first step), without a promise in between.
  const cached = listed === undefined ? core.checker.cached(ip) : undefined;
  if (cached !== undefined) {
    core.stats.count(counterName('verdict', cached.verdict, cached.reason));
    return Promise.resolve(fromCheck(core, ctx, address, cached));
  }
  return decideLive(core, ctx, address, listed);
}

async function decideLive(core: Core, ctx: ClientContext, address: NormalisedAddress, listed: HotListing | undefined): Promise<Decision> {
  const ip = address.ip;
  const result = await runCheck(core, ip, ctx);
  if (result === undefined) {
    const rule = ruleFor(core.config, 'temperror');
    if (rule.action === 'accept') return accepted(core, ctx, ip, 'check', 'temperror', 'check-error', {});
    return refuse(core, ctx, address, 'check', 'temp', 'temperror', 'check-error', undefined).decision;
  }
  core.stats.count(counterName('verdict', result.verdict, result.reason));
  if (listed !== undefined) return afterRecheck(core, ctx, address, result);
  return fromCheck(core, ctx, address, result);
}

async function runCheck(core: Core, ip: string, ctx: ClientContext): Promise<CheckResult | undefined> {
  try {
    return await core.checker.check(ip, ctx.signal === undefined ? {} : { signal: ctx.signal });
  } catch (err) {
    core.log({ event: 'CHECK-ERROR', ip, front: ctx.front, detail: printable(err instanceof Error ? err.message : String(err)) });
    return undefined;
  }
}

function fromCheck(core: Core, ctx: ClientContext, address: NormalisedAddress, result: CheckResult): Decision {
  const rule = ruleFor(core.config, result.verdict);
  if (rule.action === 'accept') return acceptedCheck(core, ctx, address.ip, result, rule.wouldReject);
  const decision = refuse(core, ctx, address, 'check', rule.kind, result.verdict, result.reason, result);
  if (rule.list && isRefusing(result.verdict) && decision.evidence !== undefined) {
    createListing(core, address.ip, result.verdict, result, decision.evidence);
  }
  return decision.decision;
}

/** A due listing's live check: pass clears it, a refusal keeps and touches it, temperror leaves it be. */
function afterRecheck(core: Core, ctx: ClientContext, address: NormalisedAddress, result: CheckResult): Decision {
  const ip = address.ip;
  if (result.verdict === 'pass' || result.verdict === 'skipped') {
    core.hot.removeListing(ip);
    core.writer.clearListing({ ip, cause: 'dns-fixed', actor: 're-check', at: core.now(), action: 'CLEAR' });
    core.stats.count('listing.cleared.dns-fixed');
    core.log({ event: 'CLEAR', ip, front: ctx.front, detail: 'dns-fixed (re-checked while deciding)' });
    return acceptedCheck(core, ctx, ip, result, false);
  }
  const rule = ruleFor(core.config, result.verdict);
  if (rule.action === 'accept') return acceptedCheck(core, ctx, ip, result, rule.wouldReject);
  const refused = refuse(core, ctx, address, 'check', rule.kind, result.verdict, result.reason, result);
  if (rule.list && refused.evidence !== undefined) {
    const dueAt = nextRecheckAt(core, result);
    core.hot.touch(ip, core.now(), dueAt);
    core.writer.touch(ip, { count: 1, lastRejectAt: core.now(), latestEvidence: refused.evidence, recheckDueAt: dueAt });
  }
  return refused.decision;
}

function fromListing(core: Core, ctx: ClientContext, address: NormalisedAddress, listed: HotListing): Decision {
  const ip = address.ip;
  const rule = ruleFor(core.config, listed.verdict);
  if (rule.action === 'accept') {
    if (rule.wouldReject) core.log({ event: 'WOULD-REJECT', ip, front: ctx.front, detail: `listed: ${listed.reason}` });
    return accepted(core, ctx, ip, 'listing', listed.verdict, listed.reason, rule.wouldReject ? { wouldReject: true } : {});
  }
  const kind: ReplyKind = rule.action === 'defer' ? 'temp' : rule.kind;
  const now = core.now();
  const episode = core.episodes.find(core.config, ip, ctx, listed.verdict, listed.reason, kind, now);
  if (episode !== undefined) {
    // A repeat of the same refusal (episodes.ts): same reference and evidence, nothing to write but the count.
    const action = kind === 'temp' ? 'defer' : 'reject';
    core.stats.count(counterName('decision', ctx.front, action));
    core.stats.count(SOURCE_LISTING);
    core.log({ event: action === 'defer' ? 'DEFER' : 'REJECT', ip, ref: episode.ref, front: ctx.front, detail: episode.detail });
    core.hot.touch(ip, now);
    core.writer.touch(ip, { count: 1, lastRejectAt: now });
    return { action, ip, source: 'listing', verdict: listed.verdict, reason: listed.reason, reply: episode.reply, ref: episode.ref, url: episode.url };
  }
  const refused = refuse(core, ctx, address, 'listing', kind, listed.verdict, listed.reason, undefined);
  const { decision, evidence } = refused;
  if (evidence !== undefined && decision.ref !== undefined && decision.url !== undefined && decision.reply !== undefined) {
    core.episodes.start(ip, {
      config: core.config,
      front: ctx.front,
      helo: ctx.helo,
      sender: ctx.sender,
      recipient: ctx.recipient,
      verdict: listed.verdict,
      reason: listed.reason,
      kind,
      ref: decision.ref,
      url: decision.url,
      reply: decision.reply,
      evidence,
      detail: `${listed.verdict} ${listed.reason}`,
      until: now + core.episodes.windowMs,
    });
  }
  core.hot.touch(ip, now);
  core.writer.touch(ip, { count: 1, lastRejectAt: now, ...(evidence ? { latestEvidence: evidence } : {}) });
  return decision;
}

function createListing(core: Core, ip: string, verdict: 'fail' | 'permerror', result: CheckResult, evidence: Evidence): void {
  const now = core.now();
  const listing: Listing = {
    ip,
    state: 'active',
    verdict,
    reason: result.reason,
    listedAt: now,
    listedBy: 'check',
    lastRejectAt: now,
    rejectCount: 1,
    recheckDueAt: nextRecheckAt(core, result),
    firstEvidence: evidence,
    latestEvidence: evidence,
  };
  core.hot.putListing(listing);
  core.writer.putListing(listing, { at: now, actor: 'check', action: 'LIST', target: ip, detail: `${verdict} ${result.reason} ref ${evidence.ref}` });
  core.stats.count(counterName('listing.created', verdict));
  core.log({ event: 'LIST', ip, ref: evidence.ref, detail: `${verdict} ${result.reason}` });
}

interface Refusal {
  readonly decision: Decision;
  readonly evidence?: Evidence;
}

/** refuse - a reject or defer: reference, reply, URL, evidence written, counted, logged. */
function refuse(
  core: Core,
  ctx: ClientContext,
  address: NormalisedAddress,
  source: DecisionSource,
  kind: ReplyKind,
  verdict: DecisionVerdict,
  reason: DecisionReason,
  result: CheckResult | undefined,
): Refusal {
  const ip = address.ip;
  const ref = newReference();
  const url = portalLink(core.config.portalUrl, ip, ref);
  const name = result?.names[0];
  const reply = buildReply({
    kind,
    ip,
    family: address.family,
    reason,
    url,
    organisation: core.config.organisation.name,
    nameMaxChars: core.config.replyNameMaxChars,
    ...(name === undefined ? {} : { name }),
  });
  const action = kind === 'temp' ? 'defer' : 'reject';
  const evidence = buildEvidence(
    {
      ref,
      at: core.now(),
      front: ctx.front,
      ip,
      verdict: verdict === 'manual' ? 'fail' : verdict,
      reason: source === 'listing' ? (verdict === 'manual' ? 'manual' : 'listed') : evidenceReason(reason),
      reply: replyLine(reply, 0),
      ...(ctx.helo === undefined ? {} : { helo: ctx.helo }),
      ...(ctx.sender === undefined ? {} : { sender: ctx.sender }),
      ...(ctx.recipient === undefined ? {} : { recipient: ctx.recipient }),
      ...(result === undefined ? {} : { check: result }),
    },
    evidenceLimits(core.config),
  );
  core.writer.putEvidence(evidence);
  core.stats.count(counterName('decision', ctx.front, action));
  core.stats.count(counterName('source', source));
  core.log({ event: action === 'defer' ? 'DEFER' : 'REJECT', ip, ref, front: ctx.front, detail: `${verdict} ${reason}` });
  return {
    decision: { action, ip, source, verdict, reason, reply, ref, url, ...(result === undefined ? {} : { check: result }) },
    evidence,
  };
}

/** The reason evidence carries: a check's; a check that threw is recorded as `deadline` (a temperror). */
function evidenceReason(reason: DecisionReason): Evidence['reason'] {
  switch (reason) {
    case 'allowlisted':
    case 'always-accept':
    case 'check-error':
      return 'deadline';
    default:
      return reason;
  }
}

function acceptedCheck(core: Core, ctx: ClientContext, ip: string, result: CheckResult, wouldReject: boolean): Decision {
  if (wouldReject) {
    core.log({ event: 'WOULD-REJECT', ip, front: ctx.front, detail: `${result.verdict} ${result.reason}` });
    return accepted(core, ctx, ip, 'check', result.verdict, result.reason, { check: result, wouldReject });
  }
  // The warm path's usual decision (a cached pass): one object, no `extra` to spread.
  countAccepted(core, ctx, 'check');
  return { action: 'accept', ip, source: 'check', verdict: result.verdict, reason: result.reason, check: result };
}

function accepted(
  core: Core,
  ctx: ClientContext,
  ip: string,
  source: DecisionSource,
  verdict: DecisionVerdict,
  reason: DecisionReason,
  extra: Pick<Decision, 'range' | 'check' | 'wouldReject'>,
): Decision {
  countAccepted(core, ctx, source);
  if (extra.wouldReject === true) core.stats.count('would-reject');
  return { action: 'accept', ip, source, verdict, reason, ...extra };
}

function countAccepted(core: Core, ctx: ClientContext, source: DecisionSource): void {
  core.stats.count(counterName('decision', ctx.front, 'accept'));
  core.stats.count(counterName('source', source));
}

