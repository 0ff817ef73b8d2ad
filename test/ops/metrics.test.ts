/**
 * Prometheus metrics after real traffic through both apps: every counter the operator's
 * dashboards need moves by exactly what happened, the latency histogram is labelled by route
 * template (never by a raw path), and the exposition is served only on the metrics port.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createMetricsRegistry, serveMetrics } from '../../apps/shared/metrics.ts';
import { Browser } from '../helpers/browser.ts';
import { CLAUDE_DCR_BODY, connect, redeem, refresh, register, registerClient, signIn, startAuthorization } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD } from '../helpers/start-auth-server.ts';
import { connectClient, mcpRequest } from '../helpers/mcp-http.ts';
import { parseExposition, sampleValue as valueOf, type Sample } from '../helpers/prometheus-exposition.ts';
import { startBothApps, type BothApps } from './support/start-both-apps.ts';

describe('metrics after real traffic', () => {
  let apps: BothApps;
  let auth: Sample[];
  let resource: Sample[];
  let interactionUid = '';

  before(async () => {
    apps = await startBothApps();
    const { issuer, mcpUrl } = apps;

    const client = await registerClient(issuer, CLAUDE_DCR_BODY);
    const refused = await register(issuer, { ...CLAUDE_DCR_BODY, redirect_uris: ['https://attacker.example/callback'] });
    assert.equal(refused.status, 400);

    // Two wrong passwords, then a sign-in that works.
    const attempt = await startAuthorization(issuer, { clientId: client.client_id, scope: 'mcp:read', resource: mcpUrl });
    interactionUid = new URL(attempt.page.url).pathname.split('/')[2]!;
    let page = await signIn(attempt.browser, attempt.page, 'nobody', 'not-the-password');
    page = await signIn(attempt.browser, page, 'admin', 'not-the-password-either');
    assert.equal(page.status, 400);
    const result = await connect(issuer, { clientId: client.client_id, scope: 'mcp:read', resource: mcpUrl, username: 'admin', password: ADMIN_PASSWORD, browser: new Browser(issuer) });

    const tokens = await redeem(issuer, client, result);
    assert.equal(tokens.status, 200);
    const refreshed = await refresh(issuer, client, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 200);

    // MCP: two allowed calls, one tool error, one call the read-only token may not make.
    const token = refreshed.body.access_token as string;
    const { client: mcp } = await connectClient(mcpUrl, token);
    await mcp.callTool({ name: 'whoami', arguments: {} });
    await mcp.callTool({ name: 'list_notes', arguments: {} });
    const missing = await mcp.callTool({ name: 'get_note', arguments: { id: randomUUID() } });
    assert.equal(missing.isError, true);
    await mcp.close();
    const denied = await mcpRequest(mcpUrl, { token, body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'create_note', arguments: { title: 't', body: 'b' } } } });
    assert.equal(denied.status, 403);

    // Reusing the rotated refresh token revokes the grant, and with it the token used above (once
    // the resource server's next revocation-feed poll lands), so it comes after the MCP calls.
    assert.equal((await refresh(issuer, client, tokens.body.refresh_token as string)).status, 400, 'reuse of the rotated refresh token');
    assert.equal((await refresh(issuer, client, tokens.body.refresh_token as string)).status, 400, 'a second reuse: already revoked');

    // Tokens the resource server refuses, for different reasons.
    assert.equal((await mcpRequest(mcpUrl, { token: `${token.slice(0, -8)}AAAAAAAA` })).status, 401);
    assert.equal((await mcpRequest(mcpUrl, { token: 'not-a-jwt' })).status, 401);
    const { privateKey } = await generateKeyPair('RS256');
    const foreign = await new SignJWT({ scope: 'mcp:read', client_id: 'x' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'someone-elses-key' })
      .setIssuer(issuer).setAudience(mcpUrl).setSubject('u').setIssuedAt().setExpirationTime('5m').setJti('j')
      .sign(privateKey);
    assert.equal((await mcpRequest(mcpUrl, { token: foreign })).status, 401);

    auth = parseExposition(await apps.registries.auth.metrics());
    resource = parseExposition(await apps.registries.resource.metrics());
  });
  after(() => apps.close());

  test('auth-server: sign-ins by result, tokens by grant type, refresh reuse, registrations', () => {
    assert.equal(valueOf(auth, 'gatehouse_sign_ins_total', { method: 'password', result: 'failure' }), 2);
    assert.equal(valueOf(auth, 'gatehouse_sign_ins_total', { method: 'password', result: 'success' }), 1);
    assert.equal(valueOf(auth, 'gatehouse_tokens_issued_total', { grant_type: 'authorization_code' }), 1);
    assert.equal(valueOf(auth, 'gatehouse_tokens_issued_total', { grant_type: 'refresh_token' }), 1);
    assert.equal(valueOf(auth, 'gatehouse_refresh_token_reuse_total'), 1, 'one reuse incident, however often the dead token is retried');
    assert.equal(valueOf(auth, 'gatehouse_client_registrations_total', { result: 'created' }), 1);
    assert.equal(valueOf(auth, 'gatehouse_client_registrations_total', { result: 'refused' }), 1);
    assert.ok(auth.every((s) => s.labels.app === 'auth-server'), 'every series names its app');
  });

  test('resource-server: token verification failures by reason, tool calls by tool and outcome', () => {
    assert.equal(valueOf(resource, 'gatehouse_token_verification_failures_total', { reason: 'signature' }), 1);
    assert.equal(valueOf(resource, 'gatehouse_token_verification_failures_total', { reason: 'malformed' }), 1);
    assert.equal(valueOf(resource, 'gatehouse_token_verification_failures_total', { reason: 'unknown_key' }), 1);
    assert.equal(valueOf(resource, 'gatehouse_mcp_tool_calls_total', { tool: 'whoami', outcome: 'ok' }), 1);
    assert.equal(valueOf(resource, 'gatehouse_mcp_tool_calls_total', { tool: 'list_notes', outcome: 'ok' }), 1);
    assert.equal(valueOf(resource, 'gatehouse_mcp_tool_calls_total', { tool: 'get_note', outcome: 'error' }), 1);
    assert.equal(valueOf(resource, 'gatehouse_mcp_tool_calls_total', { tool: 'create_note', outcome: 'denied' }), 1);
    assert.ok(resource.every((s) => s.labels.app === 'resource-server'));
  });

  test('request latency histograms are labelled by route template, never by a raw path', () => {
    const tokenCount = valueOf(auth, 'gatehouse_http_request_duration_seconds_count', { method: 'POST', route: '/oauth/token', status: '200' });
    assert.equal(tokenCount, 2, 'the code and the refresh request');
    assert.ok(valueOf(auth, 'gatehouse_http_request_duration_seconds_count', { method: 'GET', route: '/interaction/:uid', status: '200' }) >= 2);
    assert.ok(valueOf(auth, 'gatehouse_http_request_duration_seconds_bucket', { method: 'POST', route: '/oauth/token', status: '200', le: '+Inf' }) === tokenCount);
    assert.ok(valueOf(resource, 'gatehouse_http_request_duration_seconds_count', { method: 'POST', route: '/mcp', status: '200' }) >= 4);
    assert.ok(valueOf(resource, 'gatehouse_http_request_duration_seconds_count', { method: 'POST', route: '/mcp', status: '401' }) >= 3);
    const routes = new Set([...auth, ...resource].flatMap((s) => (s.labels.route === undefined ? [] : [s.labels.route])));
    assert.ok(interactionUid.length > 10);
    for (const route of routes) assert.ok(!route.includes(interactionUid), `a raw path as a label: ${route}`);
  });

  test('the public ports do not serve /metrics', async () => {
    assert.equal((await fetch(`${apps.issuer}/metrics`)).status, 404);
    assert.equal((await fetch(`${apps.resourceBase}/metrics`)).status, 404);
  });
});

describe('the metrics endpoint', () => {
  test('serves the registry in the Prometheus text format at GET /metrics only', async () => {
    const registry = createMetricsRegistry('auth-server', { processMetrics: true });
    const server = await serveMetrics(registry, '127.0.0.1', 0);
    try {
      const response = await fetch(server.url);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const samples = parseExposition(await response.text());
      assert.ok(samples.some((s) => s.name === 'process_cpu_seconds_total' && s.labels.app === 'auth-server'), 'process metrics in the live process');
      assert.equal((await fetch(server.url.replace('/metrics', '/'))).status, 404);
      assert.equal((await fetch(server.url, { method: 'POST' })).status, 404);
    } finally {
      await server.close();
    }
  });

  test('is off by default; METRICS_ENABLED turns it on, on ports of its own', () => {
    assert.equal(loadConfig({}).metrics, undefined);
    assert.deepEqual(loadConfig({ METRICS_ENABLED: 'true' }).metrics, { host: '127.0.0.1', authServerPort: 9464, resourceServerPort: 9465 });
    assert.deepEqual(
      loadConfig({ METRICS_ENABLED: '1', LISTEN_HOST: '0.0.0.0', METRICS_HOST: '10.0.0.5', AUTH_METRICS_PORT: '9100', RESOURCE_METRICS_PORT: '9101' }).metrics,
      { host: '10.0.0.5', authServerPort: 9100, resourceServerPort: 9101 },
    );
    assert.throws(() => loadConfig({ METRICS_ENABLED: 'yes' }), /^ConfigError: Invalid configuration: metrics\.enabled \(from METRICS_ENABLED\): /);
  });
});
