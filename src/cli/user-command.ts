/**
 * NAME
 *   cli/user-command - `blocksmith user add|remove|passwd|list`: the console's operator accounts
 *
 * SYNOPSIS
 *   blocksmith user add NAME [--password-stdin]
 *   blocksmith user passwd NAME [--password-stdin]
 *   blocksmith user remove NAME [--json]
 *   blocksmith user list [--json]
 *   (each with the node flags --data, --store, --resolver, --bypass, and the global --config)
 *
 * DESCRIPTION
 *   Accounts live in the store the configuration names (as `serve` reads it: cli/operator/node.ts),
 *   so an account made here is good on every node sharing that store. Everything goes through
 *   Firewall.accounts (firewall/accounts.ts); the audit actor is `cli:<user>`.
 *
 *   The password: with --password-stdin, the first line of standard input (without its line
 *   end; at most STDIN_MAX_BYTES are read). Otherwise it is asked for twice on the terminal
 *   (stdin a TTY), with echo off (raw mode): Backspace deletes, Ctrl-U clears, Enter ends,
 *   Ctrl-C cancels. Neither a terminal nor --password-stdin: a usage error (never a password
 *   in the arguments, where `ps` and the shell history see it). The password and the name are
 *   checked before the store is opened.
 *
 *   passwd ends every session of the account and lifts its login throttle.
 *
 * EXIT STATUS
 *   0 done; 1 `user remove` of an account that does not exist; 64 usage (no terminal and no
 *   --password-stdin, the two entries differ, a bad name BS_ERR_ACCOUNT_NAME_INVALID, a short
 *   password BS_ERR_ACCOUNT_PASSWORD_WEAK); 65 `add` of an existing name (BS_ERR_ACCOUNT_EXISTS)
 *   or `passwd` of an unknown one (BS_ERR_ACCOUNT_UNKNOWN); 75 store unavailable.
 */
import type { Command } from 'commander';

import { BlockSmithError, EXIT } from '../errors.js';
import { accountName } from '../firewall/accounts.js';
import { PASSWORD_MAX_BYTES, passwordProblem } from '../firewall/password.js';
import type { NodeFlags } from './node-options.js';
import { addOperatorOptions, configFlagOf, operatorActor, withNode } from './operator/node.js';
import { jsonLine, table, time } from './operator/render.js';

/** Most bytes read from standard input for --password-stdin. */
export const STDIN_MAX_BYTES = 64 * 1024;

interface PasswordFlags extends NodeFlags {
  readonly passwordStdin?: boolean;
}

interface JsonFlags extends NodeFlags {
  readonly json?: boolean;
}

export function registerUserCommand(program: Command, setExit: (code: number) => void): void {
  const user = program.command('user').description("The operator console's accounts (kept in the store)");
  addOperatorOptions(
    user
      .command('add')
      .description('Make a console account; asks for its password')
      .argument('<name>', 'account name: letters, digits, ".", "_", "-" (lower-cased)')
      .option('--password-stdin', 'read the password from the first line of standard input'),
    false,
  ).action(async (name: string, flags: PasswordFlags, command: Command) => setExit(await runAdd(name, flags, configFlagOf(command))));

  addOperatorOptions(
    user
      .command('passwd')
      .description("Set an account's password; ends its sessions")
      .argument('<name>', 'account name')
      .option('--password-stdin', 'read the password from the first line of standard input'),
    false,
  ).action(async (name: string, flags: PasswordFlags, command: Command) => setExit(await runPasswd(name, flags, configFlagOf(command))));

  addOperatorOptions(user.command('remove').description('Remove an account and end its sessions').argument('<name>', 'account name')).action(
    async (name: string, flags: JsonFlags, command: Command) => setExit(await runRemove(name, flags, configFlagOf(command))),
  );

  addOperatorOptions(user.command('list').description('Show the accounts')).action(async (flags: JsonFlags, command: Command) =>
    setExit(await runList(flags, configFlagOf(command))),
  );
}

async function runAdd(input: string, flags: PasswordFlags, configFlag: string | undefined): Promise<number> {
  const name = checkName(input);
  const password = await readPassword(name, flags);
  await withNode(flags, configFlag, (app) => app.firewall.accounts.add(name, password, operatorActor()));
  process.stdout.write(`account ${name}: added\n`);
  return EXIT.ok;
}

async function runPasswd(input: string, flags: PasswordFlags, configFlag: string | undefined): Promise<number> {
  const name = checkName(input);
  const password = await readPassword(name, flags);
  await withNode(flags, configFlag, (app) => app.firewall.accounts.setPassword(name, password, operatorActor()));
  process.stdout.write(`account ${name}: password changed, sessions ended\n`);
  return EXIT.ok;
}

