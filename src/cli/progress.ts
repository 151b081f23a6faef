/**
 * NAME
 *   cli/progress - a one-line progress bar on a terminal
 *
 * DESCRIPTION
 *   Drawn on stderr only when it is a TTY (the caller decides), redrawn at most every
 *   REDRAW_INTERVAL_MS so a fast run does not spend its time painting. clear() wipes the line
 *   before anything else is printed; draw() puts it back.
 */
import type { WriteStream } from 'node:tty';

export const REDRAW_INTERVAL_MS = 100;
const BAR_WIDTH = 30;

export class Progress {
  private done = 0;
  private lastDraw = 0;
  private shown = false;

  constructor(
    private readonly stream: WriteStream,
    private readonly total: number,
  ) {}

  tick(): void {
    this.done++;
  }

  draw(): void {
    const now = Date.now();
    if (now - this.lastDraw < REDRAW_INTERVAL_MS && this.done < this.total) return;
    this.lastDraw = now;
    const share = this.total === 0 ? 1 : this.done / this.total;
    const filled = Math.round(share * BAR_WIDTH);
    this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${this.done}/${this.total}`);
    this.shown = true;
  }

  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[2K');
    this.shown = false;
  }
}
