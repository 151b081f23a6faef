/**
 * NAME
 *   cli/bin - process entry point: run `main` and set the exit status
 *
 * DESCRIPTION
 *   Kept apart from main.ts so tests can import the program without running it. The exit status
 *   is set through process.exitCode, not process.exit(), so stdout is flushed before the end.
 */
import { EXIT } from '../errors.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`blocksmith: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT.software;
  },
);
