/**
 * NAME
 *   dns/upstream - parse, format and discover the DNS upstreams the stub resolver asks
 *
 * SYNOPSIS
 *   parseUpstream(text: string): Upstream                       throws BS_ERR_UPSTREAM_INVALID
 *   formatUpstream(upstream: Upstream): string                  `host:port` / `[v6]:port`
 *   parseResolvConf(text: string): ResolvConfServers            pure, never throws
 *   readResolvConf(path: string, maxBytes?): Promise<ResolvConf>  never throws
 *   readResolvConfSync(path: string, maxBytes?): ResolvConf       never throws
 *
 * DESCRIPTION
 *   An upstream is an IP literal and a port: `192.0.2.1`, `192.0.2.1:5353`, `[2001:db8::1]`,
 *   `[2001:db8::1]:5353` or a bare `2001:db8::1`. The default port is 53. A host name is refused:
 *   resolving the resolver's own address would need a resolver (and would be a hidden dependency
 *   on the system one). IPv6 addresses are kept in the canonical compressed lower-case form so
 *   that `formatUpstream` is stable and comparable.
 *
 *   Zone ids (`fe80::1%eth0`) are refused by `parseUpstream` and skipped (and reported) by the
 *   resolv.conf reader: a scoped address would need the scope carried through every socket call
 *   and every reply-source comparison, and a link-local resolver is rare enough not to be worth
 *   that risk. Use a global or loopback address instead.
 *
 *   resolv.conf is read the way glibc reads it: only `nameserver <address>` lines count, the
 *   keyword must be the first token, the address is the second token (anything after is ignored),
 *   `#` and `;` start comments, and only the first RESOLV_CONF_MAX_SERVERS_COUNT (glibc's MAXNS, 3)
 *   servers are used. Anything else (garbage, `nameserver` with no value, a name instead of an
 *   address, a port) is skipped and listed in `skipped`, never fatal. An unreadable or empty file
 *   falls back to 127.0.0.1:53 and says so (`fallback: true` plus `detail`), as glibc does.
 *
 * LIMITS
 *   RESOLV_CONF_MAX_BYTES (64 KiB): only the start of a larger file is read (a real resolv.conf is
 *   a few hundred bytes; this only bounds memory if the path points somewhere odd).
 *   RESOLV_CONF_MAX_SERVERS_COUNT (3): glibc compatibility, not a tunable.
 *   Skipped lines are reported cut to SKIPPED_LINE_MAX_CHARS characters.
 *
 * DIAGNOSTICS
 *   BS_ERR_UPSTREAM_INVALID from parseUpstream only.
 */
import { open } from 'node:fs/promises';
import { closeSync, openSync, readSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { BlockSmithError } from '../errors.js';
import type { Upstream } from './types.js';

export const DEFAULT_DNS_PORT = 53;
/** glibc's MAXNS: later nameserver lines are ignored by every other program on the host. */
export const RESOLV_CONF_MAX_SERVERS_COUNT = 3;
export const RESOLV_CONF_MAX_BYTES = 65_536;
const SKIPPED_LINE_MAX_CHARS = 80;
const MAX_PORT = 65_535;

export const FALLBACK_UPSTREAM: Upstream = Object.freeze({ host: '127.0.0.1', port: DEFAULT_DNS_PORT });

function invalid(text: string, why: string): BlockSmithError {
  const shown = JSON.stringify(text.length > SKIPPED_LINE_MAX_CHARS ? `${text.slice(0, SKIPPED_LINE_MAX_CHARS)}…` : text);
  return new BlockSmithError('BS_ERR_UPSTREAM_INVALID', `DNS upstream ${shown}: ${why}`);
}

/** canonicalHost - an IP literal in canonical form, or undefined if `host` is not one. */
function canonicalHost(host: string): string | undefined {
  if (host.includes('%')) return undefined;
  if (isIPv4(host)) return host;
  if (isIPv6(host)) return ipaddr.IPv6.parse(host).toString();
  return undefined;
}

function parsePort(text: string, whole: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw invalid(whole, 'the port is not a number');
  const port = Number(text);
  if (port < 1 || port > MAX_PORT) throw invalid(whole, `the port must be 1..${MAX_PORT}`);
  return port;
}

/** parseUpstream - `host`, `host:port`, `[v6]`, `[v6]:port` or bare IPv6 to an Upstream. */
export function parseUpstream(text: string): Upstream {
  const s = text.trim();
  if (s.length === 0) throw invalid(text, 'empty');
  if (s.includes('%')) throw invalid(text, 'IPv6 zone ids are not supported; use a global or loopback address');
  let hostPart: string;
  let port = DEFAULT_DNS_PORT;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw invalid(text, 'missing "]"');
    hostPart = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) throw invalid(text, 'unexpected text after "]"');
      port = parsePort(rest.slice(1), text);
    }
    if (!isIPv6(hostPart)) throw invalid(text, 'only an IPv6 address may stand in brackets');
  } else if (s.indexOf(':') !== s.lastIndexOf(':')) {
    hostPart = s; // two or more colons: a bare IPv6 address, no port possible
  } else {
    const colon = s.indexOf(':');
    hostPart = colon < 0 ? s : s.slice(0, colon);
    if (colon >= 0) port = parsePort(s.slice(colon + 1), text);
  }
  const host = canonicalHost(hostPart);
  if (host === undefined) throw invalid(text, 'the host must be an IP address (no names: they would need a resolver)');
  return Object.freeze({ host, port });
}

