/**
 * Shared set-up of the firewall tests: a real store (SqliteStore in a temporary directory, or
 * RedisStore under a key prefix of its own), a real FcrdnsChecker over the StubResolver against
 * the in-process DNS test server, a movable clock, and a log that records events. `flaky()`
 * wraps the real store so chosen methods reject with BS_ERR_STORE_UNAVAILABLE while `down` is
 * set (a wrapper over the real store, not a fake).
 *
 * Which store: `makeEnv(server, { store })`; without it, BLOCKSMITH_TEST_STORE (`sqlite`, the
 * default, or `redis`). The suites (*.suite.ts) take the kind as their argument: the unit
 * *.test.ts files run them on SQLite, test/e2e/firewall/redis.test.ts on Redis
 * (BLOCKSMITH_TEST_REDIS_URL, default redis://127.0.0.1:6379). Every Redis env lives under
 * `REDIS_RUN_PREFIX<n>:`; the last env closed on a prefix deletes that prefix's keys (SCAN +
 * DEL, never FLUSHALL). Nothing connects to Redis unless a Redis env is made.
 */
import { after, afterEach, before, beforeEach } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DnsTestServer, type TestZone } from '../../helpers/dns-test-server.js';
import { StubResolver } from '../../../src/dns/stub-resolver.js';
import { FcrdnsChecker } from '../../../src/check/checker.js';
import { checkSchema, firewallSchema, resolverSchema } from '../../../src/config/schema.js';
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import { RedisStore } from '../../../src/store/redis/redis-store.js';
import type { Store } from '../../../src/store/types.js';
import { BlockSmithError } from '../../../src/errors.js';
import { Firewall } from '../../../src/firewall/firewall.js';
import type { FirewallLogEvent } from '../../../src/firewall/types.js';

export type StoreKind = 'sqlite' | 'redis';

/** The store kind when a test names none: BLOCKSMITH_TEST_STORE, default `sqlite`. */
export function defaultStoreKind(): StoreKind {
  const value = process.env.BLOCKSMITH_TEST_STORE ?? 'sqlite';
  if (value !== 'sqlite' && value !== 'redis') throw new Error(`BLOCKSMITH_TEST_STORE=${value}: expected sqlite or redis`);
  return value;
}

export const REDIS_URL = process.env.BLOCKSMITH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every Redis key of this process's firewall tests starts with this. */
export const REDIS_RUN_PREFIX = `bstest:fw:${randomBytes(6).toString('hex')}:`;
let redisPrefixCounter = 0;

/** A plain ioredis connection, for looking behind the store and cleaning up. */
export function rawRedis(): Redis {
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
}

/** Every key under `prefix` (SCAN, never KEYS). */
export async function redisKeysUnder(prefix: string): Promise<string[]> {
  const client = rawRedis();
  await client.connect();
  try {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return found;
  } finally {
    client.disconnect();
  }
}

/** Delete every key under `prefix` (our own test keys only); returns how many there were. */
export async function deleteRedisPrefix(prefix: string): Promise<number> {
  const keys = await redisKeysUnder(prefix);
  if (keys.length === 0) return 0;
  const client = rawRedis();
  await client.connect();
  try {
    await client.del(...keys);
  } finally {
    client.disconnect();
  }
  return keys.length;
}

/** Where a store's data lives: a directory (SQLite) or a key prefix (Redis), shared by its envs. */
interface Location {
  readonly kind: StoreKind;
  /** The directory (SQLite) or the key prefix (Redis). */
  readonly where: string;
  users: number;
}

/** Client addresses of the zone below (documentation ranges: never bypassed by default). */
export const IP = {
  pass: '192.0.2.10',
  noPtr: '192.0.2.20',
  noValidPtr: '192.0.2.21',
  noMatch: '192.0.2.30',
  noAddress: '192.0.2.31',
  servfail: '192.0.2.40',
  timeout: '192.0.2.41',
  tempForward: '192.0.2.42',
  pass6: '2001:db8::25',
  noPtr6: '2001:db8::26',
} as const;

export const ZONE: TestZone = {
  records: {
    '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com', ttl: 300 }],
    'mail.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 300 }],
    '21.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'localhost', ttl: 300 }],
    '30.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'other.example.com', ttl: 300 }],
    'other.example.com': [{ type: 'A', data: '198.51.100.1', ttl: 300 }],
    '31.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'noaddr.example.com', ttl: 300 }],
    'noaddr.example.com': [{ type: 'TXT', data: 'no address here', ttl: 300 }],
    '42.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'tempfwd.example.com', ttl: 300 }],
    '5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa': [{ type: 'PTR', data: 'mail6.example.com', ttl: 300 }],
    'mail6.example.com': [{ type: 'AAAA', data: '2001:db8::25', ttl: 300 }],
  },
  behaviours: {
    '40.2.0.192.in-addr.arpa': { servfail: true },
    '41.2.0.192.in-addr.arpa': { silent: true },
    'tempfwd.example.com/A': { servfail: true },
  },
  negativeSoa: { ttl: 300, minimum: 300 },
};

