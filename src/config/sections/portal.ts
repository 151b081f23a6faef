/**
 * NAME
 *   config/sections/portal - the public portal (src/web) on the HTTP listener
 *
 * DESCRIPTION
 *   Branding (the organisation's name comes from firewall.organisation, the portal's URL from
 *   firewall.portalUrl: one name and one link everywhere), the contact address shown on every
 *   page, an optional logo, and the portal's own limits: how long a form's CSRF token lives and
 *   how many days the statistics page shows. The public rate limits are the http section's
 *   (http.checkLimitCount, http.formLimitCount, http.readLimitCount per http.rateWindowMs).
 *
 *   The CSRF secret is not configured: each process draws one at start, so a token is good on
 *   the node that issued it (behind a load balancer, keep a visitor on one node, or the form is
 *   shown again with a fresh token; nothing is lost).
 *
 * SEE ALSO
 *   docs/portal.md, docs/configuration.md (`portal`), web/index.ts.
 */
import { z } from 'zod';

/** An http(s) URL without characters that would need escaping in an attribute or a CSP. */
const safeUrl = z
  .url({ protocol: /^https?$/ })
  .max(500)
  .regex(/^[\x21\x23-\x26\x28-\x3b\x3d\x3f-\x7e]+$/, 'printable ASCII without quotes, "<", ">" or space');

export const portalSchema = z
  .strictObject({
    /** Serve the portal's pages on the HTTP listener (the JSON API is there either way). */
    enabled: z.boolean().default(true),
    /** Where people write to the operator; shown on every page. Not behind the firewall (PRODUCT.md §5). */
    contactEmail: z.email().max(254).default('postmaster@example.org'),
    /** A logo shown in the header (http or https URL); empty = none. Its origin is added to img-src of the CSP. */
    logoUrl: z.union([z.literal(''), safeUrl]).default(''),
    /**
     * Let the live test query loopback, private and other reserved addresses (labs, and sites whose
     * mail clients come from private ranges). Off: their reverse DNS is an internal view.
     */
    testReservedTargets: z.boolean().default(false),
    /** A form's CSRF token is good this long after the form was shown. */
    csrfTokenTtlMs: z.number().int().min(60_000).max(86_400_000).default(3_600_000),
    /** Days the statistics page covers (UTC days, today included). */
    statsDays: z.number().int().min(1).max(366).default(30),
  })
  .prefault({});

export const PORTAL_DESCRIPTIONS = {
  section: 'The public portal: why an address was refused, the live test, unblock, whitelist requests, statistics (docs/portal.md).',
  keys: {
    'portal.enabled': 'serve the portal pages on the HTTP listener',
    'portal.contactEmail': 'the operator contact address shown on every page (must not be behind the firewall)',
    'portal.logoUrl': 'an http(s) URL of a logo for the page header; empty = none',
    'portal.testReservedTargets': 'let the live test query loopback, private and reserved addresses (labs, private-range clients)',
    'portal.csrfTokenTtlMs': 'a form token is accepted this long after the form was shown (ms)',
    'portal.statsDays': 'days shown on the statistics page',
  },
} as const;

export type PortalConfig = z.infer<typeof portalSchema>;
