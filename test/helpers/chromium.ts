/**
 * Debian's Chromium (/usr/bin/chromium, installed by .ci/run) driven by playwright-core, with the
 * flags this closed network needs. Screenshots go to test-output/screenshots/ (not committed).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const SCREENSHOT_DIR = join(import.meta.dirname, '..', '..', 'test-output', 'screenshots');

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/**
 * Serves the client's callback (e.g. https://claude.ai/api/mcp/auth_callback) inside the browser,
 * so the final redirect lands somewhere without leaving the machine. Returns the URLs it saw.
 */
export async function interceptCallback(page: Page, callbackPrefix: string): Promise<URL[]> {
  const seen: URL[] = [];
  await page.route((url) => url.href.startsWith(callbackPrefix), async (route) => {
    seen.push(new URL(route.request().url()));
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Client callback</title><p>Back at the client.</p>' });
  });
  return seen;
}

/**
 * The Content Security Policy violations the page reports on its console from now on (the list
 * fills as they come): a test asserts it stays empty, so a page that needs an inline script or
 * style, which the CSP forbids, fails.
 */
export function collectCspViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  return violations;
}

/** Signs `page` in on the admin sign-in form as `username`, and waits for the Administration page. */
export async function signInToAdmin(page: Page, issuer: string, username: string, password: string): Promise<void> {
  await page.goto(`${issuer}/admin`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Administration' }).waitFor();
}
