/**
 * NAME
 *   web/fix - the DNS records to publish for one address, and who controls its reverse zone
 *
 * SYNOPSIS
 *   fixFor(ip, family, names, confirmed?): Fix
 *   soaFromExchanges(exchanges): ZoneOwner | undefined      the SOA of a negative PTR answer
 *   soaFromTrace(trace: unknown): ZoneOwner | undefined     the same, from stored evidence (any shape)
 *
 * DESCRIPTION
 *   The fix is written out as zone-file lines: `<reverse name>. IN PTR <host>.` and
 *   `<host>. IN A|AAAA <ip>`. The host is the first PTR name we saw (its forward record is
 *   what is missing) or, with none, a placeholder the page says to replace.
 *
 *   Who controls the reverse zone: a negative answer (NXDOMAIN, NODATA) carries the zone's SOA
 *   in its authority section: its owner is the zone, MNAME the primary server, RNAME the
 *   administrator's mailbox (first unescaped '.' → '@', RFC 1035 §8). A positive answer has no
 *   SOA; the firewall offers no SOA look-up, so the page then says "your provider" in words.
 *   Every value here came from DNS and is shown through web/html's escaping only.
 */
import type { DnsExchange } from '../dns/types.js';
import { reverseName } from '../check/address.js';

export interface ZoneOwner {
  readonly zone: string;
  readonly server: string;
  readonly mail?: string;
}

export interface Fix {
  readonly reverseName: string;
  /** The zone the PTR goes in, as far as we can tell (the SOA owner, else the usual delegation). */
  readonly zone: string;
  readonly host: string;
  readonly placeholder: boolean;
  readonly recordType: 'A' | 'AAAA';
  readonly ptrLine: string;
  readonly forwardLine: string;
}

/** Labels an IPv4 reverse zone drops (a /24) and an IPv6 one (a /64: 16 nibbles). */
const V4_HOST_LABELS = 1;
const V6_HOST_LABELS = 16;

export function fixFor(ip: string, family: 4 | 6, names: readonly string[], placeholder: string, owner?: ZoneOwner): Fix {
  const rev = reverseName(ip);
  const host = names[0];
  const usable = host !== undefined && host !== '';
  const name = usable ? host : placeholder;
  const recordType = family === 4 ? 'A' : 'AAAA';
  const zone = owner?.zone ?? rev.split('.').slice(family === 4 ? V4_HOST_LABELS : V6_HOST_LABELS).join('.');
  return {
    reverseName: rev,
    zone,
    host: name,
    placeholder: !usable,
    recordType,
    ptrLine: `${rev}.  IN PTR  ${name}.`,
    forwardLine: `${name}.  IN ${recordType}  ${ip}`,
  };
}

/** RNAME to a mail address: the first '.' not escaped by '\\' becomes '@'. */
export function rnameToMail(rname: string): string | undefined {
  for (let i = 0; i < rname.length; i++) {
    if (rname[i] === '\\') {
      i++;
      continue;
    }
    if (rname[i] === '.') return `${rname.slice(0, i).replace(/\\\./g, '.')}@${rname.slice(i + 1)}`;
  }
  return undefined;
}

function ownerOf(record: { name?: unknown; type?: unknown; data?: unknown }): ZoneOwner | undefined {
  if (record.type !== 'SOA' || typeof record.data !== 'string' || typeof record.name !== 'string') return undefined;
  const [mname, rname] = record.data.split(' ');
  if (mname === undefined || mname === '') return undefined;
  const mail = rname === undefined ? undefined : rnameToMail(rname);
  return { zone: record.name, server: mname, ...(mail === undefined ? {} : { mail }) };
}

export function soaFromExchanges(exchanges: readonly DnsExchange[]): ZoneOwner | undefined {
  for (const ex of exchanges) {
    for (const r of ex.authority) {
      const owner = ownerOf(r);
      if (owner !== undefined) return owner;
    }
  }
  return undefined;
}

/** Stored evidence is JSON of whatever shape it was kept in: read defensively. */
export function soaFromTrace(trace: unknown): ZoneOwner | undefined {
  if (!Array.isArray(trace)) return undefined;
  for (const step of trace as unknown[]) {
    if (typeof step !== 'object' || step === null) continue;
    const s = step as { step?: unknown; exchanges?: unknown };
    if (s.step !== 'ptr' || !Array.isArray(s.exchanges)) continue;
    for (const ex of s.exchanges as unknown[]) {
      const authority = (ex as { authority?: unknown } | null)?.authority;
      if (!Array.isArray(authority)) continue;
      for (const r of authority as unknown[]) {
        if (typeof r !== 'object' || r === null) continue;
        const owner = ownerOf(r);
        if (owner !== undefined) return owner;
      }
    }
  }
  return undefined;
}
