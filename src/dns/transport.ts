/**
 * NAME
 *   dns/transport - one DNS question to one upstream, over UDP and (after truncation) TCP
 *
 * SYNOPSIS
 *   exchange(request: ExchangeRequest): Promise<ExchangeResult>     never rejects
 *   normaliseName(name: string): string          lower-case (ASCII only), one trailing dot off
 *   isEncodableName(name: string): boolean       can this normalised name go on the wire?
 *   toDnsRecord(answer: Answer): DnsRecord | undefined
 *   encodeQuery, isReplyTo, recordsOf, flagsOf   the steps of reading a reply, exported for the
 *                                                fuzz target test/fuzz/targets/dns-reply.ts
 *
 * DESCRIPTION
 *   Framing and codec only; what a reply *means* is decided in stub-resolver.ts.
 *
 *   UDP: through the resolver's UdpPool (udp-pool.ts): a socket `connect()`ed to the upstream
 *   (the kernel then drops datagrams from anyone else, and an ICMP port-unreachable comes back as
 *   ECONNREFUSED instead of a silent timeout), on an OS-chosen random port that is replaced every
 *   `udpQueriesPerSocketCount` questions, and a crypto-random 16-bit id. A datagram is accepted
 *   only if it decodes, is a response, has our id, and repeats our question (one question; name
 *   compared case-insensitively, type, class IN). Anything else is ignored and the wait goes on
 *   until the timeout: an off-path attacker must not be able to end the wait early with a forged
 *   or garbage datagram.

 *   TCP: used only when the accepted UDP reply has TC set. Same question, a new random id, 2-byte
 *   length framing (RFC 1035 §4.2.2), a fresh `timeoutMs`. A length prefix above
 *   `maxTcpReplyBytes` ends the exchange as a network error before the body is buffered; replies
 *   that do not match are skipped like on UDP.
 *
 *   No EDNS(0) is sent: replies over 512 bytes come back truncated and are fetched over TCP. This
 *   keeps the UDP path simple and is what the FCrDNS check needs (a PTR set is small).
 *
 *   Every path (reply, timeout, abort, socket error) settles the promise exactly once, clears the
 *   timer, removes the abort listener and releases its id (TCP: closes the socket); pooled sockets
 *   keep their error listener, so a late error is harmless. Timers are not unref'd: a pending exchange must be
 *   allowed to finish.
 *
 *   Record data (toDnsRecord): A/AAAA as dns-packet prints them (AAAA canonical compressed, lower
 *   case); CNAME/NS/DNAME targets lower-cased, one trailing dot removed; PTR targets AS RECEIVED
 *   apart from one trailing dot (the check must see, and reject, odd bytes itself); TXT strings
 *   joined with no separator (UTF-8); SOA as `mname rname serial refresh retry expire minimum`;
 *   other types hex. Records of a class other than IN, and OPT, are dropped. A TTL above 2^31-1
 *   counts as 0 (RFC 2181 §8).
 *
 *   An exchange may sit in the resolver's cache for hours, so it is made lean: one literal shape
 *   (no spread), record arrays of exactly their length (the empty ones shared), the flags one of
 *   32 shared objects, the server text made once per upstream, and a record owned by the
 *   question's name sharing that string.
 *
 * DNS-PACKET QUIRKS (5.6.1) that matter here
 *   - Names are decoded label by label with `buf.toString('utf-8')` and joined with '.': no
 *     escaping at all. A label holding a '.' is indistinguishable from two labels; spaces, '<',
 *     '\\', controls (even NUL) come through raw; bytes that are not valid UTF-8 become U+FFFD; the
 *     root name decodes as '.', which toDnsRecord turns into '' (empty PTR target). Compression
 *     pointers must point backwards, names over 254 wire bytes throw: a decode throw makes the
 *     datagram "garbage", which is ignored.
 *   - PTR/CNAME/NS rdata is consumed by the name decoder, not by RDLENGTH: a lying RDLENGTH can
 *     desynchronise the rest of the packet (usually into a decode throw, i.e. ignored).
 *   - Encoding does not validate: a label over 63 bytes corrupts the packet, an empty label ends
 *     the name early, and dots next to a newline are stripped (its regex uses the `m` flag). Hence
 *     isEncodableName() is checked before any name is encoded.
 *   - TXT decodes to Buffers; rcode is a string (`NOERROR`, …, `RCODE_11`); no extended rcode.
 */
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket } from 'dns-packet';
import { formatUpstream } from './upstream.js';
import { decodeReply, UdpPool } from './udp-pool.js';
import { asciiLower } from '../util/ascii.js';
import type { AbortLike } from '../util/abort.js';
import type { DnsExchange, DnsFlags, DnsRecord, QueryType, Upstream } from './types.js';

