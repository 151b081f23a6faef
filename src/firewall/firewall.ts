/**
 * NAME
 *   firewall/firewall - the Firewall: decisions, listings, allowlist, requests, statistics
 *
 * SYNOPSIS
 *   const firewall = new Firewall({ config: config.firewall, checker, store, now?, log?, timers? })
 *   await firewall.start()                 load the hot cache, subscribe to store events, start timers
 *   await firewall.decide(ctx)             Decision (decide.ts)
 *   await firewall.unblock(ip, { actor: 'self-service', fromIp })      UnblockResult
 *   await firewall.recheckDue() / expire() / maintenance()              MaintenanceReport
 *   await firewall.list(ip, note, actor) / clear(ip, note, actor)
 *   await firewall.allow(range, note, actor, expiresAt?) / removeAllow(id, actor) / editAllow(id, change, actor)
 *   await firewall.requestWhitelist({...}) / approveRequest(ref, actor, expiresAt?) / denyRequest(ref, actor, reason)
 *   await firewall.contact({...}); await firewall.evidence(ref)
 *   await firewall.test(ip)                a live diagnostic check with its whole trace (changes nothing)
 *   firewall.records.listings(filter) ...  read-only views of the store, for fronts and the CLI
 *   await firewall.flush()                 touches, queued writes and counters to the store now
 *   firewall.reconfigure(config)           a reload: per-decision settings now; returns keys that wait for a restart
 *   await firewall.stop()                  timers off, everything flushed
 *   firewall.accounts                      operator accounts and console sessions (accounts.ts)
 *
 * DESCRIPTION
 *   One Firewall per process, shared by every front. The store is its only way to storage
 *   (store/types.ts); the checker its only way to DNS. Decisions read only the hot cache
 *   (hot-cache.ts) and the checker; store writes they cause are background work (writer.ts).
 *
 *   start() loads every active listing (store.activeListings) and allow entry (store.allAllows)
 *   and subscribes to store events: a `listing` event re-reads that listing (an ended one also
 *   makes the checker forget its cached verdict, so an operator's clear on another node is not
 *   undone by a stale cached `fail` here; the event of a write made here is not read back:
 *   own-writes.ts), an `allow` event re-reads the allow list. It rejects
 *   when the store cannot be read (BS_ERR_STORE_UNAVAILABLE): a node does not start blind.
 *
 *   Timers (all unref'd, none overlaps itself): every statsFlushMs the counters (stats.ts);
 *   every listingUpdateFlushMs the batched rejections of listed IPs; every EVIDENCE_FLUSH_MS
 *   (1 s, or listingUpdateFlushMs if shorter) the buffered evidence (writer.ts); every retryEveryMs the
 *   writes queued while the store was away; every maintenanceEveryMs the re-check of due
 *   listings and expiry, under the cluster lease held as `nodeId`. `timers: false` (tests)
 *   starts none; call flush() and maintenance() by hand.
 *
 * CONFIGURATION PARAMETERS
 *   firewall.* in config/schema.ts (firewallSchema).
 *
 * DIAGNOSTICS
 *   Log events through `log`: see decide.ts, lifecycle.ts, operator.ts, writer.ts, stats.ts;
 *   here EVENT-ERROR (a store event could not be followed) and TIMER-ERROR.
 */
import { hostname } from 'node:os';
import type { FcrdnsChecker } from '../check/checker.js';
import type { ConsoleConfig, FirewallConfig } from '../config/schema.js';
import type { NormalisedAddress } from '../check/address.js';
import type { CheckResult } from '../check/types.js';
import type {
  AllowEntry,
  ContactMessage,
  Evidence,
  Listing,
  Store,
  StoreEvent,
  WhitelistRequest,
} from '../store/types.js';
import type { AbortLike } from '../util/abort.js';
import { printable } from '../util/printable.js';
import { Accounts } from './accounts.js';
import type { Core } from './core.js';
import { decide } from './decide.js';
import { RefusalEpisodes } from './episodes.js';
import { HotCache } from './hot-cache.js';
import { OwnWrites } from './own-writes.js';
import { expire, recheckDue, unblock } from './lifecycle.js';
import * as operator from './operator.js';
import { WindowLimiter } from './rate-limit.js';
import { Stats } from './stats.js';
import type { ClientContext, Decision, FirewallLogger, MaintenanceReport, UnblockOptions, UnblockResult } from './types.js';
import { EVIDENCE_FLUSH_MS, Writer } from './writer.js';

