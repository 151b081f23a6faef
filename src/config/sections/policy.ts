/**
 * NAME
 *   config/sections/policy - the Postfix/Exim policy service front (fronts/policy)
 *
 * DESCRIPTION
 *   Where the front listens, how it frames requests (postfix: persistent; exim: one request per
 *   connection) and every limit it enforces, each with its unit in the name. The timeouts are
 *   chosen against Postfix's own: Postfix closes an idle policy connection after 300 s
 *   (smtpd_policy_service_max_idle), so idleTimeoutMs is a little longer and the MTA closes
 *   first; decisionTimeoutMs must stay under the MTA's own timeout (`timeout=10s` in the
 *   documented main.cf, 5 s in the Exim ACL), so a slow DNS answer becomes our 451, not the
 *   MTA's default action.
 */
import { z } from 'zod';
import { listenList } from './listen.js';

/**
 * Not 10023 (postgrey), 10030-10035 (policyd/cluebringer and others), 10040 (postfwd), 10043 and
 * 10045 (postfwd2 and its cache), 12525 (policyd-weight).
 */
export const DEFAULT_POLICY_LISTEN = '127.0.0.1:10057';

export const policySchema = z
  .strictObject({
    /** TCP addresses; empty = no TCP listener. */
    listen: listenList([DEFAULT_POLICY_LISTEN]),
    /** A unix socket path as well (for Postfix's unix: or a chroot); empty = none. */
    socket: z.string().max(104).default(''),
    /** Permissions of the unix socket (octal): Postfix's smtpd (user postfix) must be able to write to it. */
    socketMode: z
      .string()
      .regex(/^0?[0-7]{3}$/, 'an octal mode such as 0660')
      .default('0660'),
    /** postfix: persistent connections, many requests each; exim: one request per connection, then close. */
    mode: z.enum(['postfix', 'exim']).default('postfix'),
    /** Connections open at once, all listeners together; a new one past this is closed at once. */
    maxConnectionsCount: z.number().int().min(1).max(100_000).default(1_000),
    /** Longest attribute line (without its LF); a longer one closes the connection with no reply. */
    maxLineBytes: z.number().int().min(256).max(65_536).default(4_096),
    /** Largest request (every line with its LF, up to the empty line); a larger one closes the connection. */
    maxRequestBytes: z.number().int().min(1_024).max(1_048_576).default(32_768),
    /** A connection with no request in progress is closed after this long without a byte. */
    idleTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(330_000),
    /** A request must be complete this long after its first byte (Postfix writes one in one go). */
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** The firewall's deadline for one decision; past it the check stops and the answer is a 451. */
    decisionTimeoutMs: z.number().int().min(100).max(120_000).default(8_000),
    /** After the deadline, time left for the firewall's own 451; then the front answers 451 4.3.0 itself. */
    decisionGraceMs: z.number().int().min(10).max(60_000).default(1_000),
    /** At stop, requests in progress get this long to be answered; then every connection is cut. */
    stopGraceMs: z.number().int().min(0).max(60_000).default(2_000),
  })
  .refine((p) => p.maxRequestBytes >= p.maxLineBytes, { message: 'policy.maxRequestBytes must be at least policy.maxLineBytes', path: ['maxRequestBytes'] })
  .prefault({});

export const POLICY_DESCRIPTIONS = {
  section: 'The policy service Postfix (check_policy_service) and Exim (${readsocket}) ask (docs/postfix.md, docs/exim.md).',
  keys: {
    'policy.listen': 'TCP addresses as host:port ([v6]:port); empty turns the TCP listener off',
    'policy.socket': 'a unix socket path to listen on as well; empty = none',
    'policy.socketMode': 'permissions of the unix socket (octal); the MTA (user postfix) needs write access',
    'policy.mode': 'postfix (persistent connections) or exim (one request per connection)',
    'policy.maxConnectionsCount': 'connections open at once; a new one past it is closed at once',
    'policy.maxLineBytes': 'longest attribute line; longer closes the connection without a reply',
    'policy.maxRequestBytes': 'largest request; larger closes the connection without a reply',
    'policy.idleTimeoutMs': 'an idle connection is closed after this long (ms); above Postfix\'s 300 s max_idle',
    'policy.requestTimeoutMs': 'a request must be complete this long after its first byte (ms)',
    'policy.decisionTimeoutMs': 'deadline of one decision (ms); keep it under the MTA\'s policy timeout',
    'policy.decisionGraceMs': 'after the deadline, wait this long for the firewall\'s 451, then answer 451 4.3.0 (ms)',
    'policy.stopGraceMs': 'at stop, requests in progress get this long to be answered (ms)',
  },
} as const;

export type PolicyConfig = z.infer<typeof policySchema>;
