/**
 * Gatehouse's own refusals at POST /oauth/token (the rate limit's 429, `invalid_target`, 413 for
 * an oversized body) are answered before oidc-provider, which sets CORS for the origins a client
 * registered. Without CORS on them, a browser client (MCP Inspector at http://localhost:6274)
 * saw "Failed to fetch" instead of the status, the error and Retry-After. The provider's own
 * answers keep the provider's per-client decision.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLAUDE_DCR_BODY, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const ORIGIN = 'http://localhost:6274';

describe('refusals at /oauth/token are readable by browser clients', () => {
  let server: TestAuthServer;
  let inspector: RegisteredClient;
  before(async () => {
    server = await startAuthServer({
      configure: (c) => {
        c.authServer.trustProxy = true;
        c.authServer.rateLimits = { enabled: true, registration: { max: 20, window: 600 }, token: { max: 2, window: 60 }, signIn: { max: 100, window: 60 } };
      },
    });
    inspector = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: [`${ORIGIN}/oauth/callback`] });
  });
  after(() => server.close());

  /** A refresh grant with a made-up token from `origin`, as client `ip` (its own rate-limit bucket). */
  async function post(ip: string, extra = '', origin = ORIGIN) {
    const response = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin, 'x-forwarded-for': ip },
      body: `grant_type=refresh_token&refresh_token=nope&client_id=${inspector.client_id}${extra}`,
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }
  const cors = (answer: { headers: Headers }) => answer.headers.get('access-control-allow-origin');

  test('the provider\'s own refusal keeps its per-client CORS: the registered origin reads it, another does not', async () => {
    const registered = await post('192.0.2.1');
    assert.equal(registered.status, 400, registered.text);
    assert.equal(cors(registered), ORIGIN, 'the origin of a registered redirect URI');
    const other = await post('192.0.2.5', '', 'https://elsewhere.example');
    assert.equal(other.status, 400, other.text);
    assert.equal(cors(other), null, 'an origin the client did not register gets no CORS from the provider');
  });

  const refusals: Array<[string, string, string, number, string]> = [
    ['invalid_target (a resource this server does not serve)', '192.0.2.2', `&resource=${encodeURIComponent('https://other.example/mcp')}`, 400, 'invalid_target'],
    ['413 for an oversized body', '192.0.2.3', `&pad=${'a'.repeat(17_000)}`, 413, 'invalid_request'],
  ];
  for (const [what, ip, extra, status, error] of refusals) {
    test(`${what} is readable`, async () => {
      const answer = await post(ip, extra);
      assert.equal(answer.status, status, answer.text);
      assert.equal((JSON.parse(answer.text) as { error: string }).error, error, answer.text);
      assert.equal(cors(answer), '*', `no Access-Control-Allow-Origin on ${answer.status}`);
    });
  }

  test('429 is readable, Retry-After included', async () => {
    let answer = await post('192.0.2.4');
    for (let i = 0; i < 5 && answer.status !== 429; i += 1) answer = await post('192.0.2.4');
    assert.equal(answer.status, 429, answer.text);
    assert.ok(answer.headers.get('retry-after'), 'Retry-After is sent');
    assert.equal(cors(answer), '*', `no Access-Control-Allow-Origin on 429`);
    // Not a CORS-safelisted response header: a script reads it only when exposed.
    assert.match(answer.headers.get('access-control-expose-headers') ?? '', /retry-after/i, 'Retry-After is exposed to the browser');
  });
});
