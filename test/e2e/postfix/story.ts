/**
 * NAME
 *   postfix/story - the one story both Postfix suites tell, through the policy service and the DNSBL
 *
 * SYNOPSIS
 *   describe('...', () => { before(...); defineStory(() => env); after(...) })
 *
 * DESCRIPTION
 *   Issue 4, "What it must show", as tests that run in order against a real Postfix in front of a
 *   real BlockSmith (each suite sets both up its own way):
 *     1. a client with forward-confirmed reverse DNS: its mail is in the mailbox file
 *     2. a client with no PTR: 450 4.7.25 from Postfix, carrying BlockSmith's URL; listed
 *     3. a client whose reverse zone fails (SERVFAIL): a 4xx, and not listed
 *     4. postmaster@ from the listed client: accepted and delivered
 *     5. the client's DNS is fixed, `blocksmith unblock` runs: its next attempt is delivered
 *   Every assertion message carries the SMTP transcript.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CLIENTS, listedIps, unblock } from '../helpers/mta-fixtures.js';
import type { Postfix } from '../helpers/postfix.js';
import { POSTFIX_MAIL_DOMAIN } from '../helpers/postfix.js';
import { sendMail, type SmtpTranscript } from '../helpers/smtp-client.js';

export const PORTAL = 'https://blocksmith.example.org';

export interface StoryEnv {
  readonly postfix: Postfix;
  readonly dataDir: string;
  readonly resolver: string;
  /** The sender's administrator fixes the PTR of CLIENTS.noPtr. */
  fixDns(): Promise<void>;
  /** After `blocksmith unblock` succeeded: whatever the path needs before the next attempt. */
  afterUnblock(): Promise<void>;
  /**
   * What Postfix answers the client whose reverse DNS fails: a 4xx matching `reply` (policy
   * service), or `accept` (reject_rbl_client: Postfix treats a DNSBL that answers SERVFAIL as
   * "not listed", and logs `logPattern`). Never a 5xx, never a listing.
   */
  readonly servfail: { readonly outcome: 'defer'; readonly reply: RegExp } | { readonly outcome: 'accept'; readonly logPattern: RegExp };
}

function show(t: SmtpTranscript): string {
  return t.log.join('\n');
}

function send(env: StoryEnv, from: string, to: string): Promise<SmtpTranscript> {
  return sendMail({ host: env.postfix.host, port: env.postfix.port, localAddress: from, from: `sender@mta.example`, to: [to] });
}

export function defineStory(getEnv: () => StoryEnv): void {
  it('delivers the mail of a client with forward-confirmed reverse DNS', async () => {
    const env = getEnv();
    const t = await send(env, CLIENTS.confirmed, `bob@${POSTFIX_MAIL_DOMAIN}`);
    assert.equal(t.rcpts[0]?.code, 250, show(t));
    assert.ok(t.delivered, show(t));
    const box = await env.postfix.waitForMailbox(t.messageId);
    assert.match(box, new RegExp(`Received: from \\S+ \\(unknown \\[${CLIENTS.confirmed.replace(/\./g, '\\.')}\\]\\)`));
  });

  it('refuses a client with no PTR with 450 4.7.25 and BlockSmith\'s URL, and lists it', async () => {
    const env = getEnv();
    const t = await send(env, CLIENTS.noPtr, `bob@${POSTFIX_MAIL_DOMAIN}`);
    const rcpt = t.rcpts[0];
    assert.equal(rcpt?.code, 450, show(t));
    assert.match(rcpt.text, /^4\.7\.25 /, show(t));
    assert.ok(rcpt.text.includes(`${PORTAL}/ip/${CLIENTS.noPtr}`), `no URL in: ${rcpt.text}`);
    assert.ok(rcpt.text.includes(`[${CLIENTS.noPtr}]`), show(t));
    assert.equal(t.delivered, false, show(t));
    assert.equal(t.data, undefined, 'no DATA after the only recipient was refused');
    assert.ok(!(await env.postfix.mailbox()).includes(t.messageId));
    assert.deepEqual(await listedIps(env.dataDir), [CLIENTS.noPtr]);
  });

  it('never refuses permanently nor lists a client whose reverse zone fails', async () => {
    const env = getEnv();
    const t = await send(env, CLIENTS.servfail, `bob@${POSTFIX_MAIL_DOMAIN}`);
    const rcpt = t.rcpts[0];
    if (env.servfail.outcome === 'defer') {
      assert.ok(rcpt !== undefined && rcpt.code >= 400 && rcpt.code < 500, show(t));
      assert.match(`${rcpt.code} ${rcpt.text}`, env.servfail.reply, show(t));
      assert.equal(t.delivered, false, show(t));
    } else {
      assert.equal(rcpt?.code, 250, show(t));
      assert.match(await env.postfix.log(), env.servfail.logPattern);
    }
    const listed = await listedIps(env.dataDir);
    assert.ok(!listed.includes(CLIENTS.servfail), `listed: ${listed.join(', ')}`);
    assert.deepEqual(listed, [CLIENTS.noPtr]);
  });

  it('accepts postmaster@ from the listed client', async () => {
    const env = getEnv();
    const t = await send(env, CLIENTS.noPtr, `postmaster@${POSTFIX_MAIL_DOMAIN}`);
    assert.equal(t.rcpts[0]?.code, 250, show(t));
    assert.ok(t.delivered, show(t));
    await env.postfix.waitForMailbox(t.messageId);
    assert.deepEqual(await listedIps(env.dataDir), [CLIENTS.noPtr], 'still listed: only postmaster@ gets through');
    const other = await send(env, CLIENTS.noPtr, `bob@${POSTFIX_MAIL_DOMAIN}`);
    assert.equal(other.rcpts[0]?.code, 450, show(other));
  });

  it('delivers the next attempt once the DNS is fixed and `blocksmith unblock` has run', async () => {
    const env = getEnv();
    await env.fixDns();
    const run = await unblock(CLIENTS.noPtr, env.dataDir, env.resolver);
    assert.equal(run.code, 0, `unblock: ${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /"outcome":"cleared"/);
    assert.deepEqual(await listedIps(env.dataDir), []);
    await env.afterUnblock();
    const t = await send(env, CLIENTS.noPtr, `bob@${POSTFIX_MAIL_DOMAIN}`);
    assert.equal(t.rcpts[0]?.code, 250, show(t));
    assert.ok(t.delivered, show(t));
    await env.postfix.waitForMailbox(t.messageId);
  });
}
