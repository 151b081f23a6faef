/**
 * NAME
 *   fronts/dnsbl/responder - a parsed query in, the reply to send out (no sockets, no bytes)
 *
 * SYNOPSIS
 *   const responder = new Responder({ zone, view, config: config.dnsbl, metrics })
 *   responder.respond(parsed): Reply | Promise<Reply> | undefined     undefined = send nothing
 *   responder.stop()                   aborts live checks still running (they answer SERVFAIL)
 *
 * DESCRIPTION
 *   The table (AA is set on every answer from inside the zone):
 *
 *     drop (short packet, a response)         nothing
 *     formerr                                 FORMERR, no question
 *     opcode other than QUERY                 NOTIMP
 *     EDNS version above 0                    BADVERS (RFC 6891 §6.1.3)
 *     class other than IN or ANY              REFUSED
 *     name outside the zone                   REFUSED
 *     AXFR, IXFR                              REFUSED (the zone is computed, not transferable)
 *     apex SOA / NS                           the SOA / the NS records; ANY: both
 *     apex, other types                       NODATA + SOA
 *     listed address, A                       A 127.0.0.2|3|4 (view.ts)
 *     listed address, TXT                     TXT: the reason in words and the portal URL
 *     listed address, ANY                     the A only (RFC 8482: one RRset)
 *     listed address, other types             NODATA + SOA
 *     address not listed                      NXDOMAIN + SOA
 *     start of an address name (names.ts)     NODATA + SOA (an empty non-terminal)
 *     other names in the zone                 NXDOMAIN + SOA
 *     live mode, check temperror / deadline /
 *       too many checks waiting               SERVFAIL (never "listed")
 *
 *   The SOA in negative answers has TTL and MINIMUM dnsbl.negativeTtlS (RFC 2308 §3: the
 *   negative TTL is the smaller of the two). The serial is the current time in seconds: the
 *   zone changes all the time and nothing transfers it.
 *
 *   Owner names of answers are the query's labels as received: a resolver using 0x20 case
 *   randomisation finds its own case pattern back.
 *
 * DIAGNOSTICS
 *   ctx.metrics.frontEvent('dnsbl', event) per reply: listed, nxdomain, nodata, apex,
 *   refused, formerr, notimp, badvers, servfail; `live` per live check.
 */
import type { Answer, SoaData } from 'dns-packet';
import type { NormalisedAddress } from '../../check/address.js';
import type { DnsblConfig } from '../../config/schema.js';
import type { Metrics } from '../../metrics/types.js';
import { Abort } from '../../util/abort.js';
import { locate } from './names.js';
import type { ParsedQuery, Question } from './parser.js';
import type { Entry, ListingView } from './view.js';

export const RCODE = Object.freeze({ NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 });

export const QTYPE = Object.freeze({ A: 1, NS: 2, SOA: 6, TXT: 16, AAAA: 28, IXFR: 251, AXFR: 252, ANY: 255 });
const QCLASS_IN = 1;
const QCLASS_ANY = 255;
/** SOA timers for secondaries; nothing transfers this zone, so they only need to be sane (RFC 1912 §2.2). */
const SOA_REFRESH_S = 3_600;
const SOA_RETRY_S = 600;
const SOA_EXPIRE_S = 604_800;
const MS_PER_S = 1_000;
/** A TXT character-string holds at most 255 octets (RFC 1035 §3.3). */
const TXT_STRING_MAX = 255;

export type ReplyEvent = 'listed' | 'nxdomain' | 'nodata' | 'apex' | 'refused' | 'formerr' | 'notimp' | 'badvers' | 'servfail';

export interface Reply {
  readonly id: number;
  readonly rd: boolean;
  readonly aa: boolean;
  /** Up to 12 bits: the low 4 go in the header, the rest in the OPT record (BADVERS). */
  readonly rcode: number;
  readonly question: Question | undefined;
  readonly answers: readonly Answer[];
  readonly authorities: readonly Answer[];
  /** The query had an OPT record: the reply carries one, and may use its UDP size. */
  readonly edns: { readonly udpBytes: number } | undefined;
  readonly event: ReplyEvent;
}

/** The zone as answered: names lower case without trailing dot. */
export interface ZoneInfo {
  readonly labels: readonly string[];
  readonly name: string;
  readonly mname: string;
  readonly rname: string;
  readonly ns: readonly string[];
}

export interface ResponderOptions {
  readonly zone: ZoneInfo;
  readonly view: ListingView;
  readonly config: DnsblConfig;
  readonly metrics: Metrics;
}

export class Responder {
  private readonly zone: ZoneInfo;
  private readonly view: ListingView;
  private readonly config: DnsblConfig;
  private readonly metrics: Metrics;
  private readonly pending = new Set<Abort>();

  constructor(options: ResponderOptions) {
    this.zone = options.zone;
    this.view = options.view;
    this.config = options.config;
    this.metrics = options.metrics;
  }

  respond(parsed: ParsedQuery): Reply | Promise<Reply> | undefined {
    switch (parsed.kind) {
      case 'drop':
        return undefined;
      case 'formerr':
        return this.count({ id: parsed.id, rd: parsed.rd, aa: false, rcode: RCODE.FORMERR, question: undefined, answers: [], authorities: [], edns: undefined, event: 'formerr' });
      case 'notimp':
        return this.count({ id: parsed.id, rd: parsed.rd, aa: false, rcode: RCODE.NOTIMP, question: parsed.question, answers: [], authorities: [], edns: undefined, event: 'notimp' });
      case 'query':
        return this.query(parsed);
    }
  }

