/**
 * NAME
 *   fronts/api/route - one description per route: schemas, guards, handler, OpenAPI facts
 *
 * SYNOPSIS
 *   addRoute(app, deps, spec)          registers spec on app and in deps.registry
 *   zodValidatorCompiler               fastify's validatorCompiler for zod schemas
 *   formatIssues(part, issues): string
 *
 * DESCRIPTION
 *   A RouteSpec holds the zod schemas of a route's params, query and body, its responses, its
 *   rate class and whether it wants an operator key. addRoute hands the schemas to fastify
 *   (validated at the edge, before any handler runs: a failure is a 400 BS_API_INVALID naming
 *   each field), puts the guards in onRequest (rate limit first, then the key: a client
 *   guessing keys spends its own budget, and nothing of the body is read before both pass),
 *   and records the spec so openapi.ts builds the document from the very same schemas.
 *
 *   Handlers get the parsed values (zod's output: defaults filled, strings coerced) typed by
 *   the schemas, the client's address, and for operator routes the audit actor
 *   `operator:<key name>`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import type { FrontContext } from '../types.js';
import type { RangeList } from './client.js';
import { ApiError } from './errors.js';
import type { Guards, RateClass } from './guards.js';

export type Method = 'GET' | 'POST' | 'DELETE';

export interface RouteResponse {
  readonly description: string;
  /** The JSON body's schema (none: no body, e.g. 204, or not JSON, e.g. /metrics). */
  readonly schema?: z.ZodType;
  /** The content type when it is not JSON. */
  readonly contentType?: string;
}

export interface HandlerInput<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  readonly params: z.output<P>;
  readonly query: z.output<Q>;
  readonly body: z.output<B>;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  /** The client's address (client.ts). */
  readonly client: string;
  /** `operator:<key name>` on operator routes. */
  readonly actor: `operator:${string}` | undefined;
}

export interface RouteSpec<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  readonly method: Method;
  /** fastify's form: `/api/v1/ip/:ip`. */
  readonly url: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: 'public' | 'operator' | 'meta';
  /** Needs `Authorization: Bearer <key>`. */
  readonly operator: boolean;
  /** The rate-limit class; none for /metrics and the OpenAPI document. */
  readonly rate?: RateClass;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  readonly responses: Readonly<Record<number, RouteResponse>>;
  handler(input: HandlerInput<P, Q, B>): Promise<unknown>;
}

/** Every API route, in registration order (the OpenAPI document lists them). */
export class RouteRegistry {
  readonly routes: RouteSpec[] = [];
}

export interface RouteDeps {
  readonly guards: Guards;
  readonly registry: RouteRegistry;
}

/** A ZodError's issues as one line: `body.range: Invalid input; query.limit: Too big`. */
export function formatIssues(part: string, issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = [part, ...issue.path.map(String)].join('.');
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

/** The part names fastify uses, as clients know them. */
const PART_NAMES: Readonly<Record<string, string>> = { params: 'params', querystring: 'query', body: 'body', headers: 'headers' };

/** fastify's validatorCompiler: a zod schema becomes a validator returning the parsed value. */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  const part = PART_NAMES[httpPart ?? ''] ?? httpPart ?? 'input';
  return (data: unknown) => {
    // A POST without a body reaches the body validator as null: it means "no body".
    const result = schema.safeParse(httpPart === 'body' && data === null ? undefined : data);
    if (result.success) return { value: result.data };
    return { error: new Error(formatIssues(part, result.error.issues)) };
  };
};

export function addRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  app: FastifyInstance,
  deps: RouteDeps,
  spec: RouteSpec<P, Q, B>,
): void {
  const { guards } = deps;
  const onRequest = [
    ...(spec.rate === undefined ? [] : [guards.rateHook(spec.rate)]),
    ...(spec.operator ? [guards.operatorHook()] : []),
  ];
  app.route({
    method: spec.method,
    url: spec.url,
    schema: {
      ...(spec.params === undefined ? {} : { params: spec.params }),
      ...(spec.query === undefined ? {} : { querystring: spec.query }),
      ...(spec.body === undefined ? {} : { body: spec.body }),
    },
    onRequest,
    handler: async (request, reply) => {
      const result = await spec.handler({
        params: request.params as z.output<P>,
        query: request.query as z.output<Q>,
        body: request.body as z.output<B>,
        request,
        reply,
        client: guards.client(request),
        actor: guards.actorOf(request),
      });
      // A handler that sent its answer itself returns the reply; otherwise its value is the body.
      return result === reply ? reply : reply.send(result);
    },
  });
  deps.registry.routes.push(spec);
}

/** What every route plugin of the API is registered with. */
export interface ApiPluginOptions {
  readonly front: FrontContext;
  readonly deps: RouteDeps;
  /** check.bypass of this node, for status and refusals. */
  readonly bypass: RangeList;
  readonly now: () => number;
}

/** The actor of an operator route (set by the key check, which ran before the handler). */
export function requireActor(actor: `operator:${string}` | undefined): `operator:${string}` {
  if (actor === undefined) throw new ApiError('BS_API_UNAUTHORIZED', 'an API key is required: Authorization: Bearer <key>');
  return actor;
}
