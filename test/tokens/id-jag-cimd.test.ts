/**
 * ID-JAG from a client that is not pre-registered: MCP enterprise-managed authorization §5 lets
 * it use its Client ID Metadata Document URL as `client_id` (the IdP stamps that URL into the
 * assertion). The request is the extension's §5 example: `grant_type=urn:ietf:params:oauth:grant-
 * type:jwt-bearer&assertion=…&client_id=https://client.example.com/client.json`, no secret. The
 * document is served over https from 127.0.0.1 with a test certificate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

describe('ID-JAG from a Client ID Metadata Document client', () => {
  let docs: DocumentServer;
  let idp: EnterpriseIdp;
  let server: TestAuthServer;

  before(async () => {
    [docs, idp] = await Promise.all([startDocumentServer(), startEnterpriseIdp('cimd-idp')]);
    server = await startAuthServer({
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure: (config) => {
        config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host];
      },
    });
    await server.auth.admin.trustedIdpAdmin.add({ issuer: idp.issuer, jwks_uri: idp.jwksUri, new_users: 'allow' }, CLI);
  });
  after(async () => {
    await server?.close();
    await Promise.all([docs?.close(), idp?.close()]);
  });

  const document = (clientId: string, grantTypes: string[]) => ({
    client_id: clientId,
    client_name: 'Enterprise MCP client',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  });

  async function present(clientId: string) {
    const assertion = await idp.mint({ aud: server.issuer, client_id: clientId, sub: 'cimd-user', scope: 'mcp:read' });
    const response = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion, client_id: clientId }).toString(),
    });
    return { status: response.status, body: await response.json() as Record<string, unknown> };
  }

  test('a document listing the jwt-bearer grant gets a token for its URL client_id', async () => {
    const clientId = docs.json('/client.json', {});
    docs.json('/client.json', document(clientId, ['authorization_code', 'refresh_token', JWT_BEARER]));
    const answer = await present(clientId);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(decodeJwt(answer.body.access_token as string).client_id, clientId);
    assert.equal(answer.body.refresh_token, undefined);
  });

  test('a document that does not list the grant is unauthorized_client', async () => {
    const clientId = docs.json('/code-only.json', {});
    docs.json('/code-only.json', document(clientId, ['authorization_code', 'refresh_token']));
    const answer = await present(clientId);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'unauthorized_client');
  });
});
