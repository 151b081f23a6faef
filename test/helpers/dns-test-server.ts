/**
 * NAME
 *   test/helpers/dns-test-server - an in-process authoritative DNS server for tests and benchmarks
 *
 * SYNOPSIS
 *   import { DnsTestServer } from '../helpers/dns-test-server.js';
 *
 *   const server = await DnsTestServer.start({
 *     records: {
 *       '2.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.test' }],
 *       'mail.example.test': [{ type: 'A', data: '192.0.2.2', ttl: 60 }],
 *       'alias.example.test': [{ type: 'CNAME', data: 'mail.example.test' }],
 *     },
 *     behaviours: { 'slow.example.test': { delayMs: 200 }, 'broken.example.test/A': { servfail: true } },
 *     negativeSoa: { ttl: 600, minimum: 30 },
 *   });
 *   const resolver = new StubResolver(resolverSchema.parse({ servers: [server.upstream] }));
 *   …  server.queries, server.queryCount('mail.example.test', 'A'), server.maxOutstanding …
 *   server.resetQueries(); server.setZone({ … });
 *   await server.stop();
 *
 * DESCRIPTION
 *   Listens on 127.0.0.1, UDP and TCP on the same random port (`port`, `upstream` =
 *   '127.0.0.1:<port>'). Answers from a declarative zone: `records` maps a lower-case name
 *   (no trailing dot) to its records; TTLs default to `defaultTtl` (300).
 *     - name absent                    → NXDOMAIN, SOA in authority (see negativeSoa)
 *     - name present, no record of type → NOERROR/NODATA, SOA in authority
 *     - CNAME at the name (qtype not CNAME) → the CNAME, and with `chaseCname` (default true) the
 *       chain followed inside the zone (a dangling in-zone target then gives NXDOMAIN, RFC 6604);
 *       with `chaseCname: false` only the first CNAME is returned, so the client must follow it.
 *   Authoritative answers have AA set; RA is `recursionAvailable` (default true); RD is echoed.
 *   `negativeSoa: false` sends negative answers without SOA (negative TTL 0 for the client).
 *
 *   Behaviours, per name (`'name'`) or per name and type (`'name/A'`, merged over the name's):
 *     servfail, refused, formerr, notimp  that rcode (question echoed, no records)
 *     silent                              never answers (UDP or TCP)
 *     delayMs: n                          answer after n ms
 *     wrongIdFirst                        first a copy of the reply with another id, then the reply
 *     wrongQuestionFirst                  first a reply with our id but another question
 *     garbageFirst                        first undecodable bytes (our id, truncated body)
 *     truncate                            over UDP: TC set, no records; over TCP: the full answer
 *     referral                            no AA, RA 0, NS records in authority, no answer
 *     noRecursion                         no AA, RA 0, nothing at all
 *     dropTcp                             TCP connections are closed without an answer
 *
 *   Every query received is recorded in `queries` (name lower-cased, rawName as received, type,
 *   transport, id, source address and port, time). `outstanding` counts queries received and not
 *   yet answered (delayed ones; silent ones are dropped at once and do not count) and
 *   `maxOutstanding` its peak since the last resetQueries(): measure a client's in-flight cap there.
 *
 *   PTR/CNAME data is encoded by dns-packet as given (UTF-8 bytes, no escape processing): a target
 *   with a space, '<' or '\\' arrives at the client as such; '' or '.' is the root name. Bytes that
 *   are not valid UTF-8 cannot be expressed.
 *
 *   stop() closes both sockets, destroys TCP connections and clears pending delay timers, so a
 *   test process exits by itself.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';

export type ZoneRecordType = 'A' | 'AAAA' | 'PTR' | 'CNAME' | 'SOA' | 'NS' | 'TXT';

export interface SoaSpec {
  readonly mname: string;
  readonly rname: string;
  readonly serial?: number;
  readonly refresh?: number;
  readonly retry?: number;
  readonly expire?: number;
  readonly minimum: number;
}

export type ZoneRecord =
  | { readonly type: 'A' | 'AAAA' | 'PTR' | 'CNAME' | 'NS'; readonly data: string; readonly ttl?: number }
  | { readonly type: 'TXT'; readonly data: string | readonly string[]; readonly ttl?: number }
  | { readonly type: 'SOA'; readonly data: SoaSpec; readonly ttl?: number };

export interface Behaviour {
  readonly servfail?: boolean;
  readonly refused?: boolean;
  readonly formerr?: boolean;
  readonly notimp?: boolean;
  readonly silent?: boolean;
  readonly delayMs?: number;
  readonly wrongIdFirst?: boolean;
  readonly wrongQuestionFirst?: boolean;
  readonly garbageFirst?: boolean;
  readonly truncate?: boolean;
  readonly referral?: boolean;
  readonly noRecursion?: boolean;
  readonly dropTcp?: boolean;
}

export interface NegativeSoa {
  /** Owner of the SOA record (default 'test'). */
  readonly name?: string;
  /** The SOA record's own TTL (default 3600). */
  readonly ttl?: number;
  /** The SOA MINIMUM field (default 300). */
  readonly minimum?: number;
  readonly mname?: string;
  readonly rname?: string;
}

