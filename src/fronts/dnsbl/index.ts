/**
 * NAME
 *   fronts/dnsbl - the DNSBL zone (placeholder until the front lands)
 */
import type { FrontContext, RunningFront } from '../types.js';

export function startDnsblFront(ctx: FrontContext): Promise<RunningFront | undefined> {
  void ctx;
  return Promise.resolve(undefined);
}
