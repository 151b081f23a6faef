/**
 * NAME
 *   fronts/policy - the Postfix/Exim policy service (SMTPD access policy delegation)
 *
 * SYNOPSIS
 *   const front = await startPolicyFront(ctx)   undefined when policy.listen is [] and policy.socket ''
 *   front.endpoints                             ['tcp://127.0.0.1:10057', 'unix:/run/blocksmith/policy']
 *   front.connectionCount                       connections open now
 *   await front.stop()
 *
 * DESCRIPTION
 *   Listens on every address of policy.listen (IPv4 and IPv6) and on policy.socket if set
 *   (server.ts); each connection is a session (session.ts) that parses requests (parser.ts),
 *   turns them into a ClientContext (request.ts), asks Firewall.decide() and writes the answer
 *   (render.ts). Only parse, decide, render: the firewall alone decides (STYLE.md §6).
 *
 *   Request: `name=value` lines ended by LF (CRLF accepted), an empty line ends it. Read:
 *   request, protocol_state, client_address, helo_name, sender, recipient; every other
 *   attribute is ignored. Answer: one line `action=<action>` and an empty line:
 *     accept (pass, skipped, allowlisted, postmaster/abuse, report-only) → action=DUNNO
 *     reject (soft)        → action=450 4.7.25 [ip] Rejected by … Details, test and unblock: <url>
 *     reject (hard)        → action=550 5.7.25 …
 *     defer (temperror)    → action=451 4.4.3 [ip] Deferred by … Details: <url>
 *     firewall error, or no decision within decisionTimeoutMs + decisionGraceMs
 *                          → action=451 4.3.0 Temporary failure of the <org> mail gateway, …
 *     request= not smtpd_access_policy (or missing), client_address missing or not an IP
 *                          → action=DUNNO (the latter with a BAD-CLIENT log line)
 *   The text is the firewall's reply on one line (≤ 510 octets, the URL with the reference
 *   always kept). DUNNO, never OK: the MTA's later restrictions still run.
 *
 *   No answer at all, the connection closed, for a framing error: a line over maxLineBytes, a
 *   request over maxRequestBytes, a NUL byte, a line without '=', a bad attribute name, one of
 *   the attributes above given twice with different values, an empty request, or a request
 *   not finished within requestTimeoutMs. Postfix then logs a warning, retries, and applies
 *   its default_action. Each is one DROP log line with the client and the reason.
 *
 * MODES
 *   postfix   persistent connections, any number of requests each, answered in order.
 *   exim      one request per connection: the answer, then the server closes (Exim's
 *             ${readsocket} reads until end of file). Same request and answer format. The
 *             peer may shut down its write side after the request (Exim does): allowed.
 *
 * POSTFIX (main.cf; see docs/postfix.md)
 *   smtpd_recipient_restrictions =
 *       permit_mynetworks, reject_unauth_destination,
 *       check_policy_service { inet:127.0.0.1:10057, timeout=10s, default_action=DUNNO }
 *   or, with policy.socket = /var/spool/postfix/private/blocksmith (socketMode 0660, the
 *   blocksmith user in group postfix): check_policy_service unix:private/blocksmith
 *   Keep policy.decisionTimeoutMs + decisionGraceMs under Postfix's timeout.
 *
 * EXIM (policy.mode: exim; see docs/exim.md). In acl_smtp_rcpt, after the relay checks:
 *
 *   warn    set acl_m_bs = ${readsocket{inet:127.0.0.1:10057}\
 *                {request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=$sender_host_address\nhelo_name=$sender_helo_name\nsender=$sender_address\nrecipient=$local_part@$domain\n\n}\
 *                {10s}{}{action=DUNNO}}
 *   defer   condition = ${if match{$acl_m_bs}{\N^action=4[0-9][0-9] \N}}
 *           message   = ${sg{$acl_m_bs}{\N^action=|\n\N}{}}
 *   deny    condition = ${if match{$acl_m_bs}{\N^action=5[0-9][0-9] \N}}
 *           message   = ${sg{$acl_m_bs}{\N^action=|\n\N}{}}
 *
 *   (A unix socket works too: ${readsocket{/run/blocksmith/policy}…}.) Exim sends exactly the
 *   attributes written in the ACL, each `name=value` and LF, then an empty line, then (by
 *   default) shuts down its write side; it receives `action=<action>` LF LF and end of file.
 *   The `{}` eol argument removes the newlines. The message is the whole action, e.g.
 *   `450 4.7.25 [192.0.2.20] Rejected by …`; Exim uses a message that starts with a code of the
 *   verb's class (4xx for defer, 5xx for deny) as the SMTP reply code. Any other answer
 *   (DUNNO), a timeout or a refused connection (`action=DUNNO` fail string) accepts.
 *   Local submissions have no $sender_host_address: client_address is empty, the answer DUNNO.
 *
 * STANDARDS
 *   Postfix SMTPD_POLICY_README (the protocol; the "no reply on internal error" rule);
 *   Postfix access(5) (actions); RFC 5321 §4.5.3.1.5 (512-octet reply lines); RFC 3463, RFC
 *   7372 / 8765 (enhanced codes 4.7.25, 5.7.25, 4.4.3, 4.3.0). Not implemented: the socketmap
 *   table protocol, Postfix's `spawn` mode (one process per connection).
 *
 * SECURITY
 *   Every attribute is peer-supplied (the MTA passes on what the SMTP client said): limited in
 *   size before it is kept, and printable()d before it is logged. Bind to loopback or a unix
 *   socket: the protocol has no authentication.
 *
 * CONFIGURATION PARAMETERS
 *   policy.* (config/sections/policy.ts, docs/configuration.md).
 */
import { parseListen } from '../listen.js';
import type { FrontContext, RunningFront } from '../types.js';
import { PolicyServer } from './server.js';

export interface PolicyFront extends RunningFront {
  readonly name: 'policy';
  /** Connections open now (tests, diagnostics). */
  readonly connectionCount: number;
}

export async function startPolicyFront(ctx: FrontContext): Promise<PolicyFront | undefined> {
  const config = ctx.config.policy;
  if (config.listen.length === 0 && config.socket === '') return undefined;
  // Parse every address before binding any: a typo fails before a port is taken.
  const addresses = config.listen.map((value, i) => parseListen(value, `policy.listen[${i}]`));
  const server = new PolicyServer({
    config,
    firewall: ctx.firewall,
    logger: ctx.logger,
    metrics: ctx.metrics,
    // FrontContext.config is the running configuration: a reload may rename the organisation.
    organisation: () => ctx.config.firewall.organisation.name,
  });
  const endpoints: string[] = [];
  try {
    for (const address of addresses) endpoints.push(await server.listenTcp(address));
    if (config.socket !== '') endpoints.push(await server.listenUnix(config.socket, config.socketMode));
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    name: 'policy',
    endpoints,
    get connectionCount(): number {
      return server.connectionCount;
    },
    stop: () => server.stop(),
  };
}
