/**
 * NAME
 *   app - the composition root: builds and starts every part from one configuration
 *
 * SYNOPSIS
 *   const app = await startApp(config, { logger })   // resolver → checker → store → firewall
 *   await app.stop()
 *
 * DESCRIPTION
 *   The only module that knows all the parts. It wires them in the direction data flows (fronts
 *   → firewall → check → dns; the firewall → store) and stops them in the reverse order. `serve`
 *   and the operator commands of the CLI use it; so do tests that want a whole node in-process.
 *   `fronts: true` (serve) starts the fronts the configuration enables, after the firewall, and
 *   stops them first. `timers: false` builds a firewall without its background work (the CLI's one-shot commands:
 *   re-checks and expiry are the running nodes' job).
 */
import { FcrdnsChecker } from './check/checker.js';
import type { Config } from './config/schema.js';
import { StubResolver } from './dns/stub-resolver.js';
import { Firewall, type DecisionListener } from './firewall/index.js';
import { startHttpFront } from './fronts/api/index.js';
import { startDnsblFront } from './fronts/dnsbl/index.js';
import { startPolicyFront } from './fronts/policy/index.js';
import type { FrontContext, RunningFront } from './fronts/types.js';
import { noMetrics, type Metrics } from './metrics/types.js';
import type { FirewallLogEvent } from './firewall/types.js';
import { RedisStore } from './store/redis/redis-store.js';
import { SqliteStore } from './store/sqlite/index.js';
import type { Store } from './store/types.js';
import { silentLogger, type Logger } from './util/log.js';

export interface App {
  readonly config: Config;
  readonly resolver: StubResolver;
  readonly checker: FcrdnsChecker;
  readonly store: Store;
  readonly firewall: Firewall;
  readonly metrics: Metrics;
  /** The fronts running (none unless `fronts: true`). */
  readonly fronts: readonly RunningFront[];
  stop(): Promise<void>;
}

export interface AppOptions {
  readonly logger?: Logger;
  /** Background work (re-checks, expiry, flushes on timers); off for one-shot CLI commands. */
  readonly timers?: boolean;
  /** Start the fronts enabled in the configuration (serve); off for the CLI's one-shot commands. */
  readonly fronts?: boolean;
  readonly metrics?: Metrics;
  /** Called after every decision (metrics, the per-decision log line). */
  readonly onDecision?: DecisionListener;
}

/** The fronts in start order; stopped in reverse. Each returns undefined when its config disables it. */
const FRONT_STARTERS: readonly ((ctx: FrontContext) => Promise<RunningFront | undefined>)[] = [startHttpFront, startDnsblFront, startPolicyFront];

async function startFronts(ctx: FrontContext): Promise<RunningFront[]> {
  const running: RunningFront[] = [];
  try {
    for (const start of FRONT_STARTERS) {
      const front = await start(ctx);
      if (front !== undefined) running.push(front);
    }
  } catch (err) {
    await stopFronts(running);
    throw err;
  }
  return running;
}

async function stopFronts(running: readonly RunningFront[]): Promise<void> {
  await Promise.allSettled([...running].reverse().map((f) => f.stop()));
}

export function makeStore(config: Config, logger: Logger): Store {
  if (config.store.backend === 'redis') {
    return new RedisStore({ url: config.store.redisUrl, prefix: config.store.redisPrefix });
  }
  return new SqliteStore({
    path: config.store.path,
    onBackgroundError: (err: unknown) => logger.warn({ event: 'STORE-ERROR', err: String(err) }, 'store background error'),
  });
}

export async function startApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? silentLogger;
  const resolver = await StubResolver.fromConfigAsync(config.resolver);
  const checker = new FcrdnsChecker({ resolver, config: config.check });
  const store = makeStore(config, logger);
  try {
    await store.open();
  } catch (err) {
    resolver.close();
    throw err;
  }
  const firewall = new Firewall({
    config: config.firewall,
    checker,
    store,
    timers: options.timers !== false,
    log: (e: FirewallLogEvent) => logger.info(e, e.event),
    ...(options.onDecision !== undefined ? { onDecision: options.onDecision } : {}),
  });
  const metrics = options.metrics ?? noMetrics;
  let fronts: RunningFront[] = [];
  try {
    await firewall.start();
    if (options.fronts === true) fronts = await startFronts({ config, firewall, logger, metrics });
  } catch (err) {
    await firewall.stop().catch(() => undefined);
    await store.close();
    resolver.close();
    throw err;
  }
  let stopped = false;
  return {
    config,
    resolver,
    checker,
    store,
    firewall,
    metrics,
    fronts,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        // Fronts first: no new decisions while the firewall flushes.
        await stopFronts(fronts);
        await firewall.stop();
      } finally {
        await store.close();
        resolver.close();
      }
    },
  };
}
