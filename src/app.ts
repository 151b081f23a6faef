/**
 * NAME
 *   app - the composition root: builds and starts every part from one configuration
 *
 * SYNOPSIS
 *   const app = await startApp(config, { logger })   // resolver → checker → store → firewall
 *   await app.reload(() => loadConfig(...))         // SIGHUP: apply what can change live
 *   await app.stop()
 *
 * DESCRIPTION
 *   The only module that knows all the parts. It wires them in the direction data flows (fronts
 *   → firewall → check → dns; the firewall → store) and stops them in the reverse order. `serve`
 *   and the operator commands of the CLI use it; so do tests that want a whole node in-process.
 *   `fronts: true` (serve) starts the fronts the configuration enables, after the firewall, and
 *   stops them first. `timers: false` builds a firewall without its background work (the CLI's one-shot commands:
 *   re-checks and expiry are the running nodes' job).
 *
 *   Observability: `metrics` goes to every front's FrontContext; when it is a NodeMetrics
 *   (metrics/prometheus.ts) it also counts every decision (the firewall's onDecision hook), the
 *   firewall's and the store's log events, reloads, and reads the parts' gauges at scrape time.
 *   `logDecisions` adds one DECISION line per decision (metrics/decision-log.ts) to the same hook.
 *
 *   reload(read) - read a new configuration and apply what can change in a running node:
 *     log.level                       the logger's level (after the RELOAD line is written)
 *     firewall.*                      Firewall.reconfigure(); FIREWALL_START_ONLY_KEYS wait for a restart
 *     check.bypass                    FcrdnsChecker.setBypass() (the verdict cache is emptied)
 *     resolver.*                      a new StubResolver swapped into the checker; the old one is
 *                                     closed once the checks running on it are past their deadline
 *     policy.*, dnsbl.*, http.*, gate.*  that front is stopped and started again on its new section;
 *                                     if it cannot start, it is started again on its old section
 *     store.*, other check.*          need a restart (the running values stay)
 *   A configuration that cannot be read, or a resolver that cannot be built, changes nothing
 *   (RELOAD-ERROR). Reloads run one at a time; none after stop(). FrontContext.config always
 *   reads the running configuration.
 *
 * DIAGNOSTICS
 *   RELOAD { changed, applied, restartNeeded, restarted, failed }, RELOAD-ERROR { err },
 *   FRONT-RESTART-ERROR { front, err, running }.
 */
import { FcrdnsChecker } from './check/checker.js';
import type { CheckConfig, Config, FirewallConfig } from './config/schema.js';
import { StubResolver } from './dns/stub-resolver.js';
import { FIREWALL_START_ONLY_KEYS } from './firewall/firewall.js';
import { Firewall, type DecisionListener } from './firewall/index.js';
import { startHttpFront } from './fronts/api/index.js';
import { startDnsblFront } from './fronts/dnsbl/index.js';
import { startPolicyFront } from './fronts/policy/index.js';
import { startGateFront } from './fronts/smtp-gate/index.js';
import type { FrontContext, RunningFront } from './fronts/types.js';
import { decisionLogger } from './metrics/decision-log.js';
import { isNodeMetrics, noMetrics, type Metrics, type NodeMetrics } from './metrics/types.js';
import type { FirewallLogEvent } from './firewall/types.js';
import { RedisStore } from './store/redis/redis-store.js';
import { SqliteStore } from './store/sqlite/index.js';
import type { Store } from './store/types.js';
import { silentLogger, type Logger } from './util/log.js';
import { printable } from './util/printable.js';

/** The configuration sections that each belong to one front (the front has the section's name). */
export type FrontSection = 'http' | 'dnsbl' | 'policy' | 'gate';
export type FrontStarter = (ctx: FrontContext) => Promise<RunningFront | undefined>;

