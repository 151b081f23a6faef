/**
 * NAME
 *   cli/operator - the operator commands: list, block, clear, unblock, allow, requests, audit, stats
 *
 * SYNOPSIS
 *   registerOperatorCommands(program, setExit)
 *
 * DESCRIPTION
 *   Each command validates its arguments (a malformed IP, range, duration or count is a usage
 *   error, 64, naming the argument), then opens the node's store with the configuration `serve`
 *   would use (node.ts), acts through the Firewall or reads the Store, stops the node and
 *   returns its exit status. Running nodes follow every change through the store's events.
 *   Text output is for people (tables, peer-supplied text made printable); --json gives one
 *   JSON object per line. Operator guide: docs/cli.md.
 *
 * SEE ALSO
 *   listings.ts, allow.ts, requests.ts, audit.ts; args.ts (validation), render.ts (output).
 */
import type { Command } from 'commander';
import { registerAllowCommands } from './allow.js';
import { registerAuditCommands } from './audit.js';
import { registerListingCommands } from './listings.js';
import { registerRequestCommands } from './requests.js';

export function registerOperatorCommands(program: Command, setExit: (code: number) => void): void {
  registerListingCommands(program, setExit);
  registerAllowCommands(program, setExit);
  registerRequestCommands(program, setExit);
  registerAuditCommands(program, setExit);
}
