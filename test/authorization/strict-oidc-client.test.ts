/**
 * A strict OpenID client (openid-client 6, on oauth4webapi) signs in through the real pages and
 * must not be told of an endpoint that refuses every token Gatehouse issues: the access tokens are
 * JWTs bound to the MCP resource, which a userinfo endpoint cannot accept, so none is advertised
 * and the ID token carries the profile claims.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { CLAUDE_CALLBACK, decide, registerClient, signIn } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('a strict OpenID client (openid-client)', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  test('is told of no userinfo endpoint, and gets the profile claims in the ID token', async () => {
    const registered = await registerClient(server.issuer);
    const config = await oidc.discovery(new URL(server.issuer), registered.client_id, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    assert.equal(config.serverMetadata().userinfo_endpoint, undefined, 'no userinfo endpoint is advertised');

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CLAUDE_CALLBACK, scope: 'openid profile mcp:read', resource: RESOURCE, state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new Browser(server.issuer);
    const consent = await signIn(browser, await browser.navigate(url), 'admin', ADMIN_PASSWORD);
    const callback = await decide(browser, consent, 'approve');
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: state });

    const claims = tokens.claims()!;
    assert.equal(claims.sub, (await server.auth.users.findByUsername('admin'))!.id);
    assert.equal(claims.preferred_username, 'admin', 'the profile claims are in the ID token');
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, claims.sub), /userinfo_endpoint/);
    const direct = await fetch(`${server.issuer}/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(direct.status, 404, 'the endpoint is not served either');
  });
});
