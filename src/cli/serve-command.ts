/**
 * NAME
 *   cli/serve-command - `blocksmith serve`: run a BlockSmith node
 *
 * DESCRIPTION
 *   Loads the configuration (file, BLOCKSMITH_* variables, flags), starts the node (app.ts):
 *   resolver, check, store, firewall with its background work. Logs READY when it is up, STOP on
 *   SIGTERM or SIGINT (stops taking work, flushes counters and queued writes, closes the store,
 *   exits 0), and on SIGHUP re-reads the configuration (file, variables, the same flags) and
 *   applies it live through App.reload (app.ts): log level, firewall settings, bypass ranges,
 *   resolvers, fronts whose section changed (restarted); the store settings and a few start-only
 *   ones are logged as needing a restart. An invalid file is logged (RELOAD-ERROR) and the running
 *   configuration kept. One DECISION line per decision (metrics/decision-log.ts); the Prometheus
 *   metrics (metrics/prometheus.ts) go to the fronts (GET /metrics on the HTTP front).
 *
 *   Then it starts the fronts the configuration enables (policy service and HTTP on loopback by
 *   default, the DNSBL zone when given an address), each with its flag: --policy HOST:PORT,
 *   --policy-socket PATH, --dnsbl HOST:PORT, --dnsbl-zone ZONE, --http HOST:PORT ("none" turns a
 *   listener off), --portal-url URL (the base of every URL in a rejection).
 *
 * EXIT STATUS
 *   0 after a clean stop; 64 usage; 75 store unavailable at start; 78 invalid configuration.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { startApp } from '../app.js';
import { PrometheusMetrics } from '../metrics/prometheus.js';
import { configFilePath, loadConfig, type ConfigInput } from '../config/load.js';
import { overridesFromEnv } from '../config/env.js';
import type { Config } from '../config/schema.js';
import { EXIT } from '../errors.js';
import { createLogger } from '../util/log.js';
import { addFrontOptions, frontFlagOverrides, FRONT_FLAG_NAMES, type FrontFlags } from './front-options.js';
import { nodeFlagOverrides, NODE_FLAG_NAMES, addNodeOptions, type NodeFlags } from './node-options.js';

/** Period of the timer that keeps `serve` alive (its length does not matter). */
const KEEP_ALIVE_INTERVAL_MS = 3_600_000;

export function registerServeCommand(program: Command, setExit: (code: number) => void): void {
  const serve = program.command('serve').description('Run a BlockSmith node: the firewall, its store and background work');
  addNodeOptions(serve);
  serve.addOption(new Option('--mode <mode>', 'soft (default), hard or report-only').choices(['soft', 'hard', 'report-only']));
  addFrontOptions(serve);
  serve.action(async (flags: ServeFlags, command: Command) => {
    const globals = command.optsWithGlobals<{ config?: string }>();
    setExit(await runServe(flags, globals.config));
  });
}

type ServeFlags = NodeFlags & FrontFlags & { mode?: string };

function readConfig(flags: ServeFlags, configFlag: string | undefined): Config {
  const file = configFilePath(configFlag, process.env);
  const overrides: ConfigInput = { ...nodeFlagOverrides(flags), ...frontFlagOverrides(flags) };
  if (flags.mode !== undefined || flags.portalUrl !== undefined) {
    overrides.firewall = {
      ...(flags.mode !== undefined ? { mode: flags.mode } : {}),
      ...(flags.portalUrl !== undefined ? { portalUrl: flags.portalUrl } : {}),
    };
  }
  return loadConfig({
    ...(file !== undefined ? { file } : {}),
    env: overridesFromEnv(process.env),
    overrides,
    flagNames: { ...NODE_FLAG_NAMES, ...FRONT_FLAG_NAMES, 'firewall.mode': '--mode', 'firewall.portalUrl': '--portal-url' },
  });
}

async function runServe(flags: ServeFlags, configFlag: string | undefined): Promise<number> {
  const config = readConfig(flags, configFlag);
  const logger = createLogger(config.log.level);
  const metrics = new PrometheusMetrics();
  const app = await startApp(config, { logger, fronts: true, metrics, logDecisions: true });
  return new Promise<number>((resolve) => {
    // Every timer and socket of the parts is unref()ed (a library must not hold a process open);
    // `serve` is the one place that decides to stay up until told to stop.
    const keepAlive = setInterval(() => undefined, KEEP_ALIVE_INTERVAL_MS);
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ event: 'STOP', signal }, 'stopping');
      app.stop().then(
        () => {
          logger.info({ event: 'STOPPED' }, 'stopped');
          cleanup();
          resolve(EXIT.ok);
        },
        (err: unknown) => {
          logger.error({ event: 'STOP-ERROR', err: String(err) }, 'error while stopping');
          cleanup();
          resolve(EXIT.software);
        },
      );
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    // App.reload never rejects: a bad file is its RELOAD-ERROR line, and the node runs on.
    const onHup = (): void => void app.reload(() => readConfig(flags, configFlag));
    const cleanup = (): void => {
      clearInterval(keepAlive);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('SIGHUP', onHup);
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    process.on('SIGHUP', onHup);
    // READY only once the handlers are in place: a supervisor (or a test) that signals on READY
    // must not meet Node's default action, which for SIGHUP is to end the process.
    logger.info(
      {
        event: 'READY',
        store: config.store.backend === 'sqlite' ? config.store.path : config.store.redisUrl.replace(/\/\/[^@/]*@/, '//***@'),
        resolvers: app.resolver.upstreamInfo.servers,
        mode: config.firewall.mode,
        fronts: app.fronts.map((f) => ({ name: f.name, endpoints: f.endpoints })),
      },
      app.fronts.length === 0 ? 'BlockSmith is running with no front enabled' : 'BlockSmith is running',
    );
  });
}
