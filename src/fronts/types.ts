/**
 * NAME
 *   fronts/types - what every front receives, and what a running front gives back
 *
 * DESCRIPTION
 *   A front turns a protocol (Postfix policy, DNS, SMTP, HTTP) into calls of the one Firewall
 *   and renders its answers. It gets the whole configuration (it reads its own section), the
 *   firewall, a logger and the node's metrics; nothing else. No front imports another: what two
 *   fronts share lives in fronts/ itself (listen.ts) or below them.
 *
 *   start functions resolve once every listener is bound (a port in use rejects, naming it) and
 *   return the addresses actually bound (port 0 in tests becomes the real port).
 */
import type { Config } from '../config/schema.js';
import type { Firewall } from '../firewall/index.js';
import type { Metrics } from '../metrics/types.js';
import type { Logger } from '../util/log.js';

export type FrontName = 'policy' | 'dnsbl' | 'http' | 'gate';

export interface FrontContext {
  readonly config: Config;
  readonly firewall: Firewall;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export interface RunningFront {
  readonly name: FrontName;
  /** What is listening, as `proto://host:port` or `unix:/path` (for READY and tests). */
  readonly endpoints: readonly string[];
  /** Stop taking new work, finish or cut what is in progress within a short grace, release sockets. */
  stop(): Promise<void>;
}