/** How long identical refusals of a listed IP share one reference and evidence (episodes.ts). */
export const REFERENCE_REUSE_MS = 60_000;
/** Refusal episodes kept at once, at least (else firewall.retryQueueCount). */
const EPISODES_MIN_COUNT = 10_000;

export interface FirewallOptions {
  readonly config: FirewallConfig;
  readonly checker: FcrdnsChecker;
  readonly store: Store;
  /** Clock in milliseconds; injected by tests. */
  readonly now?: () => number;
  readonly log?: FirewallLogger;
  /** Start the background timers in start() (default true). */
  readonly timers?: boolean;
  /**
   * Called once per decision, after it is made, with the time it took (ms): the node's metrics
   * and its one log line per decision hang here. Must not throw; errors are swallowed.
   */
  readonly onDecision?: DecisionListener;
  /** The console section (accounts.ts: session TTL, login throttle); its defaults when absent. */
  readonly console?: ConsoleConfig;
}

/**
 * Settings read once, when the firewall is built or started (timers, queue bounds, the limiter,
 * the node id): reconfigure() keeps their running values; they change at the next restart.
 */
export const FIREWALL_START_ONLY_KEYS = [
  'nodeId',
  'retryQueueCount',
  'statsPendingHoursCount',
  'unblockWindowMs',
  'unblockTrackedKeysCount',
  'statsFlushMs',
  'listingUpdateFlushMs',
  'retryEveryMs',
  'maintenanceEveryMs',
] as const satisfies readonly (keyof FirewallConfig)[];

export type DecisionListener = (ctx: ClientContext, decision: Decision, elapsedMs: number) => void;

/**
 * Read-only views of what the store holds, for the fronts (HTTP API, portal, console) and the
 * CLI. The firewall is the fronts' only way to storage; these calls never change anything.
 */
export interface FirewallRecords {
  listing: Store['getListing'];
  listings: Store['listListings'];
  allows: Store['allAllows'];
  request: Store['getRequest'];
  requests: Store['listRequests'];
  contacts: Store['listContacts'];
  audit: Store['listAudit'];
  stats: Store['stats'];
  evidence: Store['getEvidence'];
}

function message(err: unknown): string {
  return printable(err instanceof Error ? err.message : String(err));
}

export class Firewall {
  readonly nodeId: string;
  private core: Core;
  private readonly limiter: WindowLimiter;
  private readonly timersWanted: boolean;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly busy = new Set<string>();
  private readonly eventWork = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private readonly onDecision: DecisionListener | undefined;
  readonly records: FirewallRecords;
  private readonly consoleAccounts: Accounts;

  constructor(options: FirewallOptions) {
    const now = options.now ?? Date.now;
    const log = options.log ?? ((): void => undefined);
    const config = options.config;
    this.nodeId = config.nodeId !== '' ? config.nodeId : `${hostname()}:${process.pid}`;
    this.timersWanted = options.timers ?? true;
    const episodes = new RefusalEpisodes({ windowMs: REFERENCE_REUSE_MS, maxCount: Math.max(EPISODES_MIN_COUNT, config.retryQueueCount) });
    const own = new OwnWrites({ ended: (ip) => options.checker.forget(ip), reread: (ip) => this.onEvent({ type: 'listing', ip }), now });
    const writer = new Writer({ store: options.store, now, queueCount: config.retryQueueCount, log, own });
    this.core = {
      config,
      checker: options.checker,
      store: options.store,
      hot: new HotCache({ now, log, onRemove: (ip) => episodes.forget(ip) }),
      writer,
      stats: new Stats({ store: options.store, now, pendingHoursCount: config.statsPendingHoursCount, log }),
      episodes,
      own,
      now,
      log,
      alwaysAccept: new Set(config.alwaysAcceptLocalParts.map((p) => p.toLowerCase())),
    };
    this.onDecision = options.onDecision;
    const store = options.store;
    // Evidence not yet written (writer.ts buffers it) is answered from memory.
    const evidence = async (ref: string): Promise<Evidence | undefined> => writer.pendingEvidence(ref) ?? store.getEvidence(ref);
    this.records = Object.freeze<FirewallRecords>({
      listing: (ip) => store.getListing(ip),
      listings: (filter) => store.listListings(filter),
      allows: () => store.allAllows(),
      request: (ref) => store.getRequest(ref),
      requests: (state, limit, after) => store.listRequests(state, limit, after),
      contacts: (limit, after) => store.listContacts(limit, after),
      audit: (filter) => store.listAudit(filter),
      stats: (fromHour, toHour) => store.stats(fromHour, toHour),
      evidence,
    });
    this.consoleAccounts = new Accounts({ store, now, log, ...(options.console !== undefined ? { config: options.console } : {}) });
    this.limiter = new WindowLimiter({ windowMs: config.unblockWindowMs, trackedKeysCount: config.unblockTrackedKeysCount, now });
  }

