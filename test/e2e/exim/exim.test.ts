/**
 * NAME
 *   exim/exim.test - Debian's Exim asks BlockSmith: the policy service through ${readsocket}
 *   (policy.mode: exim), and the DNSBL zone through dnslists
 *
 * DESCRIPTION
 *   The ACL lines and BlockSmith's configuration are read from docs/exim.md (the blocks marked
 *   e2e-snippet), with only the listening address changed. Exim runs as exim4 -bdf with its own
 *   configuration (helpers/exim.ts); clients connect from 127.0.10.x (helpers/mta-fixtures.ts).
 *
 *   dnslists: Exim asks the system resolver, so it runs in a mount namespace of its own whose
 *   /etc/resolv.conf names BLOCKSMITH_DNSBL_ADDRESS, where the test's BlockSmith serves the zone
 *   on port 53 (that address is used by nothing else; see docs/dnsbl.md, "How the tests point an
 *   MTA at the zone").
 *
 *   Needs root, Exim and NSD: `bash .ci/e2e-install.sh`.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { docSnippet, replaceOnce } from '../helpers/doc-snippet.js';
import { EXIM_MAIL_DOMAIN, startExim, type Exim } from '../helpers/exim.js';
import { CLIENTS, listedIps, startMtaDns, type MtaDns } from '../helpers/mta-fixtures.js';
import { startNode, tempDir, type NodeProcess } from '../helpers/node-process.js';
import { sendMail, type SmtpTranscript } from '../helpers/smtp-client.js';

const DOC_POLICY = '127.0.0.1:10057';
const PORTAL = 'https://blocksmith.example.org';
/** Where this suite's BlockSmith serves the DNSBL zone: port 53 of an address nothing else uses. */
const BLOCKSMITH_DNSBL_ADDRESS = '127.0.53.2';

function show(t: SmtpTranscript): string {
  return t.log.join('\n');
}

let dns: MtaDns | undefined;
before(async () => {
  dns = await startMtaDns();
});
after(async () => {
  await dns?.stop();
});
function resolver(): string {
  if (dns === undefined) throw new Error('NSD did not start');
  return dns.server.resolver4;
}

describe('Exim ${readsocket} → BlockSmith policy service (mode exim)', () => {
  let node: NodeProcess | undefined;
  let exim: Exim | undefined;
  let data: { path: string; remove: () => Promise<void> } | undefined;

  before(async () => {
    data = await tempDir('exim-policy');
    const configFile = join(data.path, 'blocksmith.yaml');
    await writeFile(configFile, replaceOnce(await docSnippet('exim.md', 'blocksmith-exim'), DOC_POLICY, '127.0.0.1:0'));
    node = await startNode({ name: 'blocksmith', configFile, args: ['--data', data.path, '--resolver', resolver(), '--bypass', 'none', '--http', 'none'] });
    const policy = node.endpoint('policy');
    const acl = replaceOnce(await docSnippet('exim.md', 'exim-policy-acl'), `inet:${DOC_POLICY}`, `inet:${policy.host}:${policy.port}`);
    exim = await startExim({ rcptAcl: acl });
  });

  after(async () => {
    await exim?.stop();
    await node?.stop();
    await data?.remove();
  });

  it('delivers the mail of a client with forward-confirmed reverse DNS', async () => {
    assert.ok(exim !== undefined);
    const t = await sendMail({ host: exim.host, port: exim.port, localAddress: CLIENTS.confirmed, from: 'sender@mta.example', to: [`bob@${EXIM_MAIL_DOMAIN}`] });
    assert.equal(t.rcpts[0]?.code, 250, show(t));
    assert.ok(t.delivered, show(t));
    const box = await exim.waitForMailbox(t.messageId);
    assert.match(box, /Received: from \[127\.0\.10\.1\]/);
  });

  it('refuses a client with no PTR with BlockSmith\'s text and URL, and lists it', async () => {
    assert.ok(exim !== undefined && data !== undefined);
    const t = await sendMail({ host: exim.host, port: exim.port, localAddress: CLIENTS.noPtr, from: 'sender@mta.example', to: [`bob@${EXIM_MAIL_DOMAIN}`] });
    const rcpt = t.rcpts[0];
    assert.equal(rcpt?.code, 450, show(t));
    assert.match(rcpt.text, /^4\.7\.25 \[127\.0\.10\.2\] Rejected by Example Org mail gateway: no reverse DNS \(PTR\) record/, show(t));
    assert.ok(rcpt.text.includes(`${PORTAL}/ip/${CLIENTS.noPtr}?r=`), `no URL in: ${rcpt.text}`);
    assert.equal(t.delivered, false, show(t));
    assert.deepEqual(await listedIps(data.path), [CLIENTS.noPtr]);
    assert.match(await exim.log(), /H=\(client\.mta\.example\) \[127\.0\.10\.2\] .*temporarily rejected RCPT <bob@example\.com>: 450 4\.7\.25 /);
  });

  it('defers a client whose reverse zone fails with 451 4.4.3, and does not list it', async () => {
    assert.ok(exim !== undefined && data !== undefined);
    const t = await sendMail({ host: exim.host, port: exim.port, localAddress: CLIENTS.servfail, from: 'sender@mta.example', to: [`bob@${EXIM_MAIL_DOMAIN}`] });
    assert.equal(t.rcpts[0]?.code, 451, show(t));
    assert.match(t.rcpts[0].text, /^4\.4\.3 /, show(t));
    assert.deepEqual(await listedIps(data.path), [CLIENTS.noPtr]);
  });
});

