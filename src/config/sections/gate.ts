/**
 * NAME
 *   config/sections/gate - the SMTP gate (fronts/smtp-gate): BlockSmith on port 25, the MTA behind it
 *
 * DESCRIPTION
 *   Off by default (listen []). An accepted client is handed to `backend` with a PROXY header
 *   (`proxy`: v2 for Postfix ≥ 3.5 and Exim, v1 for Haraka and older Postfix, none for a backend
 *   that must not get one); a refused client hears BlockSmith's own SMTP. Times in milliseconds
 *   (`…Ms`), sizes in bytes, caps as `…Count`. The timeouts of a refused session are short on
 *   purpose: it will never deliver mail, so it may not hold a connection slot for long
 *   (postscreen_command_time_limit, postscreen_command_count_limit are the model). A relayed
 *   session's idle timeout is above Postfix's smtpd_timeout (300 s), so the MTA closes first.
 *
 *   `trustedProxies` are load balancers that put a PROXY header (v1 or v2, either accepted) in
 *   front of what they relay to the gate. A connection from one of them MUST start with one
 *   (the spec forbids guessing); a connection from anywhere else that starts with one is dropped.
 */
import { z } from 'zod';
import { listenAddress, listenList } from './listen.js';

/** Where the MTA listens once it is moved off port 25 (docs/smtp-gate.md). */
export const DEFAULT_GATE_BACKEND = '127.0.0.1:10025';

export const gateSchema = z
  .strictObject({
    /** TCP addresses (port 25 in production); empty = no gate (the default). */
    listen: listenList([]),
    /** The MTA accepted clients are handed to, host:port. */
    backend: listenAddress.default(DEFAULT_GATE_BACKEND),
    /** The PROXY protocol header written to the backend before the client's first byte. */
    proxy: z.enum(['v2', 'v1', 'none']).default('v2'),
    /** Sources (CIDR or address) allowed, and required, to send an inbound PROXY header; empty = none. */
    trustedProxies: z.array(z.string().min(1).max(64)).max(1_000).default([]),
    /** A trusted source must have sent its whole PROXY header within this long (the spec asks for at least 3 s). */
    proxyTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** The name in the gate's own greeting and replies; empty = the machine's host name. */
    hostname: z.string().max(253).regex(/^[A-Za-z0-9.-]*$/, 'a host name').default(''),
    /** Refused clients get `554` instead of `220` as greeting (RFC 5321 §3.1), then 503 to all but QUIT. */
    rejectAtConnect: z.boolean().default(false),
    /** Before greeting, wait at least this long for the client to talk first (postscreen_greet_wait); 0 = only while deciding. */
    pregreetWaitMs: z.number().int().min(0).max(30_000).default(0),
    /** A client that talks before the greeting: ignore (log it, carry on) or drop (521 5.5.1 and close). */
    pregreetAction: z.enum(['ignore', 'drop']).default('ignore'),
    /** Client connections open at once, every listener together; past it: 421 4.3.2 and close. */
    maxConnectionsCount: z.number().int().min(1).max(100_000).default(5_000),
    /** Connections open at once from one client address; past it: 421 4.7.0 and close. */
    maxConnectionsPerIpCount: z.number().int().min(1).max(10_000).default(20),
    /** Longest command line the gate reads (without CRLF); longer closes with 500 5.5.2. RFC 5321: 512 at least. */
    maxLineBytes: z.number().int().min(512).max(65_536).default(2_048),
    /** A refused session: each command must be complete this long after the previous reply. */
    commandTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** A refused session: closed with 421 after this long in all. */
    sessionTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(120_000),
    /** A refused session: closed with 421 after this many commands. */
    maxRefusedCommandsCount: z.number().int().min(1).max(1_000).default(20),
    /** The firewall's deadline for the connect decision; past it the check stops and the answer is temporary. */
    decisionTimeoutMs: z.number().int().min(100).max(120_000).default(8_000),
    /** After the deadline, time left for the firewall's own answer; then the gate says 421 4.3.0 itself. */
    decisionGraceMs: z.number().int().min(10).max(60_000).default(1_000),
    /** Connecting to the backend: past this, 421 4.3.2 to the client. */
    backendConnectTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** A relayed session with no byte either way for this long is cut (above Postfix's 300 s smtpd_timeout). */
    relayIdleTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(330_000),
    /** At stop: refused sessions get 421 at once; relayed ones get this long to finish, then are cut. */
    stopGraceMs: z.number().int().min(0).max(600_000).default(10_000),
  })
  .prefault({});

export const GATE_DESCRIPTIONS = {
  section: 'The SMTP gate: BlockSmith on port 25 in front of the MTA, accepted clients handed over with PROXY (docs/smtp-gate.md).',
  keys: {
    'gate.listen': 'TCP addresses as host:port ([v6]:port), port 25 in production; empty turns the gate off',
    'gate.backend': 'the MTA accepted clients are handed to, host:port (it listens with PROXY support)',
    'gate.proxy': 'PROXY header sent to the backend: v2 (Postfix >= 3.5, Exim), v1, or none',
    'gate.trustedProxies': 'load balancers (CIDR) that must send an inbound PROXY header; others sending one are dropped',
    'gate.proxyTimeoutMs': 'a trusted source must send its whole PROXY header within this long (ms)',
    'gate.hostname': 'the name in the gate\'s own greeting and replies; empty = the machine\'s host name',
    'gate.rejectAtConnect': 'refused clients get a 554 greeting instead of 220 (then 503 to all but QUIT)',
    'gate.pregreetWaitMs': 'wait at least this long before the greeting for a client that talks first (ms); 0 = only while deciding',
    'gate.pregreetAction': 'a client talking before the greeting: ignore (logged) or drop (521 5.5.1)',
    'gate.maxConnectionsCount': 'client connections open at once; past it 421 4.3.2 and close',
    'gate.maxConnectionsPerIpCount': 'connections open at once from one client address; past it 421 4.7.0 and close',
    'gate.maxLineBytes': 'longest command line read from a refused client; longer: 500 5.5.2 and close',
    'gate.commandTimeoutMs': 'a refused client must complete each command within this long (ms)',
    'gate.sessionTimeoutMs': 'a refused session is closed with 421 after this long in all (ms)',
    'gate.maxRefusedCommandsCount': 'a refused session is closed with 421 after this many commands',
    'gate.decisionTimeoutMs': 'deadline of the connect decision (ms); past it the answer is temporary',
    'gate.decisionGraceMs': 'after the deadline, wait this long for the firewall, then 421 4.3.0 (ms)',
    'gate.backendConnectTimeoutMs': 'connecting to the backend: past this, 421 4.3.2 to the client (ms)',
    'gate.relayIdleTimeoutMs': 'a relayed session idle both ways for this long is cut (ms); above the MTA\'s own',
    'gate.stopGraceMs': 'at stop, relayed sessions get this long to finish, then are cut (ms)',
  },
} as const;

export type GateConfig = z.infer<typeof gateSchema>;
