/**
 * NAME
 *   fronts/api - the HTTP listener (placeholder until the front lands)
 */
import type { FrontContext, RunningFront } from '../types.js';

export function startHttpFront(ctx: FrontContext): Promise<RunningFront | undefined> {
  void ctx;
  return Promise.resolve(undefined);
}
