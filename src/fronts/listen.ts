/**
 * NAME
 *   fronts/listen - `host:port` strings from the configuration into what net.listen takes
 *
 * DESCRIPTION
 *   The schema (config/sections/listen.ts) has already checked the shape; this parses it and
 *   checks what a regex cannot: a valid IP literal, a port in 0-65535. Errors name the setting.
 */
import { isIP } from 'node:net';
import { BlockSmithError } from '../errors.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export function parseListen(value: string, setting: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || isIP(host) === 0 || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new BlockSmithError('BS_ERR_CONFIG_INVALID', `${setting}: "${value}" is not host:port with an IP literal host`);
  }
  return { host, port };
}

/** `host:port` as written back for logs and endpoints (`[v6]:port` for IPv6). */
export function formatListen(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
