/**
 * NAME
 *   web/limits - per-visitor limits of the portal's pages and forms
 *
 * SYNOPSIS
 *   const limits = new VisitorLimits(config.http, now)
 *   limits.take('check', visitor): { ok: true } | { ok: false, retryAfterMs }
 *   limits.describe('check'): { count, windowMs }
 *   visitorAddress(request): string
 *
 * DESCRIPTION
 *   Three classes with the http section's capacities per http.rateWindowMs: `read` (pages that
 *   read the store), `check` (the live test and the unblock button: DNS work), `form` (whitelist
 *   requests, contact messages). A visitor is its IPv4 address or its IPv6 /64; the address is
 *   fastify's request.ip, which believes X-Forwarded-For only from http.trustedProxies.
 *
 *   The token buckets and the client address rules are the JSON API's (fronts/api/rate-limit.ts,
 *   client.ts), imported read-only until they move to a module shared by both fronts. The
 *   portal keeps buckets of its own: its pages and the API are limited separately.
 *   The firewall's own unblock limits (per target address and per requester) apply on top.
 */
import type { FastifyRequest } from 'fastify';
import type { HttpConfig } from '../config/schema.js';
import { clientAddress, rateKey } from '../fronts/api/client.js';
import { TokenBuckets, type TakeResult } from '../fronts/api/rate-limit.js';

export type VisitorClass = 'read' | 'check' | 'form';

export function visitorAddress(request: FastifyRequest): string {
  return clientAddress(request);
}

export class VisitorLimits {
  private readonly buckets: Readonly<Record<VisitorClass, TokenBuckets>>;
  private readonly counts: Readonly<Record<VisitorClass, number>>;
  readonly windowMs: number;

  constructor(http: HttpConfig, now: () => number) {
    const make = (capacity: number): TokenBuckets =>
      new TokenBuckets({ capacity, windowMs: http.rateWindowMs, trackedCount: http.rateTrackedClientsCount, now });
    this.counts = { read: http.readLimitCount, check: http.checkLimitCount, form: http.formLimitCount };
    this.buckets = { read: make(http.readLimitCount), check: make(http.checkLimitCount), form: make(http.formLimitCount) };
    this.windowMs = http.rateWindowMs;
  }

  take(kind: VisitorClass, visitor: string): TakeResult {
    return this.buckets[kind].take(rateKey(visitor));
  }

  count(kind: VisitorClass): number {
    return this.counts[kind];
  }
}
