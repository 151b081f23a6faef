/**
 * NAME
 *   fronts/api/errors - the API's error codes, and the one way an error leaves the server
 *
 * SYNOPSIS
 *   throw new ApiError('BS_API_NOT_FOUND', 'no listing for 192.0.2.1')
 *   installErrorHandling(app)              error handler, 404/405 handler, framework errors
 *   sendError(reply, code, message, headers?)
 *   API_ERRORS                             code → { status, summary } (docs/api.md lists each)
 *
 * DESCRIPTION
 *   Every answer that is not a success is JSON `{ "error": { "code", "message" } }` with a
 *   stable code from API_ERRORS, whatever went wrong: a route that does not exist (404) or
 *   exists for other methods (405, with Allow), a schema failure (400), malformed JSON (400),
 *   an oversize body (413), an unknown content type (415), a bad URL encoding (400), a store
 *   that cannot be reached or written (503), a bug (500, logged, no detail to the client).
 *
 *   Messages may quote what the client sent; JSON escaping makes that safe in JSON, and no
 *   error is ever rendered as HTML. Codes are never reused for another meaning;
 *   test/unit/fronts/api/errors.test.ts fails when docs/api.md misses one.
 *
 * DIAGNOSTICS
 *   Log event HTTP-ERROR (a 5xx: the error is logged with its stack, the client sees only the code).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isBlockSmithError } from '../../errors.js';
import { printable } from '../../util/printable.js';
import { securityHeaders } from './headers.js';

export const API_ERRORS = Object.freeze({
  BS_API_INVALID: { status: 400, summary: 'a parameter, query field or body field does not match the schema' },
  BS_API_BAD_JSON: { status: 400, summary: 'the body is not valid JSON' },
  BS_API_BAD_REQUEST: { status: 400, summary: 'the request itself is malformed (URL encoding, headers, content length)' },
  BS_API_UNAUTHORIZED: { status: 401, summary: 'an operator route without a valid API key (Authorization: Bearer <key>)' },
  BS_API_FORBIDDEN: { status: 403, summary: 'the client address may not use this route (/metrics)' },
  BS_API_NOT_FOUND: { status: 404, summary: 'no such route, or no such record' },
  BS_API_METHOD_NOT_ALLOWED: { status: 405, summary: 'the route exists for other methods (see the Allow header)' },
  BS_API_CONFLICT: { status: 409, summary: 'the record is no longer in a state that allows this (a request already decided)' },
  BS_API_BODY_TOO_LARGE: { status: 413, summary: 'the body is larger than http.bodyLimitBytes' },
  BS_API_UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'the body is not application/json' },
  BS_API_TARGET_RESERVED: { status: 422, summary: 'the address is loopback, private, link-local, multicast or otherwise not a mail client: not checked' },
  BS_API_TARGET_BYPASSED: { status: 422, summary: 'the address is in a bypass range of this node (check.bypass): never checked' },
  BS_API_RATE_LIMITED: { status: 429, summary: 'too many requests from this client, or for this address (see Retry-After)' },
  BS_API_INTERNAL: { status: 500, summary: 'a bug: logged on the node, no detail given' },
  BS_API_UNAVAILABLE: { status: 503, summary: 'the store cannot be reached or written; nothing was changed, try again later' },
} as const);

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ApiErrorCode, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERRORS[code].status;
    this.headers = headers;
  }
}

export interface ErrorBody {
  readonly error: { readonly code: ApiErrorCode; readonly message: string };
}

/** Longest message sent back (a message may quote a client's input). */
export const ERROR_MESSAGE_MAX_CHARS = 500;

export function errorBody(code: ApiErrorCode, message: string): ErrorBody {
  return { error: { code, message: message.slice(0, ERROR_MESSAGE_MAX_CHARS) } };
}

