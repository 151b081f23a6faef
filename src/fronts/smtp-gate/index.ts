/**
 * NAME
 *   fronts/smtp-gate - the SMTP gate: BlockSmith on port 25 in front of any MTA
 *
 * SYNOPSIS
 *   const front = await startGateFront(ctx)     undefined when gate.listen is []
 *   front.endpoints                             ['smtp://0.0.0.0:25', 'smtp://[::]:25']
 *   front.connectionCount                       connections open now
 *   await front.stop()
 *
 * DESCRIPTION
 *   The firewall in its most literal form, after postscreen (research/integration.md §2, §10.4).
 *   Per connection (session.ts): an optional inbound PROXY header from a trusted load balancer;
 *   then Firewall.decide({ front: 'gate', stage: 'connect' }) under a deadline while watching
 *   for a client that talks first (pregreet);
 *     accepted  → a connection to gate.backend, one write of a PROXY v2 (or v1) header, then
 *                 the bytes of both sides piped untouched (relay.ts): the MTA sees the client's
 *                 address, its own banner, STARTTLS and all. Backend unreachable: 421 4.3.2.
 *     refused   → the gate speaks SMTP itself (dialogue.ts): 220, EHLO/HELO, MAIL, and at
 *                 RCPT the firewall's multi-line 450/550/451 with the portal URL, asked again
 *                 with the HELO, sender and recipient so they are in the evidence. A refused
 *                 session is never handed to the MTA, not even for postmaster@ (see dialogue.ts).
 *     failed    → 421 4.3.0 (the firewall threw or missed its deadline and grace).
 *   The gate reads nothing of a relayed session: no DATA, no TLS, no message ever passes
 *   through its parser.
 *
 * STANDARDS
 *   RFC 5321 (§3.1 the 554 greeting, §4.5.3.1 line limits, §4.2 multi-line replies); RFC 3463
 *   enhanced codes; HAProxy PROXY protocol v1/v2 (proxy-protocol.ts). Not implemented: TLS on
 *   the gate itself (a refused client's STARTTLS gets 454), SMTP AUTH, XCLIENT hand-over,
 *   postscreen's after-220 tests (pipelining, bare LF: logged only), a pass cache to skip the
 *   pregreet wait for known-good clients.
 *
 * SECURITY
 *   Faces the Internet. Everything the client sends before the hand-over is bounded
 *   (maxLineBytes, the timeouts, the command count) and printable()d before a log; nothing it
 *   says reaches a reply. Inbound PROXY is honoured from gate.trustedProxies only.
 *
 * CONFIGURATION PARAMETERS
 *   gate.* (config/sections/gate.ts, docs/configuration.md); docs/smtp-gate.md for the MTA side.
 */
import { hostname } from 'node:os';
import { parseListen } from '../listen.js';
import type { FrontContext, RunningFront } from '../types.js';
import { GateServer } from './server.js';

export interface GateFront extends RunningFront {
  readonly name: 'gate';
  readonly connectionCount: number;
}

export async function startGateFront(ctx: FrontContext): Promise<GateFront | undefined> {
  const config = ctx.config.gate;
  if (config.listen.length === 0) return undefined;
  const addresses = config.listen.map((value, i) => parseListen(value, `gate.listen[${i}]`));
  parseListen(config.backend, 'gate.backend');
  const server = new GateServer({
    config,
    firewall: ctx.firewall,
    logger: ctx.logger,
    metrics: ctx.metrics,
    host: config.hostname !== '' ? config.hostname : safeHostName(hostname()),
    organisation: () => ctx.config.firewall.organisation.name,
  });
  const endpoints: string[] = [];
  try {
    for (const address of addresses) endpoints.push(await server.listen(address));
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    name: 'gate',
    endpoints,
    get connectionCount(): number {
      return server.connectionCount;
    },
    stop: () => server.stop(),
  };
}

/** safeHostName - the machine's name as it may appear in a reply (letters, digits, '.', '-'). */
function safeHostName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 253);
  return clean === '' ? 'localhost' : clean;
}
