/**
 * NAME
 *   firewall/lifecycle - how listings end: self-service unblock, re-check, expiry (PRODUCT.md §4)
 *
 * SYNOPSIS
 *   unblock(core, limiter, ip, options): Promise<UnblockResult>
 *   recheckDue(core, nodeId): Promise<MaintenanceReport>
 *   expire(core, nodeId): Promise<MaintenanceReport>
 *
 * DESCRIPTION
 *   unblock: counted against firewall.unblockPerIpCount (per target IP) and
 *   firewall.unblockPerRequesterCount (per requester) within firewall.unblockWindowMs before any
 *   work; then, for an IP with an active check listing, a fresh check that bypasses every cache
 *   (`noCache`). Pass: the listing is cleared at once (state cleared, cause `unblock`, actor
 *   `self-service`, audited), in this node's hot cache now and on the others by the store's
 *   event. Otherwise: not cleared, and the failing step in words. An operator's listing is
 *   never cleared by self-service. Store errors reject (BS_ERR_STORE_UNAVAILABLE): a clear that
 *   did not happen must not look as if it did.
 *
 *   recheckDue: under the cluster lease `recheck` (one node at a time), the listings due
 *   (store.dueForRecheck, at most firewall.recheckBatchCount) get a fresh check: pass clears
 *   (`dns-fixed`, actor `re-check`); still failing moves recheckDueAt (core.ts nextRecheckAt);
 *   temperror changes nothing, so the listing is tried again at the next run.
 *
 *   expire: under the same lease, active listings (from the hot cache, confirmed in the store)
 *   whose last rejection is older than firewall.listingExpiryMs become `expired` (actor `expiry`).
 *   The scan of the hot cache yields to the event loop every EXPIRE_SCAN_SLICE listings: over
 *   1,000,000 listings it is about half a second of work, which in one piece held every
 *   connection that long once a maintenance period.
 *
 * DIAGNOSTICS
 *   Log events: CLEAR, EXPIRE, LIMIT, RECHECK.
 */
import { normaliseAddress } from '../check/address.js';
import type { CheckResult } from '../check/types.js';
import type { Listing } from '../store/types.js';
import { nextRecheckAt, nextTurn, type Core } from './core.js';
import type { WindowLimiter } from './rate-limit.js';
import { stepWords } from './reply.js';
import type { MaintenanceReport, UnblockOptions, UnblockResult } from './types.js';

/** The maintenance lease lives this many maintenance periods, so a node that dies hands over soon. */
export const LEASE_TTL_PERIODS = 2;
export const MAINTENANCE_LEASE = 'recheck';
/** Hot-cache listings looked at by expire() per turn of the event loop (about 1 ms of work). */
export const EXPIRE_SCAN_SLICE = 2_048;

const EMPTY_REPORT: MaintenanceReport = { ran: false, checked: 0, cleared: 0, stillFailing: 0, temperror: 0, expired: 0 };

export async function unblock(core: Core, limiter: WindowLimiter, input: string, options: UnblockOptions): Promise<UnblockResult> {
  const address = normaliseAddress(input);
  const ip = address.ip;
  // Rate limits are for the public; an operator is trusted.
  const keys: Array<[string, number]> =
    options.actor === 'self-service'
      ? [
          [`ip:${ip}`, core.config.unblockPerIpCount],
          [`from:${options.fromIp}`, core.config.unblockPerRequesterCount],
        ]
      : [];
  for (const [key, limit] of keys) {
    const verdict = limiter.check(key, limit);
    if (!verdict.ok) {
      core.stats.count('unblock.rate-limited');
      core.log({ event: 'LIMIT', ip, detail: `unblock refused: ${key.startsWith('ip:') ? 'target' : 'requester'} over its limit` });
      return { outcome: 'rate-limited', ip, retryAfterMs: verdict.retryAfterMs };
    }
  }
  for (const [key, limit] of keys) limiter.take(key, limit);

  const stored = await core.store.getListing(ip);
  const active = stored?.state === 'active' ? stored : undefined;
  const hot = core.hot.listing(ip);
  if (active === undefined && hot === undefined) return { outcome: 'not-listed', ip };
  if ((active?.verdict ?? hot?.verdict) === 'manual') return { outcome: 'operator-listed', ip };

  core.stats.count('unblock.tried');
  const result = await core.checker.check(ip, { noCache: true, ...(options.signal ? { signal: options.signal } : {}) });
  if (result.verdict !== 'pass' && result.verdict !== 'skipped') {
    return {
      outcome: 'still-failing',
      ip,
      verdict: result.verdict,
      reason: result.reason,
      step: stepWords(result.reason, address.family, result.names[0], core.config.replyNameMaxChars),
      check: result,
    };
  }
  const at = core.now();
  if (active !== undefined) {
    await core.own.putListing(
      core.store,
      { ...active, state: 'cleared', clearedAt: at, clearedBy: options.actor, clearCause: 'unblock' },
      { at, actor: options.actor, action: 'CLEAR', target: ip, detail: `unblock: ${result.reason}` },
    );
  } else {
    // Listed here, not yet in the store (its write is queued): end it where it is.
    core.writer.clearListing({ ip, cause: 'unblock', actor: options.actor, at, action: 'CLEAR' });
  }
  core.hot.removeListing(ip);
  core.stats.count('unblock.granted');
  core.stats.count('listing.cleared.unblock');
  core.log({ event: 'CLEAR', ip, detail: `unblock (${options.actor})` });
  return { outcome: 'cleared', ip, check: result };
}

