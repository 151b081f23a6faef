/**
 * The portal in a real browser (Debian's chromium through playwright-core), against `blocksmith
 * serve` with its policy service and HTTP listener, and NSD serving the MTA fixtures:
 *
 *   a policy-service rejection gives a URL → the page explains the right reason for that IP →
 *   the fixture's DNS is fixed → Verify (the live test) shows pass → Unblock clears → the next
 *   policy request is accepted; and a whitelist request is filed and its status shown by
 *   reference.
 *
 * Every page is checked with axe-core (WCAG 2.2 AA rules) at 375 px and 1280 px, for horizontal
 * overflow and for CSP violations, and screenshotted (test/e2e/portal/browser.ts). The browser
 * runs without JavaScript for one pass of the story's forms too: every page works without it.
 */
import { after, before, describe, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { CLIENTS, startMtaDns, type MtaDns } from '../helpers/mta-fixtures.js';
import { askOnce, classify, freePort, startNode, tempDir, type NodeProcess } from '../helpers/node-process.js';
import type { Page } from 'playwright-core';
import { axeViolations, checkPage, startBrowser, WIDTHS, type Browser } from './browser.js';

describe('portal in a browser: the whole story', () => {
  let dns: MtaDns | undefined;
  let node: NodeProcess | undefined;
  let browser: Browser | undefined;
  let data: { path: string; remove: () => Promise<void> } | undefined;
  let base = '';

  before(async () => {
    dns = await startMtaDns();
    data = await tempDir('portal');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const configFile = join(data.path, 'blocksmith.json');
    await writeFile(
      configFile,
      JSON.stringify({
        firewall: { portalUrl: base, organisation: { name: 'Example Org' } },
        // The fixture clients are 127.0.10.x: the live test must be allowed to ask about them.
        portal: { contactEmail: 'postmaster@example.org', testReservedTargets: true },
      }),
    );
    node = await startNode({
      name: 'blocksmith',
      configFile,
      args: ['--data', data.path, '--resolver', dns.server.resolver4, '--bypass', 'none', '--policy', '127.0.0.1:0', '--http', `127.0.0.1:${port}`],
    });
    browser = await startBrowser();
  });

  after(async () => {
    await browser?.close();
    await node?.stop();
    await dns?.stop();
    await data?.remove();
  });

  test('rejection URL → explanation → DNS fixed → test passes → unblock clears → next policy request accepted', async () => {
    assert.ok(node !== undefined && dns !== undefined && browser !== undefined);
    const action = await askOnce(node.endpoint('policy'), CLIENTS.noPtr);
    assert.equal(classify(action), 'reject', action);
    const url = /(https?:\/\/\S+\/ip\/\S+\?r=[0-9A-Z]+)/.exec(action)?.[1];
    assert.ok(url !== undefined && url.startsWith(`${base}/ip/${CLIENTS.noPtr}?r=`), `a portal URL in the reply: ${action}`);
    const ref = new URL(url).searchParams.get('r') ?? '';

    const page = await browser.page(1280);
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(url);
      await checkPage(page, 'ip-refused');
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(url);
    await assertVisible(page, 'Refused now');
    await assertVisible(page, 'no reverse DNS (PTR) record for this IP');
    await assertVisible(page, `Your reference: ${ref}`);
    await assertVisible(page, 'not a spam accusation');
    await assertVisible(page, `2.10.0.127.in-addr.arpa.  IN PTR  mail.example.com.`);
    // The SOA of the negative answer names the reverse zone and its server (NSD's fixture).
    await assertVisible(page, 'The reverse zone 10.0.127.in-addr.arpa is served by');
    // With JavaScript the copy button appears (progressive enhancement).
    assert.equal(await page.locator('button[data-copy-target="forward-text"]').isVisible(), true);

    // Verify before the fix: still failing, with the NXDOMAIN step in words.
    await page.getByRole('link', { name: 'Run the live test' }).click();
    await assertVisible(page, 'Fail: no usable reverse DNS.');
    await assertVisible(page, 'NXDOMAIN: this name does not exist in DNS.');
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      await checkPage(page, 'test-fail');
    }

    await dns.fixNoPtr();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('link', { name: 'Test again' }).click();
    await assertVisible(page, 'Pass: the reverse DNS is forward-confirmed.');
    await assertVisible(page, 'Match: this address is among the answers.');
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      await checkPage(page, 'test-pass');
    }

    await page.getByRole('link', { name: 'Back to the address page' }).click();
    await page.getByRole('button', { name: 'Check again and unblock' }).click();
    await assertVisible(page, 'Cleared, effective now.');
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      await checkPage(page, 'unblock-cleared');
    }

    const next = await askOnce(node.endpoint('policy'), CLIENTS.noPtr);
    assert.equal(classify(next), 'accept', next);
    await page.goto(`${base}/ip/${CLIENTS.noPtr}`);
    await assertVisible(page, 'Not refused');
    await page.close();
  });

  test('a whitelist request is filed in the browser and its status shown by reference; every other page passes axe at both widths', async () => {
    assert.ok(browser !== undefined);
    const page = await browser.page(375);
    await page.goto(`${base}/whitelist?ip=${CLIENTS.servfail}`);
    await checkPage(page, 'whitelist');
    await page.getByLabel('Domain you send mail from').fill('sender.example');
    await page.getByLabel('Your e-mail address').fill('admin@sender.example');
    await page.getByLabel('Why the reverse DNS cannot be fixed').fill('Our provider cannot delegate reverse DNS for this range.');
    await page.getByRole('button', { name: 'Send the request' }).click();
    await assertVisible(page, 'Request received');
    const ref = /Your request has the reference ([0-9A-Z]{8})/.exec(await page.locator('main').innerText())?.[1];
    assert.ok(ref !== undefined);
    await assertVisible(page, 'Pending: waiting for the operator.');
    await checkPage(page, 'whitelist-sent');

    // Later, from the form on /whitelist: the status by reference.
    await page.goto(`${base}/whitelist`);
    await page.getByLabel('Request reference').fill(ref.toLowerCase());
    await page.getByRole('button', { name: 'Show status' }).click();
    assert.ok(page.url().endsWith(`/whitelist/${ref}`), page.url());
    await assertVisible(page, 'Pending: waiting for the operator.');

    for (const [path, name] of [['/', 'home'], ['/contact', 'contact'], ['/stats', 'stats'], ['/policy', 'policy'], ['/ip/192.0.2.99', 'ip-not-listed']] as const) {
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 800 });
        await page.goto(`${base}${path}`);
        await checkPage(page, name);
      }
    }
    await page.close();
  });
});

describe('the accessibility check itself', () => {
  test('axe finds the violations of a page built to have them (so a clean result means something)', async () => {
    const browser = await startBrowser();
    try {
      const page = await browser.page(375);
      await page.setContent('<html><body><img src="x.png"><p style="color:#eee;background:#fff">faint</p><input type="text"></body></html>');
      const ids = (await axeViolations(page)).map((v) => v.id).sort();
      for (const id of ['color-contrast', 'image-alt', 'label', 'html-has-lang']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
    } finally {
      await browser.close();
    }
  });
});

async function assertVisible(page: Page, text: string): Promise<void> {
  const main = await page.locator('main').innerText();
  assert.ok(main.replace(/\s+/g, ' ').includes(text.replace(/\s+/g, ' ')), `"${text}" not on ${page.url()}:\n${main.slice(0, 2_000)}`);
}
