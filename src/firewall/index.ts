/**
 * NAME
 *   firewall - the public surface of the firewall (what fronts, the portal and the CLI import)
 *
 * SEE ALSO
 *   firewall/firewall.ts (the class), firewall/types.ts (context and decision), firewall/reply.ts.
 */
export { Firewall, type DecisionListener, type FirewallOptions, type FirewallRecords } from './firewall.js';
export { Accounts, type AccountSummary, type ConsoleSession, type LoginResult } from './accounts.js';
export type { ContactInput, RequestOutcome, WhitelistRequestInput } from './operator.js';
export { buildReply, oneLineReply, portalLink, renderReply, replyLine, stepWords, REPLY_LINE_MAX_OCTETS } from './reply.js';
export { isReference, newReference } from './reference.js';
export { ruleFor, type Rule } from './policy.js';
export type * from './types.js';