  /** Operator accounts and console sessions, in the store (accounts.ts). */
  get accounts(): Accounts {
    return this.consoleAccounts;
  }

  async start(): Promise<void> {
    const { store, hot } = this.core;
    this.unsubscribe = store.subscribe((event, local) => this.onEvent(event, local));
    try {
      await store.activeListings((batch) => {
        for (const listing of batch) hot.putListing(listing);
      });
      hot.setAllows(await store.allAllows());
    } catch (err) {
      this.unsubscribe();
      this.unsubscribe = undefined;
      throw err;
    }
    if (!this.timersWanted) return;
    const c = this.core.config;
    this.every('stats', c.statsFlushMs, () => this.core.stats.flush());
    this.every('touches', c.listingUpdateFlushMs, () => this.core.writer.flushTouches());
    this.every('evidence', Math.min(EVIDENCE_FLUSH_MS, c.listingUpdateFlushMs), () => this.core.writer.flushEvidence());
    this.every('retry', c.retryEveryMs, () => this.core.writer.retry());
    this.every('maintenance', c.maintenanceEveryMs, () => this.maintenance());
  }

  async stop(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.flush();
  }

  /** flush - the batched rejections, the queued writes and the counters, to the store now. */
  async flush(): Promise<void> {
    await this.core.writer.idle();
    await this.core.writer.retry();
    await this.core.writer.flushEvidence();
    await this.core.writer.flushTouches();
    await this.core.writer.idle();
    await this.core.stats.flush();
    while (this.eventWork.size > 0) await Promise.allSettled([...this.eventWork]);
  }

  decide(ctx: ClientContext): Promise<Decision> {
    const listener = this.onDecision;
    if (listener === undefined) return decide(this.core, ctx);
    const started = performance.now();
    return decide(this.core, ctx).then((decision) => {
      try {
        listener(ctx, decision, performance.now() - started);
      } catch {
        // A listener (metrics, logging) must never change or lose a decision.
      }
      return decision;
    });
  }