export interface TestZone {
  readonly records?: Readonly<Record<string, readonly ZoneRecord[]>>;
  readonly behaviours?: Readonly<Record<string, Behaviour>>;
  readonly negativeSoa?: NegativeSoa | false;
  /** Follow CNAMEs inside the zone when answering (default true). */
  readonly chaseCname?: boolean;
  readonly defaultTtl?: number;
  /** RA flag on normal answers (default true, like a recursive resolver). */
  readonly recursionAvailable?: boolean;
}

export interface ReceivedQuery {
  /** Lower-case, no trailing dot ('' for the root). */
  readonly name: string;
  readonly rawName: string;
  readonly type: string;
  readonly transport: 'udp' | 'tcp';
  readonly id: number;
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly at: number;
}

const HOST = '127.0.0.1';
const BIND_ATTEMPTS_COUNT = 20;
const CHASE_MAX_STEPS_COUNT = 16;
const DEFAULT_TTL_S = 300;
const ID_SPACE = 0x1_0000;
const WRONG_QUESTION_NAME = 'wrong-question.invalid';
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

function lower(name: string): string {
  const n = name === '.' ? '' : name.endsWith('.') ? name.slice(0, -1) : name;
  return n.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

type Reply = { readonly packet: Packet; readonly rcode: number } | 'silent' | 'drop';

export class DnsTestServer {
  /** Every query received, in order. */
  readonly queries: ReceivedQuery[] = [];
  private zone: TestZone;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private boundPort = 0;
  private pending = 0;
  private peak = 0;

  constructor(zone: TestZone = {}) {
    this.zone = zone;
  }

  /** start - a started server in one call. */
  static async start(zone: TestZone = {}): Promise<DnsTestServer> {
    const server = new DnsTestServer(zone);
    await server.start();
    return server;
  }

  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return HOST;
  }

  /** `127.0.0.1:<port>`, ready for ResolverConfig.servers. */
  get upstream(): string {
    return `${HOST}:${this.boundPort}`;
  }

  /** Queries received and not yet answered. */
  get outstanding(): number {
    return this.pending;
  }

  /** Peak of `outstanding` since start or the last resetQueries(). */
  get maxOutstanding(): number {
    return this.peak;
  }

  setZone(zone: TestZone): void {
    this.zone = zone;
  }

  resetQueries(): void {
    this.queries.length = 0;
    this.peak = this.pending;
  }

  /** queryCount - queries received, optionally only for a name (any case) and type. */
  queryCount(name?: string, type?: string): number {
    const n = name === undefined ? undefined : lower(name);
    return this.queries.filter((q) => (n === undefined || q.name === n) && (type === undefined || q.type === type)).length;
  }

  /** start - bind UDP and TCP on one random port of 127.0.0.1; resolves to the port. */
  async start(): Promise<number> {
    for (let attempt = 0; attempt < BIND_ATTEMPTS_COUNT; attempt += 1) {
      const tcp = net.createServer((socket) => this.onTcpConnection(socket));
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(0, HOST, () => resolve());
      });
      const port = (tcp.address() as AddressInfo).port;
      const udp = dgram.createSocket('udp4');
      const bound = await new Promise<boolean>((resolve) => {
        udp.once('error', () => resolve(false));
        udp.bind(port, HOST, () => resolve(true));
      });
      if (!bound) {
        udp.close();
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
        continue;
      }
      udp.on('error', () => undefined);
      udp.on('message', (msg, rinfo) => this.onUdpMessage(msg, rinfo));
      this.udp = udp;
      this.tcp = tcp;
      this.boundPort = port;
      return port;
    }
    throw new Error(`dns-test-server: no port free for both UDP and TCP after ${BIND_ATTEMPTS_COUNT} attempts`);
  }

  /** stop - close everything; pending delayed answers are dropped. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    if (udp !== undefined) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (tcp !== undefined) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    this.pending = 0;
  }

  private record(q: DecodedPacket, transport: 'udp' | 'tcp', address: string, port: number): void {
    const question = q.questions?.[0];
    this.queries.push({
      name: lower(question?.name ?? ''),
      rawName: question?.name ?? '',
      type: question?.type ?? '',
      transport,
      id: q.id ?? 0,
      sourceAddress: address,
      sourcePort: port,
      at: Date.now(),
    });
  }

  private onUdpMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    if (query.type !== 'query') return;
    this.record(query, 'udp', rinfo.address, rinfo.port);
    this.respond(query, 'udp', (buf) => this.udp?.send(buf, rinfo.port, rinfo.address));
  }

  private onTcpConnection(socket: net.Socket): void {
    this.connections.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.connections.delete(socket));
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) return;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        let query: DecodedPacket;
        try {
          query = dnsPacket.decode(msg);
        } catch {
          socket.destroy();
          return;
        }
        this.record(query, 'tcp', socket.remoteAddress ?? '', socket.remotePort ?? 0);
        this.respond(query, 'tcp', (buf) => {
          if (socket.destroyed) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(buf.length, 0);
          socket.write(Buffer.concat([prefix, buf]));
        }, () => socket.destroy());
      }
    });
  }

  private behaviourFor(name: string, type: string): Behaviour {
    const b = this.zone.behaviours ?? {};
    return { ...b[name], ...b[`${name}/${type}`] };
  }

  private respond(query: DecodedPacket, transport: 'udp' | 'tcp', send: (buf: Buffer) => void, drop?: () => void): void {
    const question = query.questions?.[0];
    if (question === undefined) return;
    const name = lower(question.name);
    const behaviour = this.behaviourFor(name, question.type);
    const reply = this.build(query, name, behaviour, transport);
    if (reply === 'silent') return;
    if (reply === 'drop') {
      drop?.();
      return;
    }
    const id = query.id ?? 0;
    const finalBuf = dnsPacket.encode(reply.packet);
    finalBuf.writeUInt16BE((finalBuf.readUInt16BE(2) & 0xfff0) | reply.rcode, 2);
    const go = (): void => {
      if (behaviour.garbageFirst === true) {
        const garbage = Buffer.from([id >> 8, id & 0xff, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f, 0x61]);
        send(garbage);
      }
      if (behaviour.wrongIdFirst === true) {
        const wrong = Buffer.from(finalBuf);
        wrong.writeUInt16BE((id + 1 + Math.floor(Math.random() * (ID_SPACE - 2))) % ID_SPACE, 0);
        send(wrong);
      }
      if (behaviour.wrongQuestionFirst === true) {
        const other = dnsPacket.encode({ ...reply.packet, questions: [{ ...question, name: WRONG_QUESTION_NAME }], answers: [] });
        send(other);
      }
      send(finalBuf);
      this.pending -= 1;
    };
    this.pending += 1;
    this.peak = Math.max(this.peak, this.pending);
    const delay = behaviour.delayMs ?? 0;
    if (delay <= 0) {
      go();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      go();
    }, delay);
    this.timers.add(timer);
  }

  private toAnswer(owner: string, r: ZoneRecord): Answer {
    const ttl = r.ttl ?? this.zone.defaultTtl ?? DEFAULT_TTL_S;
    switch (r.type) {
      case 'SOA':
        return { type: 'SOA', name: owner, ttl, data: { ...r.data } };
      case 'TXT':
        return { type: 'TXT', name: owner, ttl, data: typeof r.data === 'string' ? r.data : [...r.data] };
      default:
        return { type: r.type, name: owner, ttl, data: r.data };
    }
  }

  private negativeAuthority(): Answer[] {
    const soa = this.zone.negativeSoa;
    if (soa === false) return [];
    return [
      {
        type: 'SOA',
        name: soa?.name ?? 'test',
        ttl: soa?.ttl ?? 3600,
        data: { mname: soa?.mname ?? 'ns.test', rname: soa?.rname ?? 'hostmaster.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: soa?.minimum ?? 300 },
      },
    ];
  }

  private build(query: DecodedPacket, name: string, b: Behaviour, transport: 'udp' | 'tcp'): Reply {
    const question = query.questions?.[0];
    if (question === undefined) return 'silent';
    if (b.silent === true) return 'silent';
    if (b.dropTcp === true && transport === 'tcp') return 'drop';
    const rd = query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0;
    const ra = this.zone.recursionAvailable === false ? 0 : dnsPacket.RECURSION_AVAILABLE;
    const base = { type: 'response' as const, id: query.id ?? 0, questions: [question] };
    const rcodeOnly = b.servfail === true ? RCODE.SERVFAIL : b.refused === true ? RCODE.REFUSED : b.formerr === true ? RCODE.FORMERR : b.notimp === true ? RCODE.NOTIMP : undefined;
    if (rcodeOnly !== undefined) return { packet: { ...base, flags: rd | ra }, rcode: rcodeOnly };
    if (b.noRecursion === true) return { packet: { ...base, flags: rd }, rcode: RCODE.NOERROR };
    const records = this.zone.records ?? {};
    if (b.referral === true) {
      const ns = (records[name] ?? []).filter((r) => r.type === 'NS');
      const authorities = ns.length > 0 ? ns.map((r) => this.toAnswer(name, r)) : [{ type: 'NS' as const, name, ttl: DEFAULT_TTL_S, data: 'ns.referral.test' }];
      return { packet: { ...base, flags: rd, authorities }, rcode: RCODE.NOERROR };
    }
    const flags = dnsPacket.AUTHORITATIVE_ANSWER | rd | ra;
    if (b.truncate === true && transport === 'udp') {
      return { packet: { ...base, flags: flags | dnsPacket.TRUNCATED_RESPONSE }, rcode: RCODE.NOERROR };
    }
    const qtype = question.type;
    const answers: Answer[] = [];
    let current = name;
    const visited = new Set<string>();
    for (let step = 0; step < CHASE_MAX_STEPS_COUNT; step += 1) {
      const rrs = records[current];
      if (rrs === undefined) {
        if (step === 0) return { packet: { ...base, flags, authorities: this.negativeAuthority() }, rcode: RCODE.NXDOMAIN };
        // dangling CNAME target inside the zone: RFC 6604, rcode for the last name
        return { packet: { ...base, flags, answers, authorities: this.negativeAuthority() }, rcode: RCODE.NXDOMAIN };
      }
      const matching = rrs.filter((r) => r.type === qtype);
      if (matching.length > 0) {
        answers.push(...matching.map((r) => this.toAnswer(current, r)));
        return { packet: { ...base, flags, answers }, rcode: RCODE.NOERROR };
      }
      const cname = rrs.find((r): r is { readonly type: 'CNAME'; readonly data: string; readonly ttl?: number } => r.type === 'CNAME');
      if (cname === undefined || qtype === 'CNAME') break;
      answers.push(this.toAnswer(current, cname));
      visited.add(current);
      const target = lower(cname.data);
      if (this.zone.chaseCname === false || visited.has(target)) return { packet: { ...base, flags, answers }, rcode: RCODE.NOERROR };
      current = target;
    }
    return { packet: { ...base, flags, answers, authorities: this.negativeAuthority() }, rcode: RCODE.NOERROR };
  }
}
