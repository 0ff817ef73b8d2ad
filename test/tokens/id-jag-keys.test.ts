/**
 * Where the ID-JAG signature keys come from: a trusted IdP's `jwks_uri` is fetched through the
 * SSRF guard of client metadata documents (cimd/create-metadata-fetch.ts), so an IdP entry
 * pointing at a loopback or private address gets nothing fetched and the exchange is refused with
 * invalid_grant, not a 5xx; a fetched key set is cached across exchanges.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { assertNoStackTrace, clientSecretBasic } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

async function present(server: TestAuthServer, agent: { client_id: string; client_secret: string }, assertion: string) {
  const response = await fetch(`${server.issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...clientSecretBasic(agent.client_id, agent.client_secret) },
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

async function agentOf(server: TestAuthServer) {
  const created = await server.auth.admin.clients.createStatic({ name: 'agent', redirectUris: ['https://agent.example/cb'], authMethod: 'client_secret_basic', idJag: true }, CLI);
  return { client_id: created.clientId, client_secret: created.clientSecret! };
}

describe('ID-JAG signature keys', () => {
  let idp: EnterpriseIdp;
  before(async () => {
    idp = await startEnterpriseIdp('keys');
  });
  after(() => idp?.close());

  test('a jwks_uri on a loopback address is never fetched (SSRF guard): invalid_grant, no 5xx', async () => {
    const server = await startAuthServer();
    try {
      const agent = await agentOf(server);
      await server.auth.admin.trustedIdpAdmin.add({ issuer: idp.issuer, jwks_uri: idp.jwksUri, new_users: 'allow' }, CLI);
      const before = idp.jwksFetches();
      const answer = await present(server, agent, await idp.mint({ aud: server.issuer, client_id: agent.client_id, sub: 'u', scope: 'mcp:read' }));
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.body.error, 'invalid_grant');
      assert.match(String(answer.body.error_description), /signing keys could not be loaded/);
      assertNoStackTrace(answer.text, 'the refusal');
      assert.equal(idp.jwksFetches(), before, 'nothing was fetched from 127.0.0.1');
    } finally {
      await server.close();
    }
  });

  test('the key set is fetched once for several exchanges', async () => {
    const server = await startAuthServer({ metadataFetch: { dangerouslyAllowLoopback: true } });
    try {
      const agent = await agentOf(server);
      await server.auth.admin.trustedIdpAdmin.add({ issuer: idp.issuer, jwks_uri: idp.jwksUri, new_users: 'allow' }, CLI);
      const before = idp.jwksFetches();
      for (const sub of ['a', 'b', 'c']) {
        const answer = await present(server, agent, await idp.mint({ aud: server.issuer, client_id: agent.client_id, sub, scope: 'mcp:read' }, { key: sub === 'b' ? 'es256' : 'rs256' }));
        assert.equal(answer.status, 200, answer.text);
      }
      assert.equal(idp.jwksFetches() - before, 1);
    } finally {
      await server.close();
    }
  });
});
