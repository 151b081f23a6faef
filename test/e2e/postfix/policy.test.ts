/**
 * NAME
 *   postfix/policy.test - Debian's Postfix asks BlockSmith's policy service (check_policy_service)
 *
 * DESCRIPTION
 *   The main.cf lines and BlockSmith's configuration are read from docs/postfix.md (the blocks
 *   marked e2e-snippet), with only the listening port changed to a free one. Then the story of
 *   story.ts: delivered, 450 4.7.25 with the URL and listed, 4xx and not listed on a DNS failure,
 *   postmaster@ accepted, delivered again after the DNS fix and `blocksmith unblock`.
 *
 *   Needs root (Postfix's master), Postfix and NSD: `bash .ci/e2e-install.sh`.
 */
import { after, before, describe } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { docSnippet, replaceOnce } from '../helpers/doc-snippet.js';
import { CLIENTS, startMtaDns, type MtaDns } from '../helpers/mta-fixtures.js';
import { askOnce, pollUntil, startNode, tempDir, type NodeProcess } from '../helpers/node-process.js';
import { startPostfix, type Postfix } from '../helpers/postfix.js';
import { defineStory, type StoryEnv } from './story.js';

const DOC_POLICY = '127.0.0.1:10057';

describe('Postfix check_policy_service → BlockSmith policy service', () => {
  let dns: MtaDns | undefined;
  let node: NodeProcess | undefined;
  let postfix: Postfix | undefined;
  let data: { path: string; remove: () => Promise<void> } | undefined;
  let env: StoryEnv | undefined;

  before(async () => {
    dns = await startMtaDns();
    data = await tempDir('postfix-policy');
    const yaml = replaceOnce(await docSnippet('postfix.md', 'blocksmith-policy'), DOC_POLICY, '127.0.0.1:0');
    const configFile = join(data.path, 'blocksmith.yaml');
    await writeFile(configFile, yaml);
    node = await startNode({
      name: 'blocksmith',
      configFile,
      args: ['--data', data.path, '--resolver', dns.server.resolver4, '--bypass', 'none', '--http', 'none'],
    });
    const policy = node.endpoint('policy');
    const mainCf = replaceOnce(await docSnippet('postfix.md', 'postfix-policy'), `inet:${DOC_POLICY}`, `inet:${policy.host}:${policy.port}`);
    postfix = await startPostfix({ mainCf });
    const started = { dns, node, postfix, data };
    env = {
      postfix,
      dataDir: data.path,
      resolver: dns.server.resolver4,
      fixDns: () => started.dns.fixNoPtr(),
      // The clear reaches the running node through the store's events (SQLite: polled every
      // 250 ms); wait until its policy service says DUNNO for the address, bounded.
      afterUnblock: async () => {
        const took = await pollUntil(5_000, async () => (await askOnce(policy, CLIENTS.noPtr)) === 'DUNNO', 100);
        if (took === undefined) throw new Error(`the node still refuses ${CLIENTS.noPtr} 5 s after unblock\n${started.node.diagnostics()}`);
      },
      // Postfix puts "<rcpt>: Recipient address rejected: " before a policy service's text.
      servfail: {
        outcome: 'defer',
        reply: /^451 4\.4\.3 <bob@example\.com>: Recipient address rejected: \[127\.0\.10\.3\] Deferred by Example Org mail gateway: .* Details: https:\/\/blocksmith\.example\.org\/ip\/127\.0\.10\.3\?r=\w+$/,
      },
    };
  });

  after(async () => {
    await postfix?.stop();
    await node?.stop();
    await dns?.stop();
    await data?.remove();
  });

  defineStory(() => {
    if (env === undefined) throw new Error('set-up failed');
    return env;
  });
});