  stop(): void {
    for (const abort of this.pending) abort.abort();
  }

  private query(parsed: Extract<ParsedQuery, { kind: 'query' }>): Reply | Promise<Reply> {
    const { question } = parsed;
    const edns = parsed.edns === undefined ? undefined : { udpBytes: Math.min(Math.max(parsed.edns.udpBytes, 512), this.config.ednsUdpBytes) };
    // A plain literal, not a spread of a shared base: this runs for every query.
    const reply = (rcode: number, aa: boolean, event: ReplyEvent, answers: Answer[] = [], authorities: Answer[] = []): Reply =>
      this.count({ id: parsed.id, rd: parsed.rd, aa, rcode, question, answers, authorities, edns, event });

    if (parsed.edns !== undefined && parsed.edns.version > 0) return reply(RCODE.BADVERS, false, 'badvers');
    if (question.qclass !== QCLASS_IN && question.qclass !== QCLASS_ANY) return reply(RCODE.REFUSED, false, 'refused');
    const where = locate(question.labels, this.zone.labels);
    if (where.kind === 'outside') return reply(RCODE.REFUSED, false, 'refused');
    if (question.qtype === QTYPE.AXFR || question.qtype === QTYPE.IXFR) return reply(RCODE.REFUSED, false, 'refused');
    const owner = question.labels.join('.');
    // Built only when a negative answer needs it: a listed A answer does not.
    const negative = (): Answer[] => [this.soa(this.zone.name, this.config.negativeTtlS)];
    switch (where.kind) {
      case 'apex': {
        const answers: Answer[] = [];
        if (question.qtype === QTYPE.SOA || question.qtype === QTYPE.ANY) answers.push(this.soa(owner, this.config.apexTtlS));
        if (question.qtype === QTYPE.NS || question.qtype === QTYPE.ANY) {
          for (const ns of this.zone.ns) answers.push({ type: 'NS', name: owner, ttl: this.config.apexTtlS, data: ns });
        }
        return answers.length > 0 ? reply(RCODE.NOERROR, true, 'apex', answers) : reply(RCODE.NOERROR, true, 'nodata', [], negative());
      }
      case 'partial':
        return reply(RCODE.NOERROR, true, 'nodata', [], negative());
      case 'other':
        return reply(RCODE.NXDOMAIN, true, 'nxdomain', [], negative());
      case 'address': {
        const render = (entry: Entry): Reply => {
          if (entry.kind === 'servfail') return reply(RCODE.SERVFAIL, false, 'servfail');
          if (entry.kind !== 'listed') return reply(RCODE.NXDOMAIN, true, 'nxdomain', [], negative());
          const ttl = this.config.listedTtlS;
          if (question.qtype === QTYPE.A || question.qtype === QTYPE.ANY) return reply(RCODE.NOERROR, true, 'listed', [{ type: 'A', name: owner, ttl, data: entry.code }]);
          if (question.qtype === QTYPE.TXT) return reply(RCODE.NOERROR, true, 'listed', [{ type: 'TXT', name: owner, ttl, data: txtStrings(entry.text) }]);
          return reply(RCODE.NOERROR, true, 'nodata', [], negative());
        };
        const entry = this.view.lookup(where.address);
        if (entry.kind !== 'unjudged' || !this.config.live) return render(entry);
        return this.live(where.address).then(render);
      }
    }
  }

  /** live - the firewall decides within the deadline; over the waiting cap, SERVFAIL at once. */
  private async live(address: NormalisedAddress): Promise<Entry> {
    this.metrics.frontEvent('dnsbl', 'live');
    if (this.pending.size >= this.config.liveMaxPendingCount) return { kind: 'servfail', why: 'overload' };
    const abort = new Abort();
    this.pending.add(abort);
    let timer: NodeJS.Timeout | undefined;
    // The race guarantees the deadline even if something below ignored the signal.
    const deadline = new Promise<Entry>((resolve) => {
      timer = setTimeout(() => {
        resolve({ kind: 'servfail', why: 'deadline' });
        abort.abort();
      }, this.config.liveDeadlineMs);
    });
    try {
      const stopped = new Promise<Entry>((resolve) => abort.addEventListener('abort', () => resolve({ kind: 'servfail', why: 'stopped' })));
      return await Promise.race([this.view.judge(address, abort), deadline, stopped]);
    } finally {
      clearTimeout(timer);
      this.pending.delete(abort);
    }
  }

  private soa(owner: string, ttl: number): Answer {
    const data: SoaData = {
      mname: this.zone.mname,
      rname: this.zone.rname,
      serial: Math.floor(Date.now() / MS_PER_S) >>> 0,
      refresh: SOA_REFRESH_S,
      retry: SOA_RETRY_S,
      expire: SOA_EXPIRE_S,
      minimum: this.config.negativeTtlS,
    };
    return { type: 'SOA', name: owner, ttl, data };
  }

  private count(reply: Reply): Reply {
    this.metrics.frontEvent('dnsbl', reply.event);
    return reply;
  }
}

/** txtStrings - the text cut into character-strings of at most 255 octets (ASCII: one octet a character). */
export function txtStrings(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += TXT_STRING_MAX) out.push(text.slice(i, i + TXT_STRING_MAX));
  return out.length > 0 ? out : [''];
}
