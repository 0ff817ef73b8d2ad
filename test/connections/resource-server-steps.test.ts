/**
 * What the resource server records of a client's connection (issue 18; apps/resource-server/src/
 * connections/mcp-connection-steps.ts), with a real resource server trusting a test issuer's real
 * keys, driven over HTTP as the clients drive it, its events caught by a recorder passed in:
 *
 * - the 401 challenge and the metadata fetches, with the caller's address and User-Agent;
 * - the first accepted request per token, once however many calls follow;
 * - every refused token with its reason code and the values that explain it, the answer unchanged;
 * - the 403 step-up, for built-in tools and the gateway's alike;
 * - repeats kept from flooding; nothing of a token in any event.
 *
 * The requests are the clients' own: the MCP SDK client (as Claude Code, VS Code and the
 * Inspector use it), and Claude's connector, which sends no User-Agent at all
 * (anthropics/claude-ai-mcp#923: "MCP requests are being blocked by my hosts WAF due to missing
 * User-Agent") and probes the path-suffixed metadata URL, then the root one
 * (anthropics/claude-code#71610, #4448).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { base64url, generateKeyPair, SignJWT } from 'jose';
import type { NewConnectionEvent } from '../../apps/shared/connection-events.ts';
import { connectClient, INITIALIZE, mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { startTestIssuer, TEST_RESOURCE, type MintOptions, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { CapturedConnectionEvents } from './support/captured-connection-events.ts';

/** The 401 a request without a usable token gets, as the client sees it. */
async function challengeOf(response: Response): Promise<{ status: number; challenge: Record<string, string>; body: Record<string, unknown> }> {
  return { status: response.status, challenge: parseChallenge(response.headers.get('www-authenticate')).params, body: await response.json() as Record<string, unknown> };
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[1]!)));
}

/** Waits until the server has read the feed twice more (so a clock move or an entry has been seen). */
async function feedReadTwice(issuer: TestIssuer): Promise<void> {
  const polls = issuer.feedPolls;
  await waitFor('two more reads of the revocation feed', () => issuer.feedPolls >= polls + 2);
}

