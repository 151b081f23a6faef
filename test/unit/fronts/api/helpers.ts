/**
 * Shared set-up of the HTTP API tests: a real Firewall (test/unit/firewall/helpers.ts: SQLite
 * store in a temporary directory, the real checker over the in-process DNS test server, a
 * movable clock), the fastify server built on it exactly as startHttpFront builds it, an
 * operator key made the way `blocksmith api-key` makes one, and a metrics stub that records
 * front events.
 */
import type { LightMyRequestResponse } from 'fastify';
import type { z } from 'zod';
import { configSchema, type Config } from '../../../../src/config/schema.js';
import { hashApiKey, newApiKey } from '../../../../src/fronts/api/auth.js';
import { buildHttpServer, type HttpServer } from '../../../../src/fronts/api/server.js';
import type { FrontContext } from '../../../../src/fronts/types.js';
import type { Metrics } from '../../../../src/metrics/types.js';
import { silentLogger } from '../../../../src/util/log.js';
import type { Env, Harness } from '../../firewall/helpers.js';

export interface RecordingMetrics extends Metrics {
  readonly events: string[];
}

export function recordingMetrics(): RecordingMetrics {
  const events: string[] = [];
  return {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    render: () => Promise.resolve('# HELP blocksmith_test 1\nblocksmith_test 1\n'),
    frontEvent: (front, event) => events.push(`${front}:${event}`),
    events,
  };
}

export interface ApiEnv {
  readonly env: Env;
  readonly server: HttpServer;
  readonly config: Config;
  readonly ctx: FrontContext;
  readonly metrics: RecordingMetrics;
  /** The operator key (its hash is in config.http.apiKeys as `ops`). */
  readonly key: string;
  readonly auth: { authorization: string };
  close(): Promise<void>;
}

export interface ApiEnvOptions {
  readonly http?: Record<string, unknown>;
  readonly firewall?: Record<string, unknown>;
}

/** makeConfig - the whole configuration, http and firewall overrides applied, key `ops` added. */
export function makeConfig(key: string, options: ApiEnvOptions = {}): Config {
  return configSchema.parse({
    http: { listen: ['127.0.0.1:0'], apiKeys: [{ name: 'ops', sha256: hashApiKey(key) }], ...options.http },
    firewall: { portalUrl: 'https://portal.example.test', ...options.firewall },
  });
}

export async function apiEnv(harness: Harness, options: ApiEnvOptions = {}): Promise<ApiEnv> {
  const env = await harness.env({ firewall: { portalUrl: 'https://portal.example.test', ...options.firewall } });
  const key = newApiKey();
  const config = makeConfig(key, options);
  const metrics = recordingMetrics();
  const ctx: FrontContext = { config, firewall: env.firewall, logger: silentLogger, metrics };
  const server = await buildHttpServer(ctx, { now: env.clock.now });
  return {
    env,
    server,
    config,
    ctx,
    metrics,
    key,
    auth: { authorization: `Bearer ${key}` },
    close: () => server.app.close(),
  };
}

/** The answer's JSON, parsed with the schema the API documents for it (fails the test if it does not match). */
export function body<T extends z.ZodType>(res: LightMyRequestResponse, schema: T): z.output<T> {
  const parsed = schema.safeParse(res.json());
  if (!parsed.success) throw new Error(`answer does not match its schema: ${parsed.error.message}\n${res.body}`);
  return parsed.data;
}

/** The error code of a JSON error answer. */
export function errorCode(res: LightMyRequestResponse): string {
  const json = res.json<{ error?: { code?: string; message?: string } }>();
  if (typeof json.error?.code !== 'string' || typeof json.error.message !== 'string') throw new Error(`not an error answer: ${res.body}`);
  return json.error.code;
}
