/**
 * NAME
 *   dnsbl/dig.test - the DNSBL front as Debian's dig sees it, and the rbldnsd export served by rbldnsd
 *
 * DESCRIPTION
 *   The front runs in-process over a real Firewall (SQLite store, real checker over the
 *   in-process DNS test server; test/unit/firewall/helpers.ts) on a free loopback port. dig
 *   (dnsutils) asks it over UDP and TCP: listed A and TXT, NXDOMAIN with the SOA, the RFC 5782
 *   test points, IPv6 nibbles, the apex, REFUSED, 0x20 case. Then `blocksmith export rbldnsd`
 *   writes the same listings and a real rbldnsd serves them on another port: dig must get the
 *   same A and TXT answers from both.
 *
 *   Needs dig and rbldnsd: `bash .ci/e2e-install.sh` (rbldnsd: see the report to the lead).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerExportCommand } from '../../../src/cli/export-command.js';
import { dnsblName } from '../../../src/fronts/dnsbl/names.js';
import { IP, useHarness } from '../../unit/firewall/helpers.js';
import { FIREWALL, ORG, PORTAL, startFront, ZONE_NAME } from '../../unit/fronts/dnsbl/helpers.js';

const h = useHarness('sqlite');

const execFileAsync = promisify(execFile);

/** dig - asynchronous: the front answers from this very process, so the event loop must stay free. */
async function dig(port: number, name: string, type: string, ...extra: string[]): Promise<string> {
  const r = await execFileAsync('dig', ['-p', String(port), '@127.0.0.1', '+tries=1', '+time=2', ...extra, name, type], { encoding: 'utf8', timeout: 10_000 });
  return r.stdout;
}

async function short(port: number, name: string, type: string, ...extra: string[]): Promise<string[]> {
  return (await dig(port, name, type, '+short', ...extra)).split('\n').filter((l) => l !== '');
}

