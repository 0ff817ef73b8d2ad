/**
 * RFC 8693 token exchange at /oauth/token, with a real auth-server, real clients and real user
 * tokens: only the resource server registered for our resource may trade a caller's access token
 * for a short-lived identity token addressed to an upstream on its list, and that token verifies
 * against the published JWKS with the upstream's URL as audience.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { activeKey, readSigningKeys } from '../../apps/auth-server/src/keys/signing-keys.ts';
import { CLAUDE_DCR_BODY, clientSecretBasic, connect, redeem, register, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const UPSTREAM = 'http://127.0.0.1:3001/mcp';
const OTHER_UPSTREAM = 'https://tools.example.com/mcp';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

interface Caller { client_id: string; client_secret?: string }

describe('token exchange: identity tokens for upstream MCP servers', () => {
  let server: TestAuthServer;
  let owner: RegisteredClient;
  let gateway: Caller;
  let adminToken: string;

  function exchange(caller: Caller | undefined, params: Record<string, string | string[]>) {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries({ grant_type: TOKEN_EXCHANGE, ...params })) {
      for (const v of [value].flat()) body.append(name, v);
    }
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (caller?.client_secret) Object.assign(headers, clientSecretBasic(caller.client_id, caller.client_secret));
    else if (caller) body.set('client_id', caller.client_id);
    return fetch(`${server.issuer}/oauth/token`, { method: 'POST', headers, body }).then(async (response) => ({
      status: response.status, headers: response.headers, body: await response.json() as Record<string, unknown>,
    }));
  }

  const forUpstream = (subject: string, extra: Record<string, string | string[]> = {}) => ({
    subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE, resource: UPSTREAM, ...extra,
  });

  async function staticClient(name: string, options: { resourceServer?: boolean; authMethod?: 'client_secret_basic' | 'none'; upstreamAudiences?: string[] } = {}): Promise<Caller> {
    const created = await server.auth.admin.clients.createStatic({
      name, redirectUris: ['https://rs.example/cb'], authMethod: options.authMethod ?? 'client_secret_basic',
      resourceServer: options.resourceServer, upstreamAudiences: options.upstreamAudiences,
    }, CLI);
    return { client_id: created.clientId, client_secret: created.clientSecret };
  }

  async function userToken(username: string, password: string, scope: string): Promise<string> {
    const result = await connect(server.issuer, { clientId: owner.client_id, scope, resource: RESOURCE, username, password });
    const redeemed = await redeem(server.issuer, owner, result, { client_secret: owner.client_secret! });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    return redeemed.body.access_token as string;
  }

  /** A token signed with this server's real active key, from a real token's claims with `changes`. */
  async function reSigned(token: string, changes: JWTPayload): Promise<string> {
    const key = activeKey(readSigningKeys(join(server.dir, 'keys')))!;
    return new SignJWT({ ...decodeJwt(token), ...changes })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: key.jwk.kid })
      .sign(await importJWK(key.jwk, 'RS256'));
  }

  before(async () => {
    server = await startAuthServer();
    owner = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
    gateway = await staticClient('Gatehouse gateway', { resourceServer: true, upstreamAudiences: [UPSTREAM, OTHER_UPSTREAM] });
    adminToken = await userToken('admin', ADMIN_PASSWORD, 'mcp:read mcp:write');
  });
  after(() => server.close());

  test('the resource server gets an at+jwt for the upstream that verifies against the published JWKS', async () => {
    const answer = await exchange(gateway, forUpstream(adminToken));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal(answer.body.issued_token_type, ACCESS_TOKEN_TYPE);
    assert.equal(answer.body.token_type, 'Bearer');
    assert.equal(answer.body.scope, 'mcp:read mcp:write');
    assert.equal(answer.body.refresh_token, undefined);

    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/oauth/jwks`));
    const { payload, protectedHeader } = await jwtVerify(answer.body.access_token as string, jwks, {
      issuer: server.issuer, audience: UPSTREAM, typ: 'at+jwt', algorithms: ['RS256'],
    });
    const admin = (await server.auth.users.findByUsername('admin'))!;
    assert.equal(protectedHeader.kid, decodeProtectedHeader(adminToken).kid, 'signed with the same active key as access tokens');
    assert.equal(payload.sub, admin.id);
    assert.equal(payload.aud, UPSTREAM);
    assert.equal(payload.scope, 'mcp:read mcp:write');
    assert.equal(payload.client_id, owner.client_id);
    assert.deepEqual(payload.act, { sub: gateway.client_id });
    assert.equal(payload.preferred_username, 'admin');
    assert.equal(typeof payload.jti, 'string');
    assert.ok(payload.exp! - payload.iat! <= 300 && payload.exp! > payload.iat!, `lifetime ${payload.exp! - payload.iat!}s`);
    assert.ok(payload.exp! <= decodeJwt(adminToken).exp!);
    assert.equal(answer.body.expires_in, payload.exp! - payload.iat!);
    assert.equal(payload.gid, undefined, 'the grant id stays inside Gatehouse');
  });

  test('the identity token lives no longer than the caller\'s token', async () => {
    const shortLived = await reSigned(adminToken, { exp: Math.floor(Date.now() / 1000) + 42 });
    const answer = await exchange(gateway, forUpstream(shortLived));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const payload = decodeJwt(answer.body.access_token as string);
    assert.equal(payload.exp, decodeJwt(shortLived).exp);
    assert.ok((answer.body.expires_in as number) <= 42);
  });

  test('scope narrows to what is asked; asking for no more than the token holds is fine', async () => {
    for (const [asked, granted] of [['mcp:read', 'mcp:read'], ['mcp:write mcp:read mcp:write', 'mcp:write mcp:read']] as const) {
      const answer = await exchange(gateway, forUpstream(adminToken, { scope: asked }));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.scope, granted);
      assert.equal(decodeJwt(answer.body.access_token as string).scope, granted);
    }
  });

  test('any upstream on the client\'s list may be the audience, each exactly as listed', async () => {
    const answer = await exchange(gateway, forUpstream(adminToken, { resource: OTHER_UPSTREAM }));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(decodeJwt(answer.body.access_token as string).aud, OTHER_UPSTREAM);
  });

  test('each exchange is in the audit log with the user as actor and the upstream as audience', async () => {
    await exchange(gateway, forUpstream(adminToken, { scope: 'mcp:read' }));
    // Token events are written off the request path (audit-log.ts).
    await server.auth.admin.audit.flush();
    const [latest] = await server.auth.admin.audit.query({ event: 'token.exchanged', limit: 1 });
    assert.ok(latest);
    assert.equal(latest.actor, 'admin');
    assert.equal(latest.clientId, gateway.client_id);
    assert.deepEqual(latest.details, { audience: UPSTREAM, subject_client_id: owner.client_id, scope: 'mcp:read' });
    assert.equal((await server.auth.admin.audit.query({ event: 'token.issued' })).filter((e) => e.details.grant_type === TOKEN_EXCHANGE).length, 0);
  });

  test('each refused exchange is in the audit log with the client, the error the client got and the resource, never a token', async () => {
    await server.auth.admin.audit.flush();
    const [last] = await server.auth.admin.audit.query({ limit: 1 });
    const forged = await reSigned(adminToken, { iss: 'https://evil.example' });
    const reports = await staticClient('Reports app');
    const refusals: Array<[Caller, Record<string, string | string[]>, string, string | undefined]> = [
      [gateway, forUpstream(forged), 'invalid_grant', UPSTREAM],
      [gateway, forUpstream('garbage'), 'invalid_grant', UPSTREAM],
      [gateway, forUpstream(adminToken, { resource: 'https://elsewhere.example/mcp' }), 'invalid_target', 'https://elsewhere.example/mcp'],
      [gateway, forUpstream(adminToken, { resource: [UPSTREAM, OTHER_UPSTREAM] }), 'invalid_target', `${UPSTREAM} ${OTHER_UPSTREAM}`],
      [reports, forUpstream(adminToken), 'unauthorized_client', UPSTREAM],
      [{ ...gateway, client_secret: 'wrong' }, forUpstream(adminToken), 'invalid_client', UPSTREAM],
    ];
    for (const [caller, params] of refusals) await exchange(caller, params);
    await server.auth.admin.audit.flush();
    // Following the log (afterId): oldest first.
    const recorded = await server.auth.admin.audit.query({ event: 'token.exchange_refused', afterId: last?.id ?? 0 });
    assert.deepEqual(recorded.map((e) => [e.clientId, e.details.error, e.details.resource]), refusals.map(([caller, , error, resource]) =>
      [error === 'invalid_client' ? null : caller.client_id, error, resource]));
    assert.match(String(recorded[4]!.details.error_description), /only the resource server/, 'the description the client got');
    const everything = JSON.stringify(await server.auth.admin.audit.query({ limit: 1000 }));
    for (const token of [forged, adminToken]) assert.ok(!everything.includes(token.split('.')[2]!), 'no subject token in the audit log');
  });

  test('discovery lists the grant type (oidc-provider advertises registered grants itself)', async () => {
    const metadata = await (await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)).json() as { grant_types_supported: string[] };
    assert.ok(metadata.grant_types_supported.includes(TOKEN_EXCHANGE));
  });

  describe('only the resource server registered for our resource may exchange', () => {
    const cases: Array<[string, () => Promise<Caller | undefined>, number, string]> = [
      // oidc-provider's answer for every grant when no authentication mechanism is present.
      ['no client authentication', async () => undefined, 400, 'invalid_request'],
      ['the resource server with a wrong secret', async () => ({ ...gateway, client_secret: 'wrong' }), 401, 'invalid_client'],
      ['a public static client', async () => staticClient('Public app', { authMethod: 'none' }), 400, 'unauthorized_client'],
      ['a confidential DCR client', async () => owner, 400, 'unauthorized_client'],
      ['a confidential static client that is no resource server', async () => staticClient('Reports app'), 400, 'unauthorized_client'],
      ['a public DCR client', async () => registerClient(server.issuer, CLAUDE_DCR_BODY), 400, 'unauthorized_client'],
      ['a DCR client that registered for the grant with every flag', async () => {
        const response = await register(server.issuer, {
          ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['authorization_code', TOKEN_EXCHANGE], gatehouse_resource_server: RESOURCE, gatehouse_client_kind: 'static', gatehouse_upstream_audiences: [UPSTREAM],
        });
        const registered = await response.json() as RegisteredClient & { grant_types: string[] };
        assert.equal(response.status, 201, JSON.stringify(registered));
        assert.ok(!registered.grant_types.includes(TOKEN_EXCHANGE), JSON.stringify(registered.grant_types));
        return registered;
      }, 400, 'unauthorized_client'],
      ['a resource server marked for another resource (RESOURCE_URL changed since)', async () => {
        const stale = await staticClient('Old gateway', { resourceServer: true, upstreamAudiences: [UPSTREAM] });
        await server.auth.database.run("UPDATE oidc_models SET payload = json_set(payload, '$.gatehouse_resource_server', 'https://old.example/mcp') WHERE model = 'Client' AND id = ?", [stale.client_id]);
        return stale;
      }, 400, 'unauthorized_client'],
    ];
    for (const [label, caller, status, error] of cases) {
      test(`${label}: ${status} ${error}`, async () => {
        const answer = await exchange(await caller(), forUpstream(adminToken));
        assert.equal(answer.status, status, JSON.stringify(answer.body));
        assert.equal(answer.body.error, error);
        assert.equal(answer.body.access_token, undefined);
      });
    }
  });

  describe('the audience must be one upstream on the client\'s list (RFC 8707 §2: invalid_target)', () => {
    const cases: Array<[string, Record<string, string | string[]>]> = [
      ['an upstream not on the list', { resource: 'http://127.0.0.1:3002/mcp' }],
      ['a listed upstream spelled differently', { resource: `${UPSTREAM}/` }],
      ['our own MCP resource', { resource: RESOURCE }],
      ['our own MCP resource with a trailing slash', { resource: `${RESOURCE}/` }],
      ['a path under our MCP resource', { resource: `${RESOURCE}/x` }],
      ['the issuer', { resource: 'ISSUER' }],
      ['the token endpoint', { resource: 'ISSUER/oauth/token' }],
      ['a URL with a fragment', { resource: `${UPSTREAM}#x` }],
      ['not a URL', { resource: 'upstream' }],
      ['no resource', { resource: [] }],
      ['an empty resource', { resource: '' }],
      ['two listed upstreams at once', { resource: [UPSTREAM, OTHER_UPSTREAM] }],
      ['the same upstream twice', { resource: [UPSTREAM, UPSTREAM] }],
    ];
    for (const [label, changes] of cases) {
      test(`${label}: invalid_target`, async () => {
        const resource = [changes.resource!].flat().map((r) => r.replace('ISSUER', server.issuer));
        const answer = await exchange(gateway, forUpstream(adminToken, { resource }));
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error, 'invalid_target');
      });
    }

    test('an admin cannot list our issuer or resource as an upstream, nor give one to a client that is no resource server', async () => {
      const refusals: Array<[string, { resourceServer: boolean; upstreamAudiences: string[] }]> = [
        ['issuer', { resourceServer: true, upstreamAudiences: [server.issuer] }],
        ['resource', { resourceServer: true, upstreamAudiences: [RESOURCE] }],
        ['fragment', { resourceServer: true, upstreamAudiences: [`${UPSTREAM}#a`] }],
        ['ftp', { resourceServer: true, upstreamAudiences: ['ftp://files.example.com/'] }],
        ['not a resource server', { resourceServer: false, upstreamAudiences: [UPSTREAM] }],
      ];
      for (const [label, input] of refusals) {
        await assert.rejects(() => staticClient(`refused ${label}`, input), (err: Error & { status?: number }) => err.status === 400, label);
      }
    });
  });

  describe('the subject token must be a live access token of this server for our resource (invalid_grant)', () => {
    const cases: Array<[string, () => Promise<string>]> = [
      ['an expired token', () => reSigned(adminToken, { exp: Math.floor(Date.now() / 1000) - 5, iat: Math.floor(Date.now() / 1000) - 600 })],
      ['a token for another resource', () => reSigned(adminToken, { aud: 'https://other.example/mcp' })],
      ['a token from another issuer', () => reSigned(adminToken, { iss: 'https://evil.example' })],
      ['a token of a grant that never existed', () => reSigned(adminToken, { gid: 'no-such-grant' })],
      ['a token naming another client than its grant', () => reSigned(adminToken, { client_id: gateway.client_id })],
      ['a token without a grant id', () => reSigned(adminToken, { gid: undefined })],
      ['a token signed by another key with our kid', async () => {
        const { privateKey } = await generateKeyPair('RS256', { extractable: true });
        const { kid } = decodeProtectedHeader(adminToken);
        return new SignJWT(decodeJwt(adminToken)).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid }).sign(await importJWK(await exportJWK(privateKey), 'RS256'));
      }],
      ['a token with typ JWT instead of at+jwt', async () => {
        const key = activeKey(readSigningKeys(join(server.dir, 'keys')))!;
        return new SignJWT(decodeJwt(adminToken)).setProtectedHeader({ alg: 'RS256', kid: key.jwk.kid }).sign(await importJWK(key.jwk, 'RS256'));
      }],
      ['an identity token this server issued for an upstream', async () => (await exchange(gateway, forUpstream(adminToken))).body.access_token as string],
      ['a tampered token', async () => `${adminToken.slice(0, -4)}AAAA`],
      ['not a JWT', async () => 'opaque-token'],
    ];
    for (const [label, subject] of cases) {
      test(`${label}: invalid_grant`, async () => {
        const answer = await exchange(gateway, forUpstream(await subject()));
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error, 'invalid_grant');
        assert.equal(answer.body.access_token, undefined);
      });
    }

    test('a service account\'s own access token (client credentials, no user, no grant): invalid_grant', async () => {
      const service = await server.auth.admin.serviceAccounts.create({ name: 'Nightly report', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
      const issued = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE }, clientSecretBasic(service.clientId, service.clientSecret!));
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      const answer = await exchange(gateway, forUpstream(issued.body.access_token as string));
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_grant');
    });

    test('a token whose grant was revoked: invalid_grant', async () => {
      const token = await userToken('admin', ADMIN_PASSWORD, 'mcp:read');
      assert.equal((await exchange(gateway, forUpstream(token))).status, 200);
      assert.ok(await server.auth.admin.grants.revoke(decodeJwt(token).gid as string, CLI, 'test'));
      const answer = await exchange(gateway, forUpstream(token));
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_grant');
    });

    test('a token of a user disabled since (even with the grant still stored): invalid_grant', async () => {
      await server.auth.admin.users.create({ username: 'bob', password: 'bob password long enough', scopes: ['mcp:read'] }, CLI);
      const token = await userToken('bob', 'bob password long enough', 'mcp:read');
      assert.equal((await exchange(gateway, forUpstream(token))).status, 200);
      const bob = (await server.auth.users.findByUsername('bob'))!;
      await server.auth.users.update(bob.id, { disabled: true });
      try {
        const answer = await exchange(gateway, forUpstream(token));
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error, 'invalid_grant');
      } finally {
        await server.auth.users.update(bob.id, { disabled: false });
      }
    });

    test('a token its own client revoked at /oauth/revoke (on the revocation feed): invalid_grant', async () => {
      const token = await userToken('admin', ADMIN_PASSWORD, 'mcp:read');
      assert.equal((await exchange(gateway, forUpstream(token))).status, 200);
      const revoked = await fetch(`${server.issuer}/oauth/revoke`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: owner.client_id, client_secret: owner.client_secret! }),
      });
      assert.equal(revoked.status, 200);
      const answer = await exchange(gateway, forUpstream(token));
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_grant');
    });

    test('a token of a user an admin disabled: invalid_grant', async () => {
      await server.auth.admin.users.create({ username: 'carol', password: 'carol password long enough', scopes: ['mcp:read'] }, CLI);
      const token = await userToken('carol', 'carol password long enough', 'mcp:read');
      assert.equal((await exchange(gateway, forUpstream(token))).status, 200);
      await server.auth.admin.users.disable('carol', CLI);
      const answer = await exchange(gateway, forUpstream(token));
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_grant');
    });

    test('asking for a scope the subject token lacks: invalid_scope', async () => {
      const readOnly = await userToken('admin', ADMIN_PASSWORD, 'mcp:read');
      for (const scope of ['mcp:write', 'mcp:read mcp:write', 'mcp:admin', 'openid', 'unknown']) {
        const answer = await exchange(gateway, forUpstream(readOnly, { scope }));
        assert.equal(answer.status, 400, `${scope}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error, 'invalid_scope', scope);
      }
    });
  });

  describe('malformed requests: invalid_request, never a 5xx', () => {
    const cases: Array<[string, (subject: string) => Record<string, string | string[]>]> = [
      ['no subject_token', () => ({ subject_token_type: ACCESS_TOKEN_TYPE, resource: UPSTREAM })],
      ['no subject_token_type', (s) => ({ subject_token: s, resource: UPSTREAM })],
      ['a refresh token type', (s) => forUpstream(s, { subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })],
      ['an actor_token', (s) => forUpstream(s, { actor_token: s, actor_token_type: ACCESS_TOKEN_TYPE })],
      ['an audience instead of resource', (s) => forUpstream(s, { audience: 'files' })],
      ['an ID token as requested_token_type', (s) => forUpstream(s, { requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' })],
      ['two subject tokens', (s) => forUpstream(s, { subject_token: [s, s] })],
    ];
    for (const [label, params] of cases) {
      test(`${label}: 400 invalid_request`, async () => {
        const answer = await exchange(gateway, params(adminToken));
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error, 'invalid_request');
      });
    }
  });

  test('the other grants still refuse a resource other than ours before anything is consumed', async () => {
    const answer = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: 'x', resource: UPSTREAM, client_id: owner.client_id, client_secret: owner.client_secret! });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'invalid_target');
  });

  // Last in this suite: it changes the server's keys.
  test('after a key rotation identity tokens are signed by the new active key, like access tokens; a retired key\'s tokens are refused', async () => {
    const before = decodeProtectedHeader(adminToken).kid;
    const active = await server.auth.admin.keys.rotate(CLI);
    assert.notEqual(active.kid, before);
    const answer = await exchange(gateway, forUpstream(adminToken));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const identity = answer.body.access_token as string;
    assert.equal(decodeProtectedHeader(identity).kid, active.kid);
    const fresh = await userToken('admin', ADMIN_PASSWORD, 'mcp:read');
    assert.equal(decodeProtectedHeader(fresh).kid, active.kid);
    await jwtVerify(identity, createRemoteJWKSet(new URL(`${server.issuer}/oauth/jwks`)), { issuer: server.issuer, audience: UPSTREAM, typ: 'at+jwt' });

    await server.auth.admin.keys.retire(before!, { force: true }, CLI);
    const refused = await exchange(gateway, forUpstream(adminToken));
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'invalid_grant');
  });
});

describe('token exchange: the token endpoint\'s rate limit applies', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer({
      configure: (c) => {
        c.authServer.rateLimits = { ...c.authServer.rateLimits, enabled: true, token: { max: 2, window: 3600 } };
      },
    });
  });
  after(() => server.close());

  test('past the limit a token exchange gets 429 like any token request, and a flood of refused ones is audited only up to it', async () => {
    const created = await server.auth.admin.clients.createStatic({
      name: 'Gateway', redirectUris: ['https://rs.example/cb'], authMethod: 'client_secret_basic', resourceServer: true, upstreamAudiences: [UPSTREAM],
    }, CLI);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const answer = await tokenRequest(server.issuer, {
        grant_type: TOKEN_EXCHANGE, subject_token: 'not-a-token', subject_token_type: ACCESS_TOKEN_TYPE, resource: UPSTREAM,
      }, clientSecretBasic(created.clientId, created.clientSecret!));
      statuses.push(answer.status);
    }
    assert.deepEqual(statuses, [400, 400, 429, 429, 429, 429]);
    await server.auth.admin.audit.flush();
    assert.equal((await server.auth.admin.audit.query({ event: 'token.exchange_refused' })).length, 2, 'one row per refusal the limit let through');
  });
});
