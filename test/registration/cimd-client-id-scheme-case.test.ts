/**
 * A Client ID Metadata Document's client_id whose scheme is not written in lower case
 * (`HTTPS://…`). oidc-provider takes such an id for a document URL (its test reads the scheme in
 * any case) and fetched it, while Gatehouse's rules for documents checked `https://` case by case
 * and skipped it: the document's own gatehouse_* fields were kept, so anyone could publish one
 * that made itself a service account and take a client_credentials token with mcp:admin, and its
 * errors at /oauth/authorize went straight to any redirect URI it listed.
 *
 * Now such an id is never fetched (one document, one client id), and the rules for documents
 * apply to every id the provider could take for one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isMetadataDocumentClientId } from '../../apps/auth-server/src/registration/client-metadata-policy.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { authorizeUrl, tokenRequest } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { ClientKey } from './support/chatgpt-client.ts';

const RESOURCE = 'http://localhost:4001/mcp';
/** A page of the document author's choosing. */
const LANDING = 'https://attacker.example/fake-sign-in';

describe('client ids whose scheme is not lower case', () => {
  let docs: DocumentServer;
  let server: TestAuthServer;
  let key: ClientKey;

  before(async () => {
    docs = await startDocumentServer();
    // Trusted hosts at their default (Claude's) and untrusted hosts at `warn`: the document's
    // host is anyone's. Loopback and the test CA only because the document server is local.
    server = await startAuthServer({ metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca } });
    key = await ClientKey.generate('RS256');
  });
  after(async () => {
    await server?.close();
    await docs?.close();
  });

  /** Publishes a document that asks to be a service account with every scope, under `scheme`. */
  function publishServiceAccount(scheme: string, path: string): string {
    const clientId = `${scheme}://${new URL(docs.origin).host}${path}`;
    docs.json(path, {
      client_id: clientId,
      client_name: 'Totally legit',
      redirect_uris: ['https://attacker.example/cb'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: key.jwks(),
      grant_types: ['client_credentials', 'authorization_code'],
      response_types: ['code'],
      scope: 'mcp:read mcp:write mcp:admin',
      gatehouse_client_kind: 'static',
      gatehouse_service_account: true,
    });
    return clientId;
  }

  async function clientCredentials(clientId: string) {
    return tokenRequest(server.issuer, { grant_type: 'client_credentials', scope: 'mcp:admin', resource: RESOURCE, ...await key.authParams(clientId, `${server.issuer}/oauth/token`) });
  }

  test('control: the same document under https:// is fetched and refused the grant', async () => {
    const clientId = publishServiceAccount('https', '/lower/client.json');
    const res = await clientCredentials(clientId);
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'unauthorized_client');
    assert.equal(res.body.access_token, undefined);
    assert.equal(docs.hits.get('/lower/client.json'), 1, 'the document was fetched');
  });

  for (const scheme of ['HTTPS', 'Https', 'hTTpS']) {
    test(`${scheme}://: no client_credentials token, and the document is never fetched`, async () => {
      const path = `/${scheme}/client.json`;
      const res = await clientCredentials(publishServiceAccount(scheme, path));
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error, 'invalid_client');
      assert.equal(res.body.access_token, undefined);
      assert.equal(docs.hits.get(path), undefined);
    });

    test(`${scheme}://: an error at /oauth/authorize is not sent to the document's redirect URI`, async () => {
      const path = `/${scheme}/app.json`;
      const clientId = `${scheme}://${new URL(docs.origin).host}${path}`;
      docs.json(path, { client_id: clientId, client_name: 'App', redirect_uris: [LANDING], token_endpoint_auth_method: 'none' });
      const url = authorizeUrl(server.issuer, { clientId, redirectUri: LANDING, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge);
      url.searchParams.set('prompt', 'none');
      const res = await fetch(url, { redirect: 'manual' });
      await res.text();
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
    });
  }
});

test('the rules for documents apply to every id the provider takes for a document URL', () => {
  const cases: Array<[unknown, boolean]> = [
    ['https://app.example/client.json', true],
    ['HTTPS://app.example/client.json', true],
    ['Https://app.example/client.json', true],
    ['http://app.example/client.json', false],
    ['https:/app.example/client.json', false],
    ['urn:example:client', false],
    ['tU1UVEq8rRTKa9P2', false],
    [' https://app.example/client.json', false],
    [undefined, false],
    [42, false],
  ];
  for (const [clientId, expected] of cases) assert.equal(isMetadataDocumentClientId(clientId), expected, String(clientId));
});
