/**
 * Issue 17, trap 2: the banner's URL, the auth-server's `/`, is a page, not a bare 404: what the
 * server is, the MCP URL to paste into a client (the configured resource, with a Copy button that
 * works under the CSP), and the ways to "My apps" and the admin pages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, BrowserContext } from 'playwright-core';
import { collectCspViolations, launchChromium, screenshot } from '../helpers/chromium.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { assertNoStackTrace } from '../helpers/oauth-flow.ts';

const MCP_URL = 'https://mcp.example.com/mcp';

describe('the home page', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  before(async () => {
    server = await startAuthServer({ env: { RESOURCE_URL: MCP_URL } });
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  test('GET / is an HTML page with the configured MCP URL and links to My apps and the admin pages', async () => {
    const response = await fetch(`${server.issuer}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^text\/html/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const html = await response.text();
    assert.match(html, /<title>Home · Gatehouse<\/title>/);
    assert.ok(html.includes(`<input id="mcp-url" type="text" value="${MCP_URL}" readonly`), 'the MCP URL to paste');
    assert.ok(html.includes(`claude mcp add --transport http gatehouse ${MCP_URL}`), 'the Claude Code command');
    assert.match(html, /<a href="\/account">Sign in to see My apps<\/a>/);
    assert.match(html, /<a href="\/admin">Admin pages<\/a>/);
    assert.equal((await fetch(`${server.issuer}/`, { method: 'HEAD' })).status, 200);
  });

  test('the Copy button script is served as JavaScript from this origin, as the CSP requires', async () => {
    const page = await fetch(`${server.issuer}/`);
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
    const script = await fetch(`${server.issuer}/static/copy-button.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type')!, /^text\/javascript/);
    assert.match(await script.text(), /navigator\.clipboard\.writeText/);
  });

  for (const [name, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 375, height: 740 }]] as const) {
    test(`in Chromium at ${name} width: the Copy button copies the MCP URL, nothing overflows, no CSP violation`, async () => {
      let context: BrowserContext | undefined;
      try {
        context = await chromium.newContext({ viewport, permissions: ['clipboard-read', 'clipboard-write'] });
        const page = await context.newPage();
        const violations = collectCspViolations(page);
        await page.goto(`${server.issuer}/`);
        const copy = page.getByRole('button', { name: 'Copy' });
        await copy.click();
        await page.getByRole('button', { name: 'Copied' }).waitFor();
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), MCP_URL);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.equal(overflow, 0, 'no horizontal scrolling');
        assert.deepEqual(violations, []);
        await screenshot(page, `home-page-${name}`);
      } finally {
        await context?.close();
      }
    });
  }
});

/**
 * The MCP URL is the configured resource as written (config keeps the string, which only has to
 * parse as a URL with a path): one holding markup or quotes is shown as text, in the input's value
 * and in the Claude Code command, through views/home.njk's autoescaping, never as markup.
 */
describe('the home page with a configured MCP URL that holds markup', () => {
  const cases: Array<{ what: string; mcpUrl: string; escaped: string }> = [
    { what: 'a script element', mcpUrl: 'https://mcp.example.com/<script>alert(1)</script>', escaped: 'https://mcp.example.com/&lt;script&gt;alert(1)&lt;/script&gt;' },
    { what: 'a double quote leaving the value attribute', mcpUrl: 'https://mcp.example.com/m"autofocus onfocus="alert(1)', escaped: 'https://mcp.example.com/m&quot;autofocus onfocus=&quot;alert(1)' },
    { what: 'a single quote and an element', mcpUrl: "https://mcp.example.com/m'><img src=x onerror=alert(1)>", escaped: 'https://mcp.example.com/m&#39;&gt;&lt;img src=x onerror=alert(1)&gt;' },
    { what: 'an entity, which must show as typed', mcpUrl: 'https://mcp.example.com/a&amp;b&lt;', escaped: 'https://mcp.example.com/a&amp;amp;b&amp;lt;' },
  ];
  for (const { what, mcpUrl, escaped } of cases) {
    test(`${what}: shown escaped in the URL to paste and in the Claude Code command`, async () => {
      const server = await startAuthServer({ env: { RESOURCE_URL: mcpUrl } });
      try {
        const response = await fetch(`${server.issuer}/`);
        assert.equal(response.status, 200);
        const html = await response.text();
        assertNoStackTrace(html, what);
        assert.ok(html.includes(`<input id="mcp-url" type="text" value="${escaped}" readonly`), `${what}: the value attribute\n${html}`);
        assert.ok(html.includes(`<code>claude mcp add --transport http gatehouse ${escaped}</code>`), `${what}: the command`);
        assert.ok(!html.includes(mcpUrl), `${what}: never as written`);
        assert.equal(html.match(/<script\b/g)?.length, 1, `${what}: the Copy button's script only`);
      } finally {
        await server.close();
      }
    });
  }
});