/** Start order; stopped in reverse. */
const FRONT_SECTIONS: readonly FrontSection[] = ['http', 'dnsbl', 'policy', 'gate'];
const DEFAULT_STARTERS: Readonly<Record<FrontSection, FrontStarter>> = { http: startHttpFront, dnsbl: startDnsblFront, policy: startPolicyFront, gate: startGateFront };

/** Extra time after check.deadlineMs before a replaced resolver is closed. */
const RESOLVER_RETIRE_MARGIN_MS = 1_000;

export interface App {
  /** The running configuration (after reloads: what is in effect). */
  readonly config: Config;
  /** The resolver checks use now (a reload of resolver.* replaces it). */
  readonly resolver: StubResolver;
  readonly checker: FcrdnsChecker;
  readonly store: Store;
  readonly firewall: Firewall;
  readonly metrics: Metrics;
  /** The fronts running (none unless `fronts: true`), in start order. */
  readonly fronts: readonly RunningFront[];
  /**
   * reload - read a configuration with `read` and apply it (see DESCRIPTION). Never rejects:
   * undefined when nothing was applied (refused, RELOAD-ERROR logged, or the app is stopped).
   */
  reload(read: () => Config): Promise<ReloadReport | undefined>;
  stop(): Promise<void>;
}

export interface FrontRestartFailure {
  readonly front: FrontSection;
  readonly error: string;
  /** Running again on its previous section (false: the front is down until the next reload or restart). */
  readonly running: boolean;
}

export interface ReloadReport {
  /** Every key whose value differs between the running configuration and the one read. */
  readonly changed: readonly string[];
  /** Keys now in effect. */
  readonly applied: readonly string[];
  /** Keys that keep their running value until the next restart. */
  readonly restartNeeded: readonly string[];
  /** Fronts stopped and started again (their section changed). */
  readonly restarted: readonly FrontSection[];
  readonly failed: readonly FrontRestartFailure[];
}

export interface AppOptions {
  readonly logger?: Logger;
  /** Background work (re-checks, expiry, flushes on timers); off for one-shot CLI commands. */
  readonly timers?: boolean;
  /** Start the fronts enabled in the configuration (serve); off for the CLI's one-shot commands. */
  readonly fronts?: boolean;
  /** Given to every front; a NodeMetrics (metrics/prometheus.ts) is also fed by the node's parts. */
  readonly metrics?: Metrics;
  /** One DECISION log line per decision (serve). */
  readonly logDecisions?: boolean;
  /** Called after every decision, after the metrics and the DECISION line. */
  readonly onDecision?: DecisionListener;
  /** Replace a front's start function (tests of front restarts). */
  readonly frontStarters?: Partial<Record<FrontSection, FrontStarter>>;
}

export function makeStore(config: Config, logger: Logger, onBackgroundError?: () => void): Store {
  if (config.store.backend === 'redis') {
    return new RedisStore({ url: config.store.redisUrl, prefix: config.store.redisPrefix });
  }
  return new SqliteStore({
    path: config.store.path,
    onBackgroundError: (err: unknown) => {
      logger.warn({ event: 'STORE-ERROR', err: String(err) }, 'store background error');
      onBackgroundError?.();
    },
  });
}

/** Dotted keys whose values differ between two configurations (arrays compare as a whole). */
export function changedKeys(a: unknown, b: unknown, prefix = ''): string[] {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null || Array.isArray(a) || Array.isArray(b)) {
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => changedKeys((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix === '' ? k : `${prefix}.${k}`));
}

/** Several decision listeners as one; one that throws does not keep the others from running. */
function allListeners(listeners: readonly (DecisionListener | undefined)[]): DecisionListener | undefined {
  const list = listeners.filter((l): l is DecisionListener => l !== undefined);
  if (list.length <= 1) return list[0];
  return (ctx, decision, elapsedMs) => {
    for (const listener of list) {
      try {
        listener(ctx, decision, elapsedMs);
      } catch {
        // A listener must never change or lose a decision (nor keep the next listener from it).
      }
    }
  };
}

function errorText(err: unknown): string {
  return printable(err instanceof Error ? err.message : String(err));
}

