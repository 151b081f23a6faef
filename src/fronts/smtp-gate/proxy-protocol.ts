/**
 * NAME
 *   fronts/smtp-gate/proxy-protocol - the HAProxy PROXY protocol, v1 (text) and v2 (binary)
 *
 * SYNOPSIS
 *   encodeProxyV1(endpoints): Buffer          `PROXY TCP4 src dst sport dport\r\n`
 *   encodeProxyV2(endpoints): Buffer          16-byte header + address block, command PROXY
 *   decodeProxyHeader(bytes): ProxyDecode     incremental: need-more | header | error
 *   looksLikeProxyHeader(bytes): boolean      the first bytes of a v1 or v2 header
 *
 * DESCRIPTION
 *   Pure codec, no socket (STYLE.md §2). The gate writes a header to the backend (encode) and,
 *   from trusted load balancers only, reads one in front of a client (decode).
 *
 *   decodeProxyHeader(bytes) looks at what has arrived so far, from the start of the
 *   connection: `need-more` while a valid header could still be completed, `header` with the
 *   addresses and `length` (how many bytes it took; the rest belongs to the client), or
 *   `error` with a code. Per the spec (§2.1, §2.2):
 *     v1: `PROXY` SP (`TCP4`|`TCP6`|`UNKNOWN`) … CRLF within 107 bytes; single spaces; IPv4 in
 *         dotted decimal without leading zeros, IPv6 as text; ports 0-65535 without leading
 *         zeros; a lone CR or LF does not end the line.
 *     v2: the 12-byte signature, version 2, command LOCAL (0x20) or PROXY (0x21), family
 *         INET/INET6 over STREAM (0x11, 0x21) or UNSPEC (0x00); `len` bytes are always skipped
 *         (TLVs are ignored); a length past V2_MAX_LENGTH is refused before waiting for it.
 *   `UNKNOWN` (v1) and LOCAL or UNSPEC (v2) decode with `addresses: undefined`: the caller uses
 *   the socket's own (a health check). Postfix refuses v1 UNKNOWN; the gate only ever sees
 *   headers from the operator's own load balancers, and does the same as Postfix for LOCAL.
 *
 *   Errors: `not-proxy` (neither signature), `v1-syntax`, `v1-too-long`, `v2-version`,
 *   `v2-command`, `v2-family`, `v2-length` (address block shorter than the family needs, or
 *   larger than V2_MAX_LENGTH).
 *
 *   IPv4-mapped IPv6 source addresses are given as written; the firewall unmaps them.
 *
 * STANDARDS
 *   haproxy doc/proxy-protocol.txt (2020/03/05). Not implemented: UNIX and DGRAM families (refused),
 *   TLV interpretation (skipped), the CRC32C TLV check.
 */
import { isIP } from 'node:net';
import { formatAddress, parseAddressText } from '../../check/address.js';

/** `\r\n\r\n\0\r\nQUIT\n` */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** The spec's longest v1 line, CRLF included. */
export const V1_MAX_BYTES = 107;
/** Largest v2 address block + TLVs accepted (the spec's UNIX block is 216; TLVs may add some). */
export const V2_MAX_LENGTH = 1_024;
const V2_HEADER_BYTES = 16;
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');

export interface ProxyEndpoints {
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destinationAddress: string;
  readonly destinationPort: number;
}

export type ProxyErrorCode = 'not-proxy' | 'v1-syntax' | 'v1-too-long' | 'v2-version' | 'v2-command' | 'v2-family' | 'v2-length';

export type ProxyDecode =
  | { readonly kind: 'need-more' }
  | {
      readonly kind: 'header';
      readonly version: 1 | 2;
      /** undefined: v1 UNKNOWN, v2 LOCAL or UNSPEC (use the socket's own addresses). */
      readonly addresses: ProxyEndpoints | undefined;
      /** Bytes the header took from the start of the input. */
      readonly length: number;
    }
  | { readonly kind: 'error'; readonly code: ProxyErrorCode; readonly detail: string };

/** encodeProxyV1 - the text header; both addresses must be of one family. */
export function encodeProxyV1(e: ProxyEndpoints): Buffer {
  const family = familyOf(e);
  return Buffer.from(`PROXY TCP${family} ${e.sourceAddress} ${e.destinationAddress} ${e.sourcePort} ${e.destinationPort}\r\n`, 'latin1');
}

/** encodeProxyV2 - the binary header, command PROXY over STREAM, no TLV. */
export function encodeProxyV2(e: ProxyEndpoints): Buffer {
  const family = familyOf(e);
  const src = addressBytes(e.sourceAddress, family);
  const dst = addressBytes(e.destinationAddress, family);
  const block = src.length * 2 + 4;
  const out = Buffer.alloc(V2_HEADER_BYTES + block);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21;
  out[13] = family === 4 ? 0x11 : 0x21;
  out.writeUInt16BE(block, 14);
  out.set(src, 16);
  out.set(dst, 16 + src.length);
  out.writeUInt16BE(e.sourcePort, 16 + src.length * 2);
  out.writeUInt16BE(e.destinationPort, 18 + src.length * 2);
  return out;
}

