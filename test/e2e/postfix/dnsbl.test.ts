/**
 * NAME
 *   postfix/dnsbl.test - Debian's Postfix asks BlockSmith's DNSBL zone (reject_rbl_client)
 *
 * DESCRIPTION
 *   The main.cf lines and BlockSmith's configuration (dnsbl.live: true) are read from
 *   docs/postfix.md, with only BlockSmith's listening address changed. Then the story of
 *   story.ts, through DNS this time.
 *
 *   Postfix looks DNSBLs up with the system resolver (/etc/resolv.conf, port 53 only). So
 *   BlockSmith serves the zone on port 53 of DNSBL_ADDRESS, a loopback address nothing else uses,
 *   and Postfix runs in a mount namespace of its own whose /etc/resolv.conf names that address
 *   (helpers/postfix.ts, resolvConf); the machine's resolver is never touched. See docs/dnsbl.md,
 *   "How the tests point an MTA at the zone".
 *
 *   smtpd keeps DNSBL answers for its whole life, so after the unblock the test waits until the
 *   zone says NXDOMAIN, then runs `postfix reload` and waits for the old smtpd processes to exit
 *   (the step docs/postfix.md tells operators to take).
 *
 *   Needs root (port 53, Postfix's master, the mount namespace), Postfix, unshare and NSD:
 *   `bash .ci/e2e-install.sh`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { queryUdp } from '../helpers/dns-server.js';
import { docSnippet, replaceOnce } from '../helpers/doc-snippet.js';
import { CLIENTS, startMtaDns, type MtaDns } from '../helpers/mta-fixtures.js';
import { pollUntil, startNode, tempDir, type NodeProcess } from '../helpers/node-process.js';
import { startPostfix, type Postfix } from '../helpers/postfix.js';
import { defineStory, type StoryEnv } from './story.js';

/** Port 53 of this address serves the zone; Postfix's private resolv.conf names it. */
const DNSBL_ADDRESS = '127.0.53.1';
const ZONE = 'fcrdns.example.net';

describe('Postfix reject_rbl_client → BlockSmith DNSBL zone', () => {
  let dns: MtaDns | undefined;
  let node: NodeProcess | undefined;
  let postfix: Postfix | undefined;
  let data: { path: string; remove: () => Promise<void> } | undefined;
  let env: StoryEnv | undefined;

  before(async () => {
    dns = await startMtaDns();
    data = await tempDir('postfix-dnsbl');
    const yaml = replaceOnce(await docSnippet('postfix.md', 'blocksmith-dnsbl'), '127.0.0.1:5353', `${DNSBL_ADDRESS}:53`);
    const configFile = join(data.path, 'blocksmith.yaml');
    await writeFile(configFile, yaml);
    node = await startNode({
      name: 'blocksmith',
      configFile,
      args: ['--data', data.path, '--resolver', dns.server.resolver4, '--bypass', 'none', '--policy', 'none', '--http', 'none'],
    });
    postfix = await startPostfix({
      mainCf: await docSnippet('postfix.md', 'postfix-dnsbl'),
      resolvConf: `nameserver ${DNSBL_ADDRESS}\noptions timeout:5 attempts:1\n`,
    });
    const started = { dns, node, postfix };
    const listedName = `${CLIENTS.noPtr.split('.').reverse().join('.')}.${ZONE}`;
    env = {
      postfix,
      dataDir: data.path,
      resolver: dns.server.resolver4,
      fixDns: () => started.dns.fixNoPtr(),
      afterUnblock: async () => {
        // The clear reaches the node through the store's events; then the zone says NXDOMAIN.
        const took = await pollUntil(
          5_000,
          // rcode 3 (NXDOMAIN) is the low four bits of the flags
          async () => (((await queryUdp(DNSBL_ADDRESS, 53, listedName, 'A', 1_000))?.flags ?? -1) & 0xf) === 3,
          100,
        );
        if (took === undefined) throw new Error(`the zone still lists ${CLIENTS.noPtr} 5 s after unblock\n${started.node.diagnostics()}`);
        await started.postfix.restartSmtpd();
      },
      servfail: { outcome: 'accept', logPattern: /warning: 3\.10\.0\.127\.fcrdns\.example\.net: RBL lookup error: .*try again/ },
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
