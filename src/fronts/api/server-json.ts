/**
 * NAME
 *   fronts/api/server-json - how the HTTP listener writes JSON
 *
 * SYNOPSIS
 *   safeJson(value): string
 *
 * DESCRIPTION
 *   JSON.stringify, then <, > and & written as \u003c, \u003e, \u0026: the same JSON to any
 *   parser, and no markup for a client that mistakes the answer for HTML (PTR names and
 *   form text are attacker-controlled and come back in answers).
 */
export function safeJson(payload: unknown): string {
  return JSON.stringify(payload).replace(/[<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
