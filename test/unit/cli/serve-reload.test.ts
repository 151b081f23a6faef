/**
 * Live reload (SIGHUP): App.reload, the function serve's SIGHUP handler calls, on an in-process
 * node (SQLite, the resolver against in-process DNS test servers, a front on loopback TCP) — what
 * each kind of setting does; then `blocksmith serve` as a child process, for the signal itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { startApp, type FrontStarter } from '../../../src/app.js';
import { configSchema, type Config } from '../../../src/config/schema.js';
import { parseListen } from '../../../src/fronts/listen.js';
import { PrometheusMetrics } from '../../../src/metrics/prometheus.js';
import { createLogger, type LogLevel } from '../../../src/util/log.js';
import { DnsTestServer, type TestZone } from '../../helpers/dns-test-server.js';
import { parseExposition, valueOf } from '../metrics/exposition.js';

const ZONE_A: TestZone = {
  records: {
    '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com', ttl: 300 }],
    'mail.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 300 }],
  },
  negativeSoa: { ttl: 300, minimum: 300 },
};
/** The second upstream knows 192.0.2.41; the first does not. */
const ZONE_B: TestZone = {
  records: {
    '41.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mx.example.org', ttl: 300 }],
    'mx.example.org': [{ type: 'A', data: '192.0.2.41', ttl: 300 }],
  },
  negativeSoa: { ttl: 300, minimum: 300 },
};

let dnsA: DnsTestServer;
let dnsB: DnsTestServer;
const dirs: string[] = [];

before(async () => {
  dnsA = await DnsTestServer.start(ZONE_A);
  dnsB = await DnsTestServer.start(ZONE_B);
});
after(async () => {
  await dnsA.stop();
  await dnsB.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bs-reload-'));
  dirs.push(d);
  return d;
}

function logCapture(level: LogLevel): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done): void {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

/** A configuration: a base for the node plus what a test changes (a deep merge of plain objects). */
function configWith(base: Record<string, unknown>, change: Record<string, unknown> = {}): Config {
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) {
      const prev = out[k];
      out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && prev !== null && typeof prev === 'object' && !Array.isArray(prev)
        ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
    }
    return out;
  };
  return configSchema.parse(merge(base, change));
}

function baseConfig(): Record<string, unknown> {
  return {
    resolver: { servers: [dnsA.upstream], timeoutMs: 500, tries: 1 },
    check: { deadlineMs: 1_000 },
    store: { path: join(tempDir(), 'store.db') },
    policy: { listen: ['127.0.0.1:0'] },
    dnsbl: { listen: [] },
    http: { listen: [] },
  };
}

/**
 * A stand-in policy front on real loopback sockets: it answers every connection with the
 * policy.mode it reads from its FrontContext at that moment, then closes.
 */
const tcpPolicyFront: FrontStarter = async (ctx) => {
  const section = ctx.config.policy;
  if (section.listen.length === 0) return undefined;
  const servers: net.Server[] = [];
  const close = (): Promise<void> =>
    Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined);
  try {
    for (const address of section.listen) {
      const { host, port } = parseListen(address, 'policy.listen');
      const server = net.createServer((socket) => socket.end(ctx.config.policy.mode));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      servers.push(server);
    }
  } catch (err) {
    await close();
    throw err;
  }
  const endpoints = servers.map((s) => {
    const a = s.address() as net.AddressInfo;
    return `tcp://${a.address}:${a.port}`;
  });
  return { name: 'policy', endpoints, stop: close };
};

function portOf(endpoint: string | undefined): number {
  return Number(endpoint?.slice(endpoint.lastIndexOf(':') + 1));
}

