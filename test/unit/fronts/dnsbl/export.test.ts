/**
 * `blocksmith export rbldnsd` through its commander registration (a small program with the
 * global --config the real one has), over a real SQLite store filled by a real Firewall; the
 * files written are parsed back.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerExportCommand } from '../../../../src/cli/export-command.js';
import { IP, useHarness } from '../../firewall/helpers.js';
import { FIREWALL, ORG, PORTAL } from './helpers.js';

const h = useHarness('sqlite');

interface Entry {
  readonly code: string;
  readonly text: string;
}

/** parseRbldnsd - `ip :A:TXT` lines into a map; specials and comments apart. */
function parseRbldnsd(text: string): { entries: Map<string, Entry>; specials: string[]; comments: string[] } {
  const entries = new Map<string, Entry>();
  const specials: string[] = [];
  const comments: string[] = [];
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) comments.push(line);
    else if (line.startsWith('$')) specials.push(line);
    else {
      const m = /^(\S+) :(127\.0\.0\.\d+):(.*)$/.exec(line);
      assert.ok(m !== null, `not an entry line: ${line}`);
      entries.set(m[1] ?? '', { code: m[2] ?? '', text: m[3] ?? '' });
    }
  }
  return { entries, specials, comments };
}

async function runExport(args: readonly string[]): Promise<number> {
  let code = -1;
  const program = new Command('blocksmith').option('-c, --config <path>').exitOverride();
  registerExportCommand(program, (c) => {
    code = c;
  });
  await program.parseAsync([...args], { from: 'user' });
  return code;
}

describe('export rbldnsd', () => {
  test('active listings as ip4set and ip6trie, codes and texts as the front answers; allowlisted, bypassed and cleared left out', async () => {
    const env = await h.env({ firewall: FIREWALL });
    await env.firewall.decide({ front: 'policy', ip: IP.noPtr }); // permerror
    await env.firewall.decide({ front: 'policy', ip: IP.noMatch }); // fail
    await env.firewall.decide({ front: 'policy', ip: IP.noPtr6 }); // permerror, IPv6
    await env.firewall.list('198.51.100.9', 'by hand', 'cli:test'); // manual
    await env.firewall.list('198.51.100.10', 'allowed later', 'cli:test');
    await env.firewall.allow('198.51.100.10', 'friend', 'cli:test');
    await env.firewall.list('10.9.9.9', 'bypassed range', 'cli:test');
    await env.firewall.list('198.51.100.11', 'cleared later', 'cli:test');
    await env.firewall.clear('198.51.100.11', 'done', 'cli:test');
    await env.firewall.flush();

    const configFile = join(env.where, 'config.json');
    writeFileSync(configFile, JSON.stringify({ store: { path: join(env.where, 'store.db') }, resolver: { servers: [h.server.upstream] }, firewall: FIREWALL, dnsbl: { listedTtlS: 77, nsNames: ['ns1.example.test'] } }));
    const out4 = join(env.where, 'bl.ip4');
    const out6 = join(env.where, 'bl.ip6');
    const code = await runExport(['-c', configFile, 'export', 'rbldnsd', '--out', out4, '--out6', out6, '--zone', 'bl.example.test']);
    assert.equal(code, 0);

    const v4 = parseRbldnsd(readFileSync(out4, 'ascii'));
    assert.deepEqual([...v4.entries.keys()].sort(), ['127.0.0.2', IP.noPtr, IP.noMatch, '198.51.100.9'].sort());
    assert.equal(v4.entries.get(IP.noPtr)?.code, '127.0.0.2');
    assert.equal(v4.entries.get(IP.noMatch)?.code, '127.0.0.3');
    assert.equal(v4.entries.get('198.51.100.9')?.code, '127.0.0.4');
    assert.equal(v4.entries.get(IP.noPtr)?.text, `${ORG}: ${IP.noPtr} has no usable reverse DNS (PTR) name; see ${PORTAL}/ip/${IP.noPtr}`);
    assert.match(v4.entries.get('127.0.0.2')?.text ?? '', /RFC 5782 test entry/);
    assert.match(v4.comments[0] ?? '', /zone bl\.example\.test, ip4set, 3 entries/);
    assert.ok(v4.specials.includes('$TTL 77'));
    assert.ok(v4.specials.includes('$NS 3600 ns1.example.test'));
    assert.match(v4.specials.find((s) => s.startsWith('$SOA')) ?? '', /^\$SOA 3600 bl\.example\.test hostmaster\.bl\.example\.test \d+ 3600 600 604800 60$/);

    const v6 = parseRbldnsd(readFileSync(out6, 'ascii'));
    assert.deepEqual([...v6.entries.keys()].sort(), ['::ffff:7f00:2', IP.noPtr6].sort());
    assert.equal(v6.entries.get(IP.noPtr6)?.code, '127.0.0.2');
    assert.ok(v6.entries.get(IP.noPtr6)?.text.endsWith(`${PORTAL}/ip/${IP.noPtr6}`));
  });

  test('a "$" in the organisation name is written "$$" (rbldnsd substitutes a single one); a bad --zone is a usage error', async () => {
    const firewall = { ...FIREWALL, organisation: { name: 'Cash$Corp' } };
    const env = await h.env({ firewall });
    await env.firewall.list('198.51.100.9', 'by hand', 'cli:test');
    await env.firewall.flush();
    const configFile = join(env.where, 'config.json');
    writeFileSync(configFile, JSON.stringify({ store: { path: join(env.where, 'store.db') }, resolver: { servers: [h.server.upstream] }, firewall }));
    const out4 = join(env.where, 'bl.ip4');
    assert.equal(await runExport(['-c', configFile, 'export', 'rbldnsd', '--out', out4]), 0);
    const v4 = parseRbldnsd(readFileSync(out4, 'ascii'));
    assert.ok(v4.entries.get('198.51.100.9')?.text.startsWith('Cash$$Corp: 198.51.100.9 is listed by the operator'));
    await assert.rejects(runExport(['-c', configFile, 'export', 'rbldnsd', '--zone', 'not a zone!']), { code: 'BS_ERR_USAGE' });
  });
});
