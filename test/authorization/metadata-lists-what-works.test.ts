/**
 * The authorization server metadata (RFC 8414, `/.well-known/oauth-authorization-server`) lists
 * what works, no more and no less. Each advertised grant type and token endpoint authentication
 * method has an exerciser below: a real client making a real token request that must get an access
 * token. The advertised lists must equal the exercisers' keys, so a grant advertised without a
 * working exerciser fails here, and so does one that works but is not advertised. Signing
 * algorithms, PKCE methods, response types, CIMD and the ID-JAG profile are held to the same rule.
 *
 * SQLite only: the metadata does not depend on the storage backend (the token paths themselves
 * run on both backends in tokens/).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { trustedIdpEntry } from '../../apps/shared/config/id-jag-section.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import {
  CLAUDE_CALLBACK, CLAUDE_DCR_BODY, clientSecretBasic, connect, redeem, refresh, registerClient, startAuthorization, tokenRequest,
  type RegisteredClient,
} from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';
import { ClientKey, JWT_BEARER_ASSERTION, type ClientKeyAlg } from '../registration/support/chatgpt-client.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const ID_JAG_PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag';
const UPSTREAM = 'http://127.0.0.1:3001/mcp';

type TokenAnswer = { status: number; body: Record<string, unknown> };
type Exerciser = () => Promise<TokenAnswer>;

async function metadataOf(server: TestAuthServer, path = '/.well-known/oauth-authorization-server'): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.issuer}${path}`);
  assert.equal(response.status, 200);
  return await response.json() as Record<string, unknown>;
}

const sorted = (values: unknown) => [...values as string[]].sort();

function assertToken(answer: TokenAnswer): void {
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(typeof answer.body.access_token, 'string', JSON.stringify(answer.body));
}

describe('AS metadata lists what works, with a trusted enterprise IdP', () => {
  let server: TestAuthServer;
  let idp: EnterpriseIdp;
  let docs: DocumentServer;
  let resource: string;
  let tokenEndpoint: string;
  let publicClient: RegisteredClient;
  let basicClient: RegisteredClient;
  let postClient: RegisteredClient;
  let secretService: { clientId: string; clientSecret: string };
  let keyService: { clientId: string; key: ClientKey };
  let gateway: { clientId: string; clientSecret: string };
  let enterpriseAgent: { clientId: string; clientSecret: string };

  /** Authorize → sign in → approve → redeem the code as `client`, authenticating with `extra` fields or `headers`. */
  async function codeFlow(client: RegisteredClient, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<TokenAnswer> {
    const flow = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource, username: 'admin', password: ADMIN_PASSWORD });
    return tokenRequest(server.issuer, {
      grant_type: 'authorization_code', client_id: client.client_id, code: flow.code, code_verifier: flow.verifier, redirect_uri: flow.redirectUri, ...extra,
    }, headers);
  }

  async function userAccessToken(): Promise<string> {
    const answer = await codeFlow(publicClient);
    assertToken(answer);
    return answer.body.access_token as string;
  }

  /** One row per grant type: a successful token request with it. */
  const grants: Record<string, Exerciser> = {
    authorization_code: () => codeFlow(publicClient),
    refresh_token: async () => {
      const first = await codeFlow(publicClient);
      assert.equal(typeof first.body.refresh_token, 'string', JSON.stringify(first.body));
      return refresh(server.issuer, publicClient, first.body.refresh_token as string);
    },
    client_credentials: () => tokenRequest(server.issuer, { grant_type: 'client_credentials', resource }, clientSecretBasic(secretService.clientId, secretService.clientSecret)),
    // The resource server trades a caller's token for an identity token for one upstream (gateway/token-exchange.test.ts).
    [TOKEN_EXCHANGE]: async () => tokenRequest(server.issuer, {
      grant_type: TOKEN_EXCHANGE, subject_token: await userAccessToken(), subject_token_type: ACCESS_TOKEN_TYPE, resource: UPSTREAM,
    }, clientSecretBasic(gateway.clientId, gateway.clientSecret)),
    // The MCP SDK's exchangeJwtAuthGrant request (tokens/id-jag.test.ts).
    [JWT_BEARER]: async () => tokenRequest(server.issuer, {
      grant_type: JWT_BEARER,
      assertion: await idp.mint({ aud: server.issuer, client_id: enterpriseAgent.clientId, sub: 'metadata-user', resource, scope: 'mcp:read' }),
    }, clientSecretBasic(enterpriseAgent.clientId, enterpriseAgent.clientSecret)),
  };

  /** One row per token endpoint authentication method: a client registered for it gets a token. */
  const authMethods: Record<string, Exerciser> = {
    none: () => codeFlow(publicClient),
    client_secret_basic: () => codeFlow(basicClient, {}, clientSecretBasic(basicClient.client_id, basicClient.client_secret!)),
    client_secret_post: () => codeFlow(postClient, { client_secret: postClient.client_secret! }),
    private_key_jwt: async () => tokenRequest(server.issuer, {
      grant_type: 'client_credentials', resource, ...await keyService.key.authParams(keyService.clientId, tokenEndpoint),
    }),
  };

  before(async () => {
    [idp, docs] = await Promise.all([startEnterpriseIdp('metadata-idp'), startDocumentServer()]);
    server = await startAuthServer({
      // The IdP's JWKS and the CIMD documents are on 127.0.0.1, which the SSRF guard refuses outside tests.
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure(config) {
        config.authServer.idJag.trustedIdps = [trustedIdpEntry.parse({ id: 'metadata-idp', issuer: idp.issuer, jwks_uri: idp.jwksUri, new_users: 'allow' })];
        config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host];
      },
    });
    resource = server.config.authServer.resource;
    tokenEndpoint = `${server.issuer}/oauth/token`;
    publicClient = await registerClient(server.issuer);
    basicClient = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_basic' });
    postClient = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
    assert.equal(basicClient.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(postClient.token_endpoint_auth_method, 'client_secret_post');

    const secret = await server.auth.admin.serviceAccounts.create({ name: 'Backup job', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
    secretService = { clientId: secret.clientId, clientSecret: secret.clientSecret! };
    const key = await ClientKey.generate('RS256');
    const keyed = await server.auth.admin.serviceAccounts.create({ name: 'Nightly report', authMethod: 'private_key_jwt', scopes: ['mcp:read'], jwks: JSON.stringify(key.jwks()) }, CLI);
    keyService = { clientId: keyed.clientId, key };

    const staticClient = async (name: string, options: { resourceServer?: boolean; upstreamAudiences?: string[]; idJag?: boolean }) => {
      const created = await server.auth.admin.clients.createStatic({ name, redirectUris: ['https://agent.example/cb'], authMethod: 'client_secret_basic', ...options }, CLI);
      return { clientId: created.clientId, clientSecret: created.clientSecret! };
    };
    gateway = await staticClient('Gatehouse gateway', { resourceServer: true, upstreamAudiences: [UPSTREAM] });
    enterpriseAgent = await staticClient('Enterprise agent', { idJag: true });
  });

  after(async () => {
    await server?.close();
    await Promise.all([idp?.close(), docs?.close()]);
  });

  test('grant_types_supported is exactly the grants exercised below', async () => {
    assert.deepEqual(sorted((await metadataOf(server)).grant_types_supported), Object.keys(grants).sort());
  });

  test('token_endpoint_auth_methods_supported is exactly the methods exercised below', async () => {
    assert.deepEqual(sorted((await metadataOf(server)).token_endpoint_auth_methods_supported), Object.keys(authMethods).sort());
  });

  test('revocation_endpoint_auth_methods_supported is listed (RFC 8414 defaults it to client_secret_basic alone), and each method revokes', async () => {
    const metadata = await metadataOf(server);
    const advertised = metadata.revocation_endpoint_auth_methods_supported as string[] | undefined;
    assert.deepEqual(sorted(advertised ?? ['client_secret_basic']), Object.keys(authMethods).sort(), 'the revocation endpoint takes the token endpoint\'s methods');
    assert.deepEqual(metadata.revocation_endpoint_auth_signing_alg_values_supported, metadata.token_endpoint_auth_signing_alg_values_supported, 'and its signing algorithms');
    const revokeEndpoint = `${server.issuer}/oauth/revoke`;
    // RFC 7009 §2.2: an unknown token is answered 200, so a 200 says the client authentication passed.
    const revoke = async (params: Record<string, string>, headers: Record<string, string> = {}) => {
      const response = await fetch(revokeEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ token: 'not-a-token', ...params }) });
      return `${response.status} ${await response.text()}`;
    };
    const revokers: Record<string, () => Promise<string>> = {
      none: () => revoke({ client_id: publicClient.client_id }),
      client_secret_basic: () => revoke({}, clientSecretBasic(basicClient.client_id, basicClient.client_secret!)),
      client_secret_post: () => revoke({ client_id: postClient.client_id, client_secret: postClient.client_secret! }),
      private_key_jwt: async () => revoke(await keyService.key.authParams(keyService.clientId, server.issuer)),
    };
    for (const method of advertised ?? []) {
      assert.ok(method in revokers, `${method} is advertised but nothing here revokes with it`);
      assert.equal(await revokers[method]!(), '200 ', `a client authenticating with ${method} revokes`);
    }
  });

  test('the OpenID Connect discovery document advertises the same grants, methods and algorithms', async () => {
    const [oauth, openid] = await Promise.all([metadataOf(server), metadataOf(server, '/.well-known/openid-configuration')]);
    for (const field of ['grant_types_supported', 'token_endpoint_auth_methods_supported', 'token_endpoint_auth_signing_alg_values_supported', 'revocation_endpoint_auth_methods_supported',
      'code_challenge_methods_supported', 'response_types_supported', 'authorization_grant_profiles_supported', 'client_id_metadata_document_supported']) {
      assert.deepEqual(openid[field], oauth[field], field);
    }
  });

  for (const [grant, exercise] of Object.entries(grants)) {
    test(`grant ${grant}: a real token request gets an access token`, async () => {
      assertToken(await exercise());
    });
  }

  for (const [method, exercise] of Object.entries(authMethods)) {
    test(`auth method ${method}: a client registered for it gets an access token`, async () => {
      assertToken(await exercise());
    });
  }

  describe('token_endpoint_auth_signing_alg_values_supported is exactly what a private_key_jwt assertion is accepted with', () => {
    /** A service account registered with a key for `alg`, presenting an assertion signed with it. */
    const withKeyFor = (alg: ClientKeyAlg): Exerciser => async () => {
      const key = await ClientKey.generate(alg);
      const { clientId } = await server.auth.admin.serviceAccounts.create({ name: `${alg} job`, authMethod: 'private_key_jwt', scopes: ['mcp:read'], jwks: JSON.stringify(key.jwks()) }, CLI);
      return tokenRequest(server.issuer, { grant_type: 'client_credentials', resource, ...await key.authParams(clientId, tokenEndpoint) });
    };
    const signers: Record<string, Exerciser> = {
      RS256: withKeyFor('RS256'),
      ES256: withKeyFor('ES256'),
      // An RSA key the admin registered, used with the algorithm the server does not list.
      PS256: withKeyFor('PS256'),
      // HMAC keyed with what an attacker can read: the account's published JWK Set.
      HS256: async () => {
        const now = Math.floor(Date.now() / 1000);
        const assertion = await new SignJWT({ jti: crypto.randomUUID() }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setIssuer(keyService.clientId).setSubject(keyService.clientId).setAudience(tokenEndpoint).setIssuedAt(now).setExpirationTime(now + 60)
          .sign(new TextEncoder().encode(JSON.stringify(keyService.key.jwks())));
        return tokenRequest(server.issuer, { grant_type: 'client_credentials', resource, client_id: keyService.clientId, client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion });
      },
    };

    test('the advertised algorithms are RS256 and ES256, each with a signer below', async () => {
      const advertised = (await metadataOf(server)).token_endpoint_auth_signing_alg_values_supported as string[];
      assert.deepEqual(sorted(advertised), ['ES256', 'RS256']);
      for (const alg of advertised) assert.ok(alg in signers, `${alg} is advertised but nothing here signs with it`);
    });

    for (const [alg, exercise] of Object.entries(signers)) {
      test(`an assertion signed with ${alg} is accepted exactly when ${alg} is advertised`, async () => {
        const advertised = (await metadataOf(server)).token_endpoint_auth_signing_alg_values_supported as string[];
        const answer = await exercise();
        if (advertised.includes(alg)) {
          assertToken(answer);
        } else {
          assert.equal(answer.status, 401, JSON.stringify(answer.body));
          assert.equal(answer.body.error, 'invalid_client');
          assert.equal(answer.body.access_token, undefined);
        }
      });
    }
  });

  test('code_challenge_methods_supported is ["S256"]: S256 gets a code (authorization_code above), plain is refused', async () => {
    assert.deepEqual((await metadataOf(server)).code_challenge_methods_supported, ['S256']);
    const { page } = await startAuthorization(server.issuer, { clientId: publicClient.client_id, scope: 'mcp:read', resource, codeChallengeMethod: 'plain' });
    assert.ok(page.status >= 300 && page.status < 400, `expected a redirect to the client, got ${page.status}`);
    const callback = new URL(page.url);
    assert.equal(`${callback.origin}${callback.pathname}`, CLAUDE_CALLBACK);
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
    assert.equal(callback.searchParams.get('code'), null);
  });

  test('response_types_supported is ["code"]: response_type=token is refused', async () => {
    assert.deepEqual((await metadataOf(server)).response_types_supported, ['code']);
    const { page } = await startAuthorization(server.issuer, { clientId: publicClient.client_id, scope: 'mcp:read', resource, extra: { response_type: 'token' } });
    const location = new URL(page.url);
    const answer = new URLSearchParams(location.hash ? location.hash.slice(1) : location.search);
    assert.equal(answer.get('error'), 'unsupported_response_type', page.url);
    assert.equal(answer.get('access_token'), null);
  });

  test('authorization_grant_profiles_supported lists the ID-JAG profile, and the jwt-bearer grant is listed beside it', async () => {
    const metadata = await metadataOf(server);
    assert.deepEqual(metadata.authorization_grant_profiles_supported, [ID_JAG_PROFILE]);
    assert.ok((metadata.grant_types_supported as string[]).includes(JWT_BEARER));
  });

  test('client_id_metadata_document_supported is true, and a client whose client_id is its document URL gets a token', async () => {
    assert.equal((await metadataOf(server)).client_id_metadata_document_supported, true);
    const clientId = docs.json('/metadata-client.json', {});
    docs.json('/metadata-client.json', {
      client_id: clientId, client_name: 'CIMD client', redirect_uris: [CLAUDE_CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none',
    });
    const flow = await connect(server.issuer, { clientId, scope: 'mcp:read', resource, username: 'admin', password: ADMIN_PASSWORD });
    assertToken(await redeem(server.issuer, { client_id: clientId }, flow));
  });
});