/** looksLikeProxyHeader - whether `bytes` (at least 1) start like a v1 or v2 header. */
export function looksLikeProxyHeader(bytes: Buffer): boolean {
  if (bytes.length === 0) return false;
  const n = Math.min(bytes.length, V2_SIGNATURE.length);
  if (bytes.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return true;
  const m = Math.min(bytes.length, V1_PREFIX.length);
  return bytes.subarray(0, m).equals(V1_PREFIX.subarray(0, m));
}

export function decodeProxyHeader(bytes: Buffer): ProxyDecode {
  if (bytes.length === 0) return NEED_MORE;
  const n = Math.min(bytes.length, V2_SIGNATURE.length);
  if (bytes.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return bytes.length < V2_HEADER_BYTES ? NEED_MORE : decodeV2(bytes);
  const m = Math.min(bytes.length, V1_PREFIX.length);
  if (bytes.subarray(0, m).equals(V1_PREFIX.subarray(0, m))) return decodeV1(bytes);
  return error('not-proxy', 'neither a v1 nor a v2 signature');
}

// ---------------------------------------------------------------- private

const NEED_MORE: ProxyDecode = { kind: 'need-more' };

function error(code: ProxyErrorCode, detail: string): ProxyDecode {
  return { kind: 'error', code, detail };
}

function familyOf(e: ProxyEndpoints): 4 | 6 {
  const s = isIP(e.sourceAddress);
  const d = isIP(e.destinationAddress);
  if (s === 0 || s !== d) throw new RangeError(`PROXY endpoints ${e.sourceAddress} and ${e.destinationAddress} are not addresses of one family`);
  for (const port of [e.sourcePort, e.destinationPort]) if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`PROXY port ${port} out of range`);
  return s === 4 ? 4 : 6;
}

function addressBytes(text: string, family: 4 | 6): Buffer {
  if (family === 4) return Buffer.from(text.split('.').map(Number));
  const parsed = parseAddressText(text);
  if (!parsed.ok || parsed.bytes.length !== 16) throw new RangeError(`PROXY address ${text} is not IPv6`);
  return Buffer.from(parsed.bytes);
}

const DEC_PORT = /^(?:0|[1-9]\d{0,4})$/;
const DOTTED = /^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$/;

function decodeV1(bytes: Buffer): ProxyDecode {
  // The CRLF must end within V1_MAX_BYTES: its CR is at index V1_MAX_BYTES - 2 at the latest.
  const limit = Math.min(bytes.length, V1_MAX_BYTES - 1);
  let crlf = -1;
  for (let i = 0; i < limit; i++) {
    const b = bytes[i];
    if (b === 0x0d) {
      if (i + 1 >= bytes.length) return NEED_MORE;
      if (bytes[i + 1] !== 0x0a) return error('v1-syntax', 'a CR not followed by LF');
      crlf = i;
      break;
    }
    if (b === 0x0a) return error('v1-syntax', 'a bare LF');
    if (b === undefined || b < 0x20 || b > 0x7e) return error('v1-syntax', 'a byte outside printable ASCII');
  }
  if (crlf === -1) return bytes.length >= V1_MAX_BYTES - 1 ? error('v1-too-long', `no CRLF within ${V1_MAX_BYTES} bytes`) : NEED_MORE;
  const line = bytes.toString('latin1', 0, crlf);
  const fields = line.split(' ');
  const length = crlf + 2;
  if (fields[1] === 'UNKNOWN') return { kind: 'header', version: 1, addresses: undefined, length };
  if (fields.length !== 6 || (fields[1] !== 'TCP4' && fields[1] !== 'TCP6')) return error('v1-syntax', 'expected PROXY TCP4|TCP6 src dst sport dport');
  const [, proto, src = '', dst = '', sport = '', dport = ''] = fields;
  const family = proto === 'TCP4' ? 4 : 6;
  for (const address of [src, dst]) {
    // isIP() takes a zone id (`fe80::1%eth0`); the spec's addresses have none, and encodeProxyV2 could not write one.
    if (family === 4 ? !DOTTED.test(address) || address.split('.').some((o) => Number(o) > 255) : isIP(address) !== 6 || address.includes('%')) {
      return error('v1-syntax', `not an IPv${family} address`);
    }
  }
  for (const port of [sport, dport]) if (!DEC_PORT.test(port) || Number(port) > 65_535) return error('v1-syntax', 'not a port');
  return { kind: 'header', version: 1, addresses: { sourceAddress: src, sourcePort: Number(sport), destinationAddress: dst, destinationPort: Number(dport) }, length };
}

function decodeV2(bytes: Buffer): ProxyDecode {
  const verCmd = bytes[12] ?? 0;
  if ((verCmd & 0xf0) !== 0x20) return error('v2-version', `version nibble ${verCmd >> 4}`);
  const command = verCmd & 0x0f;
  if (command !== 0x0 && command !== 0x1) return error('v2-command', `command ${command}`);
  const fam = bytes[13] ?? 0;
  const len = bytes.readUInt16BE(14);
  if (len > V2_MAX_LENGTH) return error('v2-length', `address block of ${len} bytes`);
  const length = V2_HEADER_BYTES + len;
  // LOCAL: whatever the family, skip the block (a health check from the proxy itself).
  if (command === 0x0) return bytes.length < length ? NEED_MORE : { kind: 'header', version: 2, addresses: undefined, length };
  if (fam === 0x00) return bytes.length < length ? NEED_MORE : { kind: 'header', version: 2, addresses: undefined, length };
  if (fam !== 0x11 && fam !== 0x21) return error('v2-family', `family/transport 0x${fam.toString(16).padStart(2, '0')}`);
  const size = fam === 0x11 ? 4 : 16;
  if (len < size * 2 + 4) return error('v2-length', `address block of ${len} bytes for ${fam === 0x11 ? 'TCP4' : 'TCP6'}`);
  if (bytes.length < length) return NEED_MORE;
  const at = V2_HEADER_BYTES;
  return {
    kind: 'header',
    version: 2,
    addresses: {
      sourceAddress: formatAddress(bytes.subarray(at, at + size)),
      destinationAddress: formatAddress(bytes.subarray(at + size, at + 2 * size)),
      sourcePort: bytes.readUInt16BE(at + 2 * size),
      destinationPort: bytes.readUInt16BE(at + 2 * size + 2),
    },
    length,
  };
}
