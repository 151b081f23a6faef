/**
 * NAME
 *   fronts/api/guards - what stands before a handler: rate limits per client, operator keys
 *
 * SYNOPSIS
 *   const guards = new Guards({ http: config.http, metrics, now })
 *   guards.rateHook('check')          onRequest hook: 429 + Retry-After when the client is over
 *   guards.operatorHook()             onRequest hook: 401 unless a configured key is presented
 *   guards.client(request)            the client address (client.ts)
 *   guards.actorOf(request)           `operator:<name>` once operatorHook passed
 *   guards.metricsAllowed(request)    /metrics: the client in http.metricsAllow
 *
 * DESCRIPTION
 *   Rate classes: `read` (public status reads), `check` (live checks and unblocks: they cost
 *   DNS work), `form` (whitelist requests, contact messages), `operator` (every operator call,
 *   counted before the key is looked at). Each class has its own buckets (rate-limit.ts), keyed
 *   by client (client.ts: IPv4 address, IPv6 /64), capacity http.<class>LimitCount per
 *   http.rateWindowMs.
 *
 *   A refusal is JSON (errors.ts) with Retry-After in whole seconds (RFC 9110 §10.2.3), at
 *   least 1. 401s carry `WWW-Authenticate: Bearer` (RFC 6750 §3).
 *
 * DIAGNOSTICS
 *   Front events (metrics): `rate-limited`, `unauthorized`. Log event LIMIT at debug level.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';
import type { HttpConfig } from '../../config/schema.js';
import type { Metrics } from '../../metrics/types.js';
import { ApiKeys } from './auth.js';
import { clientAddress, RangeList, rateKey } from './client.js';
import { sendError } from './errors.js';
import { TokenBuckets } from './rate-limit.js';

export type RateClass = 'read' | 'check' | 'form' | 'operator';

export const FRONT = 'http';
const MS_PER_S = 1_000;

export interface GuardsOptions {
  readonly http: HttpConfig;
  readonly metrics: Metrics;
  readonly now: () => number;
}

export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / MS_PER_S)));
}

export class Guards {
  readonly keys: ApiKeys;
  private readonly limiters: Readonly<Record<RateClass, TokenBuckets>>;
  private readonly metricsRanges: RangeList;
  private readonly metrics: Metrics;
  private readonly actors = new WeakMap<FastifyRequest, `operator:${string}`>();

  constructor(options: GuardsOptions) {
    const { http, now } = options;
    const buckets = (capacity: number): TokenBuckets =>
      new TokenBuckets({ capacity, windowMs: http.rateWindowMs, trackedCount: http.rateTrackedClientsCount, now });
    this.limiters = {
      read: buckets(http.readLimitCount),
      check: buckets(http.checkLimitCount),
      form: buckets(http.formLimitCount),
      operator: buckets(http.operatorLimitCount),
    };
    this.keys = new ApiKeys(http.apiKeys);
    this.metricsRanges = new RangeList(http.metricsAllow);
    this.metrics = options.metrics;
  }

  client(request: FastifyRequest): string {
    return clientAddress(request);
  }

  actorOf(request: FastifyRequest): `operator:${string}` | undefined {
    return this.actors.get(request);
  }

  metricsAllowed(request: FastifyRequest): boolean {
    return this.metricsRanges.has(this.client(request));
  }

  // Callback-style hooks: a refusal sends its answer and does not call done(), so nothing after runs.
  rateHook(rateClass: RateClass): onRequestHookHandler {
    const limiter = this.limiters[rateClass];
    return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
      const client = this.client(request);
      const verdict = limiter.take(rateKey(client));
      if (verdict.ok) {
        done();
        return;
      }
      this.metrics.frontEvent(FRONT, 'rate-limited');
      request.log.debug({ event: 'LIMIT', front: FRONT, ip: client, rateClass }, 'LIMIT');
      void sendError(reply, 'BS_API_RATE_LIMITED', `too many ${rateClass} requests from this client; try again later`, {
        'retry-after': retryAfterSeconds(verdict.retryAfterMs),
      });
    };
  }

  operatorHook(): onRequestHookHandler {
    return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
      const name = this.keys.verify(request.headers.authorization);
      if (name !== undefined) {
        this.actors.set(request, `operator:${name}`);
        done();
        return;
      }
      this.metrics.frontEvent(FRONT, 'unauthorized');
      const message =
        request.headers.authorization === undefined ? 'an API key is required: Authorization: Bearer <key>' : 'the API key is not valid';
      void sendError(reply, 'BS_API_UNAUTHORIZED', message, { 'www-authenticate': 'Bearer realm="blocksmith"' });
    };
  }
}
