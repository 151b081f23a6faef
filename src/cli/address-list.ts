/**
 * NAME
 *   cli/address-list - read `--file`: one address per line
 *
 * DESCRIPTION
 *   A path, or `-` for standard input. Blank lines and comments (`#` to the end of the line)
 *   are skipped; surrounding white space is trimmed. Each kept line carries `file:line` so a
 *   malformed address can be named exactly. Nothing here validates addresses: the caller does,
 *   all of them, before the first DNS query.
 *
 * LIMITS
 *   MAX_INPUT_LINE_CHARS per line, MAX_INPUT_LINES per file: past either, a usage error.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { BlockSmithError } from '../errors.js';

export const MAX_INPUT_LINE_CHARS = 512;
export const MAX_INPUT_LINES = 10_000_000;

export interface AddressLine {
  readonly text: string;
  /** `file:line` or `argument N`, for error messages. */
  readonly where: string;
}

export async function readAddressList(path: string, stdin: Readable = process.stdin): Promise<AddressLine[]> {
  const name = path === '-' ? '<stdin>' : path;
  const stream = path === '-' ? stdin : createReadStream(path, { encoding: 'utf8' });
  const lines: AddressLine[] = [];
  let number = 0;
  try {
    const reader = createInterface({ input: stream, crlfDelay: Infinity });
    for await (const raw of reader) {
      number++;
      if (raw.length > MAX_INPUT_LINE_CHARS) {
        throw new BlockSmithError('BS_ERR_ADDRESS_INVALID', `${name}:${number}: line longer than ${MAX_INPUT_LINE_CHARS} characters`);
      }
      if (number > MAX_INPUT_LINES) throw new BlockSmithError('BS_ERR_USAGE', `${name}: more than ${MAX_INPUT_LINES} lines`);
      const hash = raw.indexOf('#');
      const text = (hash === -1 ? raw : raw.slice(0, hash)).trim();
      if (text !== '') lines.push({ text, where: `${name}:${number}` });
    }
  } catch (err) {
    if (err instanceof BlockSmithError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new BlockSmithError('BS_ERR_INPUT_UNREADABLE', `${name}: cannot read (${code})`, { cause: err });
  }
  return lines;
}
