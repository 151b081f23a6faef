/**
 * NAME
 *   web/status - what the portal knows of one address: listing, allow entry, bypass, a reference
 *
 * SYNOPSIS
 *   await addressStatus(portal, ip, family, ref?, address?): AddressStatus     address: ip already normalised
 *
 * DESCRIPTION
 *   Read through the firewall only (records.* by way of portal.reads, web/reads.ts, and
 *   hotListing: the hot cache knows a listing before its store write lands). Evidence tiers
 *   (../shared/research/portals.md e6.19): the public sees listed or not, the failing step,
 *   dates and the reply; the HELO of the rejection only when the visitor holds its reference
 *   (`?r=` from the bounce) and it belongs to this address. Sender and recipient are never shown.
 */
import type { DecisionReason } from '../firewall/index.js';
import { stepWords } from '../firewall/index.js';
import type { Evidence, Listing } from '../store/types.js';
import type { Portal } from './context.js';
import { normaliseAddress, type NormalisedAddress } from '../check/address.js';

/** Shape of a reference in `?r=` (Crockford base32, as firewall/reference.ts makes them; case-insensitive input). */
export const REF_PATTERN = /^[0-9A-Za-z]{4,16}$/;

export interface AddressStatus {
  readonly ip: string;
  readonly family: 4 | 6;
  readonly listed: boolean;
  readonly listing?: Listing;
  readonly manual: boolean;
  readonly reason?: DecisionReason | 'listed';
  readonly step?: string;
  readonly names: readonly string[];
  readonly recheckDueAt?: number;
  readonly rejectCount: number;
  readonly allowRange?: string;
  readonly bypassRange?: string;
  /** The `?r=` given, upper-cased, when well-formed. */
  readonly ref?: string;
  /** The evidence of that reference when it belongs to this address. */
  readonly refEvidence?: Evidence;
}

/** core.ts NEVER: an operator's listing is never re-checked. */
const NEVER = Number.MAX_SAFE_INTEGER;

export async function addressStatus(portal: Portal, ip: string, family: 4 | 6, rawRef: unknown, address?: NormalisedAddress): Promise<AddressStatus> {
  const { firewall, reads } = portal;
  const ref = typeof rawRef === 'string' && REF_PATTERN.test(rawRef) ? rawRef.toUpperCase() : undefined;
  const [listing, evidence] = await Promise.all([
    reads.listing(ip, firewall.hotListing(ip)),
    ref === undefined ? Promise.resolve(undefined) : reads.evidence(ref),
  ]);
  const hot = firewall.hotListing(ip);
  // From the firewall's memory, as its decisions see it (no store read of the whole allowlist).
  const exemption = firewall.exemption(address ?? normaliseAddress(ip));
  const allowRange = exemption?.kind === 'allowlist' ? exemption.range : undefined;
  const bypassRange = exemption?.kind === 'bypass' ? exemption.range : undefined;
  const refEvidence = evidence !== undefined && evidence.ip === ip ? evidence : undefined;
  const active = listing?.state === 'active' || hot !== undefined;
  const verdict = hot?.verdict ?? listing?.verdict;
  const manual = active && verdict === 'manual';
  const latest = refEvidence ?? (active ? listing?.latestEvidence : undefined);
  const reason: AddressStatus['reason'] =
    latest !== undefined ? latest.reason : active ? (listing?.reason ?? (manual ? 'manual' : undefined)) : undefined;
  const names = latest?.names ?? listing?.latestEvidence.names ?? [];
  const shownReason = reason === 'listed' ? listing?.reason : reason;
  const recheck = hot?.recheckDueAt ?? listing?.recheckDueAt;
  return {
    ip,
    family,
    listed: active,
    ...(listing === undefined ? {} : { listing }),
    manual,
    ...(reason === undefined ? {} : { reason }),
    ...(shownReason === undefined ? {} : { step: stepWords(shownReason, family, names[0], portal.config.firewall.replyNameMaxChars) }),
    names,
    ...(active && recheck !== undefined && recheck < NEVER ? { recheckDueAt: recheck } : {}),
    rejectCount: Math.max(listing?.rejectCount ?? 0, hot?.rejectCount ?? 0),
    ...(allowRange === undefined ? {} : { allowRange }),
    ...(bypassRange === undefined ? {} : { bypassRange }),
    ...(ref === undefined ? {} : { ref }),
    ...(refEvidence === undefined ? {} : { refEvidence }),
  };
}
