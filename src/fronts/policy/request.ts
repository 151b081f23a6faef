/**
 * NAME
 *   fronts/policy/request - a parsed policy request into the firewall's ClientContext
 *
 * SYNOPSIS
 *   classify(attributes): Classified
 *   kindOf(attributes): Classified['kind']      the same answer without building anything (the session's hot path)
 *   decisionContext(attributes, signal): ClientContext
 *                                               the firewall's context for a `decide` request, as one object
 *   addressProblem(text): string | undefined   why `text` is not an IP address (undefined: it is one)
 *   stageOf(protocolState): SmtpStage | undefined
 *
 * DESCRIPTION
 *   `request=smtpd_access_policy` is the only request type Postfix defines; any other (or none)
 *   is `unknown-request` and answered DUNNO. A missing or empty `client_address` is
 *   `bad-client`, also answered DUNNO: without an address there is nothing to check, and a
 *   policy service must not refuse what it cannot judge. Any other value goes to the firewall,
 *   which parses it anyway (firewall/client-address.ts; parsing it here too would double the
 *   cost of a warm decision); when the firewall rejects it as BS_ERR_ADDRESS_INVALID, the
 *   session asks addressProblem() to confirm the address is the culprit, and answers DUNNO.
 *
 *   `protocol_state` gives the stage: CONNECT → connect, EHLO/HELO → helo, MAIL → mail,
 *   RCPT → rcpt, DATA (also BDAT) and END-OF-MESSAGE → data; VRFY, ETRN and anything unknown
 *   leave it unset (case-insensitive). helo_name, sender and recipient are passed when not
 *   empty (the README: an unavailable value may be sent empty); they are peer-supplied and the
 *   firewall cleans them before they reach evidence or logs. The recipient matters: a
 *   postmaster@/abuse@ recipient is always accepted by the firewall.
 *
 *   decisionContext() builds the context in one object of one shape (an empty value is an
 *   undefined property, not an absent one; the firewall tests `=== undefined` either way): it
 *   runs for every request, classify() builds a `fields` object the session does not need.
 */
import { normaliseAddress } from '../../check/address.js';
import type { ClientContext, SmtpStage } from '../../firewall/types.js';
import type { AbortLike } from '../../util/abort.js';
import type { Attributes } from './parser.js';

/** The one request type of the protocol. */
export const ACCESS_POLICY_REQUEST = 'smtpd_access_policy';

export interface ClientFields {
  readonly ip: string;
  readonly helo?: string;
  readonly sender?: string;
  readonly recipient?: string;
  readonly stage?: SmtpStage;
}

export type Classified =
  | { readonly kind: 'unknown-request'; readonly request: string | undefined }
  | { readonly kind: 'bad-client'; readonly address: string | undefined; readonly problem: string }
  | { readonly kind: 'decide'; readonly fields: ClientFields };

const STAGES: Readonly<Record<string, SmtpStage>> = {
  CONNECT: 'connect',
  EHLO: 'helo',
  HELO: 'helo',
  MAIL: 'mail',
  RCPT: 'rcpt',
  DATA: 'data',
  BDAT: 'data',
  'END-OF-MESSAGE': 'data',
};

/** stageOf - Postfix's protocol_state as the firewall's stage (undefined for VRFY, ETRN, unknown). */
export function stageOf(protocolState: string | undefined): SmtpStage | undefined {
  if (protocolState === undefined) return undefined;
  // Postfix sends upper case: look that up first, without making an upper-cased copy.
  if (Object.hasOwn(STAGES, protocolState)) return STAGES[protocolState];
  const upper = protocolState.toUpperCase();
  return Object.hasOwn(STAGES, upper) ? STAGES[upper] : undefined;
}

/** kindOf - classify(attributes).kind, building nothing. */
export function kindOf(attributes: Attributes): Classified['kind'] {
  if (attributes.request !== ACCESS_POLICY_REQUEST) return 'unknown-request';
  const address = attributes.client_address;
  return address === undefined || address === '' ? 'bad-client' : 'decide';
}

/** decisionContext - the ClientContext of a request kindOf() calls `decide`: one object, one shape. */
export function decisionContext(attributes: Attributes, signal: AbortLike): ClientContext {
  return {
    front: 'policy',
    ip: attributes.client_address ?? '',
    helo: nonEmptyValue(attributes.helo_name),
    sender: nonEmptyValue(attributes.sender),
    recipient: nonEmptyValue(attributes.recipient),
    stage: stageOf(attributes.protocol_state),
    signal,
  };
}

function nonEmptyValue(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

/** classify - what to do with a request: answer DUNNO at once, or ask the firewall about these fields. */
export function classify(attributes: Attributes): Classified {
  if (attributes.request !== ACCESS_POLICY_REQUEST) return { kind: 'unknown-request', request: attributes.request };
  const address = attributes.client_address;
  if (address === undefined || address === '') return { kind: 'bad-client', address, problem: 'no client_address' };
  const stage = stageOf(attributes.protocol_state);
  return {
    kind: 'decide',
    fields: {
      ip: address,
      ...nonEmpty('helo', attributes.helo_name),
      ...nonEmpty('sender', attributes.sender),
      ...nonEmpty('recipient', attributes.recipient),
      ...(stage !== undefined ? { stage } : {}),
    },
  };
}

/** addressProblem - why a client_address is not an IP address (check/address.ts), or undefined. */
export function addressProblem(text: string): string | undefined {
  try {
    normaliseAddress(text);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function nonEmpty<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined || value === '' ? {} : ({ [key]: value } as Record<K, string>);
}