export function sendError(reply: FastifyReply, code: ApiErrorCode, message: string, headers: Readonly<Record<string, string>> = {}): FastifyReply {
  return reply.code(API_ERRORS[code].status).headers(headers).type('application/json; charset=utf-8').send(errorBody(code, message));
}

/** Fastify's own codes (content-type parser, router) → ours. */
const FASTIFY_CODES: Readonly<Record<string, ApiErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'BS_API_BAD_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BS_API_BAD_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BS_API_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'BS_API_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'BS_API_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BS_API_BAD_REQUEST',
  FST_ERR_BAD_URL: 'BS_API_BAD_REQUEST',
  FST_ERR_VALIDATION: 'BS_API_INVALID',
};

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** The methods some route answers for this path (for 405 and its Allow header). */
function allowedMethods(app: FastifyInstance, url: string): string[] {
  const path = url.split('?')[0] ?? '';
  return METHODS.filter((method) => app.findRoute({ method, url: path }) !== null);
}

/** What to answer for an error thrown anywhere in a request. */
export function classify(err: unknown): { code: ApiErrorCode; message: string; headers: Readonly<Record<string, string>> } {
  if (err instanceof ApiError) return { code: err.code, message: err.message, headers: err.headers };
  if (isBlockSmithError(err)) {
    switch (err.code) {
      case 'BS_ERR_ADDRESS_INVALID':
      case 'BS_ERR_CIDR_INVALID':
      case 'BS_ERR_USAGE':
        return { code: 'BS_API_INVALID', message: err.message, headers: {} };
      case 'BS_ERR_STORE_UNAVAILABLE':
        return { code: 'BS_API_UNAVAILABLE', message: 'the store cannot be reached or written; nothing was changed', headers: { 'retry-after': '5' } };
      default:
        return { code: 'BS_API_INTERNAL', message: 'internal error', headers: {} };
    }
  }
  const fastifyCode = (err as Partial<FastifyError> | null)?.code;
  const mapped = typeof fastifyCode === 'string' ? FASTIFY_CODES[fastifyCode] : undefined;
  if (mapped !== undefined) {
    const message = mapped === 'BS_API_INVALID' ? (err as Error).message : API_ERRORS[mapped].summary;
    return { code: mapped, message, headers: {} };
  }
  return { code: 'BS_API_INTERNAL', message: 'internal error', headers: {} };
}

function handle(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { code, message, headers } = classify(err);
  if (API_ERRORS[code].status >= 500) {
    request.log.error({ event: 'HTTP-ERROR', err, url: printable(request.url) }, 'HTTP-ERROR');
  }
  return sendError(reply, code, message, headers);
}

/**
 * installErrorHandling - on the root instance (every plugin, the portal's too, inherits it
 * unless it sets its own): the error handler, the 404/405 handler and fastify's framework errors.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => handle(err, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const allowed = allowedMethods(app, request.url);
    if (allowed.length > 0) {
      return sendError(reply, 'BS_API_METHOD_NOT_ALLOWED', `${request.method} is not allowed here; use ${allowed.join(', ')}`, {
        allow: allowed.join(', '),
      });
    }
    return sendError(reply, 'BS_API_NOT_FOUND', 'no such route');
  });
}

/** fastify's `frameworkErrors` option: errors raised before routing (a bad URL encoding). */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // Raised before routing: the onSend hooks do not run, so the headers are set here.
  securityHeaders(reply, '/api/');
  void handle(err, request, reply);
}

/** The raw answer for a connection-level parse error (node's clientError): JSON too. */
export function clientErrorResponse(): string {
  const body = JSON.stringify(errorBody('BS_API_BAD_REQUEST', API_ERRORS.BS_API_BAD_REQUEST.summary));
  return (
    'HTTP/1.1 400 Bad Request\r\n' +
    'Connection: close\r\n' +
    'Content-Type: application/json; charset=utf-8\r\n' +
    'X-Content-Type-Options: nosniff\r\n' +
    'Cache-Control: no-store\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
