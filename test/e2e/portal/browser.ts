/**
 * NAME
 *   test/e2e/portal/browser - Debian's chromium driven by playwright-core, with axe-core
 *
 * SYNOPSIS
 *   const browser = await startBrowser()           a fresh profile in a temp dir
 *   const page = await browser.page(375)           a page of that width (height 800)
 *   await checkPage(page, 'ip-refused')            axe WCAG 2.2 AA, no horizontal overflow, no CSP violation, screenshot
 *   await browser.close()
 *
 * DESCRIPTION
 *   chromium runs headless with no sandbox (containers), no GPU, no QUIC, no first run, no
 *   background networking, component updates or sync, and --user-data-dir of a fresh temp dir
 *   (launchPersistentContext: Playwright's way to give it one). Installed by .ci/e2e-install.sh
 *   (the portal's block).
 *
 *   axe-core's source is evaluated in the page through the DevTools protocol: the page's CSP
 *   (script-src 'self') stays in force and is itself checked: any "Content Security Policy"
 *   console error fails checkPage. Screenshots go to BLOCKSMITH_SCREENSHOTS_DIR (default
 *   .e2e/screenshots), named <name>-<width>.png.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import axe from 'axe-core';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../helpers/node-process.js';

export const CHROMIUM = process.env.BLOCKSMITH_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS_DIR = resolve(ROOT, process.env.BLOCKSMITH_SCREENSHOTS_DIR ?? '.e2e/screenshots');
const PAGE_HEIGHT = 800;
const NAV_TIMEOUT_MS = 15_000;
export const WIDTHS = [375, 1280] as const;

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  page(width: number): Promise<Page>;
  close(): Promise<void>;
}

/** Console errors per page (CSP violations among them). */
const consoleErrors = new WeakMap<Page, string[]>();

export async function startBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'bs-e2e-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: PAGE_HEIGHT },
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  await mkdir(SCREENSHOTS_DIR, { recursive: true });
  return {
    async page(width: number): Promise<Page> {
      const page = await context.newPage();
      page.setDefaultTimeout(NAV_TIMEOUT_MS);
      await page.setViewportSize({ width, height: PAGE_HEIGHT });
      const errors: string[] = [];
      consoleErrors.set(page, errors);
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      return page;
    },
    async close(): Promise<void> {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

interface AxeViolation {
  readonly id: string;
  readonly impact?: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly unknown[] }[];
}

/** axe - WCAG 2.0/2.1/2.2 A and AA rules on the page as it is; returns the violations. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axe.source);
  // A string, evaluated in the page: this repository's TypeScript has no DOM types.
  const script = `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
    .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`;
  return page.evaluate<AxeViolation[]>(script);
}

/** checkPage - axe finds nothing, nothing is wider than the viewport, no CSP error; a full-page screenshot. */
export async function checkPage(page: Page, name: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `${name}: axe violations:\n${JSON.stringify(violations, null, 1)}`);
  const overflow = await page.evaluate<{ scroll: number; width: number }>('({ scroll: document.documentElement.scrollWidth, width: window.innerWidth })');
  assert.ok(overflow.scroll <= overflow.width, `${name}: page ${overflow.scroll}px wide in a ${overflow.width}px viewport`);
  const csp = (consoleErrors.get(page) ?? []).filter((e) => /Content Security Policy/i.test(e));
  assert.deepEqual(csp, [], `${name}: CSP violations`);
  const width = page.viewportSize()?.width ?? 0;
  await page.screenshot({ path: join(SCREENSHOTS_DIR, `${name}-${width}.png`), fullPage: true });
}