async function holdLease(core: Core, nodeId: string): Promise<boolean> {
  return core.store.lease(MAINTENANCE_LEASE, nodeId, core.config.maintenanceEveryMs * LEASE_TTL_PERIODS);
}

export async function recheckDue(core: Core, nodeId: string): Promise<MaintenanceReport> {
  if (!(await holdLease(core, nodeId))) return EMPTY_REPORT;
  const due = (await core.store.dueForRecheck(core.now(), core.config.recheckBatchCount)).filter((l) => l.verdict !== 'manual');
  const outcomes = await Promise.all(due.map((listing) => recheckOne(core, listing)));
  return {
    ran: true,
    checked: due.length,
    cleared: outcomes.filter((o) => o === 'cleared').length,
    stillFailing: outcomes.filter((o) => o === 'still-failing').length,
    temperror: outcomes.filter((o) => o === 'temperror').length,
    expired: 0,
  };
}

async function recheckOne(core: Core, listing: Listing): Promise<'cleared' | 'still-failing' | 'temperror'> {
  const result: CheckResult = await core.checker.check(listing.ip, { noCache: true });
  core.stats.count(`verdict.${result.verdict}.${result.reason}`);
  if (result.verdict === 'temperror') return 'temperror';
  const at = core.now();
  if (result.verdict === 'pass' || result.verdict === 'skipped') {
    await core.own.putListing(
      core.store,
      { ...listing, state: 'cleared', clearedAt: at, clearedBy: 're-check', clearCause: 'dns-fixed' },
      { at, actor: 're-check', action: 'CLEAR', target: listing.ip, detail: `dns-fixed: ${result.reason}` },
    );
    core.hot.removeListing(listing.ip);
    core.stats.count('listing.cleared.dns-fixed');
    core.log({ event: 'CLEAR', ip: listing.ip, detail: 'dns-fixed (re-check)' });
    return 'cleared';
  }
  const updated: Listing = { ...listing, recheckDueAt: nextRecheckAt(core, result) };
  await core.own.putListing(core.store, updated, {
    at,
    actor: 're-check',
    action: 'RECHECK',
    target: listing.ip,
    detail: `still ${result.verdict} ${result.reason}`,
  });
  if (core.hot.listing(listing.ip) !== undefined) core.hot.putListing(updated);
  core.log({ event: 'RECHECK', ip: listing.ip, detail: `still ${result.verdict} ${result.reason}` });
  return 'still-failing';
}

export async function expire(core: Core, nodeId: string): Promise<MaintenanceReport> {
  if (!(await holdLease(core, nodeId))) return EMPTY_REPORT;
  const now = core.now();
  const cutoff = now - core.config.listingExpiryMs;
  let expired = 0;
  let scanned = 0;
  // Over the live key iterator, not a copy of the whole cache: most listings are skipped here
  // with no store access, and removals during the awaits below are safe for a Map iterator
  // (an IP added meanwhile may be visited; a fresh listing is not due, so it is skipped).
  for (const ip of core.hot.listedIps()) {
    if (++scanned % EXPIRE_SCAN_SLICE === 0) await nextTurn();
    const hot = core.hot.listing(ip);
    if (hot === undefined || hot.lastRejectAt > cutoff || core.writer.hasPending(ip)) continue;
    const stored = await core.store.getListing(ip);
    if (stored === undefined || stored.state !== 'active') {
      core.hot.removeListing(ip);
      continue;
    }
    if (stored.lastRejectAt > cutoff) {
      core.hot.putListing(stored);
      continue;
    }
    await core.own.putListing(
      core.store,
      { ...stored, state: 'expired', clearedAt: now, clearedBy: 'expiry', clearCause: 'expired' },
      { at: now, actor: 'expiry', action: 'EXPIRE', target: ip, detail: `no rejection since ${new Date(stored.lastRejectAt).toISOString()}` },
    );
    core.hot.removeListing(ip);
    core.stats.count('listing.cleared.expired');
    core.log({ event: 'EXPIRE', ip });
    expired++;
  }
  return { ...EMPTY_REPORT, ran: true, expired };
}
