/**
 * The connections that really fail, each as the client that fails it sends its requests, and
 * what an admin must read about it afterwards (issue 18): the steps in order, the outcome, and
 * for a failure the step, the RFC error the client got, the reason code and the values the
 * plain-words reason names.
 *
 * Each scenario is driven on a ScenarioDeployment (both real apps) by `drive`, which also checks
 * what the client got on the wire (status and RFC error code: the recorder must change nothing
 * there), and returns the client_id that finds its attempt, the values the reason must name, and
 * every secret it handled (for the privacy check). They run one after another in table order:
 * the expired-token scenario moves the resource server's clock and sets it back at its end.
 */
import assert from 'node:assert/strict';
import { UnauthorizedError, auth as sdkAuth } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import type { AttemptOutcome, ConnectionApp, ConnectionStep } from '../../../apps/shared/connection-events.ts';
import { Browser } from '../../helpers/browser.ts';
import { mcpRequest } from '../../helpers/mcp-http.ts';
import { TestOAuthClientProvider } from '../../helpers/mcp-oauth-client.ts';
import { assertNoStackTrace, CLAUDE_CALLBACK, CLAUDE_DCR_BODY, connect, decide, signIn, startAuthorization } from '../../helpers/oauth-flow.ts';
import { createPkce } from '../../helpers/pkce.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { discover, fetchAs, redeemAs, registerAs, sdkClient, sdkTransport } from './client-requests.ts';
import { USER, type ScenarioDeployment } from './scenario-deployment.ts';

export interface ScenarioRun {
  /** Finds the attempt (`connections list --client`). */
  clientId: string;
  /** Values the plain-words reason must name (the failure's, or the refusal met along the way's). */
  named: string[];
  /** Every code, token, verifier, password, state and client secret the scenario used. */
  secrets: string[];
}

export interface ExpectedRefusal {
  app: ConnectionApp;
  step: ConnectionStep;
  /** The RFC error code the client got. */
  error: string;
  reasonCode: string;
  /** Words the reason says beside the values (`register again`). */
  says?: RegExp;
}

export interface Scenario {
  key: string;
  title: string;
  /** Done on the auth-server before it is reset (the unknown-client scenario registers there). */
  beforeReset?(deployment: ScenarioDeployment): Promise<void>;
  drive(deployment: ScenarioDeployment): Promise<ScenarioRun>;
  outcome: AttemptOutcome;
  /** Steps the timeline shows in this order (other events may come between them). */
  steps: ConnectionStep[];
  /** Why it failed (the attempt's explanation). */
  failure?: ExpectedRefusal;
  /** A refusal a connection that goes on meets on the way (the step-up's 403). */
  alongTheWay?: ExpectedRefusal;
  /** What is recorded after the failure: the redirect back to the client carrying the error. */
  thenRecorded?: { step: ConnectionStep; error: string; redirectUri: string };
}

/** Each scenario's client says who it is; the pre-registration steps are joined by IP + User-Agent. */
const userAgentOf = (key: string) => `gatehouse-scenarios/${key} (node)`;

/** A local callback as Claude Code and mcp-remote listen on (RFC 8252 §7.3 loopback). */
const loopbackCallback = (port: number) => `http://127.0.0.1:${port}/callback`;

/** Discovery, registration as claude.ai registers (public client), sign-in and consent: the code, not yet redeemed. */
async function claudeConnects(d: ScenarioDeployment, key: string, options: { approve?: boolean } = {}) {
  const userAgent = userAgentOf(key);
  const found = await discover(d.mcpUrl, userAgent);
  const client = await registerAs(found.issuer, CLAUDE_DCR_BODY, userAgent);
  if (options.approve === false) return { userAgent, found, client };
  const result = await connect(d.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: found.resource, state: `state-${key}`, ...USER });
  return { userAgent, found, client, result };
}

