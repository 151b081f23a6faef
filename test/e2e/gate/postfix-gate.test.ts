/**
 * NAME
 *   gate/postfix-gate.test - BlockSmith's SMTP gate in front of Debian's Postfix (PROXY v2)
 *
 * DESCRIPTION
 *   BlockSmith's configuration and Postfix's main.cf lines are read from docs/smtp-gate.md (the
 *   blocks marked e2e-snippet), with only ports and the certificate paths changed, and
 *   `pregreetWaitMs: 300` added (a client that writes at once is then always read by the gate). Postfix runs
 *   with `smtpd_upstream_proxy_protocol = haproxy` and a self-signed certificate made here with
 *   openssl. Clients connect to the gate from several 127.0.10.x addresses (fixture zones in NSD):
 *     - 127.0.10.1 (confirmed): mail delivered, over STARTTLS through the gate (nodemailer with
 *       requireTLS), and Postfix's log and Received header show 127.0.10.1, not the gate;
 *     - 127.0.10.2 (no PTR): BlockSmith's 220, and at RCPT 450 4.7.25 with the URL; Postfix never
 *       sees the client;
 *     - 127.0.10.3 (reverse zone SERVFAIL): 451 4.4.3 at RCPT, not listed;
 *     - 127.0.10.1 sending a PROXY header (untrusted): dropped without a reply, never in Postfix's log;
 *     - with Postfix stopped: 421 4.3.2.
 *
 *   Needs root (Postfix's master), Postfix, openssl and NSD: `bash .ci/e2e-install.sh`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { docSnippet, replaceOnce } from '../helpers/doc-snippet.js';
import { CLIENTS, listedIps, startMtaDns, unblock, type MtaDns } from '../helpers/mta-fixtures.js';
import { pollUntil, startNode, tempDir, type Endpoint, type NodeProcess } from '../helpers/node-process.js';
import { POSTFIX_MAIL_DOMAIN, startPostfix, type Postfix } from '../helpers/postfix.js';
import { sendMail, type SmtpTranscript } from '../helpers/smtp-client.js';

const execFileAsync = promisify(execFile);
const URL_OF = (ip: string): RegExp => new RegExp(`https://blocksmith\\.example\\.org/ip/${ip.replace(/\./g, '\\.')}\\?r=\\w+`);

function show(t: SmtpTranscript): string {
  return t.log.join('\n');
}

/** The whole of what the gate says to a raw connection that sends `data` first, until it closes. */
function rawExchange(gate: Endpoint, localAddress: string, data: string, timeoutMs = 5_000): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: gate.host, port: gate.port, localAddress });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received, closed: false });
    }, timeoutMs);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, closed: true });
    });
  });
}

