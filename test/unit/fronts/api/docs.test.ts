/**
 * docs/api.md's curl examples, run as written with the real curl against startHttpFront on
 * loopback, over a real Firewall, in the order the page gives them. Each example line ends in
 * `# expect <status>` and may capture a field of its JSON answer for the later ones
 * (`REF=.ref`). The page's host 127.0.0.1:8025 becomes the test's port, $BLOCKSMITH_KEY the
 * test's key (named `ops`, as on the page). BLOCKSMITH_API_DOCS_DUMP=FILE writes every answer
 * to FILE (to refresh the page's sample answers).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { IP, useHarness } from '../../firewall/helpers.js';
import { startHttpFront } from '../../../../src/fronts/api/index.js';
import { apiEnv } from './helpers.js';

interface Example {
  readonly line: string;
  readonly status: number;
  readonly captures: ReadonlyArray<readonly [string, string]>;
}

/** The curl lines of ```sh blocks, with their expectations. */
function examples(doc: string): Example[] {
  const out: Example[] = [];
  for (const block of doc.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of (block[1] ?? '').split('\n')) {
      if (!line.startsWith('curl ')) continue;
      const m = /#\s*expect\s+(\d{3})((?:\s+[A-Z_]+=\.\w+)*)\s*$/.exec(line);
      assert.ok(m, `a curl example without "# expect NNN": ${line}`);
      const captures = [...(m[2] ?? '').matchAll(/([A-Z_]+)=\.(\w+)/g)].map((c) => [c[1] ?? '', c[2] ?? ''] as const);
      out.push({ line: line.slice(0, m.index).trim(), status: Number(m[1]), captures });
    }
  }
  return out;
}

/** Shell words: '…' literal, "…" with $VARS expanded, bare words with $VARS expanded. */
function words(line: string, vars: Readonly<Record<string, string>>): string[] {
  const expand = (text: string): string =>
    text.replace(/\$([A-Z_]+)/g, (_m, name: string) => {
      const value = vars[name];
      assert.ok(value !== undefined, `$${name} is not set before: ${line}`);
      return value;
    });
  const out: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(expand(m[2]));
    else out.push(expand(m[3] ?? ''));
  }
  return out;
}

function curl(args: readonly string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', [...args, '-w', '\n__STATUS__%{http_code}', '--max-time', '20'], { timeout: 30_000 }, (err, stdout) => {
      if (err !== null && !stdout.includes('__STATUS__')) {
        reject(new Error(`curl failed (is curl installed?): ${err.message}`));
        return;
      }
      const at = stdout.lastIndexOf('\n__STATUS__');
      let body = stdout.slice(0, at);
      if (args.includes('-i')) body = body.slice(body.indexOf('\r\n\r\n') + 4);
      resolve({ status: Number(stdout.slice(at + '\n__STATUS__'.length)), body });
    });
  });
}

describe('docs/api.md', () => {
  const harness = useHarness('sqlite');

  test('every curl example runs as written and answers the status the page says', async () => {
    const doc = readFileSync(new URL('../../../../docs/api.md', import.meta.url), 'utf8');
    const list = examples(doc);
    assert.ok(list.length >= 20, `only ${list.length} examples`);
    const api = await apiEnv(harness);
    await api.close();
    const front = await startHttpFront(api.ctx);
    assert.ok(front !== undefined);
    const dump: string[] = [];
    try {
      // The page's story starts with a refused client: 192.0.2.20 has no PTR and is listed.
      await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr, helo: 'mail.example.net' });
      await api.env.firewall.flush();
      const base = front.endpoints[0] ?? '';
      const vars: Record<string, string> = { BLOCKSMITH_KEY: api.key };
      for (const example of list) {
        const args = words(example.line.replace(/http:\/\/127\.0\.0\.1:8025/g, base), vars).slice(1);
        const res = await curl(args);
        dump.push(`$ ${example.line}\n${res.status}\n${res.body}\n`);
        assert.equal(res.status, example.status, `${example.line}\n${res.body}`);
        for (const [name, field] of example.captures) {
          const value = (JSON.parse(res.body) as Record<string, unknown>)[field];
          assert.equal(typeof value, 'string', `${example.line}: .${field}`);
          vars[name] = value as string;
        }
        if (res.body !== '' && !args.some((a) => a.endsWith('/metrics'))) JSON.parse(res.body); // every answer is JSON
      }
    } finally {
      await front.stop();
      const file = process.env.BLOCKSMITH_API_DOCS_DUMP;
      if (file !== undefined) writeFileSync(file, dump.join('\n'));
    }
  });
});