function secretsOfResult(result: { code: string; verifier: string }, tokens: Record<string, unknown> = {}): string[] {
  return [result.code, result.verifier, USER.password, ...['access_token', 'refresh_token'].flatMap((k) => (typeof tokens[k] === 'string' ? [tokens[k] as string] : []))];
}

/** What the SDK's provider saw and was given: the state in the authorization URL, the verifier, tokens and client secret. */
function secretsOfProvider(provider: TestOAuthClientProvider): string[] {
  return [
    USER.password,
    provider.verifier,
    ...provider.authorizationUrls.flatMap((url) => [url.searchParams.get('state') ?? '', url.searchParams.get('code_challenge') ?? '']),
    provider.savedTokens?.access_token ?? '',
    provider.savedTokens?.refresh_token ?? '',
    (provider.client as { client_secret?: string } | undefined)?.client_secret ?? '',
  ].filter((value) => value.length >= 8);
}

/** The SDK client's first contact: 401, discovery, registration (or a stored client), the authorization URL to open. */
async function sdkFirstContact(d: ScenarioDeployment, provider: TestOAuthClientProvider, userAgent: string): Promise<ReturnType<typeof sdkTransport>> {
  const transport = sdkTransport(d.mcpUrl, provider, userAgent);
  await assert.rejects(sdkClient().connect(transport), UnauthorizedError, 'no token yet: the SDK goes to authorize');
  return transport;
}

/** The SDK client that registered before the reset, per deployment. */
const registeredBeforeReset = new WeakMap<ScenarioDeployment, TestOAuthClientProvider>();

