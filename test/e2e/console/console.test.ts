/**
 * The operator's console in a real browser (Debian's chromium through playwright-core), against
 * `blocksmith serve` with its policy service and HTTP listener and NSD serving the MTA fixtures;
 * the accounts are made with `blocksmith user add NAME --password-stdin`, as an operator would:
 *
 *   a page under /admin without a session goes to the login page (and back after it) →
 *   the policy service refuses 127.0.10.2 (no PTR) and lists it → the operator finds the listing,
 *   clears it with a note → the portal's status page says it is not refused → the sender files
 *   a whitelist request on the portal → the operator approves it (30 days) → the next policy
 *   request from that IP is accepted; a POST without the CSRF token is refused and changes
 *   nothing; five wrong passwords throttle the account.
 *
 * Every console page is checked with axe-core (WCAG 2.2 AA rules) at 375 px and 1280 px, for
 * horizontal overflow and for CSP violations, and screenshotted (test/e2e/portal/browser.ts).
 */
import { after, before, describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { CLIENTS, startMtaDns, type MtaDns } from '../helpers/mta-fixtures.js';
import { askOnce, BIN, childEnv, classify, freePort, ROOT, startNode, tempDir, type CliRun, type NodeProcess } from '../helpers/node-process.js';
import { checkPage, startBrowser, WIDTHS, type Browser } from '../portal/browser.js';

const OPERATOR = 'alice';
const OPERATOR_PASSWORD = 'a long operator passphrase';
const VICTIM = 'bob';
const VICTIM_PASSWORD = 'another long passphrase';
const CLI_TIMEOUT_MS = 60_000;

/** `blocksmith user add NAME --password-stdin` with the password on its standard input. */
function addUser(name: string, password: string, args: readonly string[], configFile: string): Promise<CliRun> {
  return new Promise((ok) => {
    const child = execFile(process.execPath, [BIN, '--config', configFile, 'user', 'add', name, '--password-stdin', ...args], { cwd: ROOT, env: childEnv(), timeout: CLI_TIMEOUT_MS }, (error, stdout, stderr) => {
      ok({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
    child.stdin?.end(`${password}\n`);
  });
}

async function assertVisible(page: Page, text: string): Promise<void> {
  const main = await page.locator('main').innerText();
  assert.ok(main.replace(/\s+/g, ' ').includes(text.replace(/\s+/g, ' ')), `"${text}" not on ${page.url()}:\n${main.slice(0, 2_000)}`);
}

/** checkBoth - axe, overflow, CSP and a screenshot at both widths, then back to 1280 px. */
async function checkBoth(page: Page, name: string): Promise<void> {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    await checkPage(page, name);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function signIn(page: Page, name: string, password: string): Promise<void> {
  await page.getByLabel('Account name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('console in a browser: the operator\'s story', () => {
  let dns: MtaDns | undefined;
  let node: NodeProcess | undefined;
  let browser: Browser | undefined;
  let data: { path: string; remove: () => Promise<void> } | undefined;
  let base = '';

  before(async () => {
    dns = await startMtaDns();
    data = await tempDir('console');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const configFile = join(data.path, 'blocksmith.json');
    await writeFile(
      configFile,
      JSON.stringify({
        firewall: { portalUrl: base, organisation: { name: 'Example Org' } },
        portal: { contactEmail: 'postmaster@example.org', testReservedTargets: true },
      }),
    );
    const nodeArgs = ['--data', data.path, '--resolver', dns.server.resolver4, '--bypass', 'none'];
    for (const [name, password] of [[OPERATOR, OPERATOR_PASSWORD], [VICTIM, VICTIM_PASSWORD]] as const) {
      const made = await addUser(name, password, nodeArgs, configFile);
      assert.equal(made.code, 0, `user add ${name}: ${made.stderr}`);
    }
    node = await startNode({ name: 'blocksmith', configFile, args: [...nodeArgs, '--policy', '127.0.0.1:0', '--http', `127.0.0.1:${port}`] });
    browser = await startBrowser();
  });

  after(async () => {
    await browser?.close();
    await node?.stop();
    await dns?.stop();
    await data?.remove();
  });

  test('sign in → clear a listing (the status page says so) → approve a whitelist request → the next policy request is accepted; CSRF refused; every page passes axe', async () => {
    assert.ok(node !== undefined && browser !== undefined);
    const refused = await askOnce(node.endpoint('policy'), CLIENTS.noPtr);
    assert.equal(classify(refused), 'reject', refused);

    // No session: a page under /admin goes to the login page, and back to that page after it.
    const page = await browser.page(1280);
    await page.goto(`${base}/admin/listings?q=${CLIENTS.noPtr}`);
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), `/admin/listings?q=${CLIENTS.noPtr}`);
    await checkBoth(page, 'console-login');
    await signIn(page, OPERATOR, OPERATOR_PASSWORD);
    assert.equal(new URL(page.url()).pathname, '/admin/listings', page.url());
    await checkBoth(page, 'console-listings');

    // The listing: evidence, history; a POST without the CSRF token is refused and changes nothing.
    await page.getByRole('link', { name: CLIENTS.noPtr, exact: true }).click();
    await assertVisible(page, 'In force: refused');
    await assertVisible(page, 'No PTR record');
    await checkBoth(page, 'console-listing');
    await page.evaluate("document.querySelector('form[action$=\"/clear\"] input[name=csrf]').remove()");
    await page.getByLabel('Note').fill('no token: must be refused');
    await page.getByRole('button', { name: 'Clear the listing' }).click();
    await assertVisible(page, 'security token is missing or wrong. Nothing was changed.');
    await checkBoth(page, 'console-csrf-refused');
    await page.goto(`${base}/admin/listings/${CLIENTS.noPtr}`);
    await assertVisible(page, 'In force: refused');

    await page.getByLabel('Note').fill('Sender asked; DNS fix under way');
    await page.getByRole('button', { name: 'Clear the listing' }).click();
    await assertVisible(page, 'The listing was cleared, effective now.');
    await assertVisible(page, `operator:${OPERATOR} CLEAR Sender asked; DNS fix under way`);
    await checkBoth(page, 'console-listing-cleared');
    // The portal's status page for that address says so.
    const status = await browser.page(1280);
    await status.goto(`${base}/ip/${CLIENTS.noPtr}`);
    await assertVisible(status, 'Not refused');

    // The sender (whose DNS cannot be fixed after all) files a whitelist request on the portal.
    await status.goto(`${base}/whitelist?ip=${CLIENTS.noPtr}`);
    await status.getByLabel('Domain you send mail from').fill('sender.example');
    await status.getByLabel('Your e-mail address').fill('admin@sender.example');
    await status.getByLabel('Why the reverse DNS cannot be fixed').fill('<b>Our provider</b> will not delegate reverse DNS.');
    await status.getByRole('button', { name: 'Send the request' }).click();
    const ref = /Your request has the reference ([0-9A-Z]{8})/.exec(await status.locator('main').innerText())?.[1];
    assert.ok(ref !== undefined);
    // Listed again meanwhile (the DNS still fails): the allow entry must win over the listing.
    assert.equal(classify(await askOnce(node.endpoint('policy'), CLIENTS.noPtr)), 'reject');

    await page.getByRole('link', { name: 'Whitelist requests' }).click();
    await checkBoth(page, 'console-requests');
    await page.getByRole('link', { name: ref }).click();
    await assertVisible(page, '<b>Our provider</b> will not delegate reverse DNS.');
    await checkBoth(page, 'console-request');
    await page.getByLabel('Expiry of the allow entry').selectOption('30');
    await page.getByRole('button', { name: 'Approve the request' }).click();
    await assertVisible(page, 'The request was approved: its allow entry is in force now.');
    await assertVisible(page, 'Approved');

    const next = await askOnce(node.endpoint('policy'), CLIENTS.noPtr);
    assert.equal(classify(next), 'accept', next);
    await status.goto(`${base}/whitelist/${ref}`);
    await assertVisible(status, 'Approved');
    await status.close();

    // The allowlist shows the entry (30 days) with its request; the rest of the console passes axe.
    await page.getByRole('link', { name: 'Allowlist' }).click();
    await assertVisible(page, CLIENTS.noPtr);
    await checkBoth(page, 'console-allowlist');
    await page.getByRole('link', { name: CLIENTS.noPtr, exact: true }).click();
    await checkBoth(page, 'console-allow-entry');
    for (const [path, name] of [
      ['/admin', 'console-dashboard'],
      ['/admin/messages', 'console-messages'],
      [`/admin/audit?actor=operator:${OPERATOR}`, 'console-audit'],
      ['/admin/no-such-page', 'console-not-found'],
    ] as const) {
      await page.goto(`${base}${path}`);
      await checkBoth(page, name);
    }
    await page.goto(`${base}/admin/audit?actor=operator:${OPERATOR}`);
    for (const action of ['CLEAR', 'REQUEST-APPROVE', 'LOGIN']) await assertVisible(page, action);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await assertVisible(page, 'You are signed out.');
    await page.goto(`${base}/admin`);
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    await page.close();
  });

  test('five wrong passwords throttle the account: the sixth attempt, even with the right password, is refused', async () => {
    assert.ok(browser !== undefined);
    const page = await browser.page(375);
    await page.context().clearCookies();
    for (let i = 1; i <= 5; i++) {
      await page.goto(`${base}/admin/login`);
      await signIn(page, VICTIM, `wrong password number ${i}`);
      await assertVisible(page, 'Wrong account name or password.');
    }
    await page.goto(`${base}/admin/login`);
    await signIn(page, VICTIM, VICTIM_PASSWORD);
    await assertVisible(page, 'Too many failed sign-ins for this account or from this address.');
    await checkPage(page, 'console-throttled');
    await page.goto(`${base}/admin`);
    assert.equal(new URL(page.url()).pathname, '/admin/login', 'no session was made');
    await page.close();
  });
});