  /**
   * test - a live diagnostic check of one address for the public test tool and the API: every
   * PTR name evaluated, the other address family looked up, the raw exchanges kept, and no
   * BlockSmith cache consulted. It changes nothing (no listing, no clear: unblock() does that).
   * Throws BlockSmithError(BS_ERR_ADDRESS_INVALID) for a malformed address.
   */
  test(ip: string, options: { readonly signal?: AbortLike } = {}): Promise<CheckResult> {
    return this.core.checker.check(ip, {
      noCache: true,
      complete: true,
      otherFamily: true,
      keepExchanges: true,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
  }

  unblock(ip: string, options: UnblockOptions): Promise<UnblockResult> {
    return unblock(this.core, this.limiter, ip, options);
  }

  recheckDue(): Promise<MaintenanceReport> {
    return recheckDue(this.core, this.nodeId);
  }

  expire(): Promise<MaintenanceReport> {
    return expire(this.core, this.nodeId);
  }

  /** maintenance - recheckDue() then expire(), as the timer runs them. */
  async maintenance(): Promise<MaintenanceReport> {
    const rechecked = await this.recheckDue();
    if (!rechecked.ran) return rechecked;
    const expired = await this.expire();
    return { ...rechecked, expired: expired.expired };
  }

  list(ip: string, note: string, actor: string): Promise<Listing> {
    return operator.listIp(this.core, ip, note, actor);
  }

  clear(ip: string, note: string, actor: string): Promise<Listing | undefined> {
    return operator.clearIp(this.core, ip, note, actor);
  }

  allow(range: string, note: string, actor: string, expiresAt?: number): Promise<AllowEntry> {
    return operator.addAllow(this.core, range, note, actor, expiresAt);
  }

  removeAllow(id: string, actor: string): Promise<boolean> {
    return operator.removeAllow(this.core, id, actor);
  }

  /** editAllow - range, note and expiry of an allow entry changed in place (ALLOW-EDIT); undefined when gone. */
  editAllow(id: string, change: { readonly range: string; readonly note: string; readonly expiresAt?: number }, actor: string): Promise<AllowEntry | undefined> {
    return operator.editAllow(this.core, id, change, actor);
  }

  requestWhitelist(input: operator.WhitelistRequestInput): Promise<WhitelistRequest> {
    return operator.requestWhitelist(this.core, input);
  }

  approveRequest(ref: string, actor: string, expiresAt?: number): Promise<operator.RequestOutcome> {
    return operator.approveRequest(this.core, ref, actor, expiresAt);
  }

  denyRequest(ref: string, actor: string, reason: string): Promise<operator.RequestOutcome> {
    return operator.denyRequest(this.core, ref, actor, reason);
  }

  contact(input: operator.ContactInput): Promise<ContactMessage> {
    return operator.contact(this.core, input);
  }

  evidence(ref: string): Promise<Evidence | undefined> {
    return this.records.evidence(ref);
  }

  /**
   * reconfigure - a configuration reload (SIGHUP): the settings read per decision or per run
   * (mode, modeByVerdict, organisation, portalUrl, alwaysAcceptLocalParts, re-check, expiry,
   * evidence and reply limits, unblock counts) apply to decisions that start from now on. The
   * FIREWALL_START_ONLY_KEYS keep their running values; those that differ are returned.
   */
  reconfigure(config: FirewallConfig): readonly string[] {
    const running = this.core.config;
    const kept: Record<string, unknown> = {};
    for (const key of FIREWALL_START_ONLY_KEYS) kept[key] = running[key];
    const next = Object.freeze({ ...config, ...kept }) as FirewallConfig;
    this.core = { ...this.core, config: next, alwaysAccept: new Set(next.alwaysAcceptLocalParts.map((p) => p.toLowerCase())) };
    return FIREWALL_START_ONLY_KEYS.filter((key) => config[key] !== running[key]);
  }

  /** What the hot cache and the queues hold (for status pages and tests). */
  status(): { listings: number; allows: number; queuedWrites: number; pendingTouches: number } {
    return {
      listings: this.core.hot.listingCount,
      allows: this.core.hot.allowCount,
      queuedWrites: this.core.writer.queuedCount,
      pendingTouches: this.core.writer.touchCount,
    };
  }

  /** The hot cache's view of one address's listing (no store access). */
  hotListing(ip: string): { verdict: Listing['verdict']; recheckDueAt: number; rejectCount: number } | undefined {
    const entry = this.core.hot.listing(ip);
    return entry === undefined ? undefined : { verdict: entry.verdict, recheckDueAt: entry.recheckDueAt, rejectCount: entry.rejectCount };
  }

  /**
   * exemption - why an address is never refused, from memory (no store, no DNS): the bypass range
   * or the unexpired allow entry's range that holds it, or undefined. For fronts that answer
   * without a decision (the DNSBL zone), so that an allow entry made on any node counts there as
   * soon as it counts for decisions.
   */
  exemption(address: NormalisedAddress): { readonly kind: 'bypass' | 'allowlist'; readonly range: string } | undefined {
    const bypass = this.core.checker.bypassRange(address);
    if (bypass !== null) return { kind: 'bypass', range: bypass };
    const allow = this.core.hot.matchAllow(address);
    return allow === undefined ? undefined : { kind: 'allowlist', range: allow.range };
  }

  private onEvent(event: StoreEvent, local = false): void {
    // The event of a listing write of our own (or one the writer will write anyway) needs no
    // read: decided here, with no promise made (one such event comes with every own write).
    if (event.type === 'listing' && (this.core.writer.hasPendingListing(event.ip) || this.core.own.claim(event.ip, local))) return;
    const work = this.followEvent(event).catch((err: unknown) => {
      this.core.log({ event: 'EVENT-ERROR', detail: `${event.type}: ${message(err)}` });
    });
    this.eventWork.add(work);
    void work.finally(() => this.eventWork.delete(work));
  }

  private async followEvent(event: StoreEvent): Promise<void> {
    const { store, hot, checker } = this.core;
    if (event.type === 'allow') {
      hot.setAllows(await store.allAllows());
      return;
    }
    const listing = await store.getListing(event.ip);
    if (listing?.state === 'active') {
      hot.putListing(listing);
      return;
    }
    hot.removeListing(event.ip);
    checker.forget(event.ip);
  }

  private every(name: string, ms: number, job: () => Promise<unknown>): void {
    const timer = setInterval(() => {
      if (this.busy.has(name)) return;
      this.busy.add(name);
      job()
        .catch((err: unknown) => this.core.log({ event: 'TIMER-ERROR', detail: `${name}: ${message(err)}` }))
        .finally(() => this.busy.delete(name));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}
