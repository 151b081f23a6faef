/**
 * NAME
 *   web/pages/policy - GET /policy: what is checked, the replies, IPv6, what is logged and kept
 *
 * DESCRIPTION
 *   The numbers (re-check interval, listing expiry) come from this node's configuration, so the
 *   page says what the gateway does, not what a default would do.
 */
import type { FastifyInstance } from 'fastify';
import type { Portal } from '../context.js';
import { html } from '../html.js';
import { sendPage } from '../respond.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export function policyRoutes(app: FastifyInstance, portal: Portal): void {
  app.get('/policy', async (_request, reply) => {
    const { t, config } = portal;
    const sections = t.policy.sections(
      portal.org,
      Math.round(config.firewall.recheckIntervalMs / MINUTE_MS),
      Math.round(config.firewall.listingExpiryMs / DAY_MS),
    );
    return sendPage(reply, portal, t.policy.title, html`${sections.map((s) => html`<h2>${s.h}</h2>${s.p.map((p) => html`<p>${p}</p>`)}`)}`);
  });
}
