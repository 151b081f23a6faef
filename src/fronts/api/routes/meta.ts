/**
 * NAME
 *   fronts/api/routes/meta - the OpenAPI document and the metrics
 *
 * SYNOPSIS
 *   GET /api/v1/openapi.json     built from every registered route's schemas (openapi.ts), once
 *   GET /metrics                 ctx.metrics.render(), only for clients in http.metricsAllow
 *
 * DESCRIPTION
 *   /metrics is refused (403 BS_API_FORBIDDEN) to any client outside http.metricsAllow
 *   (loopback by default); behind a reverse proxy that is the forwarded client, not the proxy,
 *   once the proxy is in http.trustedProxies.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { buildOpenApi } from '../openapi.js';
import { addRoute, type ApiPluginOptions } from '../route.js';
import { errorSchema } from '../schemas.js';
import { safeJson } from '../server-json.js';

/** The version of the API's contract (not of BlockSmith): /api/v1 and its additions. */
export const API_VERSION = '1.0.0';

export const metaRoutes: FastifyPluginAsync<ApiPluginOptions> = (app, opts) => {
  const { front, deps } = opts;
  let document: string | undefined;

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/openapi.json',
    summary: 'This document',
    tag: 'meta',
    operator: false,
    rate: 'read',
    responses: { 200: { description: 'OpenAPI 3.1', schema: z.looseObject({ openapi: z.string() }) } },
    // Built and serialised once, at the first request: by then every plugin has registered its routes.
    handler: ({ reply }) => {
      document ??= safeJson(buildOpenApi(deps.registry.routes, API_VERSION, errorSchema));
      return Promise.resolve(reply.type('application/json; charset=utf-8').send(document));
    },
  });

  addRoute(app, deps, {
    method: 'GET',
    url: '/metrics',
    summary: 'Prometheus metrics (text exposition)',
    tag: 'meta',
    operator: false,
    responses: {
      200: { description: 'the metrics', contentType: 'text/plain; version=0.0.4' },
      403: { description: 'this client may not read the metrics (http.metricsAllow)', schema: errorSchema },
    },
    handler: async ({ request, reply }) => {
      if (!deps.guards.metricsAllowed(request)) throw new ApiError('BS_API_FORBIDDEN', 'the metrics are not available to this client');
      const text = await front.metrics.render();
      return reply.type(front.metrics.contentType).send(text);
    },
  });
  return Promise.resolve();
};