describe('Exim dnslists → BlockSmith DNSBL zone', () => {
  let node: NodeProcess | undefined;
  let exim: Exim | undefined;
  let data: { path: string; remove: () => Promise<void> } | undefined;

  before(async () => {
    data = await tempDir('exim-dnsbl');
    const yaml = replaceOnce(await docSnippet('dnsbl.md', 'blocksmith-dnsbl'), '127.0.0.1:5353', `${BLOCKSMITH_DNSBL_ADDRESS}:53`);
    const configFile = join(data.path, 'blocksmith.yaml');
    await writeFile(configFile, yaml);
    node = await startNode({ name: 'blocksmith', configFile, args: ['--data', data.path, '--resolver', resolver(), '--bypass', 'none', '--policy', 'none', '--http', 'none'] });
    exim = await startExim({
      rcptAcl: await docSnippet('exim.md', 'exim-dnslists-acl'),
      resolvConf: `nameserver ${BLOCKSMITH_DNSBL_ADDRESS}\noptions timeout:5 attempts:1\n`,
    });
  });

  after(async () => {
    await exim?.stop();
    await node?.stop();
    await data?.remove();
  });

  it('delivers the mail of a client with forward-confirmed reverse DNS', async () => {
    assert.ok(exim !== undefined);
    const t = await sendMail({ host: exim.host, port: exim.port, localAddress: CLIENTS.confirmed, from: 'sender@mta.example', to: [`bob@${EXIM_MAIL_DOMAIN}`] });
    assert.equal(t.rcpts[0]?.code, 250, show(t));
    assert.ok(t.delivered, show(t));
    await exim.waitForMailbox(t.messageId);
  });

  it('defers a client with no PTR with 450 4.7.25 and BlockSmith\'s TXT (the URL)', async () => {
    assert.ok(exim !== undefined && data !== undefined);
    const t = await sendMail({ host: exim.host, port: exim.port, localAddress: CLIENTS.noPtr, from: 'sender@mta.example', to: [`bob@${EXIM_MAIL_DOMAIN}`] });
    const rcpt = t.rcpts[0];
    assert.equal(rcpt?.code, 450, show(t));
    assert.match(rcpt.text, /^4\.7\.25 127\.0\.10\.2 blocked using fcrdns\.example\.net: /, show(t));
    assert.ok(rcpt.text.includes(`${PORTAL}/ip/${CLIENTS.noPtr}`), `no URL in: ${rcpt.text}`);
    assert.deepEqual(await listedIps(data.path), [CLIENTS.noPtr]);
  });

  it('accepts postmaster@ from the listed client', async () => {
    assert.ok(exim !== undefined);
    const t = await sendMail({ host: exim.host, port: exim.port, localAddress: CLIENTS.noPtr, from: 'sender@mta.example', to: [`postmaster@${EXIM_MAIL_DOMAIN}`] });
    assert.equal(t.rcpts[0]?.code, 250, show(t));
    assert.ok(t.delivered, show(t));
  });

  it('does not refuse or list a client whose reverse zone fails (BlockSmith answers SERVFAIL)', async () => {
    assert.ok(exim !== undefined && data !== undefined);
    const t = await sendMail({ host: exim.host, port: exim.port, localAddress: CLIENTS.servfail, from: 'sender@mta.example', to: [`bob@${EXIM_MAIL_DOMAIN}`] });
    assert.equal(t.rcpts[0]?.code, 250, show(t));
    assert.deepEqual(await listedIps(data.path), [CLIENTS.noPtr]);
  });
});
