/**
 * NAME
 *   fronts/api/headers - the security headers every answer of the HTTP listener carries
 *
 * SYNOPSIS
 *   securityHeaders(reply, path)
 *
 * DESCRIPTION
 *   X-Content-Type-Options nosniff (a JSON answer is never run as script or rendered as HTML),
 *   frame-ancestors 'none' and X-Frame-Options DENY (no page of ours inside someone's frame),
 *   Referrer-Policy no-referrer; a Content-Security-Policy of `default-src 'none'` unless the
 *   route set its own (the portal's pages will); Cache-Control no-store on /api/ and /metrics
 *   (answers about listings and keys must not sit in shared caches).
 */
import type { FastifyReply } from 'fastify';

export const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'";

export function securityHeaders(reply: FastifyReply, path: string): void {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', DEFAULT_CSP);
  if (path.startsWith('/api/') || path === '/metrics') reply.header('cache-control', 'no-store');
}