describe('SMTP gate → Postfix with smtpd_upstream_proxy_protocol = haproxy', () => {
  let dns: MtaDns | undefined;
  let node: NodeProcess | undefined;
  let postfix: Postfix | undefined;
  let data: { path: string; remove: () => Promise<void> } | undefined;
  let gate: Endpoint | undefined;

  before(async () => {
    dns = await startMtaDns();
    data = await tempDir('postfix-gate');
    // A self-signed certificate for Postfix's STARTTLS (read by smtpd as root at start).
    const tls = join(data.path, 'tls');
    await execFileAsync('mkdir', ['-p', tls]);
    await chmod(data.path, 0o755);
    await chmod(tls, 0o755);
    await execFileAsync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=mx.example.com', '-keyout', join(tls, 'key.pem'), '-out', join(tls, 'cert.pem')], { timeout: 30_000 });
    await chmod(join(tls, 'key.pem'), 0o600);
    let mainCf = await docSnippet('smtp-gate.md', 'postfix-gate');
    mainCf = replaceOnce(mainCf, '/etc/postfix/tls/cert.pem', join(tls, 'cert.pem'));
    mainCf = replaceOnce(mainCf, '/etc/postfix/tls/key.pem', join(tls, 'key.pem'));
    postfix = await startPostfix({ mainCf, upstreamProxy: true, tls: true });

    let yaml = await docSnippet('smtp-gate.md', 'blocksmith-gate');
    yaml = replaceOnce(yaml, '"0.0.0.0:25"', '"127.0.0.1:0"');
    yaml = replaceOnce(yaml, '"127.0.0.1:10025"', `"127.0.0.1:${postfix.port}"`);
    // The one setting added to the document's: a pregreet wait, so that a client writing at once
    // is always read by the gate before any banner (see docs/smtp-gate.md §4 on the race without it).
    yaml = replaceOnce(yaml, '  proxy: v2\n', '  proxy: v2\n  pregreetWaitMs: 300\n');
    const configFile = join(data.path, 'blocksmith.yaml');
    await writeFile(configFile, yaml);
    node = await startNode({ name: 'blocksmith', configFile, args: ['--data', join(data.path, 'data'), '--resolver', dns.server.resolver4, '--bypass', 'none', '--policy', 'none', '--http', 'none'] });
    gate = node.endpoint('gate');
  });

  after(async () => {
    await postfix?.stop();
    await node?.stop();
    await dns?.stop();
    await data?.remove();
  });

  function env(): { postfix: Postfix; node: NodeProcess; gate: Endpoint; dataDir: string } {
    if (postfix === undefined || node === undefined || gate === undefined || data === undefined) throw new Error('set-up failed');
    return { postfix, node, gate, dataDir: join(data.path, 'data') };
  }

  it('delivers a confirmed client\'s mail with STARTTLS through the gate; Postfix sees 127.0.10.1', async () => {
    const e = env();
    const transport = nodemailer.createTransport({
      host: e.gate.host,
      port: e.gate.port,
      secure: false,
      requireTLS: true,
      localAddress: CLIENTS.confirmed,
      name: 'mx1.mta.example',
      tls: { rejectUnauthorized: false, servername: 'mx.example.com' },
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
    });
    const messageId = `<gate-tls-${Date.now()}@mta.example>`;
    try {
      const info = await transport.sendMail({ from: 'sender@mta.example', to: `bob@${POSTFIX_MAIL_DOMAIN}`, subject: 'through the gate', text: 'hello over TLS\n', messageId });
      assert.deepEqual(info.accepted, [`bob@${POSTFIX_MAIL_DOMAIN}`]);
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nPostfix log:\n${(await e.postfix.log()).split('\n').slice(-30).join('\n')}`);
    } finally {
      transport.close();
    }
    const box = await e.postfix.waitForMailbox(messageId.slice(1, -1));
    assert.match(box, /Received: from mx1\.mta\.example \(unknown \[127\.0\.10\.1\]\)/);
    // ESMTPS: Postfix's own record that the session was under TLS (the gate holds no key).
    assert.match(box, /\(Postfix\) with ESMTPS id/);
    const log = await e.postfix.log();
    assert.match(log, /connect from unknown\[127\.0\.10\.1\]/);
  });

  it('a client without PTR hears BlockSmith: 220, then 450 4.7.25 with the URL at RCPT; listed; Postfix never sees it', async () => {
    const e = env();
    const t = await sendMail({ host: e.gate.host, port: e.gate.port, localAddress: CLIENTS.noPtr, from: 'sender@mta.example', to: [`bob@${POSTFIX_MAIL_DOMAIN}`] });
    assert.equal(t.banner.code, 220, show(t));
    assert.doesNotMatch(t.banner.text, /Postfix|mx\.example\.com/, show(t));
    assert.equal(t.rcpts[0]?.code, 450, show(t));
    assert.match(t.rcpts[0]?.text ?? '', /^4\.7\.25 \[127\.0\.10\.2\] Rejected by Example Org mail gateway/, show(t));
    assert.match(t.rcpts[0]?.text ?? '', URL_OF(CLIENTS.noPtr), show(t));
    assert.equal(t.delivered, false);
    assert.ok((await listedIps(e.dataDir)).includes(CLIENTS.noPtr));
    assert.doesNotMatch(await e.postfix.log(), /127\.0\.10\.2/);
  });

  it('a client whose reverse zone fails gets 451 4.4.3 at RCPT and is not listed', async () => {
    const e = env();
    const t = await sendMail({ host: e.gate.host, port: e.gate.port, localAddress: CLIENTS.servfail, from: 'sender@mta.example', to: [`bob@${POSTFIX_MAIL_DOMAIN}`], replyTimeoutMs: 20_000 });
    assert.equal(t.rcpts[0]?.code, 451, show(t));
    assert.match(t.rcpts[0]?.text ?? '', /^4\.4\.3 \[127\.0\.10\.3\] Deferred/, show(t));
    assert.ok(!(await listedIps(e.dataDir)).includes(CLIENTS.servfail));
  });

  it('a PROXY header from an untrusted client is dropped without a word, and never reaches Postfix', async () => {
    const e = env();
    const r = await rawExchange(e.gate, CLIENTS.confirmed, 'PROXY TCP4 192.0.2.99 127.0.0.1 4444 25\r\nEHLO forged\r\n');
    assert.deepEqual(r, { received: '', closed: true });
    await e.node.waitFor((l) => l.event === 'PROXY-UNTRUSTED', 5_000);
    assert.doesNotMatch(await e.postfix.log(), /192\.0\.2\.99/);
  });

  it('after the DNS fix and `blocksmith unblock`, 127.0.10.2 is handed over: delivered, and Postfix logs 127.0.10.2', async () => {
    const e = env();
    if (dns === undefined) throw new Error('set-up failed');
    await dns.fixNoPtr();
    const run = await unblock(CLIENTS.noPtr, e.dataDir, dns.server.resolver4);
    assert.equal(run.code, 0, run.stderr);
    // The clear reaches the running node through the store's events (SQLite: polled): bounded retry.
    let t: SmtpTranscript | undefined;
    const took = await pollUntil(5_000, async () => {
      t = await sendMail({ host: e.gate.host, port: e.gate.port, localAddress: CLIENTS.noPtr, from: 'sender@mta.example', to: [`bob@${POSTFIX_MAIL_DOMAIN}`] });
      return t.delivered;
    }, 200);
    assert.ok(took !== undefined && t !== undefined, t === undefined ? 'no attempt' : show(t));
    await e.postfix.waitForMailbox(t.messageId);
    assert.match(await e.postfix.log(), /connect from unknown\[127\.0\.10\.2\]/);
  });

  it('with Postfix stopped, a confirmed client gets 421 4.3.2', async () => {
    const e = env();
    await e.postfix.stop();
    const t = await sendMail({ host: e.gate.host, port: e.gate.port, localAddress: CLIENTS.confirmed, from: 'sender@mta.example', to: [`bob@${POSTFIX_MAIL_DOMAIN}`] }).catch((err: unknown) => err);
    const text = t instanceof Error ? t.message : show(t as SmtpTranscript);
    assert.match(text, /421[ -]4\.3\.2/, text);
    await e.node.waitFor((l) => l.event === 'BACKEND-DOWN', 5_000);
  });
});
