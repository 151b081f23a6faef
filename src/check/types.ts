/**
 * NAME
 *   check/types - what an FCrDNS check reports
 *
 * DESCRIPTION
 *   The check reports; the firewall decides (STYLE.md §6). A `CheckResult` says what DNS shows for
 *   one client address, in RFC 8601 `iprev` words, with the evidence a person needs to fix it. It
 *   never says accept or reject.
 *
 *   Every string that came from DNS (names, reasons for invalid names) is untrusted: renderers
 *   escape it for their medium.
 */
import type { DnsExchange, DnsRecord, LookupResult } from '../dns/types.js';

export type Verdict = 'pass' | 'fail' | 'permerror' | 'temperror' | 'skipped';

export type Reason =
  /** pass: at least one PTR name resolves back to the address. */
  | 'confirmed'
  /** permerror: NXDOMAIN or NODATA for the PTR query. */
  | 'no-ptr'
  /** permerror: PTR records exist, but none is a usable host name. */
  | 'no-valid-ptr'
  /** fail: names resolve, but to other addresses only. */
  | 'no-forward-match'
  /** fail: no evaluated name has an address of the client's family. */
  | 'forward-nodata'
  /** temperror: the PTR query could not be completed. */
  | 'dns-temp-ptr'
  /** temperror: a forward query could not be completed and nothing matched. */
  | 'dns-temp-forward'
  /** temperror: the whole-check deadline ran out. */
  | 'deadline'
  /** temperror: too many checks were already waiting to run (check.maxWaitingCount). */
  | 'overload'
  /** skipped: the address is in a bypass range. */
  | 'bypass';

/** Why a PTR target was not used. */
export type InvalidNameWhy =
  | 'empty'
  | 'bad-characters'
  | 'ip-literal'
  | 'numeric'
  | 'bad-syntax'
  | 'too-long'
  | 'single-label'
  | 'localhost'
  | 'arpa';

export interface InvalidName {
  /** The name as received (may hold anything: escape before showing). */
  readonly name: string;
  readonly why: InvalidNameWhy;
}

export type GenericLevel = 'none' | 'weak' | 'strong';

export interface GenericEvidence {
  readonly level: GenericLevel;
  /** The name judged (the strongest one when several were looked at). */
  readonly name?: string;
  /** What matched, in words: `address 198-51-100-7 in the name`, `token "dsl"`, `token "mail" lowers`. */
  readonly evidence: readonly string[];
}

export interface CheckFlags {
  /** Generic (dynamic-looking) PTR names: a hint, never a verdict. */
  readonly generic: GenericLevel;
  /** More valid names than the cap; `notEvaluated` lists those left out. */
  readonly truncated: boolean;
  /** A forward answer came through a CNAME (RFC 1912 wants a PTR to name a host, not an alias). */
  readonly aliasTarget: boolean;
  /** A valid name holds an underscore (accepted, but not a host name by RFC 952/1123). */
  readonly underscore: boolean;
  /** The PTR answer came through a CNAME (RFC 2317 classless delegation). */
  readonly ptrViaCname: boolean;
  /** The valid names belong to more than one parent domain. */
  readonly multiDomain: boolean;
}

/** What one forward look-up of one PTR name found. */
export interface ForwardResult {
  readonly name: string;
  readonly qtype: 'A' | 'AAAA';
  /** match: the client address is among the answers. */
  readonly outcome: 'match' | 'no-match' | 'no-address' | 'temp' | 'not-run';
  readonly addresses: readonly string[];
  readonly cnameChain: readonly DnsRecord[];
  readonly ttl: number;
  readonly lookup?: LookupResult;
}

/** One step of the trace, in the order it happened. */
export type TraceStep =
  | { readonly step: 'normalise'; readonly input: string; readonly ip: string; readonly note?: string }
  | { readonly step: 'bypass'; readonly range: string }
  /** Served from the verdict cache: when the check ran and when the entry expires (ms since epoch). */
  | { readonly step: 'cache'; readonly checkedAt: number; readonly expiresAt: number }
  | {
      readonly step: 'ptr';
      readonly qname: string;
      readonly outcome: LookupResult['outcome'];
      readonly tempReason?: string;
      readonly records: readonly DnsRecord[];
      readonly cnameChain: readonly DnsRecord[];
      readonly exchanges: readonly DnsExchange[];
    }
  | { readonly step: 'names'; readonly valid: readonly string[]; readonly invalid: readonly InvalidName[]; readonly notEvaluated: readonly string[] }
  | {
      readonly step: 'forward';
      readonly name: string;
      readonly qtype: 'A' | 'AAAA';
      readonly outcome: ForwardResult['outcome'];
      readonly tempReason?: string;
      readonly addresses: readonly string[];
      readonly cnameChain: readonly DnsRecord[];
      readonly exchanges: readonly DnsExchange[];
    }
  | { readonly step: 'other-family'; readonly name: string; readonly qtype: 'A' | 'AAAA'; readonly addresses: readonly string[] }
  | { readonly step: 'verdict'; readonly verdict: Verdict; readonly reason: Reason };

export interface CheckResult {
  /** What the caller passed, verbatim. */
  readonly input: string;
  /** The normalised address (IPv4-mapped IPv6 made IPv4, zone id stripped, canonical text). */
  readonly ip: string;
  readonly family: 4 | 6;
  readonly verdict: Verdict;
  readonly reason: Reason;
  /** The reverse name queried (`…in-addr.arpa` / `…ip6.arpa`); absent when skipped. */
  readonly ptrName?: string;
  /** Valid PTR names: lower-case, no trailing dot, de-duplicated, sorted. */
  readonly names: readonly string[];
  readonly invalidNames: readonly InvalidName[];
  /** Valid names beyond the cap, not looked up. */
  readonly notEvaluated: readonly string[];
  /** Names whose forward look-up contains the client address. */
  readonly confirmed: readonly string[];
  /** Addresses the names resolved to that are not the client's. */
  readonly otherAddresses: readonly string[];
  readonly forward: readonly ForwardResult[];
  readonly flags: CheckFlags;
  readonly genericEvidence: GenericEvidence;
  /** The bypass range that matched, for `skipped`. */
  readonly bypassRange?: string;
  /** Seconds this verdict may be cached. */
  readonly ttl: number;
  readonly trace: readonly TraceStep[];
  /** When the check ran (ms since epoch) and how long it took. */
  readonly checkedAt: number;
  readonly durationMs: number;
  /** True when this result was served from the verdict cache. */
  readonly fromCache: boolean;
}
