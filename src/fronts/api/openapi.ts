/**
 * NAME
 *   fronts/api/openapi - the OpenAPI 3.1 document, built from the routes' own zod schemas
 *
 * SYNOPSIS
 *   buildOpenApi(routes, version): OpenApiDocument
 *
 * DESCRIPTION
 *   Each RouteSpec (route.ts) already holds the schemas fastify validates with; this turns them
 *   into JSON Schema (draft 2020-12, OpenAPI 3.1's dialect) with z.toJSONSchema, taking the
 *   *input* side (what a client sends: a default makes a field optional, a transform shows its
 *   input type). Path parameters and query fields become `parameters`, a body the
 *   `requestBody`, responses their `content`. Nothing is written twice, so the document cannot
 *   drift from what the server enforces.
 *
 * STANDARDS
 *   OpenAPI 3.1.0; JSON Schema 2020-12; RFC 6750 (the bearer scheme).
 */
import { z } from 'zod';
import type { RouteSpec } from './route.js';

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly paths: Record<string, Record<string, unknown>>;
  readonly components: Record<string, unknown>;
  readonly tags: readonly { name: string; description: string }[];
}

function jsonSchema(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** `/api/v1/ip/:ip` → `/api/v1/ip/{ip}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The fields of an object schema (after optional/default wrappers), each as a parameter. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (schema === undefined) return [];
  const json = jsonSchema(schema);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: property,
  }));
}

function operation(spec: RouteSpec): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] =
      response.schema === undefined && response.contentType === undefined
        ? { description: response.description }
        : {
            description: response.description,
            content: { [response.contentType ?? 'application/json']: { schema: response.schema === undefined ? { type: 'string' } : jsonSchema(response.schema) } },
          };
  }
  if (spec.rate !== undefined && responses['429'] === undefined) {
    responses['429'] = { description: 'rate-limited (Retry-After)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  const body = spec.body;
  const bodyOptional = body !== undefined && body.safeParse(undefined).success;
  return {
    operationId: `${spec.method.toLowerCase()}${openApiPath(spec.url).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: spec.summary,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    tags: [spec.tag],
    ...(spec.operator ? { security: [{ apiKey: [] }] } : {}),
    parameters: [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')],
    ...(body === undefined ? {} : { requestBody: { required: !bodyOptional, content: { 'application/json': { schema: jsonSchema(body) } } } }),
    responses,
  };
}

export function buildOpenApi(routes: readonly RouteSpec[], version: string, errorSchema: z.ZodType): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of routes) {
    (paths[openApiPath(spec.url)] ??= {})[spec.method.toLowerCase()] = operation(spec);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'BlockSmith API',
      version,
      description:
        'Status, live check and self-service unblock of an address; whitelist requests and contact (public); listings, ' +
        'allowlist, requests, statistics, audit and evidence (operators, with an API key). Errors: { "error": { "code", "message" } }.',
    },
    tags: [
      { name: 'public', description: 'for anyone, rate-limited per client' },
      { name: 'operator', description: 'needs Authorization: Bearer <key>' },
      { name: 'meta', description: 'this document and the metrics' },
    ],
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an operator key made by `blocksmith api-key NAME`' } },
      schemas: { Error: jsonSchema(errorSchema) },
    },
  };
}
