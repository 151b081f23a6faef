/**
 * NAME
 *   cli/entry - run a command's promise as the process's life and set the exit status from it
 *
 * SYNOPSIS
 *   runEntry(() => main(argv))
 *
 * DESCRIPTION
 *   The exit status is set through process.exitCode, not process.exit(), so stdout is flushed
 *   before the end. It starts at EXIT.software: if the event loop empties before the command's
 *   promise settles (a bug: something awaited a promise nobody will resolve), Node would end the
 *   process with status 0 and a script would take an unfinished run for a success. Instead the
 *   process ends with 70 and says so on stderr.
 */
import { EXIT } from '../errors.js';

export function runEntry(run: () => Promise<number>): void {
  let settled = false;
  process.exitCode = EXIT.software;
  process.once('exit', () => {
    if (!settled) process.stderr.write('blocksmith: internal error: the command ended before it finished (nothing left to wait for)\n');
  });
  run().then(
    (code) => {
      settled = true;
      process.exitCode = code;
    },
    (err: unknown) => {
      settled = true;
      process.stderr.write(`blocksmith: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = EXIT.software;
    },
  );
}