/** formatUpstream - `host:port`, or `[v6]:port` for IPv6. */
export function formatUpstream(upstream: Upstream): string {
  return upstream.host.includes(':') ? `[${upstream.host}]:${upstream.port}` : `${upstream.host}:${upstream.port}`;
}

export interface ResolvConfServers {
  readonly servers: readonly Upstream[];
  /** Lines that looked like `nameserver …` but were not used, with why (cut, JSON-quoted). */
  readonly skipped: readonly string[];
}

export interface ResolvConf extends ResolvConfServers {
  /** True when no usable nameserver was found and 127.0.0.1:53 stands in. */
  readonly fallback: boolean;
  /** Why the fallback was taken (unreadable file, no nameserver line, …). */
  readonly detail?: string;
}

function quoteLine(line: string): string {
  return JSON.stringify(line.length > SKIPPED_LINE_MAX_CHARS ? `${line.slice(0, SKIPPED_LINE_MAX_CHARS)}…` : line);
}

/** parseResolvConf - the nameservers of a resolv.conf text; never throws. */
export function parseResolvConf(text: string): ResolvConfServers {
  const servers: Upstream[] = [];
  const seen = new Set<string>();
  const skipped: string[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/[#;].*$/, '').trim();
    const tokens = line.split(/[ \t]+/);
    if (tokens[0] !== 'nameserver') continue;
    const value = tokens[1];
    if (value === undefined || value.length === 0) {
      skipped.push(`${quoteLine(rawLine)}: no address`);
      continue;
    }
    if (value.includes('%')) {
      skipped.push(`${quoteLine(rawLine)}: scoped (zone id) addresses are not supported`);
      continue;
    }
    const host = canonicalHost(value);
    if (host === undefined) {
      skipped.push(`${quoteLine(rawLine)}: not an IP address`);
      continue;
    }
    const upstream: Upstream = Object.freeze({ host, port: DEFAULT_DNS_PORT });
    const key = formatUpstream(upstream);
    if (seen.has(key)) continue;
    if (servers.length >= RESOLV_CONF_MAX_SERVERS_COUNT) {
      skipped.push(`${quoteLine(rawLine)}: more than ${RESOLV_CONF_MAX_SERVERS_COUNT} nameservers (glibc ignores them too)`);
      continue;
    }
    seen.add(key);
    servers.push(upstream);
  }
  return { servers, skipped };
}

function finish(parsed: ResolvConfServers, path: string): ResolvConf {
  if (parsed.servers.length > 0) return { ...parsed, fallback: false };
  return {
    servers: [FALLBACK_UPSTREAM],
    skipped: parsed.skipped,
    fallback: true,
    detail: `no usable nameserver in ${path}; using ${formatUpstream(FALLBACK_UPSTREAM)}`,
  };
}

function unreadable(path: string, err: unknown): ResolvConf {
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'error';
  return {
    servers: [FALLBACK_UPSTREAM],
    skipped: [],
    fallback: true,
    detail: `cannot read ${path} (${code}); using ${formatUpstream(FALLBACK_UPSTREAM)}`,
  };
}

/** readResolvConf - read and parse a resolv.conf; falls back to 127.0.0.1:53, never throws. */
export async function readResolvConf(path: string, maxBytes = RESOLV_CONF_MAX_BYTES): Promise<ResolvConf> {
  try {
    const handle = await open(path, 'r');
    try {
      const buf = Buffer.alloc(maxBytes);
      const { bytesRead } = await handle.read(buf, 0, maxBytes, 0);
      return finish(parseResolvConf(buf.subarray(0, bytesRead).toString('utf8')), path);
    } finally {
      await handle.close();
    }
  } catch (err) {
    return unreadable(path, err);
  }
}

/** readResolvConfSync - the same, synchronously (for a constructor at start-up). */
export function readResolvConfSync(path: string, maxBytes = RESOLV_CONF_MAX_BYTES): ResolvConf {
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(maxBytes);
      const bytesRead = readSync(fd, buf, 0, maxBytes, 0);
      return finish(parseResolvConf(buf.subarray(0, bytesRead).toString('utf8')), path);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return unreadable(path, err);
  }
}
