/**
 * NAME
 *   web/forms - HTML form bodies (application/x-www-form-urlencoded) for the portal's POSTs
 *
 * SYNOPSIS
 *   registerFormParser(app)      in the portal's scope only: the JSON API keeps taking JSON
 *   parseFormBody(text): Record<field, value>   what that parser makes of a body
 *   fieldErrors(issues): Record<field, message>
 *
 * DESCRIPTION
 *   The body arrives within http.bodyLimitBytes (fastify's limit). Each field's first value
 *   is kept as a string; repeated, unknown or __proto__ fields cannot shape the object (it has
 *   no prototype and only strings as values). Validation is the route's (zod).
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';

export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseFormBody(typeof body === 'string' ? body : body.toString('utf8')));
  });
}

/** parseFormBody - each field's first value, in an object without a prototype. */
export function parseFormBody(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of new URLSearchParams(text)) if (!(key in out)) out[key] = value;
  return out;
}

export function fieldErrors(issues: readonly z.core.$ZodIssue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of issues) {
    const key = String(issue.path[0] ?? '');
    out[key] ??= issue.message;
  }
  return out;
}
