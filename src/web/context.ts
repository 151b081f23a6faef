/**
 * NAME
 *   web/context - what every page of the portal is given
 *
 * DESCRIPTION
 *   Built once per server by web/index.ts from the FrontContext: the firewall (the portal's only
 *   way to data and DNS), the configuration, the texts, the clock, the node's bypass ranges, the
 *   CSRF tokens, the per-visitor limits and the store reads with their short-lived copies.
 *   Pages never reach into the JSON API.
 */
import type { Config } from '../config/schema.js';
import type { Firewall } from '../firewall/index.js';
import type { Csrf } from './csrf.js';
import type { VisitorLimits } from './limits.js';
import type { PortalReads } from './reads.js';
import type { Texts } from './texts.js';

export interface Portal {
  readonly firewall: Firewall;
  readonly config: Config;
  readonly t: Texts;
  readonly now: () => number;
  readonly csrf: Csrf;
  readonly limits: VisitorLimits;
  /** firewall.records.listing/evidence, each answer kept for a second (web/reads.ts). */
  readonly reads: PortalReads;
  /** firewall.organisation.name */
  readonly org: string;
  /** firewall.portalUrl without a trailing '/' */
  readonly baseUrl: string;
}