export const FAILING_CONNECTIONS: Scenario[] = [
  {
    key: 'connects',
    title: 'a client that connects cleanly (MCP SDK, client_secret_post as newer claude.ai registers)',
    async drive(d) {
      const userAgent = userAgentOf('connects');
      const provider = new TestOAuthClientProvider(loopbackCallback(33418), { token_endpoint_auth_method: 'client_secret_post' });
      const transport = await sdkFirstContact(d, provider, userAgent);
      const callback = await provider.signInAt(d.issuer, USER.username, USER.password);
      const code = callback.searchParams.get('code')!;
      await transport.finishAuth(code);
      const client = sdkClient();
      await client.connect(sdkTransport(d.mcpUrl, provider, userAgent));
      const me = await client.callTool({ name: 'whoami', arguments: {} });
      assert.equal((me.structuredContent as { username: string }).username, USER.username);
      await client.close();
      assert.ok((provider.client as { client_secret?: string }).client_secret, 'a secret was issued, as asked');
      return { clientId: provider.client!.client_id, named: [], secrets: [code, ...secretsOfProvider(provider)] };
    },
    outcome: 'connected',
    steps: ['mcp_challenge', 'resource_metadata', 'server_metadata', 'registration', 'authorization', 'sign_in', 'consent', 'redirect', 'code_exchange', 'mcp_request'],
  },
  {
    // A client that registered one callback and authorizes with another: e.g. Claude Desktop
    // registering one redirect_uri by DCR and opening /authorize with another
    // (anthropics/claude-code#24870, #10439), here claude.ai's and claude.com's callbacks.
    key: 'redirect_uri_not_allowed',
    title: 'authorize with a redirect_uri the client did not register',
    async drive(d) {
      const { client } = await claudeConnects(d, 'redirect_uri_not_allowed', { approve: false });
      const other = 'https://claude.com/api/mcp/auth_callback';
      const { page, verifier } = await startAuthorization(d.issuer, { clientId: client.client_id, redirectUri: other, scope: 'mcp:read', resource: d.mcpUrl });
      // The redirect_uri cannot be trusted, so the error is shown on the server's page (RFC 6749 §4.1.2.1).
      assert.equal(page.status, 400);
      assert.match(page.html, /invalid_redirect_uri|redirect_uri/);
      assertNoStackTrace(page.html, 'the refusal page');
      return { clientId: client.client_id, named: [other], secrets: [verifier] };
    },
    outcome: 'failed',
    steps: ['mcp_challenge', 'resource_metadata', 'server_metadata', 'registration', 'authorization'],
    failure: { app: 'auth-server', step: 'authorization', error: 'invalid_redirect_uri', reasonCode: 'redirect_uri_not_allowed' },
  },
  {
    // Claude Code sent the origin plus a slash as `resource` (anthropics/claude-code#52871:
    // `resource=https://mcp.example.com/` → invalid_target), not the resource the metadata names.
    key: 'resource_mismatch',
    title: 'authorize for another resource than the MCP server (its origin with a slash)',
    async drive(d) {
      const { client } = await claudeConnects(d, 'resource_mismatch', { approve: false });
      const sent = `${new URL(d.mcpUrl).origin}/`;
      const { page, verifier } = await startAuthorization(d.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: sent, state: 'state-resource' });
      assert.ok(page.status >= 300 && page.status < 400, `expected the redirect back to the client, got ${page.status}`);
      const callback = new URL(page.url);
      assert.equal(callback.origin + callback.pathname, CLAUDE_CALLBACK);
      assert.equal(callback.searchParams.get('error'), 'invalid_target');
      assert.equal(callback.searchParams.get('code'), null);
      return { clientId: client.client_id, named: [sent, d.mcpUrl], secrets: [verifier, 'state-resource'] };
    },
    outcome: 'failed',
    steps: ['mcp_challenge', 'resource_metadata', 'server_metadata', 'registration', 'authorization'],
    failure: { app: 'auth-server', step: 'authorization', error: 'invalid_target', reasonCode: 'resource_mismatch' },
  },
  {
    key: 'consent_denied',
    title: 'the user denies consent',
    async drive(d) {
      const key = 'consent_denied';
      const { found, client } = await claudeConnects(d, key, { approve: false });
      const browser = new Browser(d.issuer);
      const { page: start, verifier } = await startAuthorization(d.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: found.resource, state: `state-${key}` }, browser);
      const consent = await signIn(browser, start, USER.username, USER.password);
      const back = await decide(browser, consent, 'deny');
      const callback = new URL(back.url);
      assert.equal(callback.origin + callback.pathname, CLAUDE_CALLBACK);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
      assert.equal(callback.searchParams.get('iss'), d.issuer, 'RFC 9207: the error names its issuer too');
      return { clientId: client.client_id, named: [], secrets: [verifier, USER.password, `state-${key}`] };
    },
    outcome: 'failed',
    steps: ['registration', 'authorization', 'sign_in', 'consent', 'redirect'],
    failure: { app: 'auth-server', step: 'consent', error: 'access_denied', reasonCode: 'consent_denied', says: /denied/ },
    thenRecorded: { step: 'redirect', error: 'access_denied', redirectUri: CLAUDE_CALLBACK },
  },
  {
    // A client that retries its token request with the same code (giantswarm/muster#269:
    // "Authorization code reuse detected - revoking all tokens").
    key: 'code_replayed',
    title: 'the same code redeemed twice',
    async drive(d) {
      const { userAgent, client, result } = await claudeConnects(d, 'code_replayed');
      const first = await redeemAs(d.issuer, client, result!, userAgent);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const again = await redeemAs(d.issuer, client, result!, userAgent);
      assert.equal(again.status, 400);
      assert.equal(again.body.error, 'invalid_grant');
      return { clientId: client.client_id, named: [], secrets: [...secretsOfResult(result!, first.body), 'state-code_replayed'] };
    },
    outcome: 'failed',
    steps: ['registration', 'authorization', 'sign_in', 'consent', 'redirect', 'code_exchange', 'code_exchange'],
    failure: { app: 'auth-server', step: 'code_exchange', error: 'invalid_grant', reasonCode: 'code_replayed', says: /already used/ },
  },
  {
    // Two mcp-remote processes share one code_verifier file, the second overwrites the first's
    // (punkpeye/mcp-remote#235, #251): the code is redeemed with another flow's verifier.
    key: 'pkce_mismatch',
    title: 'the code redeemed with the wrong PKCE verifier',
    async drive(d) {
      const { userAgent, client, result } = await claudeConnects(d, 'pkce_mismatch');
      const otherVerifier = createPkce().verifier;
      const refused = await redeemAs(d.issuer, client, result!, userAgent, otherVerifier);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error, 'invalid_grant');
      return { clientId: client.client_id, named: [], secrets: [...secretsOfResult(result!), otherVerifier, 'state-pkce_mismatch'] };
    },
    outcome: 'failed',
    steps: ['registration', 'authorization', 'sign_in', 'consent', 'redirect', 'code_exchange'],
    failure: { app: 'auth-server', step: 'code_exchange', error: 'invalid_grant', reasonCode: 'pkce_mismatch', says: /PKCE|verifier/ },
  },
  {
    // The SDK keeps its client registration and comes back with it after the server lost it
    // (anthropics/claude-code#84614, supabase/mcp#355: a stale DCR client_id replayed forever).
    key: 'unknown_client',
    title: 'a client registered before the auth-server was reset comes back with its old client_id',
    async beforeReset(d) {
      const provider = new TestOAuthClientProvider(loopbackCallback(53682));
      await sdkFirstContact(d, provider, userAgentOf('unknown_client-before-reset'));
      assert.ok(provider.client?.client_id, 'registered by DCR before the reset');
      registeredBeforeReset.set(d, provider);
    },
    async drive(d) {
      const provider = registeredBeforeReset.get(d)!;
      const clientId = provider.client!.client_id;
      await sdkFirstContact(d, provider, userAgentOf('unknown_client'));
      assert.equal(provider.client?.client_id, clientId, 'the SDK reuses its stored registration');
      const page = await new Browser(d.issuer).navigate(provider.authorizationUrls.at(-1)!);
      assert.equal(page.status, 400);
      assert.match(page.html, /invalid_client|client/);
      assertNoStackTrace(page.html, 'the refusal page');
      return { clientId, named: [clientId], secrets: secretsOfProvider(provider) };
    },
    outcome: 'failed',
    // Its discovery came from the client's process and /authorize from the user's browser (another
    // User-Agent), with no registration between them to join on: the attempt starts at /authorize.
    steps: ['authorization'],
    failure: { app: 'auth-server', step: 'authorization', error: 'invalid_client', reasonCode: 'unknown_client', says: /register again/ },
  },
  {
    // The 2025-11-25 step-up flow (MCP authorization §10.1, "Scope Selection Strategy"): a
    // read-only token meets 403 insufficient_scope on a write tool; the SDK 1.x first refreshes
    // (which cannot add a scope, modelcontextprotocol/typescript-sdk#1582, anthropics/claude-code#28258),
    // then the client authorizes again for both scopes and carries on.
    key: 'step_up',
    title: 'a read-only token calls a write tool (403), then the client steps up and succeeds',
    async drive(d) {
      const userAgent = userAgentOf('step_up');
      const provider = new TestOAuthClientProvider(loopbackCallback(6274));
      const transport = await sdkFirstContact(d, provider, userAgent);
      assert.equal(provider.authorizationUrls.at(-1)!.searchParams.get('scope'), 'mcp:read', "the 401's scope hint");
      const first = await provider.signInAt(d.issuer, USER.username, USER.password);
      await transport.finishAuth(first.searchParams.get('code')!);
      const readOnly = sdkClient();
      await readOnly.connect(sdkTransport(d.mcpUrl, provider, userAgent));
      await assert.rejects(
        readOnly.callTool({ name: 'create_note', arguments: { title: 'Shopping', body: 'milk' } }),
        (err: unknown) => err instanceof StreamableHTTPError && err.code === 403,
      );
      await readOnly.close();
      const secrets = [first.searchParams.get('code')!, ...secretsOfProvider(provider)];

      provider.invalidateCredentials('tokens');
      const fetchFn = fetchAs(userAgent);
      assert.equal(await sdkAuth(provider, { serverUrl: d.mcpUrl, scope: 'mcp:read mcp:write', fetchFn }), 'REDIRECT');
      const second = await provider.signInAt(d.issuer, USER.username, USER.password);
      assert.equal(await sdkAuth(provider, { serverUrl: d.mcpUrl, authorizationCode: second.searchParams.get('code')!, fetchFn }), 'AUTHORIZED');
      assert.equal(decodeJwt(provider.savedTokens!.access_token).scope, 'mcp:read mcp:write');
      const stepped = sdkClient();
      await stepped.connect(sdkTransport(d.mcpUrl, provider, userAgent));
      const created = await stepped.callTool({ name: 'create_note', arguments: { title: 'Shopping', body: 'milk' } });
      assert.notEqual(created.isError, true);
      await stepped.close();
      return { clientId: provider.client!.client_id, named: ['create_note', 'mcp:write', 'mcp:read'], secrets: [...secrets, second.searchParams.get('code')!, ...secretsOfProvider(provider)] };
    },
    outcome: 'connected',
    steps: ['registration', 'authorization', 'sign_in', 'consent', 'redirect', 'code_exchange', 'mcp_request', 'step_up', 'authorization', 'consent', 'redirect', 'code_exchange', 'mcp_request'],
    alongTheWay: { app: 'resource-server', step: 'step_up', error: 'insufficient_scope', reasonCode: 'insufficient_scope' },
  },
  {
    // A client that keeps sending its access token after it expired instead of refreshing
    // (openai/codex#6209, astashov/liftosaur#560): 401 invalid_token at the MCP server.
    key: 'token_expired',
    title: 'an expired access token at the MCP server',
    async drive(d) {
      const { userAgent, client, result } = await claudeConnects(d, 'token_expired');
      const tokens = await redeemAs(d.issuer, client, result!, userAgent);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const accessToken = tokens.body.access_token as string;
      const accepted = await mcpRequest(d.mcpUrl, { token: accessToken, headers: { 'user-agent': userAgent } });
      assert.equal(accepted.status, 200, `${accepted.headers.get('www-authenticate')} ${await accepted.text()}`);

      const { exp } = decodeJwt(accessToken);
      // Past exp and the verifier's 5 s leeway, on the resource server's clock only.
      d.resourceClock.set((exp! + 6) * 1000);
      try {
        // The jump makes the revocation list look stale until the next poll lands.
        await waitFor('the resource server to be ready after the clock moved', async () => (await fetch(new URL('/readyz', d.mcpUrl))).status === 200);
        const refused = await mcpRequest(d.mcpUrl, { token: accessToken, headers: { 'user-agent': userAgent } });
        const body = await refused.text();
        assert.equal(refused.status, 401, body);
        assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        assertNoStackTrace(body, 'the 401');
      } finally {
        d.resourceClock.set(Date.now());
      }
      // "expired at 14:02:11 UTC": the reason names the moment.
      const expiredAt = new Date(exp! * 1000).toISOString().slice(11, 19);
      return { clientId: client.client_id, named: [expiredAt], secrets: [...secretsOfResult(result!, tokens.body), 'state-token_expired'] };
    },
    outcome: 'failed',
    steps: ['registration', 'authorization', 'sign_in', 'consent', 'redirect', 'code_exchange', 'mcp_request', 'mcp_request'],
    failure: { app: 'resource-server', step: 'mcp_request', error: 'invalid_token', reasonCode: 'token_expired', says: /expired/ },
  },
];

/** The scenarios with a failure, keyed by (app, step, reason): how many times the counter must have counted each. */
export function expectedFailureCounts(scenarios: Scenario[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { failure } of scenarios) {
    if (!failure) continue;
    const key = `${failure.app} ${failure.step} ${failure.reasonCode}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
