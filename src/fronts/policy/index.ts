/**
 * NAME
 *   fronts/policy - the Postfix/Exim policy service (placeholder until the front lands)
 */
import type { FrontContext, RunningFront } from '../types.js';

export function startPolicyFront(ctx: FrontContext): Promise<RunningFront | undefined> {
  void ctx;
  return Promise.resolve(undefined);
}