/** What a connection to 127.0.0.1:port reads before the server closes it, or the error code. */
function ask(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

async function eventually(predicate: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not reached in time');
}

describe('App.reload (what SIGHUP calls)', () => {
  test('firewall settings apply to the next decision; store settings wait for a restart; RELOAD says which', async () => {
    const base = baseConfig();
    const out = logCapture('info');
    const metrics = new PrometheusMetrics({ defaultMetrics: false });
    const app = await startApp(configWith(base), { logger: out.logger, timers: false, metrics });
    try {
      const soft = await app.firewall.decide({ front: 'policy', ip: '192.0.2.20' });
      assert.equal(soft.reply?.code, 450);
      assert.match(soft.url ?? '', /^http:\/\/127\.0\.0\.1:8025\//);

      const report = await app.reload(() =>
        configWith(base, {
          firewall: { mode: 'hard', portalUrl: 'https://unblock.example.net', organisation: { name: 'Example Mail' }, alwaysAcceptLocalParts: ['hostmaster'], statsFlushMs: 60_000 },
          store: { path: join(tempDir(), 'elsewhere.db') },
          log: { level: 'warn' },
        }),
      );
      assert.ok(report !== undefined);
      assert.deepEqual([...report.applied].sort(), [
        'firewall.alwaysAcceptLocalParts',
        'firewall.mode',
        'firewall.organisation.name',
        'firewall.portalUrl',
        'log.level',
      ]);
      assert.deepEqual([...report.restartNeeded].sort(), ['firewall.statsFlushMs', 'store.path']);
      assert.equal(report.changed.length, 7);

      // A listed IP and a new one: both refused under the new mode, organisation and portal.
      const listed = await app.firewall.decide({ front: 'policy', ip: '192.0.2.20' });
      assert.equal(listed.source, 'listing');
      assert.equal(listed.reply?.code, 550);
      const fresh = await app.firewall.decide({ front: 'policy', ip: '192.0.2.21' });
      assert.equal(fresh.reply?.code, 550);
      assert.match(fresh.url ?? '', /^https:\/\/unblock\.example\.net\//);
      assert.ok(fresh.reply?.lines.some((l) => l.includes('Example Mail')));
      // postmaster is no longer always accepted; hostmaster is.
      assert.equal((await app.firewall.decide({ front: 'policy', ip: '192.0.2.22', recipient: '<postmaster@x.example>' })).action, 'reject');
      assert.equal((await app.firewall.decide({ front: 'policy', ip: '192.0.2.22', recipient: '<hostmaster@x.example>' })).source, 'postmaster');

      // The running configuration: new firewall values, the old store and start-only values.
      assert.equal(app.config.firewall.mode, 'hard');
      assert.equal(app.config.firewall.statsFlushMs, 10_000);
      assert.equal(app.config.store.path, (base.store as { path: string }).path);

      // RELOAD is written at the old level, then the new level (warn) applies.
      const reload = out.lines.find((l) => l.event === 'RELOAD');
      assert.ok(reload !== undefined);
      assert.deepEqual(reload.restartNeeded, report.restartNeeded);
      assert.equal(out.logger.level, 'warn');
      const before = out.lines.length;
      out.logger.info({ event: 'PROBE' }, 'not written at warn');
      assert.equal(out.lines.length, before);

      // The same configuration again: nothing to apply, the start-only keys still pending.
      const again = await app.reload(() => app.config);
      assert.deepEqual(again?.changed, []);
      const s = parseExposition(await metrics.render());
      assert.equal(valueOf(s, 'blocksmith_config_reloads_total', { outcome: 'applied' }), 2);
    } finally {
      await app.stop();
    }
  });

  test('bypass ranges apply at once and drop cached verdicts; a new resolver list is used by new checks', async () => {
    const base = baseConfig();
    const app = await startApp(configWith(base), { timers: false });
    try {
      const first = await app.checker.check('192.0.2.10');
      assert.equal(first.verdict, 'pass');
      assert.equal((await app.checker.check('192.0.2.10')).fromCache, true);
      const bypass = [...app.config.check.bypass, '192.0.2.10/32'];
      const report = await app.reload(() => configWith(base, { check: { bypass, maxNamesCount: 5 } }));
      assert.deepEqual(report?.applied, ['check.bypass']);
      assert.deepEqual(report?.restartNeeded, ['check.maxNamesCount']);
      const after = await app.checker.check('192.0.2.10');
      assert.equal(after.verdict, 'skipped');
      assert.equal(after.bypassRange, '192.0.2.10/32');
      assert.equal((await app.firewall.decide({ front: 'policy', ip: '192.0.2.10' })).source, 'bypass');

      // Upstream A does not know 192.0.2.41; after the reload, upstream B answers for it.
      const old = app.resolver;
      dnsA.resetQueries();
      dnsB.resetQueries();
      const swapped = await app.reload(() => configWith(base, { check: { bypass }, resolver: { servers: [dnsB.upstream] } }));
      assert.deepEqual(swapped?.applied, ['resolver.servers']);
      assert.notEqual(app.resolver, old);
      assert.deepEqual(app.resolver.upstreamInfo.servers, [dnsB.upstream]);
      const decision = await app.firewall.decide({ front: 'policy', ip: '192.0.2.41' });
      assert.equal(decision.verdict, 'pass');
      assert.equal(dnsA.queries.length, 0);
      assert.ok(dnsB.queries.some((q) => q.name === '41.2.0.192.in-addr.arpa'));
      // The replaced resolver is closed once its checks are past their deadline (1 s here).
      await eventually(async () => (await old.lookup('mail.example.com', 'A')).tempReason === 'network');
    } finally {
      await app.stop();
    }
  });

  test('a configuration that cannot be applied changes nothing (RELOAD-ERROR)', async () => {
    const base = baseConfig();
    const out = logCapture('info');
    const metrics = new PrometheusMetrics({ defaultMetrics: false });
    const app = await startApp(configWith(base), { logger: out.logger, timers: false, metrics });
    try {
      const running = app.config;
      const resolver = app.resolver;
      const badRange = await app.reload(() => configWith(base, { firewall: { mode: 'hard' }, check: { bypass: ['10.0.0.0/33'] } }));
      assert.equal(badRange, undefined);
      const badUpstream = await app.reload(() => configWith(base, { firewall: { mode: 'hard' }, resolver: { servers: ['not an address'] } }));
      assert.equal(badUpstream, undefined);
      const unreadable = await app.reload(() => {
        throw new Error('firewall.mood: unknown key');
      });
      assert.equal(unreadable, undefined);
      assert.equal(app.config, running);
      assert.equal(app.resolver, resolver);
      assert.equal((await app.firewall.decide({ front: 'policy', ip: '192.0.2.20' })).reply?.code, 450);
      const errors = out.lines.filter((l) => l.event === 'RELOAD-ERROR');
      assert.equal(errors.length, 3);
      assert.match(String(errors[0]?.err), /10\.0\.0\.0\/33/);
      assert.match(String(errors[2]?.err), /mood/);
      const s = parseExposition(await metrics.render());
      assert.equal(valueOf(s, 'blocksmith_config_reloads_total', { outcome: 'failed' }), 3);
    } finally {
      await app.stop();
    }
    assert.equal(await app.reload(() => configWith(base, { firewall: { mode: 'hard' } })), undefined, 'no reload after stop');
  });

  test('a front whose section changed is restarted; one that cannot start runs on its old section', async () => {
    const base = baseConfig();
    const out = logCapture('info');
    const app = await startApp(configWith(base), { logger: out.logger, timers: false, fronts: true, frontStarters: { policy: tcpPolicyFront } });
    const blocker = net.createServer();
    try {
      assert.equal(app.fronts.length, 1);
      const firstPort = portOf(app.fronts[0]?.endpoints[0]);
      assert.equal(await ask(firstPort), 'postfix');

      // A change elsewhere leaves the front alone.
      const other = await app.reload(() => configWith(base, { firewall: { mode: 'hard' } }));
      assert.deepEqual(other?.restarted, []);
      assert.equal(portOf(app.fronts[0]?.endpoints[0]), firstPort);

      const restarted = await app.reload(() => configWith(base, { firewall: { mode: 'hard' }, policy: { mode: 'exim' } }));
      assert.deepEqual(restarted?.restarted, ['policy']);
      assert.deepEqual(restarted?.applied, ['policy.mode']);
      assert.deepEqual(restarted?.failed, []);
      const secondPort = portOf(app.fronts[0]?.endpoints[0]);
      assert.equal(await ask(secondPort), 'exim');
      if (secondPort !== firstPort) assert.equal(await ask(firstPort), 'ECONNREFUSED');

      // An address already taken: the front comes back on its previous section.
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
      const taken = (blocker.address() as net.AddressInfo).port;
      const failed = await app.reload(() => configWith(base, { firewall: { mode: 'hard' }, policy: { mode: 'exim', listen: [`127.0.0.1:${taken}`] } }));
      assert.deepEqual(failed?.restarted, ['policy']);
      assert.equal(failed?.failed.length, 1);
      assert.equal(failed?.failed[0]?.front, 'policy');
      assert.equal(failed?.failed[0]?.running, true);
      assert.match(failed?.failed[0]?.error ?? '', /EADDRINUSE/);
      assert.deepEqual(failed?.applied, []);
      assert.deepEqual(app.config.policy.listen, ['127.0.0.1:0']);
      assert.equal(app.fronts.length, 1);
      assert.equal(await ask(portOf(app.fronts[0]?.endpoints[0])), 'exim');
      assert.ok(out.lines.some((l) => l.event === 'FRONT-RESTART-ERROR' && l.front === 'policy'));

      // An empty list turns the front off.
      const off = await app.reload(() => configWith(base, { firewall: { mode: 'hard' }, policy: { mode: 'exim', listen: [] } }));
      assert.deepEqual(off?.applied, ['policy.listen']);
      assert.equal(app.fronts.length, 0);
    } finally {
      blocker.close();
      await app.stop();
    }
  });

  test('reloads run one at a time, in the order asked', async () => {
    const base = baseConfig();
    const app = await startApp(configWith(base), { timers: false });
    try {
      const modes = ['hard', 'report-only', 'soft', 'hard'] as const;
      const reports = await Promise.all(modes.map((mode) => app.reload(() => configWith(base, { firewall: { mode } }))));
      assert.deepEqual(
        reports.map((r) => r?.applied),
        [['firewall.mode'], ['firewall.mode'], ['firewall.mode'], ['firewall.mode']],
      );
      assert.equal(app.config.firewall.mode, 'hard');
    } finally {
      await app.stop();
    }
  });
});

const BIN = new URL('../../../src/cli/bin.ts', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');

describe('blocksmith serve and SIGHUP', () => {
  test('the signal applies the file: RELOAD lists what applied and what needs a restart; the new log level holds', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'bs-serve-reload-'));
    dirs.push(cwd);
    writeFileSync(join(cwd, 'blocksmith.yaml'), 'log:\n  level: info\n');
    const child = spawn(process.execPath, ['--import', TSX, BIN, 'serve', '--policy', 'none', '--http', 'none', '--resolver', '127.0.0.1:9'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    const waiters: { event: string; resolve: (l: Record<string, unknown>) => void }[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(parsed);
      for (const w of waiters.filter((x) => x.event === parsed.event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    });
    const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const waitFor = (event: string): Promise<Record<string, unknown>> => {
      const seen = lines.find((l) => l.event === event);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} within 30 s`)), 30_000);
        waiters.push({ event, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    };
    try {
      await waitFor('READY');
      writeFileSync(join(cwd, 'blocksmith.yaml'), 'log:\n  level: error\nfirewall:\n  mode: hard\nstore:\n  path: ./elsewhere.db\n');
      child.kill('SIGHUP');
      const reload = await waitFor('RELOAD');
      assert.deepEqual(reload.applied, ['firewall.mode', 'log.level']);
      assert.deepEqual(reload.restartNeeded, ['store.path']);
      const seenBeforeStop = lines.length;
      child.kill('SIGTERM');
      assert.equal(await exit, 0);
      // At the default level STOP and STOPPED are written (serve-command.test.ts); at error, not.
      assert.deepEqual(lines.slice(seenBeforeStop).map((l) => l.event), []);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