describe('AS metadata lists what works, with no trusted IdP', () => {
  let server: TestAuthServer;
  let idp: EnterpriseIdp;
  before(async () => {
    idp = await startEnterpriseIdp('untrusted-idp');
    server = await startAuthServer();
  });
  after(async () => {
    await server?.close();
    await idp?.close();
  });

  test('neither the jwt-bearer grant nor the ID-JAG profile is advertised', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const metadata = await metadataOf(server, path);
      assert.deepEqual(sorted(metadata.grant_types_supported), ['authorization_code', 'client_credentials', 'refresh_token', TOKEN_EXCHANGE], path);
      assert.equal(metadata.authorization_grant_profiles_supported, undefined, path);
    }
  });

  test('a jwt-bearer request gets 400 unsupported_grant_type', async () => {
    const created = await server.auth.admin.clients.createStatic({ name: 'Enterprise agent', redirectUris: ['https://agent.example/cb'], authMethod: 'client_secret_basic', idJag: true }, CLI);
    const assertion = await idp.mint({ aud: server.issuer, client_id: created.clientId, sub: 'someone', resource: server.config.authServer.resource, scope: 'mcp:read' });
    const answer = await tokenRequest(server.issuer, { grant_type: JWT_BEARER, assertion }, clientSecretBasic(created.clientId, created.clientSecret!));
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'unsupported_grant_type');
    assert.equal(answer.body.access_token, undefined);
  });
});
