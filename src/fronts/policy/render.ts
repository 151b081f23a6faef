/**
 * NAME
 *   fronts/policy/render - a decision as a policy reply, `action=…` and an empty line
 *
 * SYNOPSIS
 *   renderAction(action): string        `action=<action>\n\n`, never more than one line
 *   actionFor(decision): string         DUNNO, or `450 4.7.25 <text>` from oneLineReply()
 *   answerFor(decision): string         renderAction(actionFor(decision)): DUNNO_ANSWER, or cached per reply
 *   temporaryFailure(org): string       `451 4.3.0 …`: what the front answers when the firewall could not
 *
 * DESCRIPTION
 *   An accept is DUNNO, never OK: the MTA's later restrictions still apply (a policy service
 *   that says OK would skip, e.g., reject_unauth_destination placed after it). That includes a
 *   report-only "would reject" accept: report-only must change nothing the MTA does, and
 *   PREPEND is not allowed in every restriction class (not in smtpd_end_of_data_restrictions),
 *   so the firewall's WOULD-REJECT log line is the only trace. A `tag` action, which the
 *   firewall does not produce yet, is DUNNO for the same reason.
 *
 *   A reject or defer is the firewall's own reply as one line (firewall/reply.ts oneLineReply:
 *   `<code> <enhanced> <text>`, at most 510 octets, the URL kept). Postfix takes a numeric
 *   action as the SMTP reply as it stands; Exim's ACL matches `^action=[45]`.
 *
 *   Whatever is written goes through a filter to printable ASCII, so no CR or LF can ever end
 *   the reply line early and inject a second attribute.
 *
 *   answerFor() is what the session writes for each decision: DUNNO_ANSWER is a constant, and a
 *   refusal's wire text is kept per SmtpReply object (a WeakMap: the firewall hands the same
 *   reply to every refusal of one episode, firewall/episodes.ts), so a repeated refusal builds
 *   no string. Replies are never changed after they are built (firewall/reply.ts).
 */
import { oneLineReply } from '../../firewall/reply.js';
import type { Decision, SmtpReply } from '../../firewall/types.js';

export const DUNNO = 'DUNNO';
/** renderAction(DUNNO). */
export const DUNNO_ANSWER = 'action=DUNNO\n\n';

/** renderAction - the whole reply on the wire. */
export function renderAction(action: string): string {
  return `action=${printableAscii(action) ? action : action.replace(/[^\x20-\x7e]/g, '?')}\n\n`;
}

function printableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

const answers = new WeakMap<SmtpReply, string>();

/** answerFor - the wire text for a decision (undefined when a refusal carries no reply: a firewall bug). */
export function answerFor(decision: Decision): string | undefined {
  if (decision.action === 'accept' || decision.action === 'tag') return DUNNO_ANSWER;
  const reply = decision.reply;
  if (reply === undefined) return undefined;
  let answer = answers.get(reply);
  if (answer === undefined) {
    answer = renderAction(oneLineReply(reply));
    answers.set(reply, answer);
  }
  return answer;
}

/** actionFor - the action for a decision (undefined when a refusal carries no reply: a firewall bug). */
export function actionFor(decision: Decision): string | undefined {
  if (decision.action === 'accept' || decision.action === 'tag') return DUNNO;
  return decision.reply === undefined ? undefined : oneLineReply(decision.reply);
}

/**
 * temporaryFailure - the front's own answer when the firewall threw or overran its deadline:
 * 451 4.3.0 (RFC 3463: other or undefined mail system status), never a permanent code.
 */
export function temporaryFailure(organisation: string): string {
  return `451 4.3.0 Temporary failure of the ${organisation} mail gateway, please try again later`;
}
