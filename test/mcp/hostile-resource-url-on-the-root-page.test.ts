/**
 * The page a browser gets at the origin root (serve-at-root.ts, views/resource-server/root-page.njk)
 * shows one configured value: the MCP URL (`resource_server.resource`, RESOURCE_URL). The config
 * accepts a URL with characters HTML gives meaning to in its path (it checks the URL's parts, and
 * keeps the value as written), so each is shown as text: escaped by the template's autoescape,
 * read back as written, and never markup of its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { startResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';

// [what it tries, a resource URL the config accepts]
const hostile: Array<[string, string]> = [
  ['a script element', 'https://mcp.example.com/<script>alert`x`</script>'],
  ['closing the code element and adding an image with a handler', 'https://mcp.example.com/</code><img src=x onerror=alert`x`>'],
  ['a double quote and an event attribute', 'https://mcp.example.com/a"onmouseover="alert`x`'],
  ['a single quote', "https://mcp.example.com/it's/mcp"],
  ['an entity to be shown as written, not decoded', 'https://mcp.example.com/a&lt;b&amp;c'],
  ['a call in parentheses and a bang', 'https://mcp.example.com/alert(1)!'],
];

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** HTML text back to the characters it shows (named and numeric character references). */
function decoded(html: string): string {
  return html.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (reference, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return ENTITIES[name] ?? reference;
  });
}

describe('hostile characters in the MCP URL on the root page', () => {
  let issuer: TestIssuer;

  before(async () => {
    issuer = await startTestIssuer();
  });
  after(async () => {
    await issuer?.close();
  });

  for (const [what, resource] of hostile) {
    test(`${what} is accepted by the config and shown as text`, async () => {
      assert.equal(loadConfig({ RESOURCE_URL: resource }, '/').resourceServer.resource, resource, 'the config keeps it as written: it reaches the page');
      const server = await startResourceServer({ issuer: issuer.issuer, config: { resource } });
      try {
        const response = await fetch(`${server.baseUrl}/`, { headers: { accept: BROWSER_ACCEPT } });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
        const html = await response.text();
        const shown = /<p><code>([\s\S]*)<\/code><\/p><\/body>/.exec(html)?.[1];
        assert.ok(shown !== undefined, `the page keeps its shape: ${html}`);
        assert.doesNotMatch(shown, /[<>"']/, 'no character that ends the text or an attribute');
        assert.equal(decoded(shown), resource, 'read back as written');
        assert.equal(html.match(/<[a-z!/]/gi)?.length, html.replace(shown, '').match(/<[a-z!/]/gi)?.length, 'no markup of its own');
        assert.deepEqual([...html.matchAll(/<([a-z][a-z0-9]*)/g)].map((tag) => tag[1]), ['html', 'head', 'meta', 'meta', 'title', 'body', 'h1', 'p', 'p', 'code']);
      } finally {
        await server.close();
      }
    });
  }
});