describe('what the resource server records of a connection', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const events = new CapturedConnectionEvents();
  const clock = TestClock.ahead(0);

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, connectionRecorder: events, clock });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });
  beforeEach(() => events.clear());

  /** A token issued now by the server's clock (which a test moves on). */
  const mint = (options: MintOptions = {}) => {
    const now = clock.epochSeconds();
    return issuer.mint({ ...options, claims: { iat: now, exp: now + 600, ...options.claims } });
  };

  describe('before sign-in', () => {
    test("Claude's first POST without a token (and without a User-Agent) is recorded as mcp_challenge, ok, with the caller's address; the 401 is unchanged", async () => {
      const response = await rawRequest(server.baseUrl, {
        method: 'POST',
        path: '/mcp',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(INITIALIZE),
      });
      assert.equal(response.status, 401);
      const challenge = parseChallenge(response.headers['www-authenticate'] as string);
      assert.equal(challenge.params.error, undefined, 'no error: the request carried no token (RFC 6750 §3.1)');
      assert.equal(challenge.params.resource_metadata, 'http://localhost:4001/.well-known/oauth-protected-resource/mcp');

      assert.deepEqual(events.events, [{ step: 'mcp_challenge', outcome: 'ok', resource: TEST_RESOURCE, ip: '127.0.0.1' }]);
    });

    test('the MCP SDK client meeting the 401 is recorded with its User-Agent', async () => {
      const client = new Client({ name: 'gatehouse-test', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers: { 'User-Agent': 'claude-code/2.0.31 (external, cli)' } } });
      await assert.rejects(client.connect(transport), (err: unknown) => err instanceof StreamableHTTPError && err.code === 401);
      const [challenge] = events.of('mcp_challenge');
      assert.equal(challenge?.userAgent, 'claude-code/2.0.31 (external, cli)');
      assert.equal(challenge?.ip, '127.0.0.1');
    });

    test('the metadata fetched at the path-suffixed URL, then at the root one, is recorded twice as resource_metadata; the CORS preflight is not', async () => {
      const preflight = await fetch(`${server.baseUrl}/.well-known/oauth-protected-resource/mcp`, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
      });
      assert.equal(preflight.status, 204);
      for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
        const response = await fetch(`${server.baseUrl}${path}`, { headers: { 'mcp-protocol-version': '2025-11-25', 'user-agent': 'node' } });
        assert.equal(response.status, 200);
        assert.equal(((await response.json()) as { resource: string }).resource, TEST_RESOURCE);
      }
      assert.deepEqual(events.events, [
        { step: 'resource_metadata', outcome: 'ok', resource: TEST_RESOURCE, ip: '127.0.0.1', userAgent: 'node' },
        { step: 'resource_metadata', outcome: 'ok', resource: TEST_RESOURCE, ip: '127.0.0.1', userAgent: 'node' },
      ]);
    });

    test('an X-Forwarded-For the server was not told to trust is not believed', async () => {
      await mcpRequest(server.mcpUrl, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(events.of('mcp_challenge')[0]?.ip, '127.0.0.1');
    });

    test('a guessed /authorize the server cannot send on (no reachable metadata) is recorded refused, with the 503 unchanged', async () => {
      // The test issuer serves no RFC 8414 metadata: the redirect has nowhere to go.
      const response = await fetch(`${server.baseUrl}/authorize?response_type=code&client_id=abc&state=s3cr3t-state`, { redirect: 'manual' });
      assert.equal(response.status, 503);
      const [event] = events.of('resource_metadata');
      assert.equal(event?.outcome, 'refused');
      assert.equal(event?.error, 'temporarily_unavailable');
      assert.equal(event?.reasonCode, 'authorization_server_unreachable');
      assert.match(event?.reason ?? '', /guessed `\/authorize`/);
      assert.doesNotMatch(JSON.stringify(events.events), /s3cr3t-state/);
    });
  });

  describe('with a token', () => {
    test('the first accepted request is recorded once, with the client, user, grant and scope, however many calls follow', async () => {
      const sub = randomUUID();
      const gid = randomUUID();
      const token = await mint({ claims: { sub, gid, client_id: 'claude-desktop', scope: 'mcp:read mcp:write' } });
      const { client } = await connectClient(server.mcpUrl, token);
      await client.listTools();
      for (let i = 0; i < 5; i++) await client.callTool({ name: 'whoami', arguments: {} });
      await client.close();

      assert.deepEqual(events.of('mcp_request'), [{
        step: 'mcp_request', outcome: 'ok', clientId: 'claude-desktop', accountId: sub, grantId: gid, scope: 'mcp:read mcp:write',
        resource: TEST_RESOURCE, ip: '127.0.0.1', userAgent: 'node',
      }]);
    });

    // [what is sent, its reason code, words its reason must hold, whether the client, user and grant may be named, how to make it]
    const refusals: Array<[string, string, (token: string) => RegExp[], boolean, () => Promise<string>]> = [
      ['a token for another resource', 'wrong_audience', () => [/`https:\/\/other\.example\/mcp`/, /`http:\/\/localhost:4001\/mcp`/], true,
        () => mint({ claims: { aud: 'https://other.example/mcp', client_id: 'vscode', gid: 'grant-1' } })],
      ['a token from another issuer, signed with the trusted key', 'wrong_issuer', () => [/`https:\/\/other-issuer\.example`/, new RegExp(`\`${issuer.issuer.replace(/[.]/g, '\\.')}\``)], true,
        () => mint({ claims: { iss: 'https://other-issuer.example', client_id: 'vscode', gid: 'grant-1' } })],
      ['an ID token sent as the bearer token (typ JWT)', 'not_an_access_token', () => [/typ/], true,
        () => mint({ header: { typ: 'JWT' }, claims: { client_id: 'vscode', gid: 'grant-1' } })],
      ['a token whose payload was altered after signing', 'bad_signature', () => [/signature/], false, async () => {
        const [header, , signature] = (await mint({ claims: { client_id: 'vscode' } })).split('.');
        const forged = base64url.encode(JSON.stringify({ ...claimsOf(await mint()), client_id: 'forged-client', sub: 'forged-user', gid: 'forged-grant' }));
        return `${header}.${forged}.${signature}`;
      }],
      ['a token signed with a key the issuer does not publish', 'unknown_signing_key', () => [/does not publish/], false, async () => {
        const { privateKey } = await generateKeyPair('RS256');
        return new SignJWT({ ...claimsOf(await mint()), client_id: 'forged-client' }).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'someone-else' }).sign(privateKey);
      }],
      ['an unsigned token (alg none)', 'wrong_algorithm', () => [/RS256/], false, async () => {
        const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
        return `${encode({ alg: 'none', typ: 'at+jwt' })}.${encode({ ...claimsOf(await mint()), client_id: 'forged-client' })}.`;
      }],
      ['something that is not a JWT', 'malformed_token', () => [/not a JWT/], false, async () => 'not-a-jwt'],
    ];

    for (const [what, reasonCode, words, named, make] of refusals) {
      test(`${what}: 401 invalid_token as before, recorded as ${reasonCode} with the values that explain it`, async () => {
        const token = await make();
        const answer = await challengeOf(await mcpRequest(server.mcpUrl, { token }));
        assert.equal(answer.status, 401);
        assert.equal(answer.challenge.error, 'invalid_token');
        assert.equal(answer.challenge.resource_metadata, 'http://localhost:4001/.well-known/oauth-protected-resource/mcp');
        assert.equal(answer.body.error, 'invalid_token');

        const [event, ...more] = events.of('mcp_request');
        assert.equal(more.length, 0);
        assert.equal(event?.outcome, 'refused');
        assert.equal(event?.error, 'invalid_token');
        assert.equal(event?.reasonCode, reasonCode);
        for (const pattern of words(token)) assert.match(event?.reason ?? '', pattern);
        if (named) {
          assert.equal(event?.clientId, 'vscode', 'the signature verified: the token names its client');
          assert.equal(event?.grantId, 'grant-1');
          assert.ok(event?.accountId);
        } else {
          assert.equal(event?.clientId, undefined, 'an unverified token names nobody');
          assert.equal(event?.accountId, undefined);
          assert.equal(event?.grantId, undefined);
        }
        assert.doesNotMatch(JSON.stringify(event), /forged/);
      });
    }

    test('an Authorization header that holds no bearer token is recorded as malformed_token', async () => {
      const response = await mcpRequest(server.mcpUrl, { headers: { authorization: 'Bearer two words' } });
      assert.equal(response.status, 401);
      assert.equal(parseChallenge(response.headers.get('www-authenticate')).params.error, 'invalid_token');
      assert.equal(events.of('mcp_request')[0]?.reasonCode, 'malformed_token');
    });

    test('a token that was good and has expired (the clock moved on) is recorded as token_expired, saying when it expired in UTC', async () => {
      const token = await mint({ claims: { client_id: 'claude-desktop', gid: 'grant-exp' } });
      const exp = claimsOf(token).exp as number;
      assert.equal((await mcpRequest(server.mcpUrl, { token })).status, 200);
      clock.advance(700);
      await feedReadTwice(issuer);

      const answer = await challengeOf(await mcpRequest(server.mcpUrl, { token }));
      assert.equal(answer.status, 401);
      assert.equal(answer.challenge.error, 'invalid_token');
      assert.equal(answer.challenge.error_description, 'the access token has expired');

      const refused = events.of('mcp_request').filter((event) => event.outcome === 'refused');
      assert.equal(refused.length, 1);
      const when = new Date(exp * 1000).toISOString().slice(0, 19).replace('T', ' ');
      assert.equal(refused[0]!.reasonCode, 'token_expired');
      assert.equal(refused[0]!.reason, `the access token expired at ${when} UTC; the client should refresh it`);
      assert.equal(refused[0]!.clientId, 'claude-desktop');
      assert.equal(refused[0]!.grantId, 'grant-exp');
    });

    test('a token whose grant was revoked is recorded as token_revoked, naming the grant', async () => {
      const gid = randomUUID();
      const token = await mint({ claims: { client_id: 'chatgpt', gid } });
      assert.equal((await mcpRequest(server.mcpUrl, { token })).status, 200, 'accepted and cached first');
      issuer.revoke('grant', gid, clock.epochSeconds());
      const response = await waitFor('the revocation to reach the server', async () => {
        const answer = await mcpRequest(server.mcpUrl, { token });
        return answer.status === 401 ? answer : undefined;
      });
      assert.equal(parseChallenge(response.headers.get('www-authenticate')).params.error, 'invalid_token');
      const [event] = events.of('mcp_request').filter((e) => e.outcome === 'refused');
      assert.equal(event?.reasonCode, 'token_revoked');
      assert.match(event?.reason ?? '', /grant was revoked/);
      assert.equal(event?.clientId, 'chatgpt');
      assert.equal(event?.grantId, gid);
    });

    test('a built-in tool the token lacks the scope for: 403 as before, recorded as step_up with the tool, the scope it needs and the scopes the token has', async () => {
      const token = await mint({ claims: { client_id: 'claude-desktop', gid: 'grant-2', scope: 'mcp:read' } });
      const { client, transport } = await connectClient(server.mcpUrl, token);
      const response = await mcpRequest(server.mcpUrl, {
        token,
        headers: { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
        body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'create_note', arguments: { title: 't', body: 'b' } } },
      });
      await client.close();
      assert.equal(response.status, 403);
      const challenge = parseChallenge(response.headers.get('www-authenticate')).params;
      assert.equal(challenge.error, 'insufficient_scope');
      assert.equal(challenge.scope, 'mcp:read mcp:write');

      const [event, ...more] = events.of('step_up');
      assert.equal(more.length, 0);
      assert.deepEqual({ ...event, accountId: undefined }, {
        step: 'step_up', outcome: 'refused', error: 'insufficient_scope', reasonCode: 'insufficient_scope',
        reason: '`create_note` needs `mcp:write`; the token has `mcp:read`',
        clientId: 'claude-desktop', accountId: undefined, grantId: 'grant-2', scope: 'mcp:read', resource: TEST_RESOURCE, ip: '127.0.0.1', userAgent: 'node',
      });
    });

    test('no recorded field holds the token or any part of it', async () => {
      const tokens = [
        await mint({ claims: { client_id: 'claude-desktop' } }),
        await mint({ claims: { aud: 'https://other.example/mcp' } }),
        await mint({ claims: { scope: 'mcp:read' } }),
      ];
      for (const token of tokens) {
        await mcpRequest(server.mcpUrl, { token });
        await mcpRequest(server.mcpUrl, { token, body: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'create_note', arguments: {} } } });
      }
      assert.ok(events.events.length >= 3, JSON.stringify(events.events));
      const recorded = JSON.stringify(events.events);
      for (const token of tokens) {
        for (const part of token.split('.')) assert.ok(!recorded.includes(part), 'a part of a token was recorded');
      }
    });
  });
});

