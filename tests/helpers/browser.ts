/**
 * A headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core: no browser download)
 * for the dashboard tests, with every page watched for console errors, uncaught exceptions and
 * Content-Security-Policy violations.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './env.js';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-results/screenshots');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

export interface WatchedPage {
  page: Page;
  /** Console errors, page errors and CSP violations seen so far (cleared by `take`). */
  problems: string[];
  /** Returns and clears the problems seen so far. */
  take(): string[];
  screenshot(name: string): Promise<void>;
}

/** A new page in `context`, every problem recorded; CSP violations are reported by the page itself. */
export async function watchedPage(context: BrowserContext): Promise<WatchedPage> {
  const page = await context.newPage();
  // Well under the test timeout, so a stuck step names its own selector.
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  await page.exposeFunction('__reportCspViolation', (text: string) => problems.push(`csp: ${text}`));
  // Injected by the browser itself (not subject to the page's CSP); runs before the page's scripts.
  // A string: the tests are compiled without the DOM's types.
  await page.addInitScript(`
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__reportCspViolation(
        e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber,
      );
    });
  `);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    page,
    problems,
    take: () => problems.splice(0),
    screenshot: async (name) => {
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
  };
}