/** Wire limits of RFC 1035 §2.3.4 (not tunables). */
const MAX_LABEL_BYTES = 63;
const MAX_NAME_WIRE_BYTES = 255;
/** RFC 2181 §8: a TTL with the top bit set is treated as zero. */
const MAX_TTL_S = 2_147_483_647;
const ID_SPACE = 0x1_0000;
const TCP_LENGTH_PREFIX_BYTES = 2;

export interface ExchangeRequest {
  readonly upstream: Upstream;
  /** Normalised (see normaliseName) and encodable (see isEncodableName). */
  readonly qname: string;
  readonly qtype: QueryType;
  /** Wait for one reply, per transport attempt. */
  readonly timeoutMs: number;
  readonly maxTcpReplyBytes: number;
  readonly signal?: AbortLike;
  /** The resolver's UDP sockets; without one, the question gets a socket of its own. */
  readonly pool?: UdpPool;
}

export interface ExchangeResult {
  /** One exchange, or two when the UDP reply was truncated and TCP followed. */
  readonly exchanges: readonly DnsExchange[];
  /** The last exchange (the one that counts). */
  readonly final: DnsExchange;
  /** The decoded packet of the accepted final reply; undefined when `final.error` is set. */
  readonly packet?: DecodedPacket;
}

interface Attempt {
  readonly exchange: DnsExchange;
  readonly packet?: DecodedPacket;
}


/** normaliseName - lower-case A-Z, strip one trailing dot ('.' becomes '', the root). */
export function normaliseName(name: string): string {
  return asciiLower(name.endsWith('.') ? name.slice(0, -1) : name);
}

/** isEncodableName - labels 1..63 bytes, ≤ 255 wire bytes, no control characters; '' is the root. */
export function isEncodableName(name: string): boolean {
  if (name === '') return true;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) return false;
  let wire = 1;
  for (const label of name.split('.')) {
    const bytes = Buffer.byteLength(label, 'utf8');
    if (bytes === 0 || bytes > MAX_LABEL_BYTES) return false;
    wire += bytes + 1;
  }
  return wire <= MAX_NAME_WIRE_BYTES;
}

function stripOneDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function ttlOf(ttl: number | undefined): number {
  return ttl === undefined || ttl > MAX_TTL_S || ttl < 0 ? 0 : ttl;
}

/** toDnsRecord - one decoded resource record in the contract's shape (see DESCRIPTION). */
export function toDnsRecord(answer: Answer, qname?: string): DnsRecord | undefined {
  if (answer.type === 'OPT') return undefined;
  if (answer.class !== undefined && answer.class !== 'IN') return undefined;
  const owner = normaliseName(answer.name);
  const name = owner === qname ? qname : owner;
  const ttl = ttlOf(answer.ttl);
  let data: string;
  switch (answer.type) {
    case 'A':
    case 'AAAA':
      data = answer.data;
      break;
    case 'PTR':
      data = stripOneDot(answer.data);
      break;
    case 'CNAME':
    case 'DNAME':
    case 'NS':
      data = normaliseName(answer.data);
      break;
    case 'TXT': {
      const parts = Array.isArray(answer.data) ? answer.data : [answer.data];
      data = parts.map((p) => (typeof p === 'string' ? p : p.toString('utf8'))).join('');
      break;
    }
    case 'SOA': {
      const s = answer.data;
      data = [normaliseName(s.mname), normaliseName(s.rname), s.serial ?? 0, s.refresh ?? 0, s.retry ?? 0, s.expire ?? 0, s.minimum ?? 0].join(' ');
      break;
    }
    default: {
      const raw: unknown = answer.data;
      data = Buffer.isBuffer(raw) ? raw.toString('hex') : typeof raw === 'string' ? raw : JSON.stringify(raw);
    }
  }
  return Object.freeze({ name, type: answer.type, ttl, data });
}

