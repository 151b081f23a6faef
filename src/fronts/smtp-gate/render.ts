/**
 * NAME
 *   fronts/smtp-gate/render - every reply the gate writes itself, as wire text
 *
 * SYNOPSIS
 *   REPLIES.<name>(host, …): string      one reply with its CRLF
 *   refusalReply(reply): string          the firewall's multi-line reply (firewall/reply.ts)
 *   connectRefusal(reply): Refusal       what rejectAtConnect answers, and whether it closes
 *
 * DESCRIPTION
 *   Texts follow Postfix's smtpd and postscreen, so operators and their log greps recognise
 *   them (postscreen_early.c, smtpd.c). Every reply is ASCII; the host name is checked by the
 *   config schema, a client address is a normalised IP, and anything else from outside never
 *   appears in a reply. The firewall's refusal is rendered by firewall/reply.ts and only
 *   re-coded here for a refusal at connect.
 *
 *   At connect (rejectAtConnect), RFC 5321 §3.1 allows `554` instead of `220`, after which the
 *   server waits for QUIT and answers `503` to the rest: a hard refusal gets that, with the
 *   firewall's text as a multi-line 554 5.7.25. A soft or temporary refusal cannot be a 554
 *   (the sender would bounce); it is a `421` with the same text (4.7.25 or 4.4.3) and the
 *   connection is closed, which a sender treats as "try again later", as it should.
 */
import { renderReply, type SmtpReply } from '../../firewall/index.js';

const CRLF = '\r\n';

export const REPLIES = {
  greeting: (host: string): string => `220 ${host} ESMTP${CRLF}`,
  ehlo: (host: string): string => [`250-${host}`, '250-PIPELINING', '250-SIZE', '250-ENHANCEDSTATUSCODES', '250-8BITMIME', '250 SMTPUTF8'].join(CRLF) + CRLF,
  helo: (host: string): string => `250 ${host}${CRLF}`,
  ok: (): string => `250 2.0.0 Ok${CRLF}`,
  mailOk: (): string => `250 2.1.0 Ok${CRLF}`,
  bye: (): string => `221 2.0.0 Bye${CRLF}`,
  heloSyntax: (verb: string): string => `501 5.5.4 Syntax: ${verb} hostname${CRLF}`,
  heloFirst: (): string => `503 5.5.1 Error: send HELO/EHLO first${CRLF}`,
  nestedMail: (): string => `503 5.5.1 Error: nested MAIL command${CRLF}`,
  needMail: (): string => `503 5.5.1 Error: need MAIL command${CRLF}`,
  needRcpt: (): string => `554 5.5.1 Error: no valid recipients${CRLF}`,
  mailSyntax: (): string => `501 5.5.4 Syntax: MAIL FROM:<address>${CRLF}`,
  rcptSyntax: (): string => `501 5.5.4 Syntax: RCPT TO:<address>${CRLF}`,
  badSyntax: (): string => `500 5.5.2 Error: bad syntax${CRLF}`,
  notImplemented: (): string => `502 5.5.1 Error: command not implemented${CRLF}`,
  notRecognised: (): string => `502 5.5.2 Error: command not recognized${CRLF}`,
  noTls: (): string => `454 4.7.0 TLS not available due to local problem${CRLF}`,
  badSequence: (): string => `503 5.5.1 Error: bad sequence of commands${CRLF}`,
  nonSmtp: (): string => `521 5.7.0 Error: I can break rules, too. Goodbye.${CRLF}`,
  lineTooLong: (): string => `500 5.5.2 Error: line too long${CRLF}`,
  tooManyCommands: (host: string): string => `421 4.7.0 ${host} Error: too many commands${CRLF}`,
  timeout: (host: string): string => `421 4.4.2 ${host} Error: timeout exceeded${CRLF}`,
  pregreet: (): string => `521 5.5.1 Protocol error${CRLF}`,
  busy: (): string => `421 4.3.2 All server ports are busy${CRLF}`,
  tooManyFromIp: (host: string, ip: string): string => `421 4.7.0 ${host} Error: too many connections from ${ip}${CRLF}`,
  backendDown: (host: string): string => `421 4.3.2 ${host} Service temporarily unavailable, please try again later${CRLF}`,
  temporary: (host: string, organisation: string): string =>
    `421 4.3.0 ${host} Temporary failure of the ${organisation.replace(/[^\x20-\x7e]/g, '?')} mail gateway, please try again later${CRLF}`,
  shutdown: (host: string): string => `421 4.3.2 ${host} Service shutting down, closing transmission channel${CRLF}`,
} as const;

/** refusalReply - the firewall's reply as sent at RCPT (450/550/451, multi-line). */
export function refusalReply(reply: SmtpReply): string {
  return renderReply(reply);
}

export interface Refusal {
  readonly text: string;
  /** Close after writing (421); otherwise wait for QUIT and answer 503 to the rest. */
  readonly close: boolean;
}

/** connectRefusal - the greeting that refuses at connect (see DESCRIPTION). */
export function connectRefusal(reply: SmtpReply): Refusal {
  const hard = reply.code === 550;
  const code = hard ? '554' : '421';
  const text = reply.lines.map((line, i) => `${code}${i === reply.lines.length - 1 ? ' ' : '-'}${reply.enhanced} ${line}${CRLF}`).join('');
  return { text, close: !hard };
}
