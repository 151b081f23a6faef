/**
 * NAME
 *   cli/main - the `blocksmith` command
 *
 * DESCRIPTION
 *   Builds the commander program and maps every way it can end to an exit status: a usage error
 *   (unknown flag, bad value, malformed address) is one line on stderr and status 64, a
 *   BlockSmithError ends with the status of its code, anything else is a bug (70) with its stack.
 *   Each subcommand lives in its own module and returns its exit status.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, isBlockSmithError } from '../errors.js';
import { registerCheckCommand } from './check-command.js';
import { registerOperatorCommands } from './operator/index.js';
import { registerServeCommand } from './serve-command.js';
import { registerInitCommand } from './init-command.js';
import { registerExportCommand } from './export-command.js';
import { registerApiKeyCommand } from './api-key-command.js';
import { registerUserCommand } from './user-command.js';
import { VERSION } from './version.js';

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('blocksmith')
    .description('A mail-server firewall for clients without forward-confirmed reverse DNS')
    .version(VERSION, '-V, --version')
    .option('-c, --config <path>', 'YAML (or JSON) configuration file (default: $BLOCKSMITH_CONFIG, else ./blocksmith.yaml if present)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeErr: (text) => process.stderr.write(text),
      outputError: (text, write) => write(`blocksmith: ${text.replace(/^error: /, '')}`),
    });
  registerCheckCommand(program, setExit);
  registerServeCommand(program, setExit);
  registerInitCommand(program, setExit);
  registerOperatorCommands(program, setExit);
  registerExportCommand(program, setExit);
  registerApiKeyCommand(program, setExit);
  registerUserCommand(program, setExit);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) {
        return EXIT.ok;
      }
      return EXIT.usage;
    }
    if (isBlockSmithError(err)) {
      process.stderr.write(`blocksmith: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`blocksmith: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.software;
  }
}