describe('repeats do not flood the store', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const events = new CapturedConnectionEvents();
  const clock = TestClock.ahead(0);

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, connectionRecorder: events, clock });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });
  beforeEach(() => events.clear());

  const refused = () => events.events.filter((event: NewConnectionEvent) => event.outcome === 'refused');

  test('one expired token sent 20 times is recorded once a minute; another token is recorded apart', async () => {
    const now = clock.epochSeconds();
    const expired = await issuer.mint({ claims: { iat: now - 700, exp: now - 100 } });
    for (let i = 0; i < 20; i++) assert.equal((await mcpRequest(server.mcpUrl, { token: expired })).status, 401, 'every one is still refused');
    assert.equal(refused().length, 1);

    const other = await issuer.mint({ claims: { iat: now - 700, exp: now - 100 } });
    await mcpRequest(server.mcpUrl, { token: other });
    assert.equal(refused().length, 2);

    clock.advance(61);
    await feedReadTwice(issuer);
    await mcpRequest(server.mcpUrl, { token: expired });
    assert.equal(refused().length, 3, 'a minute later it is recorded again');
    assert.ok(refused().every((event) => event.reasonCode === 'token_expired'));
  });

  test('one token calling a tool beyond its scope 10 times is recorded as one step_up', async () => {
    const token = await issuer.mint({ claims: { scope: 'mcp:read' } });
    for (let i = 0; i < 10; i++) {
      const response = await mcpRequest(server.mcpUrl, { token, body: { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'create_note', arguments: {} } } });
      assert.equal(response.status, 403);
    }
    assert.equal(events.of('step_up').length, 1);
  });
});

describe('behind a trusted proxy', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const events = new CapturedConnectionEvents();

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, connectionRecorder: events, config: { trustProxy: true } });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  test("the caller is the proxy's last X-Forwarded-For entry (earlier ones are the client's to invent), as at the auth-server", async () => {
    await mcpRequest(server.mcpUrl, { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' } });
    await mcpRequest(server.mcpUrl);
    assert.deepEqual(events.of('mcp_challenge').map((event) => event.ip), ['203.0.113.9', '127.0.0.1']);
  });
});
