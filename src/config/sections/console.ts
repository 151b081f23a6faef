/**
 * NAME
 *   config/sections/console - the operator's console: sessions and the login throttle
 *
 * DESCRIPTION
 *   Accounts are made with `blocksmith user add NAME` (cli/user-command.ts) and live in the
 *   store, so every node of a cluster shares them, their sessions and the failed-login counts
 *   (firewall/accounts.ts). A session ends sessionTtlMs after its login (no sliding renewal: a
 *   stolen cookie is good for at most that long), at logout, or when its account's password
 *   changes or the account is removed.
 *
 *   The throttle counts failed logins per account and per client address in fixed windows of
 *   loginWindowMs that start at the first failure: past loginFailuresPerAccountCount failures
 *   for one account (or loginFailuresPerAddressCount from one address) every further attempt is
 *   refused as `throttled`, without looking at the password, until the window ends. A
 *   successful login clears its account's count; a new password (`user passwd`) too.
 *
 * SEE ALSO
 *   docs/configuration.md (`console`), firewall/accounts.ts, src/web/console/.
 */
import { z } from 'zod';

export const consoleSchema = z
  .strictObject({
    /** Serve the console's pages on the HTTP listener (under /admin). */
    enabled: z.boolean().default(true),
    /** A session ends this long after its login. */
    sessionTtlMs: z.number().int().min(60_000).max(604_800_000).default(28_800_000),
    /** Failed logins for one account within loginWindowMs before further attempts are refused. */
    loginFailuresPerAccountCount: z.number().int().min(1).max(1_000).default(5),
    /** Failed logins from one address within loginWindowMs before further attempts are refused. */
    loginFailuresPerAddressCount: z.number().int().min(1).max(100_000).default(20),
    /** The throttle's window, from the first failure. */
    loginWindowMs: z.number().int().min(1_000).max(86_400_000).default(900_000),
  })
  .prefault({});

export const CONSOLE_DESCRIPTIONS = {
  section: "The operator's console: accounts (blocksmith user add), sessions, the login throttle.",
  keys: {
    'console.enabled': 'serve the operator console pages on the HTTP listener',
    'console.sessionTtlMs': 'a console session ends this long after its login (ms)',
    'console.loginFailuresPerAccountCount': 'failed logins for one account within the window before attempts are refused',
    'console.loginFailuresPerAddressCount': 'failed logins from one address within the window before attempts are refused',
    'console.loginWindowMs': 'the login throttle window, from the first failure (ms)',
  },
} as const;

export type ConsoleConfig = z.infer<typeof consoleSchema>;
