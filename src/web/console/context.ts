/**
 * NAME
 *   web/console/context - what every page of the operator's console is given
 *
 * DESCRIPTION
 *   Built once per server by web/console/index.ts from the FrontContext: the firewall (the
 *   console's only way to data: its operator actions and records.*), the accounts and sessions
 *   (firewall.accounts), the node's metrics (read for the dashboard's DNS health), the
 *   configuration, the clock, and the login form's CSRF tokens (the portal's double submit,
 *   web/csrf.ts, with a secret of the console's own).
 *
 *   `ConsoleAccounts` is the part of firewall/accounts.ts's `Accounts` the console uses; tests
 *   may hand in another implementation of it.
 */
import type { Config } from '../../config/schema.js';
import type { Accounts, ConsoleSession, LoginResult } from '../../firewall/accounts.js';
import type { Firewall } from '../../firewall/index.js';
import type { Metrics } from '../../metrics/types.js';
import type { Csrf } from '../csrf.js';

export type { ConsoleSession, LoginResult };

/** What the console uses of firewall.accounts (tests may hand in another implementation). */
export type ConsoleAccounts = Pick<Accounts, 'login' | 'session' | 'logout'>;

export interface Console {
  readonly firewall: Firewall;
  readonly accounts: ConsoleAccounts;
  readonly metrics: Metrics;
  readonly config: Config;
  readonly now: () => number;
  /** The login form's tokens (no session yet): double submit, web/csrf.ts. */
  readonly loginCsrf: Csrf;
  /** firewall.organisation.name */
  readonly org: string;
}

/** The audit actor of an account's actions. */
export function actorOf(account: string): `operator:${string}` {
  return `operator:${account}`;
}
