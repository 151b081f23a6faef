/**
 * NAME
 *   fronts/dnsbl/view - what the zone says about one address: listed (with its code and text) or not
 *
 * SYNOPSIS
 *   const view = new ListingView({ firewall, config })
 *   view.lookup(address): Entry        synchronous: test points, bypass, allowlist, hot cache
 *   await view.judge(address, signal)  live mode: Firewall.decide, then the hot cache again
 *
 * DESCRIPTION
 *   Listed means what the firewall's hot cache says (Firewall.hotListing: no store, no DNS), in
 *   this order:
 *     1. 127.0.0.2 (and ::ffff:7f00:2, which normalises to it): always listed, RFC 5782 §5
 *     2. 127.0.0.1 (and ::ffff:7f00:1): never listed, §5
 *     3. an address in a bypass range (check.bypass) or an unexpired allow entry: never listed
 *     4. an active listing in the hot cache: listed
 *     5. otherwise: `unjudged` (NXDOMAIN, or a live check in live mode)
 *
 *   Steps 3 and 4 ask the firewall's memory (Firewall.exemption, Firewall.hotListing), the same
 *   data its decisions use: an allow entry or a clear made on any node changes this zone's answer
 *   as soon as it changes that node's decisions, and a bypass change by reload counts at once.
 *
 *   Codes (the A record), from the listing's verdict (Listing.verdict, store/types.ts):
 *     127.0.0.2  permerror: no usable PTR (reasons no-ptr: NXDOMAIN/NODATA for the PTR;
 *                no-valid-ptr: PTR names that are no host names); also the RFC 5782 test entry
 *     127.0.0.3  fail: PTR names that do not resolve back to the address (reasons
 *                no-forward-match, forward-nodata)
 *     127.0.0.4  manual: listed by an operator
 *   The TXT text: `<organisation>: <ip> <words>; see <portalUrl>/ip/<ip>` (ASCII: the
 *   organisation and portal URL are checked by the schema, the address is canonical text).
 *
 *   Live mode (judge): Firewall.decide({ front: 'dnsbl', ip, signal }). A refusal lists the
 *   address (the firewall does that itself; report-only lists nobody), so afterwards the hot
 *   cache is read again. A temperror decision, a check that throws and the deadline give
 *   `servfail`: a DNS failure never lists anybody.
 */
import type { NormalisedAddress } from '../../check/address.js';
import type { Config } from '../../config/schema.js';
import type { Firewall } from '../../firewall/index.js';
import type { Listing } from '../../store/types.js';
import type { AbortLike } from '../../util/abort.js';
import { printable } from '../../util/printable.js';

export type ListedCode = '127.0.0.2' | '127.0.0.3' | '127.0.0.4';

export type Entry =
  | { readonly kind: 'listed'; readonly code: ListedCode; readonly text: string }
  | { readonly kind: 'not-listed'; readonly why: 'test-point' | 'bypass' | 'allowlist' | 'checked' }
  | { readonly kind: 'unjudged' }
  | { readonly kind: 'servfail'; readonly why: string };

export const TEST_POINT_LISTED = '127.0.0.2';
export const TEST_POINT_UNLISTED = '127.0.0.1';

/** The A value of a listing, by its verdict. */
export const CODE_BY_VERDICT: Readonly<Record<Listing['verdict'], ListedCode>> = {
  permerror: '127.0.0.2',
  fail: '127.0.0.3',
  manual: '127.0.0.4',
};

const WORDS_BY_VERDICT: Readonly<Record<Listing['verdict'], string>> = {
  permerror: 'has no usable reverse DNS (PTR) name',
  fail: 'has reverse DNS (PTR) names that do not resolve back to it',
  manual: 'is listed by the operator',
};

/** listedText - the TXT text of a listed address. */
export function listedText(organisation: string, portalRoot: string, ip: string, verdict: Listing['verdict']): string {
  return `${organisation}: ${ip} ${WORDS_BY_VERDICT[verdict]}; see ${portalRoot}/ip/${ip}`;
}

/** testEntryText - the TXT text of the RFC 5782 test entry. */
export function testEntryText(organisation: string): string {
  return `${organisation}: ${TEST_POINT_LISTED} is the RFC 5782 test entry, always listed`;
}

/** portalRootOf - firewall.portalUrl without a trailing '/'. */
export function portalRootOf(portalUrl: string): string {
  return portalUrl.endsWith('/') ? portalUrl.slice(0, -1) : portalUrl;
}

export interface ListingViewOptions {
  readonly firewall: Firewall;
  readonly config: Config;
}

export class ListingView {
  private readonly firewall: Firewall;
  private readonly organisation: string;
  private readonly portalRoot: string;

  constructor(options: ListingViewOptions) {
    this.firewall = options.firewall;
    this.organisation = options.config.firewall.organisation.name;
    this.portalRoot = portalRootOf(options.config.firewall.portalUrl);
  }

  lookup(address: NormalisedAddress): Entry {
    if (address.ip === TEST_POINT_LISTED) return { kind: 'listed', code: '127.0.0.2', text: testEntryText(this.organisation) };
    if (address.ip === TEST_POINT_UNLISTED) return { kind: 'not-listed', why: 'test-point' };
    const exemption = this.firewall.exemption(address);
    if (exemption !== undefined) return { kind: 'not-listed', why: exemption.kind };
    const listed = this.firewall.hotListing(address.ip);
    if (listed === undefined) return { kind: 'unjudged' };
    return { kind: 'listed', code: CODE_BY_VERDICT[listed.verdict], text: listedText(this.organisation, this.portalRoot, address.ip, listed.verdict) };
  }

  /** judge - live mode: decide now, then answer from the hot cache; temperror is servfail. */
  async judge(address: NormalisedAddress, signal: AbortLike): Promise<Entry> {
    let verdict: string;
    try {
      const decision = await this.firewall.decide({ front: 'dnsbl', ip: address.ip, signal });
      verdict = decision.verdict;
    } catch (err) {
      return { kind: 'servfail', why: `decide failed: ${printable(err instanceof Error ? err.message : String(err))}` };
    }
    if (signal.aborted) return { kind: 'servfail', why: 'deadline' };
    if (verdict === 'temperror') return { kind: 'servfail', why: 'temperror' };
    const entry = this.lookup(address);
    return entry.kind === 'unjudged' ? { kind: 'not-listed', why: 'checked' } : entry;
  }
}