/** The empty record list every empty section shares (results are frozen, read-only). */
const NO_RECORDS: readonly DnsRecord[] = Object.freeze([]);

/**
 * recordsOf - the records of a section, as an array of exactly their number (a result may sit in
 * the cache for hours: no spare capacity). A record owned by `qname` shares that string.
 */
export function recordsOf(list: readonly Answer[] | undefined, qname: string): readonly DnsRecord[] {
  if (list === undefined || list.length === 0) return NO_RECORDS;
  const out = new Array<DnsRecord>(list.length);
  let n = 0;
  for (const a of list) {
    const r = toDnsRecord(a, qname);
    if (r !== undefined) out[n++] = r;
  }
  if (n === 0) return NO_RECORDS;
  return n === out.length ? out : out.slice(0, n);
}

/** rcodeOf - dns-packet sets `rcode` at run time but its types do not declare it. */
export function rcodeOf(packet: DecodedPacket): string {
  return 'rcode' in packet && typeof packet.rcode === 'string' ? packet.rcode : 'UNKNOWN';
}

/** The 32 possible flag sets, each one frozen object shared by every exchange that has it. */
const FLAG_SETS: readonly DnsFlags[] = Array.from({ length: 32 }, (_, bits) =>
  Object.freeze({ aa: (bits & 1) !== 0, tc: (bits & 2) !== 0, rd: (bits & 4) !== 0, ra: (bits & 8) !== 0, ad: (bits & 16) !== 0 }),
);

export function flagsOf(p: DecodedPacket): DnsFlags {
  const bits = (p.flag_aa ? 1 : 0) | (p.flag_tc ? 2 : 0) | (p.flag_rd ? 4 : 0) | (p.flag_ra ? 8 : 0) | (p.flag_ad ? 16 : 0);
  return FLAG_SETS[bits] as DnsFlags;
}

/** `host:port` of each upstream, made once: every exchange of an upstream shares the string. */
const serverNames = new WeakMap<Upstream, string>();

function serverName(upstream: Upstream): string {
  let name = serverNames.get(upstream);
  if (name === undefined) {
    name = formatUpstream(upstream);
    serverNames.set(upstream, name);
  }
  return name;
}

export function encodeQuery(id: number, qname: string, qtype: QueryType): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: qtype, name: qname, class: 'IN' }],
  });
}

/** isReplyTo - response, our id, exactly our question. */
export function isReplyTo(p: DecodedPacket, id: number, qname: string, qtype: QueryType): boolean {
  if (p.type !== 'response' || p.id !== id) return false;
  const qs = p.questions ?? [];
  const q = qs[0];
  if (qs.length !== 1 || q === undefined) return false;
  const qn = q.name === '.' ? '' : normaliseName(q.name);
  return qn === qname && q.type === qtype && (q.class ?? 'IN') === 'IN';
}

function errorCode(err: unknown): string {
  if (err instanceof Error) {
    return 'code' in err && typeof err.code === 'string' ? err.code : err.message.slice(0, 80);
  }
  return 'error';
}

