/**
 * NAME
 *   fronts/dnsbl - the DNSBL zone: any MTA asks "is this client listed?" over DNS (RFC 5782)
 *
 * SYNOPSIS
 *   const front = await startDnsblFront(ctx)     undefined when dnsbl.listen is empty
 *   front.endpoints                              ['udp://127.0.0.1:5353', 'tcp://127.0.0.1:5353']
 *   await front.stop()
 *
 * DESCRIPTION
 *   An authoritative-only server for one zone (dnsbl.zone), over UDP and TCP on every
 *   dnsbl.listen address. It answers from the firewall's hot cache (view.ts): no store and no
 *   DNS work per query, unless live mode is on.
 *
 *   ANSWER FORMAT (for docs/dnsbl.md; zone `bl.example.net`, portal http://portal.example.net):
 *
 *     query                                   answer
 *     20.2.0.192.bl.example.net A             127.0.0.2   no usable PTR (no-ptr, no-valid-ptr)
 *                                             127.0.0.3   PTR does not resolve back (no-forward-match,
 *                                                         forward-nodata)
 *                                             127.0.0.4   listed by an operator (manual)
 *     20.2.0.192.bl.example.net TXT           "BlockSmith: 192.0.2.20 has no usable reverse DNS (PTR)
 *                                             name; see http://portal.example.net/ip/192.0.2.20"
 *                                             (fail: "… has reverse DNS (PTR) names that do not resolve
 *                                             back to it; see …"; manual: "… is listed by the operator;
 *                                             see …"). Cut into 255-octet strings when longer.
 *     <32 nibbles of an IPv6 address>.bl.example.net   the same, RFC 5782 §2.4
 *     not listed, allowlisted, bypassed       NXDOMAIN, SOA in the authority section (TTL and
 *                                             minimum dnsbl.negativeTtlS)
 *     2.0.0.127.bl.example.net                always 127.0.0.2 + TXT (RFC 5782 §5 test entry); so
 *                                             is the IPv6 name of ::ffff:7f00:2
 *     1.0.0.127.bl.example.net                never listed (NXDOMAIN); nor is ::ffff:7f00:1
 *     a listed name, other types              NOERROR, no answer (NODATA), SOA in authority
 *     bl.example.net SOA / NS                 the SOA / NS records (dnsbl.soaMname, soaRname, nsNames)
 *     a name outside the zone                 REFUSED
 *     live mode, check could not finish       SERVFAIL (the MTA treats the list as unavailable)
 *   Listed records have TTL dnsbl.listedTtlS. Values are always inside 127.0.0.0/8 (§2.3).
 *   An MTA that only tests "any A record" sees every listing; one that filters by value (postscreen
 *   `bl.example.net=127.0.0.[2..4]`, Postfix `reject_rbl_client bl.example.net=127.0.0.2`) can
 *   weight the reasons apart.
 *
 *   What a query becomes is tabled in responder.ts; its bytes are written by wire.ts (by hand:
 *   the per-query cost; dns-packet in render.ts is the reference and fallback, and the tests hold
 *   the two to the same decoded message); framing and limits in server.ts; the rate
 *   limiter (UDP: drop, with every rateLimitSlipCount-th answer sent as TC=1) in rate-limit.ts.
 *   A query whose QR bit is set (a response) is never answered, so the zone cannot be used to
 *   bounce packets between servers; a malformed one gets FORMERR or nothing, never a crash.
 *
 * STANDARDS
 *   RFC 5782 (DNSBLs: §2.1 IPv4 names, §2.3 values in 127/8, §2.4 IPv6 nibbles, §5 test
 *   entries), RFC 1035 (messages, TCP length prefix), RFC 7766 (TCP: several queries a
 *   connection, idle timeout), RFC 2308 (negative answers carry the SOA; its minimum is the
 *   negative TTL), RFC 6891 (EDNS: OPT echoed, version 0 only, BADVERS otherwise), RFC 4343
 *   (case-insensitive names; the query's case is kept in the answer, "0x20"), RFC 8482 (ANY
 *   gets one RRset), RFC 8020 (empty non-terminals are NODATA, not NXDOMAIN).
 *   Not implemented: zone transfers (REFUSED), DNSSEC, NOTIFY/UPDATE (NOTIMP), cookies
 *   (RFC 7873: the option is ignored).
 *
 * SECURITY
 *   Faces any client the operator lets reach the port. UDP answers are rate-limited per client
 *   network (reflection); TCP connections are capped and time out; queries are size-capped;
 *   live mode checks are capped in number and time.
 *
 * CONFIGURATION PARAMETERS
 *   dnsbl.* (config/sections/dnsbl.ts); firewall.organisation.name and firewall.portalUrl for
 *   the TXT text; check.bypass for the ranges never listed.
 *
 * SEE ALSO
 *   docs/dnsbl.md (MTA configuration), cli/export-command.ts (`blocksmith export rbldnsd`).
 */
import { parseListen } from '../listen.js';
import type { FrontContext, RunningFront } from '../types.js';
import { zoneInfo } from './names.js';
import { Responder } from './responder.js';
import { DnsblServer } from './server.js';
import { ListingView } from './view.js';

export async function startDnsblFront(ctx: FrontContext): Promise<RunningFront | undefined> {
  const c = ctx.config.dnsbl;
  if (c.listen.length === 0) return undefined;
  const addresses = c.listen.map((value, i) => parseListen(value, `dnsbl.listen[${i}]`));
  const zone = zoneInfo(c);
  const view = new ListingView({ firewall: ctx.firewall, config: ctx.config });
  const responder = new Responder({ zone, view, config: c, metrics: ctx.metrics });
  const server = new DnsblServer({ responder, config: c, logger: ctx.logger, metrics: ctx.metrics });
  const endpoints = await server.listen(addresses);
  ctx.logger.info({ front: 'dnsbl', event: 'START', zone: zone.name, live: c.live }, 'START');
  let stopped: Promise<void> | undefined;
  return {
    name: 'dnsbl',
    endpoints,
    stop(): Promise<void> {
      stopped ??= (async () => {
        responder.stop();
        await server.close();
      })();
      return stopped;
    },
  };
}
