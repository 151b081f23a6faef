/**
 * NAME
 *   gate/exim-gate.test - BlockSmith's SMTP gate in front of Debian's Exim (hosts_proxy, PROXY v2)
 *
 * DESCRIPTION
 *   Exim's main-configuration lines (daemon_smtp_ports, local_interfaces, hosts_proxy) and
 *   BlockSmith's configuration are read from docs/smtp-gate.md (the blocks marked e2e-snippet
 *   `exim-gate` and `blocksmith-gate`), with only the ports changed. Exim is Debian 12's
 *   exim4-daemon-heavy (the light daemon is built without PROXY support), unpacked by
 *   .ci/e2e-install.sh and run by helpers/exim.ts. Clients connect to the gate from 127.0.10.x
 *   (fixture zones in NSD, helpers/mta-fixtures.ts):
 *     - 127.0.10.1 (confirmed): handed to Exim with a PROXY v2 header; the mail is delivered, and
 *       Exim's log (`H=… [127.0.10.1]`) and the Received header show the client, not the gate;
 *     - 127.0.10.2 (no PTR): BlockSmith's own 220, and at RCPT 450 4.7.25 with the URL; Exim
 *       never sees the client.
 *   Exim's readiness probe connects from 127.0.0.2: every connection from 127.0.0.1 (hosts_proxy)
 *   must start with a PROXY header.
 *
 *   Needs root (Exim changes users), the unpacked exim4-daemon-heavy and NSD: `bash .ci/e2e-install.sh`.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { docSnippet, replaceOnce } from '../helpers/doc-snippet.js';
import { EXIM_MAIL_DOMAIN, eximProxyBinary, startExim, type Exim } from '../helpers/exim.js';
import { CLIENTS, listedIps, startMtaDns, type MtaDns } from '../helpers/mta-fixtures.js';
import { startNode, tempDir, type Endpoint, type NodeProcess } from '../helpers/node-process.js';
import { sendMail, type SmtpTranscript } from '../helpers/smtp-client.js';

const URL_OF = (ip: string): RegExp => new RegExp(`https://blocksmith\\.example\\.org/ip/${ip.replace(/\./g, '\\.')}\\?r=\\w+`);
const show = (t: SmtpTranscript): string => t.log.join('\n');

describe('SMTP gate → Exim with hosts_proxy', () => {
  let dns: MtaDns | undefined;
  let node: NodeProcess | undefined;
  let exim: Exim | undefined;
  let data: { path: string; remove: () => Promise<void> } | undefined;
  let gate: Endpoint | undefined;

  before(async () => {
    const binary = eximProxyBinary();
    if (binary === undefined) throw new Error('the gate suite needs Debian\'s exim4-daemon-heavy (PROXY support) in /opt/blocksmith-e2e/exim4-heavy: run `bash .ci/e2e-install.sh` (as root)');
    dns = await startMtaDns();
    data = await tempDir('exim-gate');
    const eximLines = await docSnippet('smtp-gate.md', 'exim-gate');
    exim = await startExim({
      binary,
      rcptAcl: '',
      mainConf: (port) => replaceOnce(eximLines, 'daemon_smtp_ports = 10025', `daemon_smtp_ports = ${port}`),
      probeAddress: '127.0.0.2',
    });

    let yaml = await docSnippet('smtp-gate.md', 'blocksmith-gate');
    yaml = replaceOnce(yaml, '"0.0.0.0:25"', '"127.0.0.1:0"');
    yaml = replaceOnce(yaml, '"127.0.0.1:10025"', `"127.0.0.1:${exim.port}"`);
    const configFile = join(data.path, 'blocksmith.yaml');
    await writeFile(configFile, yaml);
    node = await startNode({ name: 'blocksmith', configFile, args: ['--data', join(data.path, 'data'), '--resolver', dns.server.resolver4, '--bypass', 'none', '--policy', 'none', '--http', 'none'] });
    gate = node.endpoint('gate');
  });

  after(async () => {
    await exim?.stop();
    await node?.stop();
    await dns?.stop();
    await data?.remove();
  });

  function env(): { exim: Exim; gate: Endpoint; dataDir: string } {
    if (exim === undefined || gate === undefined || data === undefined) throw new Error('set-up failed');
    return { exim, gate, dataDir: join(data.path, 'data') };
  }

  it('delivers a confirmed client\'s mail through the gate; Exim\'s log and Received header show 127.0.10.1', async () => {
    const e = env();
    const t = await sendMail({ host: e.gate.host, port: e.gate.port, localAddress: CLIENTS.confirmed, helo: 'mx1.mta.example', from: 'sender@mta.example', to: [`bob@${EXIM_MAIL_DOMAIN}`] });
    // Exim's own banner, relayed: the gate said nothing of its own.
    assert.equal(t.banner.code, 220, show(t));
    assert.match(t.banner.text, /mx\.example\.com ESMTP Exim/, show(t));
    assert.equal(t.delivered, true, `${show(t)}\nExim's log:\n${await e.exim.log()}`);
    const box = await e.exim.waitForMailbox(t.messageId);
    assert.match(box, /Received: from \[127\.0\.10\.1\] \(helo=mx1\.mta\.example\)/);
    assert.doesNotMatch(box, /Received: from \[127\.0\.0\.1\]/);
    const log = await e.exim.log();
    assert.match(log, /<= sender@mta\.example H=\(mx1\.mta\.example\) \[127\.0\.10\.1\]/);
  });

  it('a client without PTR hears BlockSmith: 220, then 450 4.7.25 with the URL at RCPT; listed; Exim never sees it', async () => {
    const e = env();
    const t = await sendMail({ host: e.gate.host, port: e.gate.port, localAddress: CLIENTS.noPtr, from: 'sender@mta.example', to: [`bob@${EXIM_MAIL_DOMAIN}`] });
    assert.equal(t.banner.code, 220, show(t));
    assert.doesNotMatch(t.banner.text, /Exim|mx\.example\.com/, show(t));
    assert.equal(t.rcpts[0]?.code, 450, show(t));
    assert.match(t.rcpts[0]?.text ?? '', /^4\.7\.25 \[127\.0\.10\.2\] Rejected by Example Org mail gateway/, show(t));
    assert.match(t.rcpts[0]?.text ?? '', URL_OF(CLIENTS.noPtr), show(t));
    assert.equal(t.delivered, false);
    assert.ok((await listedIps(e.dataDir)).includes(CLIENTS.noPtr));
    assert.doesNotMatch(await e.exim.log(), /127\.0\.10\.2/);
  });
});
