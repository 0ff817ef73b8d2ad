/**
 * An OPTIONS request names the same methods as a 405 on the same path (RFC 9110 §9.3.7: Allow in
 * an answer to OPTIONS; §15.5.6: a 405's Allow lists what the resource supports), whether it is a
 * plain OPTIONS or a browser's CORS preflight. `/` serves HEAD (the page) besides the MCP
 * endpoint's methods; `/mcp` does not (mcp-request-listener.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useIssuerAndServer } from '../helpers/start-resource-server.ts';

const ORIGIN = 'http://localhost:6274';

describe('Allow on every path of the resource server', () => {
  const suite = useIssuerAndServer({ allowedOrigins: [ORIGIN] });

  // [path, the methods it serves]
  const paths: Array<[string, string]> = [
    ['/mcp', 'GET, POST, DELETE, OPTIONS'],
    ['/', 'HEAD, GET, POST, DELETE, OPTIONS'],
    ['/.well-known/oauth-protected-resource', 'HEAD, GET, OPTIONS'],
    ['/.well-known/oauth-protected-resource/mcp', 'HEAD, GET, OPTIONS'],
    ['/healthz', 'GET, HEAD, OPTIONS'],
    ['/readyz', 'GET, HEAD, OPTIONS'],
    ['/gateway/servers', 'HEAD, GET, OPTIONS'],
    ['/connections/events', 'HEAD, GET, OPTIONS'],
  ];
  const asked: Array<[string, Record<string, string>]> = [
    ['a plain OPTIONS', {}],
    ['a CORS preflight', { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET' }],
  ];
  for (const [path, allow] of paths) {
    for (const [what, headers] of asked) {
      test(`${what} at ${path} answers Allow: ${allow}, as its 405 does`, async () => {
        const refused = await fetch(`${suite.server.baseUrl}${path}`, { method: 'PUT', body: '{}' });
        assert.equal(refused.status, 405);
        assert.equal(refused.headers.get('allow'), allow, 'the 405');
        const options = await fetch(`${suite.server.baseUrl}${path}`, { method: 'OPTIONS', headers });
        assert.equal(options.status, 204);
        assert.equal(options.headers.get('allow'), allow, 'the OPTIONS');
      });
    }
  }
});
