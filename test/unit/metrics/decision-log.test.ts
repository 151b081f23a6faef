/**
 * metrics/decision-log: one DECISION line per decision of a real node (startApp with
 * logDecisions, the in-process DNS test server), with the reference of a refusal; acceptances at
 * debug, refusals and would-rejects at info; peer text cleaned.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startApp, type App } from '../../../src/app.js';
import { configSchema } from '../../../src/config/schema.js';
import { decisionLogger } from '../../../src/metrics/decision-log.js';
import { createLogger, type LogLevel } from '../../../src/util/log.js';
import type { Logger } from '../../../src/util/log.js';
import { DnsTestServer, type TestZone } from '../../helpers/dns-test-server.js';

const ZONE: TestZone = {
  records: {
    '10.2.0.192.in-addr.arpa': [{ type: 'PTR', data: 'mail.example.com', ttl: 300 }],
    'mail.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 300 }],
  },
  negativeSoa: { ttl: 300, minimum: 300 },
};

let server: DnsTestServer;
const dirs: string[] = [];
before(async () => {
  server = await DnsTestServer.start(ZONE);
});
after(async () => {
  await server.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Captured {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
  decisions(): Record<string, unknown>[];
}

function capture(level: LogLevel): Captured {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done): void {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger(level, sink), lines, decisions: () => lines.filter((l) => l.event === 'DECISION') };
}

async function node(logger: Logger, mode = 'soft'): Promise<App> {
  const dir = mkdtempSync(join(tmpdir(), 'bs-declog-'));
  dirs.push(dir);
  const config = configSchema.parse({
    resolver: { servers: [server.upstream], timeoutMs: 500, tries: 1 },
    store: { path: join(dir, 'store.db') },
    firewall: { mode },
  });
  return startApp(config, { logger, logDecisions: true, timers: false });
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DECISION log lines', () => {
  test('a refusal is one info line with its reference; an acceptance is not written at info', async () => {
    const out = capture('info');
    const app = await node(out.logger);
    try {
      const refused = await app.firewall.decide({ front: 'policy', ip: '192.0.2.20', helo: 'evil\r\nhelo\x1b[31m', sender: '<a@example.org>', recipient: '<b@example.net>' });
      const again = await app.firewall.decide({ front: 'policy', ip: '192.0.2.20' });
      await app.firewall.decide({ front: 'policy', ip: '192.0.2.10' });
      await app.firewall.decide({ front: 'policy', ip: '127.0.0.1' });
      await settle();
      const lines = out.decisions();
      assert.equal(lines.length, 2);
      const [first, second] = lines;
      assert.equal(first?.level, 'info');
      assert.equal(first?.ref, refused.ref);
      assert.ok(typeof refused.ref === 'string' && refused.ref.length > 0);
      assert.equal(first?.front, 'policy');
      assert.equal(first?.ip, '192.0.2.20');
      assert.equal(first?.action, 'reject');
      assert.equal(first?.verdict, 'permerror');
      assert.equal(first?.reason, 'no-ptr');
      assert.equal(first?.source, 'check');
      assert.equal(typeof first?.ms, 'number');
      assert.equal(first?.helo, 'evil\\x0d\\x0ahelo\\x1b[31m');
      assert.equal(first?.sender, '<a@example.org>');
      assert.equal(first?.recipient, '<b@example.net>');
      assert.equal(second?.ref, again.ref);
      assert.equal(second?.source, 'listing');
      assert.equal(second?.helo, undefined);
    } finally {
      await app.stop();
    }
  });

  test('at debug every decision has its line; acceptances at debug', async () => {
    const out = capture('debug');
    const app = await node(out.logger);
    try {
      await app.firewall.decide({ front: 'dnsbl', ip: '192.0.2.10' });
      await app.firewall.decide({ front: 'dnsbl', ip: '192.0.2.10' });
      await app.firewall.decide({ front: 'dnsbl', ip: '127.0.0.1' });
      await settle();
      const lines = out.decisions();
      assert.equal(lines.length, 3);
      assert.deepEqual(
        lines.map((l) => [l.level, l.action, l.verdict, l.source, l.ref]),
        [
          ['debug', 'accept', 'pass', 'check', undefined],
          ['debug', 'accept', 'pass', 'check', undefined],
          ['debug', 'accept', 'skipped', 'bypass', undefined],
        ],
      );
      assert.equal(lines[2]?.range, '127.0.0.0/8');
    } finally {
      await app.stop();
    }
  });

  test('report-only: a would-reject is an info line marked wouldReject', async () => {
    const out = capture('info');
    const app = await node(out.logger, 'report-only');
    try {
      const decision = await app.firewall.decide({ front: 'policy', ip: '192.0.2.20' });
      assert.equal(decision.action, 'accept');
      await settle();
      const lines = out.decisions();
      assert.equal(lines.length, 1);
      assert.equal(lines[0]?.level, 'info');
      assert.equal(lines[0]?.wouldReject, true);
      assert.equal(lines[0]?.action, 'accept');
      assert.equal(lines[0]?.verdict, 'permerror');
    } finally {
      await app.stop();
    }
  });

  test('with debug off an acceptance builds nothing (the logger is not called)', () => {
    let calls = 0;
    const logger = createLogger('info', new Writable({ write: (_c, _e, done) => done() }));
    const counting = new Proxy(logger, {
      get(target, prop, receiver): unknown {
        if (prop === 'debug' || prop === 'info') calls += 1;
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const listener = decisionLogger(counting);
    listener({ front: 'policy', ip: '192.0.2.10' }, { action: 'accept', ip: '192.0.2.10', source: 'check', verdict: 'pass', reason: 'confirmed' }, 0.01);
    assert.equal(calls, 0);
    listener({ front: 'policy', ip: '192.0.2.20' }, { action: 'reject', ip: '192.0.2.20', source: 'check', verdict: 'fail', reason: 'no-forward-match', ref: 'R1' }, 0.01);
    assert.equal(calls, 1);
  });

  test('a level change (a reload) is followed at once', async () => {
    const out = capture('info');
    const listener = decisionLogger(out.logger);
    const accept = { action: 'accept', ip: '192.0.2.10', source: 'check', verdict: 'pass', reason: 'confirmed' } as const;
    listener({ front: 'policy', ip: '192.0.2.10' }, accept, 0.01);
    out.logger.level = 'debug';
    listener({ front: 'policy', ip: '192.0.2.10' }, accept, 0.01);
    out.logger.level = 'warn';
    listener({ front: 'policy', ip: '192.0.2.20' }, { action: 'reject', ip: '192.0.2.20', source: 'check', verdict: 'fail', reason: 'no-forward-match', ref: 'R1' }, 0.01);
    await settle();
    assert.deepEqual(out.decisions().map((l) => l.level), ['debug']);
  });
});
