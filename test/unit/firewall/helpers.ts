/**
 * Shared set-up of the firewall tests: a real SqliteStore in a temporary directory, a real
 * FcrdnsChecker over the StubResolver against the in-process DNS test server, a movable clock,
 * and a log that records events. `flaky()` wraps the real store so chosen methods reject with
 * BS_ERR_STORE_UNAVAILABLE while `down` is set (a wrapper over the real store, not a fake).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsTestServer, type TestZone } from '../../helpers/dns-test-server.js';
import { StubResolver } from '../../../src/dns/stub-resolver.js';
import { FcrdnsChecker } from '../../../src/check/checker.js';
import { checkSchema, firewallSchema, resolverSchema } from '../../../src/config/schema.js';
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import type { Store } from '../../../src/store/types.js';
import { BlockSmithError } from '../../../src/errors.js';
import { Firewall } from '../../../src/firewall/firewall.js';
import type { FirewallLogEvent } from '../../../src/firewall/types.js';

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
  readonly firewall: Firewall;
  readonly store: SqliteStore;
  /** The store the firewall was given (the flaky wrapper when asked for). */
  readonly given: Store;
  readonly checker: FcrdnsChecker;
  readonly clock: Clock;
  readonly logs: FirewallLogEvent[];
  readonly flaky: Flaky;
  readonly dir: string;
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
  readonly firewall?: Record<string, unknown>;
  readonly check?: Record<string, unknown>;
  /** Share the store file of another env (a second node). */
  readonly dir?: string;
  readonly clock?: Clock;
  readonly start?: boolean;
}

export async function makeEnv(server: DnsTestServer, options: EnvOptions = {}): Promise<Env> {
  const clock = options.clock ?? new Clock();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'bs-firewall-'));
  const store = new SqliteStore({ path: join(dir, 'store.db'), now: clock.now, pollIntervalMs: 20 });
  await store.open();
  const flaky: Flaky = { down: false, methods: new Set() };
  const given = flakyStore(store, flaky);
  const resolver = new StubResolver(resolverSchema.parse({ servers: [server.upstream], timeoutMs: 200, tries: 1, cacheEntriesCount: 0 }), { now: clock.now });
  const checker = new FcrdnsChecker({ resolver, config: checkSchema.parse({ deadlineMs: 1_000, ...options.check }), now: clock.now });
  const logs: FirewallLogEvent[] = [];
  const firewall = new Firewall({
    config: firewallSchema.parse({ nodeId: `node-${Math.random().toString(36).slice(2)}`, ...options.firewall }),
    checker,
    store: given,
    now: clock.now,
    log: (e) => logs.push(e),
    timers: false,
  });
  if (options.start !== false) await firewall.start();
  return {
    firewall,
    store,
    given,
    checker,
    clock,
    logs,
    flaky,
    dir,
    async close(): Promise<void> {
      flaky.down = false;
      await firewall.stop();
      resolver.close();
      await store.close();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
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
