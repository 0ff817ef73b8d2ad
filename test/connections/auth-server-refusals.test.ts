/**
 * Every refusal on the auth-server's side of a connection is recorded (issue 18) with the RFC
 * error the client got, a stable reason code and a reason in plain words that names the values
 * that explain it; and the answer the client gets is the one it got before (status, RFC code).
 *
 * The requests are the ones real clients send: claude.ai's registration body, callback and
 * authorization URL (test/helpers/oauth-flow.ts; the connector's discovery → DCR → authorize order
 * and its JSON registration request as logged in anthropics/claude-ai-mcp#1043), and the MCP
 * TypeScript SDK's token requests (@modelcontextprotocol/sdk 1.32.2 dist/esm/client/auth.js
 * exchangeAuthorization / refreshAuthorization: form-encoded grant_type, code, code_verifier,
 * redirect_uri, refresh_token, resource, client_id; applyPostAuth puts client_secret in the body
 * for client_secret_post).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CapturedConnectionEvents } from '../helpers/capture-connection-events.ts';
import {
  assertNoStackTrace, CLAUDE_CALLBACK, CLAUDE_DCR_BODY, connect, decide, redeem, refresh, register, registerClient, signIn, startAuthorization,
  tokenRequest, type AuthorizeRequest, type RegisteredClient,
} from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const OTHER_RESOURCE = 'https://other.example/mcp';
const admin = { username: 'admin', password: ADMIN_PASSWORD };

describe('the auth-server records each refusal of a connection step', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let adminId: string;
  const recorded = new CapturedConnectionEvents();
  /** Every secret the tests handle: none may appear in any recorded event (the last test). */
  const secrets = new Set<string>([ADMIN_PASSWORD]);
  before(async () => {
    server = await startAuthServer({ connectionRecorder: recorded });
    client = await registerClient(server.issuer);
    adminId = (await server.auth.users.findByUsername('admin'))!.id;
  });
  after(() => server.close());

  /** A flow up to the code, with its code, verifier and state kept as secrets. */
  async function connected(request: Partial<AuthorizeRequest> = {}) {
    const state = `state-${Math.random().toString(36).slice(2)}`;
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state, ...admin, ...request });
    secrets.add(result.code).add(result.verifier).add(state);
    return result;
  }

  function assertRefused(step: string, expected: { error?: string; reasonCode: string; reason: RegExp[] }) {
    const event = recorded.events.find((e) => e.step === step && e.outcome === 'refused');
    assert.ok(event, `no refused ${step} event in ${JSON.stringify(recorded.events, null, 2)}`);
    assert.equal(event.error, expected.error);
    assert.equal(event.reasonCode, expected.reasonCode);
    for (const part of expected.reason) assert.match(event.reason ?? '', part);
    return event;
  }

  describe('at /oauth/authorize', () => {
    const cases: Array<{
      name: string;
      request: () => Partial<AuthorizeRequest>;
      answer: { status: number; error: string; toClient: boolean };
      step?: string;
      reasonCode: string;
      reason: RegExp[];
    }> = [
      {
        name: 'a redirect_uri the client did not register',
        request: () => ({ redirectUri: 'https://evil.example/cb?steal=1' }),
        answer: { status: 400, error: 'invalid_redirect_uri', toClient: false },
        reasonCode: 'redirect_uri_not_allowed',
        reason: [/redirect_uri `https:\/\/evil\.example\/cb` is not one this client registered/, /`https:\/\/claude\.ai\/api\/mcp\/auth_callback`/],
      },
      {
        name: 'a resource other than this server\'s MCP resource',
        request: () => ({ resource: OTHER_RESOURCE }),
        answer: { status: 303, error: 'invalid_target', toClient: true },
        reasonCode: 'resource_mismatch',
        reason: [/resource `https:\/\/other\.example\/mcp` does not match `http:\/\/localhost:4001\/mcp`/],
      },
      {
        name: 'an unknown client (registered on another server, or before a reset)',
        request: () => ({ clientId: 'gone-client-id' }),
        answer: { status: 400, error: 'invalid_client', toClient: false },
        reasonCode: 'unknown_client',
        reason: [/client `gone-client-id` is unknown/, /register again/],
      },
      {
        name: 'no PKCE code_challenge',
        request: () => ({ codeChallenge: null, codeChallengeMethod: null }),
        answer: { status: 303, error: 'invalid_request', toClient: true },
        reasonCode: 'pkce_missing',
        reason: [/no PKCE code_challenge/],
      },
      {
        name: 'PKCE with the plain method',
        request: () => ({ codeChallengeMethod: 'plain' }),
        answer: { status: 303, error: 'invalid_request', toClient: true },
        reasonCode: 'pkce_missing',
        reason: [/code_challenge_method `plain` is not supported/],
      },
    ];
    for (const c of cases) {
      test(`${c.name}: ${c.answer.error} as before, recorded as ${c.reasonCode}`, async () => {
        recorded.clear();
        const state = 'authorize-refusal-state';
        const { page } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state, ...c.request() });
        assert.equal(page.status, c.answer.status, page.html.slice(0, 300));
        if (c.answer.toClient) {
          const callback = new URL(page.url);
          assert.equal(callback.searchParams.get('error'), c.answer.error);
        } else {
          assert.equal(page.headers.get('location'), null);
          assertNoStackTrace(page.html, page.url);
        }
        const event = assertRefused(c.step ?? 'authorization', { error: c.answer.error, reasonCode: c.reasonCode, reason: c.reason });
        assert.equal(recorded.of('authorization').length, 1, 'one event per refusal');
        assert.doesNotMatch(JSON.stringify(event), /authorize-refusal-state|steal=1/);
      });
    }
  });

  describe('at the sign-in and consent pages', () => {
    test('a wrong password is a refused sign_in naming the account, never the password', async () => {
      recorded.clear();
      const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE });
      const wrong = 'not the admin password';
      secrets.add(wrong);
      const again = await signIn(browser, page, 'admin', wrong);
      assert.equal(again.status, 400);
      const event = assertRefused('sign_in', { reasonCode: 'sign_in_failed', reason: [/^wrong username or password$/] });
      assert.equal(event.accountId, adminId);
      assert.equal(event.clientId, client.client_id);
      assert.equal(event.flowId, recorded.only('authorization').flowId);
    });

    test('an unknown username is a refused sign_in with no account and no username', async () => {
      recorded.clear();
      const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE });
      await signIn(browser, page, 'my-password-typed-as-username', 'whatever');
      const event = assertRefused('sign_in', { reasonCode: 'sign_in_failed', reason: [/^wrong username or password$/] });
      assert.equal(event.accountId, undefined);
      assert.doesNotMatch(JSON.stringify(recorded.events), /my-password-typed-as-username/);
    });

    test('a disabled account is a refused sign_in: account_not_active', async () => {
      recorded.clear();
      const user = (await server.auth.users.create({ username: 'disabled-user', passwordHash: await server.auth.hasher.hash('disabled password'), scopes: ['mcp:read'] }))!;
      await server.auth.users.update(user.id, { disabled: true });
      secrets.add('disabled password');
      const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE });
      const again = await signIn(browser, page, 'disabled-user', 'disabled password');
      assert.equal(again.status, 400);
      const event = assertRefused('sign_in', { reasonCode: 'account_not_active', reason: [/disabled/] });
      assert.equal(event.accountId, user.id);
    });

    test('a denied consent is a refused consent and a redirect with access_denied, one flow', async () => {
      recorded.clear();
      const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state: 'deny-state' });
      const consentPage = await signIn(browser, page, admin.username, admin.password);
      const back = await decide(browser, consentPage, 'deny');
      const callback = new URL(back.url);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
      const consent = assertRefused('consent', { error: 'access_denied', reasonCode: 'consent_denied', reason: [/^the user denied access$/] });
      const redirect = assertRefused('redirect', { error: 'access_denied', reasonCode: 'consent_denied', reason: [/denied/] });
      assert.equal(redirect.redirectUri, CLAUDE_CALLBACK);
      const flowId = recorded.only('authorization').flowId;
      assert.ok(flowId);
      for (const event of [recorded.only('sign_in'), consent, redirect]) assert.equal(event.flowId, flowId, event.step);
      assert.equal(consent.accountId, adminId);
    });
  });

  describe('at /oauth/token', () => {
    test('a replayed code: invalid_grant as before, recorded as code_replayed on the grant it revoked', async () => {
      const result = await connected();
      const first = await redeem(server.issuer, client, result);
      assert.equal(first.status, 200);
      secrets.add(String(first.body.access_token)).add(String(first.body.refresh_token));
      const grantId = recorded.of('code_exchange').at(-1)!.grantId;
      recorded.clear();
      const replay = await redeem(server.issuer, client, result);
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'invalid_grant');
      const event = assertRefused('code_exchange', { error: 'invalid_grant', reasonCode: 'code_replayed', reason: [/authorization code already used — the grant was revoked/] });
      assert.equal(event.grantId, grantId);
      assert.equal(event.clientId, client.client_id);
    });

    const exchangeCases: Array<{ name: string; extra: (verifier: string) => Record<string, string>; status: number; error: string; reasonCode: string; reason: RegExp[] }> = [
      {
        name: 'a PKCE verifier that does not match',
        extra: () => ({ code_verifier: 'A'.repeat(43) }),
        status: 400, error: 'invalid_grant', reasonCode: 'pkce_mismatch', reason: [/PKCE verifier does not match the challenge/],
      },
      {
        name: 'another redirect_uri than the authorization request\'s',
        extra: () => ({ redirect_uri: 'https://claude.ai/api/mcp/other_callback' }),
        status: 400, error: 'invalid_grant', reasonCode: 'redirect_uri_mismatch', reason: [/redirect_uri `https:\/\/claude\.ai\/api\/mcp\/other_callback` is not the one/],
      },
      {
        name: 'a resource other than this server\'s',
        extra: () => ({ resource: OTHER_RESOURCE }),
        status: 400, error: 'invalid_target', reasonCode: 'resource_mismatch', reason: [/resource `https:\/\/other\.example\/mcp` does not match `http:\/\/localhost:4001\/mcp`/],
      },
      {
        name: 'an unknown client',
        extra: () => ({ client_id: 'gone-client-id' }),
        status: 401, error: 'invalid_client', reasonCode: 'unknown_client', reason: [/client `gone-client-id` is unknown/],
      },
    ];
    for (const c of exchangeCases) {
      test(`a code exchange with ${c.name}: ${c.error} as before, recorded as ${c.reasonCode}`, async () => {
        const result = await connected();
        recorded.clear();
        const refused = await redeem(server.issuer, client, result, c.extra(result.verifier));
        assert.equal(refused.status, c.status, JSON.stringify(refused.body));
        assert.equal(refused.body.error, c.error);
        assertRefused('code_exchange', { error: c.error, reasonCode: c.reasonCode, reason: c.reason });
        assert.equal(recorded.events.length, 1, JSON.stringify(recorded.events));
      });
    }

    test('a confidential client with a wrong secret: invalid_client as before, recorded as client_auth_failed', async () => {
      const confidential = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
      secrets.add(confidential.client_secret!);
      const result = await connect(server.issuer, { clientId: confidential.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
      secrets.add(result.code).add(result.verifier);
      recorded.clear();
      const wrongSecret = 'wrong-client-secret-value';
      secrets.add(wrongSecret);
      const refused = await redeem(server.issuer, confidential, result, { client_secret: wrongSecret });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error, 'invalid_client');
      const event = assertRefused('code_exchange', { error: 'invalid_client', reasonCode: 'client_auth_failed', reason: [new RegExp(`client \`${confidential.client_id}\` failed to authenticate`)] });
      assert.equal(event.clientId, confidential.client_id);
    });

    test('a reused refresh token: invalid_grant as before, recorded as refresh_token_reused on its grant', async () => {
      const result = await connected();
      const tokens = (await redeem(server.issuer, client, result)).body;
      secrets.add(String(tokens.access_token)).add(String(tokens.refresh_token));
      const rotated = await refresh(server.issuer, client, String(tokens.refresh_token));
      assert.equal(rotated.status, 200);
      secrets.add(String(rotated.body.access_token)).add(String(rotated.body.refresh_token));
      const grantId = recorded.of('refresh').at(-1)!.grantId;
      assert.ok(grantId);
      recorded.clear();
      const reused = await refresh(server.issuer, client, String(tokens.refresh_token));
      assert.equal(reused.status, 400);
      assert.equal(reused.body.error, 'invalid_grant');
      const event = assertRefused('refresh', { error: 'invalid_grant', reasonCode: 'refresh_token_reused', reason: [/refresh token already used — the grant was revoked/] });
      assert.equal(event.grantId, grantId);
      assert.equal(event.accountId, adminId);
    });

    const refreshCases: Array<{ name: string; token: (valid: string) => string; extra: Record<string, string>; error: string; reasonCode: string; reason: RegExp[] }> = [
      { name: 'an unknown refresh token', token: () => 'not-a-refresh-token-we-issued', extra: {}, error: 'invalid_grant', reasonCode: 'refresh_token_invalid', reason: [/refresh token unknown/] },
      { name: 'a scope the grant does not hold', token: (valid) => valid, extra: { scope: 'mcp:read mcp:admin' }, error: 'invalid_scope', reasonCode: 'invalid_scope', reason: [/`mcp:admin`/] },
      { name: 'a resource other than this server\'s', token: (valid) => valid, extra: { resource: OTHER_RESOURCE }, error: 'invalid_target', reasonCode: 'resource_mismatch', reason: [/`https:\/\/other\.example\/mcp` does not match/] },
    ];
    for (const c of refreshCases) {
      test(`a refresh with ${c.name}: ${c.error} as before, recorded as ${c.reasonCode}`, async () => {
        const result = await connected();
        const tokens = (await redeem(server.issuer, client, result)).body;
        secrets.add(String(tokens.access_token)).add(String(tokens.refresh_token));
        recorded.clear();
        const refused = await refresh(server.issuer, client, c.token(String(tokens.refresh_token)), c.extra);
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.error, c.error);
        assertRefused('refresh', { error: c.error, reasonCode: c.reasonCode, reason: c.reason });
      });
    }

    test('client credentials and other grants are not connection steps', async () => {
      recorded.clear();
      const refused = await tokenRequest(server.issuer, { grant_type: 'client_credentials', client_id: client.client_id });
      assert.equal(refused.status, 400);
      assert.deepEqual(recorded.events, []);
    });
  });

  describe('at /oauth/register', () => {
    test('an https redirect_uri not on the allow-list: invalid_redirect_uri as before, recorded naming the URI', async () => {
      recorded.clear();
      const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: ['https://evil.example/cb?x=1'] });
      assert.equal(response.status, 400);
      assert.equal((await response.json() as { error: string }).error, 'invalid_redirect_uri');
      const event = assertRefused('registration', { error: 'invalid_redirect_uri', reasonCode: 'redirect_uri_not_allowed', reason: [/`https:\/\/evil\.example\/cb`/, /allow-list/] });
      assert.equal(event.redirectUri, 'https://evil.example/cb');
      assert.doesNotMatch(JSON.stringify(event), /x=1/);
    });

    test('malformed metadata: invalid_client_metadata as before, recorded as registration_refused with the provider\'s why', async () => {
      recorded.clear();
      const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, grant_types: ['implicit'], response_types: ['token'] });
      const body = await response.json() as { error: string; error_description: string };
      assert.equal(response.status, 400);
      assert.equal(body.error, 'invalid_client_metadata');
      assertRefused('registration', { error: 'invalid_client_metadata', reasonCode: 'registration_refused', reason: [new RegExp(body.error_description.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))] });
    });

    test('a registration is recorded ok with its new client_id', async () => {
      recorded.clear();
      const registered = await registerClient(server.issuer);
      const event = recorded.only('registration');
      assert.equal(event.outcome, 'ok');
      assert.equal(event.clientId, registered.client_id);
    });
  });

  describe('the authorization server metadata', () => {
    const cases: Array<[string, number, string]> = [
      ['/.well-known/oauth-authorization-server', 200, 'ok'],
      ['/.well-known/openid-configuration', 200, 'ok'],
      ['/.well-known/oauth-authorization-server/mcp', 404, 'refused'],
    ];
    for (const [path, status, outcome] of cases) {
      test(`GET ${path} answers ${status} as before and is recorded ${outcome}`, async () => {
        recorded.clear();
        const response = await fetch(`${server.issuer}${path}`, { headers: { 'user-agent': 'claude-code/2.0.14' } });
        assert.equal(response.status, status);
        await response.arrayBuffer();
        const event = recorded.only('server_metadata');
        assert.equal(event.outcome, outcome);
        assert.equal(event.userAgent, 'claude-code/2.0.14');
        if (outcome === 'refused') {
          assert.equal(event.reasonCode, 'metadata_not_found');
          assert.match(event.reason!, new RegExp(`\`${server.issuer}/\\.well-known/oauth-authorization-server\``));
        }
      });
    }
  });

  test('privacy: no recorded event holds a code, token, password, verifier, state or client secret', () => {
    assert.ok(secrets.size > 20, `the tests above handled ${secrets.size} secrets`);
    const everything = JSON.stringify(recorded.all);
    assert.ok(recorded.all.length > 50, `${recorded.all.length} events recorded in all`);
    for (const secret of secrets) assert.ok(!everything.includes(secret), `a recorded event holds ${secret.slice(0, 6)}…`);
  });
});
