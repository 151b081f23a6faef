/**
 * NAME
 *   fronts/dnsbl/rbldnsd - active listings as rbldnsd data files (ip4set and ip6trie)
 *
 * SYNOPSIS
 *   const out = new RbldnsdWriter({ zone, config, exempt, now })   exempt: Firewall.exemption(address) !== undefined
 *   out.add(listing): 4 | 6 | undefined        the family it went to; undefined = never listed
 *   out.ip4set(): string; out.ip6trie(): string; out.counts
 *
 * DESCRIPTION
 *   For operators who serve the zone with rbldnsd (spamhaus/rbldnsd, rbldnsd(8)) instead of, or
 *   beside, BlockSmith's own front: the same answers from a file. IPv4 listings go to an
 *   `ip4set` dataset, IPv6 listings to an `ip6trie` dataset (one dataset type per file, so two
 *   files):
 *
 *     rbldnsd -r /var/lib/rbldnsd -b 127.0.0.1/53 \
 *       bl.example.net:ip4set:blocksmith.ip4 bl.example.net:ip6trie:blocksmith.ip6
 *
 *   OUTPUT FORMAT (both files; lines end with LF; ASCII only):
 *
 *     # blocksmith export rbldnsd: zone bl.example.net, ip4set, 2 entries, 2030-01-01T12:00:00.000Z
 *     $SOA 3600 <mname> <rname> <serial> 3600 600 604800 <negativeTtlS>
 *     $NS 3600 <ns> [<ns>…]
 *     $TTL <listedTtlS>
 *     127.0.0.2 :127.0.0.2:<organisation>: 127.0.0.2 is the RFC 5782 test entry, always listed
 *     192.0.2.20 :127.0.0.2:<organisation>: 192.0.2.20 has no usable reverse DNS (PTR) name; see <portal>/ip/192.0.2.20
 *     192.0.2.30 :127.0.0.3:<organisation>: 192.0.2.30 has reverse DNS (PTR) names that do not …; see …
 *
 *   `$SOA`/`$NS` carry the same names and timers as the front (dnsbl.soaMname, soaRname,
 *   nsNames, apexTtlS, negativeTtlS; the serial is the export time in seconds); `$TTL` is
 *   dnsbl.listedTtlS. Every entry is one address with its own value `:A:TXT`: the A value and the
 *   text are view.ts's (127.0.0.2 no usable PTR, .3 PTR not confirming, .4 listed by an
 *   operator). A `$` in the text (rbldnsd's substitution character) is written `$$`. The ip4set
 *   file starts with the RFC 5782 §5 test entry 127.0.0.2; the ip6trie file with ::ffff:7f00:2.
 *   Entries are in the store's address order. Addresses in a bypass range or allowlisted are
 *   left out: they are never listed.
 *
 *   The text is computed here; it is not rbldnsd's `$` template, so the file says exactly what
 *   the front says.
 */
import { normaliseAddress, type NormalisedAddress } from '../../check/address.js';
import type { Config } from '../../config/schema.js';
import type { Listing } from '../../store/types.js';
import type { ZoneInfo } from './responder.js';
import { CODE_BY_VERDICT, listedText, portalRootOf, TEST_POINT_LISTED, testEntryText } from './view.js';

/** SOA timers, the same as the front's (responder.ts). */
const SOA_REFRESH_S = 3_600;
const SOA_RETRY_S = 600;
const SOA_EXPIRE_S = 604_800;
const MS_PER_S = 1_000;
/** The IPv6 spelling of the test entry (RFC 5782 §5). */
const TEST_POINT_V6 = '::ffff:7f00:2';

export interface RbldnsdWriterOptions {
  readonly zone: ZoneInfo;
  readonly config: Config;
  /** True for an address never listed (a bypass range or an allow entry: Firewall.exemption). */
  readonly exempt: (address: NormalisedAddress) => boolean;
  /** The export's time (SOA serial and header), in milliseconds. */
  readonly now: number;
}

function escapeText(text: string): string {
  return text.replace(/\$/g, '$$$$');
}

export class RbldnsdWriter {
  private readonly zone: ZoneInfo;
  private readonly config: Config;
  private readonly exempt: (address: NormalisedAddress) => boolean;
  private readonly now: number;
  private readonly organisation: string;
  private readonly portalRoot: string;
  private readonly v4: string[] = [];
  private readonly v6: string[] = [];
  private skipped = 0;

  constructor(options: RbldnsdWriterOptions) {
    this.zone = options.zone;
    this.config = options.config;
    this.exempt = options.exempt;
    this.now = options.now;
    this.organisation = options.config.firewall.organisation.name;
    this.portalRoot = portalRootOf(options.config.firewall.portalUrl);
    const test = `:${TEST_POINT_LISTED}:${escapeText(testEntryText(this.organisation))}`;
    this.v4.push(`${TEST_POINT_LISTED} ${test}`);
    this.v6.push(`${TEST_POINT_V6} ${test}`);
  }

  get counts(): { readonly ip4: number; readonly ip6: number; readonly skipped: number } {
    return { ip4: this.v4.length - 1, ip6: this.v6.length - 1, skipped: this.skipped };
  }

  add(listing: Listing): 4 | 6 | undefined {
    if (listing.state !== 'active') return undefined;
    let address;
    try {
      address = normaliseAddress(listing.ip);
    } catch {
      this.skipped += 1;
      return undefined;
    }
    if (address.ip === TEST_POINT_LISTED || this.exempt(address)) {
      this.skipped += 1;
      return undefined;
    }
    const text = escapeText(listedText(this.organisation, this.portalRoot, address.ip, listing.verdict));
    const line = `${address.ip} :${CODE_BY_VERDICT[listing.verdict]}:${text}`;
    (address.family === 4 ? this.v4 : this.v6).push(line);
    return address.family;
  }

  ip4set(): string {
    return this.file('ip4set', this.v4);
  }

  ip6trie(): string {
    return this.file('ip6trie', this.v6);
  }

  private file(type: 'ip4set' | 'ip6trie', lines: readonly string[]): string {
    const c = this.config.dnsbl;
    const z = this.zone;
    const serial = Math.floor(this.now / MS_PER_S) >>> 0;
    const head = [
      `# blocksmith export rbldnsd: zone ${z.name}, ${type}, ${lines.length - 1} entries, ${new Date(this.now).toISOString()}`,
      `$SOA ${c.apexTtlS} ${z.mname} ${z.rname} ${serial} ${SOA_REFRESH_S} ${SOA_RETRY_S} ${SOA_EXPIRE_S} ${c.negativeTtlS}`,
      `$NS ${c.apexTtlS} ${z.ns.join(' ')}`,
      `$TTL ${c.listedTtlS}`,
    ];
    return `${[...head, ...lines].join('\n')}\n`;
  }
}