export async function startApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? silentLogger;
  const metrics = options.metrics ?? noMetrics;
  const node: NodeMetrics | undefined = isNodeMetrics(metrics) ? metrics : undefined;
  const starters: Record<FrontSection, FrontStarter> = { ...DEFAULT_STARTERS, ...options.frontStarters };
  let resolver = await StubResolver.fromConfigAsync(config.resolver);
  const checker = new FcrdnsChecker({ resolver, config: config.check });
  const store = makeStore(config, logger, () => node?.logEvent('STORE-ERROR'));
  try {
    await store.open();
  } catch (err) {
    resolver.close();
    throw err;
  }
  const firewall = new Firewall({
    config: config.firewall,
    console: config.console,
    checker,
    store,
    timers: options.timers !== false,
    log: (e: FirewallLogEvent) => {
      logger.info(e, e.event);
      node?.logEvent(e.event);
    },
    ...((): { onDecision?: DecisionListener } => {
      const listener = allListeners([node?.decision, options.logDecisions === true ? decisionLogger(logger) : undefined, options.onDecision]);
      return listener === undefined ? {} : { onDecision: listener };
    })(),
  });

  // What reloads change: the running configuration, the resolver, the fronts.
  let running: Config = config;
  const fronts = new Map<FrontSection, RunningFront>();
  /** Resolvers replaced by a reload, closed once their checks are done; their counts still add up. */
  const retiring = new Map<StubResolver, NodeJS.Timeout>();
  const retired = { queriesSent: 0, cacheHits: 0 };
  const ctx: FrontContext = {
    get config(): Config {
      return running;
    },
    firewall,
    logger,
    metrics,
  };

  node?.watch({
    firewall: () => firewall.status(),
    checker: () => checker.stats,
    resolver: () => {
      const now = resolver.stats;
      let queriesSent = retired.queriesSent + now.queriesSent;
      let cacheHits = retired.cacheHits + now.cacheHits;
      for (const old of retiring.keys()) {
        queriesSent += old.stats.queriesSent;
        cacheHits += old.stats.cacheHits;
      }
      return { ...now, queriesSent, cacheHits };
    },
  });

  const retire = (old: StubResolver, afterMs: number): void => {
    const close = (): void => {
      retiring.delete(old);
      const final = old.stats;
      retired.queriesSent += final.queriesSent;
      retired.cacheHits += final.cacheHits;
      old.close();
    };
    const timer = setTimeout(close, afterMs);
    timer.unref();
    retiring.set(old, timer);
  };

  const closeResolvers = (): void => {
    for (const [old, timer] of retiring) {
      clearTimeout(timer);
      old.close();
    }
    retiring.clear();
    resolver.close();
  };

  async function stopFronts(): Promise<void> {
    const list = [...FRONT_SECTIONS].reverse().flatMap((s) => {
      const f = fronts.get(s);
      return f === undefined ? [] : [f];
    });
    fronts.clear();
    await Promise.allSettled(list.map((f) => f.stop()));
  }

  async function startFront(section: FrontSection): Promise<void> {
    const front = await starters[section](ctx);
    if (front !== undefined) fronts.set(section, front);
  }

  try {
    await firewall.start();
    if (options.fronts === true) {
      try {
        for (const section of FRONT_SECTIONS) await startFront(section);
      } catch (err) {
        await stopFronts();
        throw err;
      }
    }
  } catch (err) {
    await firewall.stop().catch(() => undefined);
    await store.close();
    resolver.close();
    throw err;
  }

  /** restartFront - stop the front, start it on the running section; on failure, on `previous`. */
  async function restartFront(section: FrontSection, previous: Config): Promise<FrontRestartFailure | undefined> {
    await fronts.get(section)?.stop();
    fronts.delete(section);
    try {
      await startFront(section);
      return undefined;
    } catch (err) {
      const error = errorText(err);
      running = Object.freeze({ ...running, [section]: previous[section] });
      let back = false;
      try {
        await startFront(section);
        back = true;
      } catch {
        // The old section does not start either (its address taken meanwhile): the front stays down.
      }
      logger.error({ event: 'FRONT-RESTART-ERROR', front: section, err: error, running: back }, `front ${section} could not start on its new settings`);
      return { front: section, error, running: back };
    }
  }

  async function apply(next: Config): Promise<ReloadReport> {
    const before = running;
    const changed = changedKeys(before, next);
    // What can fail comes first, so a refused reload changes nothing.
    const resolverChanged = changedKeys(before.resolver, next.resolver).length > 0;
    const newResolver = resolverChanged ? await StubResolver.fromConfigAsync(next.resolver) : undefined;
    try {
      if (JSON.stringify(before.check.bypass) !== JSON.stringify(next.check.bypass)) checker.setBypass(next.check.bypass);
    } catch (err) {
      newResolver?.close();
      throw err;
    }
    firewall.reconfigure(next.firewall);
    firewall.accounts.reconfigure(next.console);
    if (newResolver !== undefined) {
      checker.setResolver(newResolver);
      const old = resolver;
      resolver = newResolver;
      retire(old, before.check.deadlineMs + RESOLVER_RETIRE_MARGIN_MS);
    }
    const firewallKept: Partial<Record<keyof FirewallConfig, unknown>> = {};
    for (const key of FIREWALL_START_ONLY_KEYS) firewallKept[key] = before.firewall[key];
    const check: CheckConfig = Object.freeze({ ...before.check, bypass: next.check.bypass });
    running = Object.freeze({
      ...next,
      store: before.store,
      check,
      firewall: Object.freeze({ ...next.firewall, ...firewallKept }) as FirewallConfig,
    });
    const restartNeeded = changedKeys(next, running);

    const restarted: FrontSection[] = [];
    const failed: FrontRestartFailure[] = [];
    if (options.fronts === true) {
      for (const section of FRONT_SECTIONS) {
        if (changedKeys(before[section], next[section]).length === 0) continue;
        restarted.push(section);
        const failure = await restartFront(section, before);
        if (failure !== undefined) failed.push(failure);
      }
    }
    return { changed, applied: changedKeys(before, running), restartNeeded, restarted, failed };
  }

  let stopped = false;
  let reloading: Promise<unknown> = Promise.resolve();

  function reload(read: () => Config): Promise<ReloadReport | undefined> {
    const job = reloading.then(async (): Promise<ReloadReport | undefined> => {
      if (stopped) return undefined;
      let report: ReloadReport;
      try {
        report = await apply(read());
      } catch (err) {
        node?.reload('failed');
        logger.error({ event: 'RELOAD-ERROR', err: errorText(err) }, 'configuration invalid; keeping the running one');
        return undefined;
      }
      node?.reload('applied');
      logger.info(
        { event: 'RELOAD', ...report },
        report.changed.length === 0
          ? 'configuration unchanged'
          : report.restartNeeded.length === 0
            ? 'configuration applied'
            : 'configuration applied; some settings need a restart',
      );
      // Last: the RELOAD line above is written under the level in force when it was asked for.
      if (options.logger !== undefined) logger.level = running.log.level;
      return report;
    });
    reloading = job;
    return job;
  }

  return {
    get config(): Config {
      return running;
    },
    get resolver(): StubResolver {
      return resolver;
    },
    checker,
    store,
    firewall,
    metrics,
    get fronts(): readonly RunningFront[] {
      return FRONT_SECTIONS.flatMap((s) => {
        const f = fronts.get(s);
        return f === undefined ? [] : [f];
      });
    },
    reload,
    async stop() {
      if (stopped) return;
      stopped = true;
      await reloading;
      try {
        // Fronts first: no new decisions while the firewall flushes.
        await stopFronts();
        await firewall.stop();
      } finally {
        await store.close();
        closeResolvers();
      }
    },
  };
}