/** The pieces every attempt shares: start time, settle-once, timer, abort, cleanup. */
function runAttempt(
  req: ExchangeRequest,
  transport: 'udp' | 'tcp',
  body: (ctx: AttemptContext) => () => void,
): Promise<Attempt> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const server = serverName(req.upstream);
  // Literals of one shape (no spread): these objects may be cached for hours.
  const failed = (error: 'timeout' | 'network' | 'aborted', errorDetail: string): Attempt => ({
    exchange: Object.freeze({
      qname: req.qname,
      qtype: req.qtype,
      server,
      transport,
      startedAt,
      durationMs: elapsedMs(t0),
      answers: NO_RECORDS,
      authority: NO_RECORDS,
      error,
      errorDetail,
    }),
  });
  if (req.signal?.aborted === true) return Promise.resolve(failed('aborted', 'aborted before sending'));

  return new Promise<Attempt>((resolve) => {
    let settled = false;
    let cleanup: () => void = () => undefined;
    const settle = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      cleanup();
      resolve(a);
    };
    const onAbort = (): void => settle(failed('aborted', 'aborted while waiting for a reply'));
    const timer = setTimeout(() => settle(failed('timeout', `no reply within ${req.timeoutMs} ms`)), req.timeoutMs);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const ctx: AttemptContext = {
      isSettled: () => settled,
      fail: (detail) => settle(failed('network', detail)),
      accept: (packet) =>
        settle({
          packet,
          exchange: Object.freeze({
            qname: req.qname,
            qtype: req.qtype,
            server,
            transport,
            startedAt,
            durationMs: elapsedMs(t0),
            rcode: rcodeOf(packet),
            flags: flagsOf(packet),
            answers: recordsOf(packet.answers, req.qname),
            authority: recordsOf(packet.authorities, req.qname),
          }),
        }),
    };
    cleanup = body(ctx);
    if (settled) cleanup();
  });
}

interface AttemptContext {
  isSettled(): boolean;
  fail(detail: string): void;
  accept(packet: DecodedPacket): void;
}

function udpAttempt(req: ExchangeRequest): Promise<Attempt> {
  // Without a pool (direct callers, tests): a socket of its own, closed with the question.
  const pool = req.pool ?? new UdpPool(1);
  const ownPool = req.pool === undefined;
  return runAttempt(req, 'udp', (ctx) => {
    const question = pool.send(req.upstream, (id) => encodeQuery(id, req.qname, req.qtype), {
      onReply: (packet) => {
        if (isReplyTo(packet, question.id, req.qname, req.qtype)) ctx.accept(packet);
      },
      onError: (detail) => ctx.fail(detail),
    });
    return () => {
      question.done();
      if (ownPool) pool.close();
    };
  });
}

function tcpAttempt(req: ExchangeRequest): Promise<Attempt> {
  return runAttempt(req, 'tcp', (ctx) => {
    const id = randomInt(0, ID_SPACE);
    const socket = net.connect({ host: req.upstream.host, port: req.upstream.port });
    let pending: Buffer = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('error', (err) => ctx.fail(errorCode(err)));
    socket.on('close', () => ctx.fail('connection closed before a reply'));
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (!ctx.isSettled() && pending.length >= TCP_LENGTH_PREFIX_BYTES) {
        const len = pending.readUInt16BE(0);
        if (len > req.maxTcpReplyBytes) {
          ctx.fail(`TCP reply of ${len} bytes exceeds maxTcpReplyBytes (${req.maxTcpReplyBytes})`);
          return;
        }
        if (pending.length < TCP_LENGTH_PREFIX_BYTES + len) return;
        const msg = pending.subarray(TCP_LENGTH_PREFIX_BYTES, TCP_LENGTH_PREFIX_BYTES + len);
        pending = pending.subarray(TCP_LENGTH_PREFIX_BYTES + len);
        const packet = decodeReply(msg);
        if (packet === undefined) continue;
        if (isReplyTo(packet, id, req.qname, req.qtype)) ctx.accept(packet);
      }
    });
    const query = encodeQuery(id, req.qname, req.qtype);
    const prefix = Buffer.alloc(TCP_LENGTH_PREFIX_BYTES);
    prefix.writeUInt16BE(query.length, 0);
    socket.write(Buffer.concat([prefix, query]));
    return () => {
      socket.destroy();
    };
  });
}

/** exchange - one question to one upstream; UDP, then TCP if truncated. Never rejects. */
export async function exchange(req: ExchangeRequest): Promise<ExchangeResult> {
  const udp = await udpAttempt(req);
  if (udp.packet === undefined || !udp.packet.flag_tc) {
    return { exchanges: [udp.exchange], final: udp.exchange, packet: udp.packet };
  }
  const tcp = await tcpAttempt(req);
  return { exchanges: [udp.exchange, tcp.exchange], final: tcp.exchange, packet: tcp.packet };
}

/** Milliseconds since `t0`, to the microsecond: enough for a trace, short in JSON. */
function elapsedMs(t0: number): number {
  return Math.round((performance.now() - t0) * 1000) / 1000;
}