async function runRemove(input: string, flags: JsonFlags, configFlag: string | undefined): Promise<number> {
  const name = checkName(input);
  const removed = await withNode(flags, configFlag, (app) => app.firewall.accounts.remove(name, operatorActor()));
  if (flags.json === true) process.stdout.write(jsonLine({ outcome: removed ? 'removed' : 'not-found', name }));
  else if (removed) process.stdout.write(`account ${name}: removed\n`);
  if (!removed) {
    if (flags.json !== true) process.stderr.write(`blocksmith: no account ${name}\n`);
    return EXIT.rejected;
  }
  return EXIT.ok;
}

async function runList(flags: JsonFlags, configFlag: string | undefined): Promise<number> {
  const accounts = await withNode(flags, configFlag, (app) => app.firewall.accounts.list());
  if (flags.json === true) process.stdout.write(accounts.map((a) => jsonLine(a)).join(''));
  else if (accounts.length === 0) process.stdout.write('no accounts (make one with `blocksmith user add NAME`)\n');
  else process.stdout.write(table(['NAME', 'CREATED', 'PASSWORD CHANGED'], accounts.map((a) => [a.name, time(a.createdAt), time(a.passwordChangedAt)])));
  return EXIT.ok;
}

function checkName(input: string): string {
  const name = accountName(input);
  if (name === undefined) {
    throw new BlockSmithError('BS_ERR_ACCOUNT_NAME_INVALID', 'NAME: 1-64 letters, digits, ".", "_", "-", starting with a letter or digit');
  }
  return name;
}

/** readPassword - from stdin's first line, or twice from the terminal; checked for length. */
async function readPassword(name: string, flags: PasswordFlags): Promise<string> {
  let password: string;
  if (flags.passwordStdin === true) {
    password = await firstLineOfStdin();
  } else if (process.stdin.isTTY === true) {
    password = await promptHidden(`Password for ${name}: `);
    const again = await promptHidden('Again: ');
    if (again !== password) throw new BlockSmithError('BS_ERR_USAGE', 'the two passwords differ; nothing changed');
  } else {
    throw new BlockSmithError('BS_ERR_USAGE', 'no terminal to ask for the password: give it on standard input with --password-stdin');
  }
  const problem = passwordProblem(password);
  if (problem !== undefined) throw new BlockSmithError('BS_ERR_ACCOUNT_PASSWORD_WEAK', problem);
  return password;
}

/** firstLineOfStdin - standard input up to its first line end (or its end), without the line end. */
function firstLineOfStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      input.destroy();
      if (err !== undefined) {
        reject(err);
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\n');
      resolve((end === -1 ? text : text.slice(0, end)).replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (chunk.includes(0x0a)) finish();
      else if (size > STDIN_MAX_BYTES) finish(new BlockSmithError('BS_ERR_ACCOUNT_PASSWORD_WEAK', `no line end in the first ${STDIN_MAX_BYTES} bytes of standard input`));
    };
    const onEnd = (): void => finish();
    const onError = (err: Error): void => finish(new BlockSmithError('BS_ERR_USAGE', `standard input cannot be read: ${err.message}`));
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
  });
}

/** Typed ahead of the current prompt's line end (both entries may come in one chunk). */
let typedAhead = '';

/** promptHidden - one line from the terminal with echo off (raw mode); the prompt on stderr. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    let text = '';
    let settled = false;
    const finish = (err?: Error): void => {
      settled = true;
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (err === undefined) resolve(text);
      else reject(err);
    };
    const onData = (chunk: string): void => {
      const chars = [...chunk];
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i] as string;
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          // A CR LF pair is one line end.
          const next = ch === '\r' && chars[i + 1] === '\n' ? i + 2 : i + 1;
          typedAhead = chars.slice(next).join('');
          finish();
          return;
        }
        if (ch === '\u0003') {
          finish(new BlockSmithError('BS_ERR_USAGE', 'cancelled; nothing changed'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else if (ch === '\u0015') text = '';
        else if (ch >= ' ') text += ch;
        if (Buffer.byteLength(text, 'utf8') > PASSWORD_MAX_BYTES) {
          finish(new BlockSmithError('BS_ERR_ACCOUNT_PASSWORD_WEAK', `the password is longer than ${PASSWORD_MAX_BYTES} bytes`));
          return;
        }
      }
    };
    // Echo off before the prompt shows, so nothing typed after seeing it is echoed.
    input.setEncoding('utf8');
    input.setRawMode(true);
    process.stderr.write(prompt);
    const ahead = typedAhead;
    typedAhead = '';
    if (ahead !== '') onData(ahead);
    if (settled) return;
    input.on('data', onData);
    input.resume();
  });
}
