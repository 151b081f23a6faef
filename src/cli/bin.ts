/**
 * NAME
 *   cli/bin - process entry point: run `main` and set the exit status
 *
 * DESCRIPTION
 *   Kept apart from main.ts so tests can import the program without running it; cli/entry.ts
 *   turns main's promise into the exit status (70 when it never settles).
 */
import { runEntry } from './entry.js';
import { main } from './main.js';

runEntry(() => main(process.argv.slice(2)));
