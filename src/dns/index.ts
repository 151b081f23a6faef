/**
 * NAME
 *   dns - the public surface of BlockSmith's DNS stub resolver
 *
 * DESCRIPTION
 *   Import from here, not from the modules: `StubResolver` (the Resolver the check uses), the
 *   contract types of dns/types.ts, upstream parsing/formatting and resolv.conf reading, and the
 *   pieces (cache, limiter, transport helpers) that tests and the CLI's trace may want.
 *   See each module's header for contracts and limits.
 */
export type {
  DnsExchange,
  DnsFlags,
  DnsRecord,
  LookupOptions,
  LookupResult,
  QueryType,
  Resolver,
  TempReason,
  Upstream,
} from './types.js';
export { StubResolver, classifyReply } from './stub-resolver.js';
export type { ResolverStats, StubResolverOptions, UpstreamInfo } from './stub-resolver.js';
export {
  DEFAULT_DNS_PORT,
  FALLBACK_UPSTREAM,
  formatUpstream,
  parseResolvConf,
  parseUpstream,
  readResolvConf,
  readResolvConfSync,
} from './upstream.js';
export type { ResolvConf, ResolvConfServers } from './upstream.js';
export { LookupCache, negativeTtl } from './cache.js';
export type { LookupCacheOptions } from './cache.js';
export { InFlightLimiter } from './limiter.js';
export type { Slot } from './limiter.js';
export { exchange, isEncodableName, normaliseName, toDnsRecord } from './transport.js';
export type { ExchangeRequest, ExchangeResult } from './transport.js';