function status(output: string): string | undefined {
  return /status: ([A-Z]+)/.exec(output)?.[1];
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

describe('dnsbl front and dig', () => {
  test('dig sees listings, NXDOMAIN + SOA, test points, IPv6 nibbles, the apex and REFUSED, over UDP and TCP', async (t) => {
    const env = await h.env({ firewall: FIREWALL });
    const run = await startFront(env, { nsNames: ['ns1.example.test'] });
    t.after(() => run.front.stop());
    await env.firewall.decide({ front: 'policy', ip: IP.noPtr });
    await env.firewall.decide({ front: 'policy', ip: IP.noMatch });
    await env.firewall.decide({ front: 'policy', ip: IP.noPtr6 });

    for (const tcp of [[], ['+tcp']]) {
      assert.deepEqual(await short(run.port, dnsblName(IP.noPtr, ZONE_NAME), 'A', ...tcp), ['127.0.0.2']);
      assert.deepEqual(await short(run.port, dnsblName(IP.noMatch, ZONE_NAME), 'A', ...tcp), ['127.0.0.3']);
      assert.deepEqual(await short(run.port, dnsblName(IP.noPtr, ZONE_NAME), 'TXT', ...tcp), [
        `"${ORG}: ${IP.noPtr} has no usable reverse DNS (PTR) name; see ${PORTAL}/ip/${IP.noPtr}"`,
      ]);
      assert.deepEqual(await short(run.port, dnsblName(IP.noPtr6, ZONE_NAME), 'A', ...tcp), ['127.0.0.2']);
      assert.deepEqual(await short(run.port, dnsblName('127.0.0.2', ZONE_NAME), 'A', ...tcp), ['127.0.0.2']);
      assert.deepEqual(await short(run.port, dnsblName('::ffff:7f00:2', ZONE_NAME), 'A', ...tcp), ['127.0.0.2']);
      const nx = await dig(run.port, dnsblName(IP.pass, ZONE_NAME), 'A', ...tcp);
      assert.equal(status(nx), 'NXDOMAIN');
      assert.match(nx, /flags: qr aa rd;/);
      assert.match(nx, /;; AUTHORITY SECTION:\nbl\.example\.test\.\s+60\s+IN\s+SOA\s+bl\.example\.test\. hostmaster\.bl\.example\.test\. \d+ 3600 600 604800 60/);
      assert.equal(status(await dig(run.port, dnsblName('127.0.0.1', ZONE_NAME), 'A', ...tcp)), 'NXDOMAIN');
      assert.deepEqual(await short(run.port, ZONE_NAME, 'NS', ...tcp), ['ns1.example.test.']);
      assert.equal(status(await dig(run.port, 'example.org', 'A', ...tcp)), 'REFUSED');
    }
    // dig checks that the answer's question matches its own: with 0x20 case it must match exactly.
    const mixed = await dig(run.port, '2.0.0.127.bL.ExAmple.TEST', 'A');
    assert.match(mixed, /\n2\.0\.0\.127\.bL\.ExAmple\.TEST\.\s+300\s+IN\s+A\s+127\.0\.0\.2/);
  });

  test('the rbldnsd export, served by rbldnsd, answers as the front does', async (t) => {
    const env = await h.env({ firewall: FIREWALL });
    const run = await startFront(env);
    t.after(() => run.front.stop());
    await env.firewall.decide({ front: 'policy', ip: IP.noPtr });
    await env.firewall.decide({ front: 'policy', ip: IP.noMatch });
    await env.firewall.decide({ front: 'policy', ip: IP.noPtr6 });
    await env.firewall.list('198.51.100.9', 'by hand', 'cli:test');
    await env.firewall.flush();

    const configFile = join(env.where, 'config.json');
    writeFileSync(configFile, JSON.stringify({ store: { path: join(env.where, 'store.db') }, resolver: { servers: [h.server.upstream] }, firewall: FIREWALL, dnsbl: { zone: ZONE_NAME } }));
    let code = -1;
    const program = new Command('blocksmith').option('-c, --config <path>').exitOverride();
    registerExportCommand(program, (c) => {
      code = c;
    });
    // rbldnsd drops root for its own user: the data go to a directory of ours that it can read.
    const dataDir = mkdtempSync(join(tmpdir(), 'bs-rbldnsd-'));
    chmodSync(dataDir, 0o755);
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    await program.parseAsync(['-c', configFile, 'export', 'rbldnsd', '--out', join(dataDir, 'bl.ip4'), '--out6', join(dataDir, 'bl.ip6')], { from: 'user' });
    assert.equal(code, 0);

    const port = await freeUdpPort();
    const rbldnsd = spawn('rbldnsd', ['-n', '-f', '-b', `127.0.0.1/${port}`, '-w', dataDir, `${ZONE_NAME}:ip4set:bl.ip4`, `${ZONE_NAME}:ip6trie:bl.ip6`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let rbldnsdLog = '';
    rbldnsd.stderr.on('data', (c: Buffer) => (rbldnsdLog += c.toString()));
    t.after(() => {
      rbldnsd.kill('SIGTERM');
    });
    const until = Date.now() + 10_000;
    while ((await short(port, ZONE_NAME, 'SOA').catch(() => [])).length === 0) {
      assert.ok(Date.now() < until, `rbldnsd did not start answering: ${rbldnsdLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const ip of [IP.noPtr, IP.noMatch, IP.noPtr6, '198.51.100.9', '127.0.0.2', '::ffff:7f00:2']) {
      const name = dnsblName(ip, ZONE_NAME);
      for (const type of ['A', 'TXT']) {
        const ours = await short(run.port, name, type);
        assert.ok(ours.length > 0, `${ip} ${type}`);
        assert.deepEqual(await short(port, name, type), ours, `${ip} ${type}`);
      }
    }
    for (const ip of [IP.pass, '127.0.0.1', '198.51.100.200']) {
      assert.equal(status(await dig(port, dnsblName(ip, ZONE_NAME), 'A')), 'NXDOMAIN', ip);
      assert.equal(status(await dig(run.port, dnsblName(ip, ZONE_NAME), 'A')), 'NXDOMAIN', ip);
    }
  });
});
