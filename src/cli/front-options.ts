/**
 * NAME
 *   cli/front-options - `serve`'s flags that enable the fronts on an address
 *
 * DESCRIPTION
 *   Each flag replaces its config key (config/sections/): `--policy`, `--dnsbl`, `--http` and `--gate` take
 *   `HOST:PORT` (repeatable, `[v6]:port` for IPv6) or `none` to turn the listener off;
 *   `--gate-backend HOST:PORT` and `--gate-proxy v2|v1|none` set the gate's MTA and PROXY header;
 *   `--policy-socket PATH` adds a unix socket; `--dnsbl-zone ZONE` names the zone served;
 *   `--portal-url URL` is the base of every link in a rejection. Values are validated by the
 *   schema, which names the flag in its error.
 */
import { Option, type Command } from 'commander';
import type { ConfigInput } from '../config/load.js';
import { collect } from './node-options.js';

export interface FrontFlags {
  readonly policy?: string[];
  readonly policySocket?: string;
  readonly dnsbl?: string[];
  readonly dnsblZone?: string;
  readonly http?: string[];
  readonly gate?: string[];
  readonly gateBackend?: string;
  readonly gateProxy?: string;
  readonly portalUrl?: string;
}

export const FRONT_FLAG_NAMES: Readonly<Record<string, string>> = {
  'policy.listen': '--policy',
  'policy.socket': '--policy-socket',
  'dnsbl.listen': '--dnsbl',
  'dnsbl.zone': '--dnsbl-zone',
  'http.listen': '--http',
  'gate.listen': '--gate',
  'gate.backend': '--gate-backend',
  'gate.proxy': '--gate-proxy',
};

export function addFrontOptions(command: Command): Command {
  return command
    .addOption(new Option('--policy <host:port>', 'policy service address (repeatable; "none" = off; default 127.0.0.1:10057)').argParser(collect))
    .option('--policy-socket <path>', 'policy service on a unix socket as well')
    .addOption(new Option('--dnsbl <host:port>', 'serve the DNSBL zone on this address, UDP and TCP (repeatable; "none" = off)').argParser(collect))
    .option('--dnsbl-zone <zone>', 'the DNSBL zone served (e.g. fcrdns.example.net)')
    .addOption(new Option('--http <host:port>', 'HTTP API address (repeatable; "none" = off; default 127.0.0.1:8025)').argParser(collect))
    .addOption(new Option('--gate <host:port>', 'SMTP gate address, e.g. 0.0.0.0:25 (repeatable; "none" = off)').argParser(collect))
    .option('--gate-backend <host:port>', 'the MTA the gate hands accepted clients to (default 127.0.0.1:10025)')
    .option('--gate-proxy <version>', 'PROXY header sent to the gate backend: v2, v1 or none (default v2)')
    .option('--portal-url <url>', 'base of the URL in every rejection (the portal as the world reaches it)');
}

/** A repeatable address flag: `none` anywhere in it means the empty list. */
function addresses(values: readonly string[]): string[] {
  return values.some((v) => v.trim().toLowerCase() === 'none') ? [] : [...values];
}

export function frontFlagOverrides(flags: FrontFlags): ConfigInput {
  const out: ConfigInput = {};
  const policy: Record<string, unknown> = {};
  const dnsbl: Record<string, unknown> = {};
  const http: Record<string, unknown> = {};
  const gate: Record<string, unknown> = {};
  if (flags.policy !== undefined) policy.listen = addresses(flags.policy);
  if (flags.policySocket !== undefined) policy.socket = flags.policySocket;
  if (flags.dnsbl !== undefined) dnsbl.listen = addresses(flags.dnsbl);
  if (flags.dnsblZone !== undefined) dnsbl.zone = flags.dnsblZone;
  if (flags.http !== undefined) http.listen = addresses(flags.http);
  if (flags.gate !== undefined) gate.listen = addresses(flags.gate);
  if (flags.gateBackend !== undefined) gate.backend = flags.gateBackend;
  if (flags.gateProxy !== undefined) gate.proxy = flags.gateProxy;
  if (Object.keys(policy).length > 0) out.policy = policy;
  if (Object.keys(dnsbl).length > 0) out.dnsbl = dnsbl;
  if (Object.keys(http).length > 0) out.http = http;
  if (Object.keys(gate).length > 0) out.gate = gate;
  return out;
}
