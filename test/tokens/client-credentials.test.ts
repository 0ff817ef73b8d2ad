/**
 * Machine clients (MCP extension `io.modelcontextprotocol/oauth-client-credentials`, RFC 6749
 * §4.4): a service account an administrator created gets an RS256 `at+jwt` for our resource by
 * the client credentials grant, authenticating with private_key_jwt (RFC 7523 §2.2) or a client
 * secret; nobody else gets one. Real auth-server, real crypto, real HTTP, on SQLite and PostgreSQL.
 *
 * The request shapes are the ones the clients send:
 * - the extension's own examples (modelcontextprotocol/ext-auth,
 *   specification/draft/oauth-client-credentials.mdx, "JWT Authentication Example": no
 *   `client_id` in the body, `resource` and `scope`; "Client Secret Authentication Example":
 *   `client_id` and `client_secret` in the body);
 * - the MCP TypeScript SDK 1.32 (`@modelcontextprotocol/sdk/client/auth-extensions.js`):
 *   `createPrivateKeyJwtAuth` signs `{ iss: client_id, sub: client_id, aud: <AS issuer>, exp:
 *   now + 300, iat, jti }` with `typ: JWT`, and `ClientCredentialsProvider` sends the secret as
 *   HTTP Basic (client/auth.js selectClientAuthMethod). Both are used as they are, by importing them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createPrivateKeyJwtAuth } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { CLAUDE_DCR_BODY, clientSecretBasic, register, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface KeyPair { privateKey: CryptoKey; jwk: JWK }

async function keyPair(alg: 'RS256' | 'ES256', kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' } };
}

for (const backend of TEST_BACKENDS) {
  describe(`client credentials for service accounts (${backend})`, () => {
    let server: TestAuthServer;
    let rsaKey: KeyPair;
    let ecKey: KeyPair;
    let jwtService: string;
    let secretService: { clientId: string; clientSecret: string };

    /** What the MCP SDK's createPrivateKeyJwtAuth adds to the body, unchanged. */
    async function sdkAssertion(clientId: string, key: KeyPair, alg: 'RS256' | 'ES256' = 'RS256'): Promise<URLSearchParams> {
      const params = new URLSearchParams();
      const addAuth = createPrivateKeyJwtAuth({ issuer: clientId, subject: clientId, privateKey: await exportJWK(key.privateKey), alg });
      await addAuth(new Headers(), params, `${server.issuer}/oauth/token`, { issuer: server.issuer } as never);
      return params;
    }

    async function assertion(clientId: string, key: KeyPair, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: clientId, sub: clientId, aud: server.issuer, iat: now, exp: now + 60, jti: crypto.randomUUID(), ...claims })
        .setProtectedHeader({ alg: key.jwk.alg!, typ: 'JWT', kid: key.jwk.kid, ...header })
        .sign(key.privateKey);
    }

    function jwtRequest(token: string, extra: Record<string, string> = {}) {
      return tokenRequest(server.issuer, {
        grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: token, resource: RESOURCE, ...extra,
      });
    }

    before(async () => {
      server = await startAuthServer({ backend });
      rsaKey = await keyPair('RS256', 'rsa-1');
      ecKey = await keyPair('ES256', 'ec-1');
      ({ clientId: jwtService } = await server.auth.admin.serviceAccounts.create({
        name: 'Nightly report', authMethod: 'private_key_jwt', scopes: ['mcp:read', 'mcp:write'],
        jwks: JSON.stringify({ keys: [rsaKey.jwk, ecKey.jwk] }),
      }, CLI));
      const created = await server.auth.admin.serviceAccounts.create({ name: 'Backup job', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
      secretService = { clientId: created.clientId, clientSecret: created.clientSecret! };
    });
    after(() => server.close());

    test('the AS metadata advertises the grant, private_key_jwt and its signing algorithms', async () => {
      const metadata = await (await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, string[]>;
      assert.ok(metadata.grant_types_supported!.includes('client_credentials'));
      assert.ok(metadata.token_endpoint_auth_methods_supported!.includes('private_key_jwt'));
      assert.ok(metadata.token_endpoint_auth_methods_supported!.includes('client_secret_basic'));
      assert.deepEqual(metadata.token_endpoint_auth_signing_alg_values_supported, ['RS256', 'ES256']);
    });

    test('private_key_jwt as the MCP SDK signs it: an RS256 at+jwt for our resource, naming the service, no refresh token', async () => {
      const params = await sdkAssertion(jwtService, rsaKey);
      assert.equal(params.get('client_id'), null, 'the SDK sends no client_id (RFC 7523 §3)');
      const answer = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE, scope: 'mcp:read', ...Object.fromEntries(params) });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.token_type, 'Bearer');
      assert.equal(answer.body.scope, 'mcp:read');
      assert.equal(answer.body.refresh_token, undefined, 'RFC 6749 §4.4.3: no refresh token');
      const { jwtVerify } = await import('jose');
      const { payload, protectedHeader } = await jwtVerify(answer.body.access_token as string, createRemoteJWKSet(new URL(`${server.issuer}/oauth/jwks`)), {
        issuer: server.issuer, audience: RESOURCE, typ: 'at+jwt', algorithms: ['RS256'],
      });
      assert.equal(protectedHeader.alg, 'RS256');
      assert.equal(payload.sub, jwtService);
      assert.equal(payload.client_id, jwtService);
      assert.equal(payload.scope, 'mcp:read');
      assert.equal(payload.gatehouse_service, 'Nightly report');
      assert.equal(payload.gid, undefined);
    });

    test('ES256 assertions verify against the EC key', async () => {
      const answer = await jwtRequest(await assertion(jwtService, ecKey));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    });

    test('without scope the token carries all of the service account\'s scopes (RFC 6749 §3.3)', async () => {
      const answer = await jwtRequest(await assertion(jwtService, rsaKey));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(decodeJwt(answer.body.access_token as string).scope, 'mcp:read mcp:write');
    });

    test('without resource the token is still bound to our resource', async () => {
      const answer = await tokenRequest(server.issuer, { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(jwtService, rsaKey) });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(decodeJwt(answer.body.access_token as string).aud, RESOURCE);
    });

    test('client_secret_basic as the MCP SDK sends it, and the secret in the body as the extension\'s example does', async () => {
      const basic = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE, scope: 'mcp:read' }, clientSecretBasic(secretService.clientId, secretService.clientSecret));
      assert.equal(basic.status, 200, JSON.stringify(basic.body));
      assert.equal(decodeJwt(basic.body.access_token as string).sub, secretService.clientId);
      const inBody = await tokenRequest(server.issuer, {
        grant_type: 'client_credentials', client_id: secretService.clientId, client_secret: secretService.clientSecret, resource: RESOURCE, scope: 'mcp:read',
      });
      assert.equal(inBody.status, 200, JSON.stringify(inBody.body));
      assert.equal(inBody.body.refresh_token, undefined);
    });

    test('issuance is audited: token.issued, actor service, the service account as client, scope and resource', async () => {
      const answer = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE, scope: 'mcp:read' }, clientSecretBasic(secretService.clientId, secretService.clientSecret));
      assert.equal(answer.status, 200);
      await server.auth.admin.audit.flush();
      const events = await server.auth.admin.audit.query({ event: 'token.issued' });
      const event = events.find((e) => e.clientId === secretService.clientId);
      assert.ok(event, JSON.stringify(events));
      assert.equal(event.actor, 'service');
      assert.deepEqual([event.details.grant_type, event.details.scope, event.details.resource, event.details.refresh_token_issued], ['client_credentials', 'mcp:read', RESOURCE, false]);
    });

    test('the secret is stored hashed, never in plain', async () => {
      const stored = await server.auth.admin.clients.find(secretService.clientId);
      assert.ok(stored);
      const rows = JSON.stringify(await server.auth.database.all('SELECT payload FROM oidc_models WHERE model = ?', ['Client']));
      assert.ok(!rows.includes(secretService.clientSecret));
    });

    test('a replayed assertion jti is refused, also when two requests race with it', async () => {
      const token = await assertion(jwtService, rsaKey);
      const first = await jwtRequest(token);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const again = await jwtRequest(token);
      assert.equal(again.status, 401);
      assert.equal(again.body.error, 'invalid_client');

      const raced = await assertion(jwtService, rsaKey);
      const answers = await Promise.all(Array.from({ length: 6 }, () => jwtRequest(raced)));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401, 401, 401, 401, 401], JSON.stringify(answers.map((a) => a.body)));
    });

    describe('refusals', () => {
      let dcrPublic: { client_id: string };
      let dcrConfidential: { client_id: string; client_secret?: string };
      let otherKey: KeyPair;

      before(async () => {
        dcrPublic = await registerClient(server.issuer);
        dcrConfidential = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
        otherKey = await keyPair('RS256', 'rsa-1');
      });

      test('a DCR request asking for client_credentials is refused at registration', async () => {
        for (const grantTypes of [['client_credentials'], ['authorization_code', 'client_credentials']]) {
          const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_basic', grant_types: grantTypes });
          const body = await response.json() as Record<string, unknown>;
          assert.equal(response.status, 400, JSON.stringify(body));
          assert.equal(body.error, 'invalid_client_metadata');
        }
      });

      const now = () => Math.floor(Date.now() / 1000);
      const cases: Array<{ name: string; status: number; error: string; request: () => Promise<{ status: number; body: Record<string, unknown> }> }> = [
        { name: 'a DCR confidential client', status: 400, error: 'unauthorized_client',
          request: () => tokenRequest(server.issuer, { grant_type: 'client_credentials', client_id: dcrConfidential.client_id, client_secret: dcrConfidential.client_secret!, resource: RESOURCE }) },
        { name: 'a DCR public client', status: 400, error: 'unauthorized_client',
          request: () => tokenRequest(server.issuer, { grant_type: 'client_credentials', client_id: dcrPublic.client_id, resource: RESOURCE }) },
        { name: 'a wrong secret', status: 401, error: 'invalid_client',
          request: () => tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE }, clientSecretBasic(secretService.clientId, 'not-the-secret')) },
        { name: 'no client authentication', status: 400, error: 'invalid_request',
          request: () => tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE }) },
        { name: 'an assertion signed with an unregistered key', status: 401, error: 'invalid_client',
          request: async () => jwtRequest(await assertion(jwtService, otherKey)) },
        { name: 'an assertion for another audience', status: 401, error: 'invalid_client',
          request: async () => jwtRequest(await assertion(jwtService, rsaKey, { aud: 'https://other-as.example.com' })) },
        { name: 'an expired assertion', status: 401, error: 'invalid_client',
          request: async () => jwtRequest(await assertion(jwtService, rsaKey, { iat: now() - 600, exp: now() - 300 })) },
        { name: 'an assertion without exp', status: 401, error: 'invalid_client',
          request: async () => jwtRequest(await assertion(jwtService, rsaKey, { exp: undefined })) },
        { name: 'an assertion whose iss is another client', status: 401, error: 'invalid_client',
          request: async () => jwtRequest(await assertion(jwtService, rsaKey, { iss: secretService.clientId })) },
        { name: 'an HS256 assertion keyed with the client id', status: 401, error: 'invalid_client',
          request: async () => {
            const token = await new SignJWT({ iss: jwtService, sub: jwtService, aud: server.issuer, iat: now(), exp: now() + 60, jti: crypto.randomUUID() })
              .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(jwtService.padEnd(32, '!')));
            return jwtRequest(token);
          } },
        { name: 'an unsigned (alg none) assertion', status: 401, error: 'invalid_client',
          request: async () => {
            const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
            return jwtRequest(`${encode({ alg: 'none' })}.${encode({ iss: jwtService, sub: jwtService, aud: server.issuer, exp: now() + 60, jti: 'x' })}.`);
          } },
        { name: 'a client_secret_basic account presenting an assertion', status: 401, error: 'invalid_client',
          request: async () => jwtRequest(await assertion(secretService.clientId, rsaKey)) },
        { name: 'a scope beyond the service account\'s', status: 400, error: 'invalid_scope',
          request: async () => jwtRequest(await assertion(jwtService, rsaKey), { scope: 'mcp:read mcp:admin' }) },
        { name: 'an unknown scope', status: 400, error: 'invalid_scope',
          request: async () => jwtRequest(await assertion(jwtService, rsaKey), { scope: 'mcp:read tools:everything' }) },
        { name: 'an OpenID scope', status: 400, error: 'invalid_scope',
          request: async () => jwtRequest(await assertion(jwtService, rsaKey), { scope: 'openid' }) },
        { name: 'another resource', status: 400, error: 'invalid_target',
          request: async () => jwtRequest(await assertion(jwtService, rsaKey), { resource: 'https://elsewhere.example.com/mcp' }) },
        // The provider's own answer for any client asking for a grant it lacks (kept, see answer-unauthorized-client.ts).
        { name: 'a refresh_token grant by a service account', status: 400, error: 'invalid_request',
          request: async () => tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: 'x' }, clientSecretBasic(secretService.clientId, secretService.clientSecret)) },
      ];

      for (const { name, status, error, request } of cases) {
        test(`refuses ${name} with ${status} ${error}`, async () => {
          const answer = await request();
          assert.equal(answer.status, status, JSON.stringify(answer.body));
          assert.equal(answer.body.error, error, JSON.stringify(answer.body));
          assert.equal(answer.body.access_token, undefined);
          assert.ok(!JSON.stringify(answer.body).includes('    at '), 'no stack trace');
        });
      }

      test('a stored DCR client edited to list client_credentials still gets unauthorized_client', async () => {
        const edited = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
        const row = await server.auth.database.get<{ payload: string }>("SELECT payload FROM oidc_models WHERE model = 'Client' AND id = ?", [edited.client_id]);
        const payload = JSON.parse(row!.payload) as Record<string, unknown>;
        payload.grant_types = ['authorization_code', 'refresh_token', 'client_credentials'];
        payload.scope = 'mcp:read';
        await server.auth.database.run("UPDATE oidc_models SET payload = ? WHERE model = 'Client' AND id = ?", [JSON.stringify(payload), edited.client_id]);
        const answer = await tokenRequest(server.issuer, { grant_type: 'client_credentials', client_id: edited.client_id, client_secret: edited.client_secret!, resource: RESOURCE });
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error, 'unauthorized_client');
      });

      test('a disabled service account gets unauthorized_client; enabled again, it gets tokens', async () => {
        const { clientId, clientSecret } = await server.auth.admin.serviceAccounts.create({ name: 'Paused job', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
        const ask = () => tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE }, clientSecretBasic(clientId, clientSecret!));
        assert.equal((await ask()).status, 200);
        await server.auth.admin.serviceAccounts.setDisabled(clientId, true, CLI);
        const refused = await ask();
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.error, 'unauthorized_client');
        assert.match(String(refused.body.error_description), /disabled/);
        await server.auth.admin.serviceAccounts.setDisabled(clientId, false, CLI);
        assert.equal((await ask()).status, 200);
      });

      test('a deleted service account is an unknown client', async () => {
        const { clientId, clientSecret } = await server.auth.admin.serviceAccounts.create({ name: 'Gone job', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
        await server.auth.admin.clients.remove(clientId, CLI);
        const answer = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE }, clientSecretBasic(clientId, clientSecret!));
        assert.equal(answer.status, 401);
        assert.equal(answer.body.error, 'invalid_client');
      });

      test('narrowing a service account\'s scopes narrows its next tokens', async () => {
        const { clientId, clientSecret } = await server.auth.admin.serviceAccounts.create({ name: 'Narrowed job', authMethod: 'client_secret_basic', scopes: ['mcp:read', 'mcp:write'] }, CLI);
        await server.auth.admin.serviceAccounts.setScopes(clientId, ['mcp:read'], CLI);
        const wide = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE, scope: 'mcp:write' }, clientSecretBasic(clientId, clientSecret!));
        assert.equal(wide.body.error, 'invalid_scope');
        const plain = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE }, clientSecretBasic(clientId, clientSecret!));
        assert.equal(decodeJwt(plain.body.access_token as string).scope, 'mcp:read');
      });
    });
  });
}