/** The PTR query name of an IPv4 address. */
export function ptrOf(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

export class Clock {
  t = Date.UTC(2030, 0, 1, 12, 0, 0);
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Env {
  readonly kind: StoreKind;
  readonly firewall: Firewall;
  /** The real store (no fault injection). */
  readonly store: Store;
  /** The store the firewall was given (the flaky wrapper). */
  readonly given: Store;
  readonly checker: FcrdnsChecker;
  readonly clock: Clock;
  readonly logs: FirewallLogEvent[];
  readonly flaky: Flaky;
  /** The store's directory (SQLite) or key prefix (Redis). */
  readonly where: string;
  /** Internal: what `share` hands to a second node. */
  readonly location: Location;
  close(): Promise<void>;
}

export interface Flaky {
  down: boolean;
  /** Methods that fail while down (all when empty). */
  readonly methods: Set<string>;
}

/** A proxy over a real store whose chosen methods reject with BS_ERR_STORE_UNAVAILABLE while down. */
export function flakyStore(store: Store, flaky: Flaky): Store {
  return new Proxy(store, {
    get(target, prop, receiver): unknown {
      const value: unknown = Reflect.get(target, prop, receiver);
      // subscribe is synchronous: it stays as it is (only calls that reach the backend fail).
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'subscribe') return value;
      return (...args: unknown[]): unknown => {
        if (flaky.down && (flaky.methods.size === 0 || flaky.methods.has(prop))) {
          return Promise.reject(new BlockSmithError('BS_ERR_STORE_UNAVAILABLE', `test: store down (${prop})`));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

export interface EnvOptions {
  /** The store kind (default defaultStoreKind()); ignored with `share`. */
  readonly store?: StoreKind;
  readonly firewall?: Record<string, unknown>;
  readonly check?: Record<string, unknown>;
  /** Share the store (SQLite file or Redis prefix) of another env: a second node. */
  readonly share?: Env;
  readonly clock?: Clock;
  readonly start?: boolean;
}

function newLocation(kind: StoreKind): Location {
  if (kind === 'sqlite') return { kind, where: mkdtempSync(join(tmpdir(), 'bs-firewall-')), users: 0 };
  redisPrefixCounter += 1;
  return { kind, where: `${REDIS_RUN_PREFIX}${redisPrefixCounter}:`, users: 0 };
}

async function releaseLocation(location: Location): Promise<void> {
  location.users -= 1;
  if (location.users > 0) return;
  if (location.kind === 'sqlite') rmSync(location.where, { recursive: true, force: true });
  else await deleteRedisPrefix(location.where);
}

async function openStore(location: Location, clock: Clock, nodeId: string): Promise<Store> {
  const store: Store =
    location.kind === 'sqlite'
      ? new SqliteStore({ path: join(location.where, 'store.db'), now: clock.now, pollIntervalMs: 20 })
      : new RedisStore({ url: REDIS_URL, prefix: location.where, now: clock.now, nodeId });
  await store.open();
  return store;
}

export async function makeEnv(server: DnsTestServer, options: EnvOptions = {}): Promise<Env> {
  const clock = options.clock ?? new Clock();
  const location = options.share?.location ?? newLocation(options.store ?? defaultStoreKind());
  location.users += 1;
  const nodeId = `node-${Math.random().toString(36).slice(2)}`;
  let store: Store;
  try {
    store = await openStore(location, clock, nodeId);
  } catch (err) {
    await releaseLocation(location);
    throw err;
  }
  const flaky: Flaky = { down: false, methods: new Set() };
  const given = flakyStore(store, flaky);
  const resolver = new StubResolver(resolverSchema.parse({ servers: [server.upstream], timeoutMs: 200, tries: 1, cacheEntriesCount: 0 }), { now: clock.now });
  const checker = new FcrdnsChecker({ resolver, config: checkSchema.parse({ deadlineMs: 1_000, ...options.check }), now: clock.now });
  const logs: FirewallLogEvent[] = [];
  const firewall = new Firewall({
    config: firewallSchema.parse({ nodeId, ...options.firewall }),
    checker,
    store: given,
    now: clock.now,
    log: (e) => logs.push(e),
    timers: false,
  });
  if (options.start !== false) await firewall.start();
  let closed = false;
  return {
    kind: location.kind,
    firewall,
    store,
    given,
    checker,
    clock,
    logs,
    flaky,
    where: location.where,
    location,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      flaky.down = false;
      try {
        await firewall.stop();
      } finally {
        resolver.close();
        await store.close();
        await releaseLocation(location);
      }
    },
  };
}

/** startServer - the DNS test server with ZONE. */
export function startServer(): Promise<DnsTestServer> {
  return DnsTestServer.start(ZONE);
}

/** Wait until `predicate` holds (store events are polled), or fail after `ms`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not reached in time');
}

/**
 * The per-suite harness: call inside a describe(). Starts the DNS test server before the
 * suite and stops it after; before each test the zone is ZONE again and the query log empty;
 * after each test every env made through `env()` is closed (its store data removed).
 */
export interface Harness {
  readonly kind: StoreKind;
  /** The DNS test server (set once the suite has started). */
  readonly server: DnsTestServer;
  /** A new env on this suite's store kind, closed after the test. */
  env(options?: EnvOptions): Promise<Env>;
}

export function useHarness(kind: StoreKind): Harness {
  let server: DnsTestServer | undefined;
  const envs: Env[] = [];
  before(async () => {
    server = await startServer();
  });
  beforeEach(() => {
    server?.setZone(ZONE);
    server?.resetQueries();
  });
  afterEach(async () => {
    // Second nodes first; each close is tried even when one fails.
    const errors: unknown[] = [];
    for (const e of envs.splice(0).reverse()) {
      try {
        await e.close();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
  after(async () => {
    await server?.stop();
  });
  return {
    kind,
    get server(): DnsTestServer {
      if (server === undefined) throw new Error('the DNS test server is not started yet');
      return server;
    },
    async env(options: EnvOptions = {}): Promise<Env> {
      if (server === undefined) throw new Error('the DNS test server is not started yet');
      const e = await makeEnv(server, { store: kind, ...options });
      envs.push(e);
      return e;
    },
  };
}
