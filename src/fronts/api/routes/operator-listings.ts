/**
 * NAME
 *   fronts/api/routes/operator-listings - listings and the allowlist, for operators (API key)
 *
 * SYNOPSIS
 *   GET    /api/v1/listings?state=&reason=&within=&limit=&after=
 *   POST   /api/v1/listings                 { ip, note }        list by hand (never re-checked)
 *   DELETE /api/v1/listings/:ip             { note } or ?note=  clear an active listing
 *   GET    /api/v1/allowlist
 *   POST   /api/v1/allowlist                { range, note, expiresAt? }
 *   DELETE /api/v1/allowlist/:id
 *
 * DESCRIPTION
 *   Each change goes through the Firewall with the actor `operator:<key name>` and is written
 *   with its audit entry before the answer (a store that cannot take it is a 503 and nothing
 *   changed). It applies to this node at once and to the others through the store's events.
 *   Clearing forgets the cached verdict, so the next connection of the address is checked afresh.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { addRoute, requireActor, type ApiPluginOptions } from '../route.js';
import {
  addressRange,
  allowEntrySchema,
  errorSchema,
  ipAddress,
  ipParams,
  listingReason,
  listingSchema,
  listingState,
  noteText,
  pageOf,
  pageQuery,
  timeInput,
} from '../schemas.js';
import { allowView } from '../views.js';

const unauthorized = { description: 'no valid API key', schema: errorSchema };

export const listingsQuery = z.strictObject({
  state: listingState.optional(),
  reason: listingReason.optional(),
  within: addressRange.optional(),
  ...pageQuery,
});

export const operatorListingRoutes: FastifyPluginAsync<ApiPluginOptions> = (app, opts) => {
  const { front, deps, now } = opts;
  const { firewall } = front;

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/listings',
    summary: 'Listings, in address order, page by page',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    query: listingsQuery,
    responses: { 200: { description: 'a page (pass `next` as `after`)', schema: pageOf(listingSchema) }, 401: unauthorized },
    handler: ({ query }) =>
      firewall.records.listings({
        limit: query.limit,
        ...(query.state === undefined ? {} : { state: query.state }),
        ...(query.reason === undefined ? {} : { reason: query.reason }),
        ...(query.within === undefined ? {} : { within: query.within }),
        ...(query.after === undefined ? {} : { after: query.after }),
      }),
  });

  addRoute(app, deps, {
    method: 'POST',
    url: '/api/v1/listings',
    summary: 'List an address by hand',
    description: 'A manual listing is never re-checked and is cleared only by an operator or by expiry. Listing an address already listed updates its note.',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    body: z.strictObject({ ip: ipAddress, note: noteText }),
    responses: { 200: { description: 'the listing', schema: listingSchema }, 400: { description: 'malformed', schema: errorSchema }, 401: unauthorized },
    handler: ({ body, actor }) => firewall.list(body.ip, body.note, requireActor(actor)),
  });

  addRoute(app, deps, {
    method: 'DELETE',
    url: '/api/v1/listings/:ip',
    summary: "End an address's active listing",
    description: 'The note comes in the body ({ "note": … }) or the query (?note=…).',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    params: ipParams,
    query: z.strictObject({ note: noteText.optional() }),
    body: z.strictObject({ note: noteText }).optional(),
    responses: {
      200: { description: 'the cleared listing', schema: listingSchema },
      400: { description: 'no note', schema: errorSchema },
      401: unauthorized,
      404: { description: 'the address has no active listing', schema: errorSchema },
    },
    handler: async ({ params, query, body, actor }) => {
      const note = body?.note ?? query.note;
      if (note === undefined) throw new ApiError('BS_API_INVALID', 'a note is required: { "note": "…" } in the body or ?note=');
      const cleared = await firewall.clear(params.ip, note, requireActor(actor));
      if (cleared === undefined) throw new ApiError('BS_API_NOT_FOUND', `${params.ip} has no active listing`);
      return cleared;
    },
  });

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/allowlist',
    summary: 'Every allow entry (expired ones marked)',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    responses: { 200: { description: 'the entries', schema: z.object({ items: z.array(allowEntrySchema) }) }, 401: unauthorized },
    handler: async () => ({ items: (await firewall.records.allows()).map((e) => allowView(e, now())) }),
  });

  addRoute(app, deps, {
    method: 'POST',
    url: '/api/v1/allowlist',
    summary: 'Allow an address or range (optionally until a time)',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    body: z.strictObject({ range: addressRange, note: noteText, expiresAt: timeInput.optional() }),
    responses: {
      201: { description: 'the entry', schema: allowEntrySchema },
      400: { description: 'malformed, or expiresAt in the past', schema: errorSchema },
      401: unauthorized,
    },
    handler: async ({ body, actor, reply }) => {
      if (body.expiresAt !== undefined && body.expiresAt <= now()) throw new ApiError('BS_API_INVALID', 'body.expiresAt: must be in the future');
      const entry = await firewall.allow(body.range, body.note, requireActor(actor), body.expiresAt);
      void reply.code(201);
      return allowView(entry, now());
    },
  });

  addRoute(app, deps, {
    method: 'DELETE',
    url: '/api/v1/allowlist/:id',
    summary: 'Remove an allow entry',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    params: z.strictObject({ id: z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'an allow entry id') }),
    responses: {
      204: { description: 'removed' },
      401: unauthorized,
      404: { description: 'no such entry', schema: errorSchema },
    },
    handler: async ({ params, actor, reply }) => {
      const removed = await firewall.removeAllow(params.id, requireActor(actor));
      if (!removed) throw new ApiError('BS_API_NOT_FOUND', `no allow entry ${params.id}`);
      return reply.code(204).send();
    },
  });
  return Promise.resolve();
};
