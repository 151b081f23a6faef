/**
 * NAME
 *   fronts/api/routes/operator-records - whitelist requests, statistics, audit, evidence (API key)
 *
 * SYNOPSIS
 *   GET  /api/v1/whitelist-requests?state=&limit=&after=
 *   POST /api/v1/whitelist-requests/:ref/approve     { expiresAt? }   → the allow entry
 *   POST /api/v1/whitelist-requests/:ref/deny        { reason }
 *   GET  /api/v1/stats?from=&to=                       hourly counters, summed
 *   GET  /api/v1/audit?target=&actor=&action=&since=&limit=&after=
 *   GET  /api/v1/evidence/:ref
 *
 * DESCRIPTION
 *   approve and deny are refused with 409 BS_API_CONFLICT for a request already decided (two
 *   operators clicking at once: the second one learns it), 404 for an unknown reference.
 *
 *   stats: `from` and `to` are times (ms or ISO 8601), rounded down to their hour; both hours
 *   are included. Default: the last STATS_DEFAULT_HOURS hours, the current one included; at
 *   most STATS_MAX_HOURS hours at once. Counters are written by each node every
 *   firewall.statsFlushMs, so the last seconds may not be counted yet.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { addRoute, requireActor, type ApiPluginOptions } from '../route.js';
import {
  allowEntrySchema,
  auditEntrySchema,
  errorSchema,
  evidenceSchema,
  FIELD_MAX_CHARS,
  noteText,
  pageOf,
  pageQuery,
  refParams,
  requestState,
  statsAnswerSchema,
  timeInput,
  timeQuery,
  whitelistRequestSchema,
} from '../schemas.js';
import { allowView } from '../views.js';

export const HOUR_MS = 3_600_000;
export const STATS_DEFAULT_HOURS = 24;
/** A year and a day of hourly counters at most (as `blocksmith stats`). */
export const STATS_MAX_HOURS = 366 * 24;

const unauthorized = { description: 'no valid API key', schema: errorSchema };
const notFound = { description: 'no request with this reference', schema: errorSchema };
const conflict = { description: 'the request was already decided', schema: errorSchema };

const filterText = z.string().min(1).max(FIELD_MAX_CHARS);

