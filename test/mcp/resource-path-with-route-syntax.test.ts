/**
 * A resource URL whose path holds characters the router reads as pattern syntax (literal-route.ts):
 * `new URL` leaves `( ) [ ] + ! : *` unencoded, and the config accepts such a URL. The server
 * starts, serves its metadata at the path-inserted URL its challenge names (RFC 9728 §3.1), answers
 * the MCP path itself, and its metadata route matches that path only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';
import { startResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';

// [resource path, another path the metadata route must not match]
const paths: Array<[string, string]> = [
  ['/mcp(v1)', '/mcpv1'],
  ['/mcp[1]', '/mcp1'],
  ['/a+b/mcp', '/aab/mcp'],
  ['/mcp!', '/mcp'],
  ['/mcp:v1', '/mcpanything'],
  ['/mcp/*', '/mcp/anything'],
];

describe('a resource path holding route syntax', () => {
  let issuer: TestIssuer;

  before(async () => {
    issuer = await startTestIssuer();
  });
  after(async () => {
    await issuer?.close();
  });

  for (const [path, other] of paths) {
    test(`${path}: starts, serves its metadata at its own path only, and answers MCP there`, async () => {
      const resource = `http://localhost:4001${path}`;
      assert.equal(loadConfig({ RESOURCE_URL: resource }, '/').resourceServer.resource, resource, 'the config accepts it');
      const server = await startResourceServer({ issuer: issuer.issuer, config: { resource } });
      try {
        const pathname = new URL(resource).pathname;
        const challenge = parseChallenge((await mcpRequest(`${server.baseUrl}${pathname}`)).headers.get('www-authenticate'));
        const metadataUrl = `http://localhost:4001/.well-known/oauth-protected-resource${pathname}`;
        assert.equal(challenge.params.resource_metadata, metadataUrl, 'the MCP path answers 401 with its challenge');

        const metadata = await fetch(`${server.baseUrl}/.well-known/oauth-protected-resource${pathname}`);
        assert.equal(metadata.status, 200);
        assert.equal((await metadata.json()).resource, resource);

        const elsewhere = await fetch(`${server.baseUrl}/.well-known/oauth-protected-resource${other}`);
        assert.equal(elsewhere.status, 404, `${other} is not the resource's metadata`);
      } finally {
        await server.close();
      }
    });
  }
});
