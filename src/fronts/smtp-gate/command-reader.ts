/**
 * NAME
 *   fronts/smtp-gate/command-reader - bytes from an SMTP client into command lines, or a coded error
 *
 * SYNOPSIS
 *   const reader = new CommandReader({ maxLineBytes })
 *   reader.push(chunk)                      keep a chunk (not copied)
 *   reader.next(): ReadEvent | undefined    the next complete command, an error, or undefined
 *   reader.inLine                           part of a line has arrived
 *   reader.bufferedBytes                    bytes kept and not yet returned
 *   parseCommand(line): SmtpCommand         verb (upper-case) and argument text
 *   pathArgument(args, keyword): string | undefined
 *                                           `<path>` after `FROM:` / `TO:`, without its brackets
 *
 * DESCRIPTION
 *   Framing only (STYLE.md §2): the gate speaks SMTP only to refused clients, so it never reads
 *   DATA; every line is a command. A line ends at LF; a CR before it is dropped. A bare LF
 *   (without CR) still ends the line, but the command says so (`bareLf`): RFC 5321 §2.3.8
 *   forbids it, postscreen counts it as a bot's mark, and the gate logs it. next() returns one
 *   command at a time and keeps the rest, so pipelined commands are answered in order and the
 *   session can pause the socket until it has answered (back-pressure).
 *
 *   Errors (the reader then stays failed):
 *     line-too-long   more than maxLineBytes before the LF (detected before the LF arrives,
 *                     so a client cannot make the gate buffer an endless line)
 *   Text is decoded as UTF-8 (SMTPUTF8 addresses); invalid bytes become U+FFFD and NUL stays
 *   in the text: it goes nowhere but through printable() into a log and the firewall's evidence.
 */

export interface ReaderLimits {
  readonly maxLineBytes: number;
}

export interface SmtpCommand {
  /** Upper-case verb (`EHLO`, `MAIL`…); '' for an empty line. */
  readonly verb: string;
  /** Everything after the verb and its space. */
  readonly args: string;
}

export type ReadEvent =
  | { readonly kind: 'command'; readonly command: SmtpCommand; readonly line: string; readonly bareLf: boolean }
  | { readonly kind: 'error'; readonly code: 'line-too-long'; readonly detail: string };

const LF = 0x0a;
const CR = 0x0d;

export class CommandReader {
  private readonly limits: ReaderLimits;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private failed: ReadEvent | undefined;

  constructor(limits: ReaderLimits) {
    this.limits = limits;
  }

  get inLine(): boolean {
    return this.pendingBytes > 0;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): void {
    if (this.failed !== undefined || chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  next(): ReadEvent | undefined {
    if (this.failed !== undefined) return this.failed;
    // Find the first LF across the pending chunks, without joining them first.
    let offset = 0;
    for (let c = 0; c < this.pending.length; c++) {
      const chunk = this.pending[c] as Buffer;
      const at = chunk.indexOf(LF);
      if (at === -1) {
        offset += chunk.length;
        if (offset > this.limits.maxLineBytes + 1) return this.fail(offset);
        continue;
      }
      const lineEnd = offset + at; // index of the LF in the pending bytes
      const all = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
      const bareLf = lineEnd === 0 || all[lineEnd - 1] !== CR;
      const textEnd = bareLf ? lineEnd : lineEnd - 1;
      if (textEnd > this.limits.maxLineBytes) return this.fail(textEnd);
      const line = all.toString('utf8', 0, textEnd);
      const rest = all.subarray(lineEnd + 1);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      return { kind: 'command', command: parseCommand(line), line, bareLf };
    }
    // No LF yet: a CR at the very end may still become CRLF, so it does not count against the limit.
    const last = this.pending.at(-1);
    const trailingCr = last !== undefined && last[last.length - 1] === CR ? 1 : 0;
    if (this.pendingBytes - trailingCr > this.limits.maxLineBytes) return this.fail(this.pendingBytes);
    return undefined;
  }

  private fail(bytes: number): ReadEvent {
    this.pending = [];
    this.pendingBytes = 0;
    this.failed = { kind: 'error', code: 'line-too-long', detail: `a command line of more than ${this.limits.maxLineBytes} bytes (${bytes} so far)` };
    return this.failed;
  }
}

/** parseCommand - `VERB args`: the verb up to the first space, upper-cased; leading spaces are not a verb. */
export function parseCommand(line: string): SmtpCommand {
  const space = line.indexOf(' ');
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  return { verb, args: space === -1 ? '' : line.slice(space + 1) };
}

/**
 * pathArgument - the path of `MAIL FROM:<path> params` / `RCPT TO:<path> params` (keyword FROM or
 * TO, case-insensitive, spaces allowed around the colon as many clients send them), without the
 * angle brackets; '' for the null path `<>`; undefined when the argument has no such shape.
 * Only what the evidence needs: the firewall cleans the text, and the gate never relays it.
 */
export function pathArgument(args: string, keyword: 'FROM' | 'TO'): string | undefined {
  const m = new RegExp(`^${keyword}\\s*:\\s*(<[^<>]*>|[^\\s<>]+)`, 'i').exec(args);
  if (m === null) return undefined;
  const path = m[1] as string;
  return path.startsWith('<') ? path.slice(1, -1) : path;
}
