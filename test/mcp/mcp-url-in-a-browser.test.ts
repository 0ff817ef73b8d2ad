/**
 * The MCP URL opened in a browser (answer-browser-visit.ts): a person who pastes the URL Gatehouse
 * prints into a browser gets a short page saying what to do with it, still as the 401 with the
 * same challenge, and the visit is not recorded as a client's connection attempt (it showed in the
 * Connections log as one that stalled before the authorization server metadata). Every MCP client
 * (the real MCP SDK client, curl, anything that does not prefer HTML) gets what it got before.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { discoverOAuthProtectedResourceMetadata, extractResourceMetadataUrl } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { prefersHtml } from '../../apps/resource-server/src/http/answer-browser-visit.ts';
import { INITIALIZE } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, TEST_RESOURCE, type TestIssuer } from '../helpers/test-issuer.ts';
import { CapturedConnectionEvents } from '../connections/support/captured-connection-events.ts';

const BROWSERS = [
  ['Chrome', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7'],
  ['Firefox', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
  ['Safari', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
] as const;

/** Accept headers of clients that must get the JSON 401 (undefined: no Accept at all). */
const MCP_CLIENTS: ReadonlyArray<readonly [name: string, accept: string | undefined]> = [
  ['the MCP SDK client\'s POST', 'application/json, text/event-stream'],
  ['the MCP SDK client\'s GET stream', 'text/event-stream'],
  ['curl', '*/*'],
  ['no Accept', undefined],
  ['application/json', 'application/json'],
  ['HTML no better than JSON', 'application/json, text/html'],
  ['HTML below the event stream', 'text/event-stream, text/html;q=0.5'],
  ['HTML refused', 'text/html;q=0, */*'],
  ['HTML with a malformed weight', 'text/html;q=high'],
];

const JSON_401_BODY = { error_description: 'this MCP server requires an OAuth 2.0 access token in the Authorization header' };

describe('the MCP URL opened in a browser', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const events = new CapturedConnectionEvents();

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, connectionRecorder: events });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });
  beforeEach(() => events.clear());

  const get = (accept?: string, headers: Record<string, string> = {}) => fetch(server.mcpUrl, { headers: { ...(accept === undefined ? {} : { accept }), ...headers } });

  /** What a POST without a token (an MCP client's first request) gets: the challenge to compare with. */
  async function clientChallenge(): Promise<string> {
    const response = await fetch(server.mcpUrl, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(INITIALIZE),
    });
    assert.equal(response.status, 401);
    return response.headers.get('www-authenticate')!;
  }

  for (const [browser, accept] of BROWSERS) {
    test(`${browser}: a 401 page naming the URL to add as a connector and the account page, with the very challenge MCP clients get`, async () => {
      const response = await get(accept);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), await clientChallenge());
      assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
      const html = await response.text();
      assert.match(html, /This is an MCP server endpoint/);
      assert.ok(html.includes(`<code>${TEST_RESOURCE}</code>`), html);
      assert.match(html, /Claude, ChatGPT, VS Code, Cursor/);
      assert.ok(html.includes(`<a href="${issuer.issuer}/account">`), html);
    });

    test(`${browser}: the visit is not recorded as a connection attempt (it would show as one stalled before the authorization server metadata)`, async () => {
      const response = await get(accept);
      assert.equal(response.status, 401);
      await response.text();
      assert.deepEqual(events.events, []);
    });
  }

  for (const [client, accept] of MCP_CLIENTS) {
    test(`${client}: the JSON 401 as before, recorded as the connection's challenge`, async () => {
      assert.equal(prefersHtml(accept), false);
      const challenge = await clientChallenge();
      events.clear();
      const response = await get(accept);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), challenge);
      assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
      for (const header of ['cache-control', 'content-security-policy', 'x-frame-options', 'referrer-policy']) assert.equal(response.headers.get(header), null, header);
      assert.deepEqual(await response.json(), JSON_401_BODY);
      assert.deepEqual(events.events.map((e) => e.step), ['mcp_challenge']);
    });
  }

  test('a browser sending an Authorization header gets the JSON answer to its token, not the page', async () => {
    const response = await get(BROWSERS[0][1], { authorization: 'Bearer not-a-jwt' });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  test('a browser origin not on allowed_origins still gets the 403 first, not the page', async () => {
    const refused = await get(BROWSERS[0][1], { origin: 'https://elsewhere.example' });
    assert.equal(refused.status, 403);
    await refused.text();
  });

  test('the real MCP SDK client meets the 401 and discovers the Protected Resource Metadata from its challenge, as before', async () => {
    const seen: Response[] = [];
    const client = new Client({ name: 'gatehouse-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl), {
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        seen.push(response.clone());
        return response;
      },
    });
    await assert.rejects(client.connect(transport), (err: unknown) => err instanceof StreamableHTTPError && err.code === 401);
    const [first] = seen;
    assert.equal(first?.status, 401);
    assert.equal(first.headers.get('content-type'), 'application/json; charset=utf-8');
    const metadataUrl = extractResourceMetadataUrl(first);
    assert.equal(metadataUrl?.href, 'http://localhost:4001/.well-known/oauth-protected-resource/mcp');
    // The configured resource's origin is not where the test server listens: fetch it there.
    const local = (url: string | URL) => String(url).replace('http://localhost:4001', server.baseUrl);
    const metadata = await discoverOAuthProtectedResourceMetadata(server.mcpUrl, { resourceMetadataUrl: metadataUrl }, (url, init) => fetch(local(url), init));
    assert.equal(metadata.resource, TEST_RESOURCE);
    assert.deepEqual(metadata.authorization_servers, [issuer.issuer]);
    assert.deepEqual(events.of('mcp_challenge').length, 1, JSON.stringify(events.events));
  });
});