export const operatorRecordRoutes: FastifyPluginAsync<ApiPluginOptions> = (app, opts) => {
  const { front, deps, now } = opts;
  const { firewall } = front;

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/whitelist-requests',
    summary: 'Whitelist requests, newest first, page by page',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    query: z.strictObject({ state: requestState.optional(), ...pageQuery }),
    responses: { 200: { description: 'a page', schema: pageOf(whitelistRequestSchema) }, 401: unauthorized },
    handler: ({ query }) => firewall.records.requests(query.state, query.limit, query.after),
  });

  addRoute(app, deps, {
    method: 'POST',
    url: '/api/v1/whitelist-requests/:ref/approve',
    summary: 'Approve a request: its range gets an allow entry',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    params: refParams,
    body: z.strictObject({ expiresAt: timeInput.optional() }).optional(),
    responses: {
      200: { description: 'approved', schema: z.object({ outcome: z.literal('approved'), request: whitelistRequestSchema, allow: allowEntrySchema }) },
      401: unauthorized,
      404: notFound,
      409: conflict,
    },
    handler: async ({ params, body, actor }) => {
      const expiresAt = body?.expiresAt;
      if (expiresAt !== undefined && expiresAt <= now()) throw new ApiError('BS_API_INVALID', 'body.expiresAt: must be in the future');
      const outcome = await firewall.approveRequest(params.ref, requireActor(actor), expiresAt);
      switch (outcome.outcome) {
        case 'approved':
          return { outcome: outcome.outcome, request: outcome.request, allow: allowView(outcome.allow, now()) };
        case 'not-found':
          throw new ApiError('BS_API_NOT_FOUND', `no whitelist request ${params.ref}`);
        default:
          throw new ApiError('BS_API_CONFLICT', `whitelist request ${params.ref} is already ${outcome.outcome === 'already-decided' ? outcome.request.state : 'decided'}`);
      }
    },
  });

  addRoute(app, deps, {
    method: 'POST',
    url: '/api/v1/whitelist-requests/:ref/deny',
    summary: 'Deny a request (the reason is shown to the requester)',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    params: refParams,
    body: z.strictObject({ reason: noteText }),
    responses: {
      200: { description: 'denied', schema: z.object({ outcome: z.literal('denied'), request: whitelistRequestSchema }) },
      401: unauthorized,
      404: notFound,
      409: conflict,
    },
    handler: async ({ params, body, actor }) => {
      const outcome = await firewall.denyRequest(params.ref, requireActor(actor), body.reason);
      switch (outcome.outcome) {
        case 'denied':
          return { outcome: outcome.outcome, request: outcome.request };
        case 'not-found':
          throw new ApiError('BS_API_NOT_FOUND', `no whitelist request ${params.ref}`);
        default:
          throw new ApiError('BS_API_CONFLICT', `whitelist request ${params.ref} is already ${outcome.outcome === 'already-decided' ? outcome.request.state : 'decided'}`);
      }
    },
  });

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/stats',
    summary: 'Hourly counters between two times, summed per counter',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    query: z.strictObject({ from: timeQuery.optional(), to: timeQuery.optional() }),
    responses: {
      200: { description: 'the counters', schema: statsAnswerSchema },
      400: { description: 'from after to, or too long a range', schema: errorSchema },
      401: unauthorized,
    },
    handler: async ({ query }) => {
      const to = Math.floor((query.to ?? now()) / HOUR_MS) * HOUR_MS;
      const from = Math.floor((query.from ?? to - (STATS_DEFAULT_HOURS - 1) * HOUR_MS) / HOUR_MS) * HOUR_MS;
      if (from > to) throw new ApiError('BS_API_INVALID', 'query.from: after query.to');
      if ((to - from) / HOUR_MS + 1 > STATS_MAX_HOURS) throw new ApiError('BS_API_INVALID', `query: at most ${STATS_MAX_HOURS} hours at once`);
      // The store takes [from, to): the hour `to` itself is included here.
      const hours = await firewall.records.stats(from, to + HOUR_MS);
      const totals: Record<string, number> = {};
      for (const hour of hours) {
        for (const [name, count] of Object.entries(hour.counters)) totals[name] = (totals[name] ?? 0) + count;
      }
      return { from, to, totals, hours };
    },
  });

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/audit',
    summary: 'The audit log, newest first, page by page',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    query: z.strictObject({
      target: filterText.optional(),
      actor: filterText.optional(),
      action: filterText.transform((a) => a.toUpperCase()).optional(),
      since: timeQuery.optional(),
      ...pageQuery,
    }),
    responses: { 200: { description: 'a page', schema: pageOf(auditEntrySchema) }, 401: unauthorized },
    handler: ({ query }) =>
      firewall.records.audit({
        limit: query.limit,
        ...(query.target === undefined ? {} : { target: query.target }),
        ...(query.actor === undefined ? {} : { actor: query.actor }),
        ...(query.action === undefined ? {} : { action: query.action }),
        ...(query.since === undefined ? {} : { since: query.since }),
        ...(query.after === undefined ? {} : { after: query.after }),
      }),
  });

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/evidence/:ref',
    summary: 'What was seen at a refusal, by its reference',
    tag: 'operator',
    operator: true,
    rate: 'operator',
    params: refParams,
    responses: {
      200: { description: 'the evidence', schema: evidenceSchema },
      401: unauthorized,
      404: { description: 'no evidence with this reference', schema: errorSchema },
    },
    handler: async ({ params }) => {
      const evidence = await firewall.records.evidence(params.ref);
      if (evidence === undefined) throw new ApiError('BS_API_NOT_FOUND', `no evidence ${params.ref}`);
      return evidence;
    },
  });
  return Promise.resolve();
};
