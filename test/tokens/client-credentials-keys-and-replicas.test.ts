/**
 * Service accounts whose keys live at a `jwks_uri`, fetched by the provider through the same
 * SSRF-guarded fetch as Client ID Metadata Documents (cimd/create-metadata-fetch.ts); and
 * service accounts on two replicas of one PostgreSQL database: an assertion used at one replica
 * is refused at the other (the `jti` is kept in the shared database), and an administrator's
 * change at one applies at the other at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { clientSecretBasic, tokenRequest } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

async function assertion(audience: string | string[], clientId: string, key: CryptoKey, kid: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: clientId, sub: clientId, aud: audience, iat: now, exp: now + 60, jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
    .sign(key);
}

function byAssertion(issuer: string, token: string) {
  return tokenRequest(issuer, { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: token, resource: RESOURCE });
}

describe('a service account with a jwks_uri', () => {
  let docs: DocumentServer;
  let guarded: TestAuthServer;
  let loopbackAllowed: TestAuthServer;
  let privateKey: CryptoKey;
  let jwksUri: string;

  before(async () => {
    docs = await startDocumentServer();
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    jwksUri = docs.json('/service/jwks.json', { keys: [{ ...await exportJWK(pair.publicKey), kid: 'uri-1', alg: 'RS256' }] });
    // The test's document server is on 127.0.0.1: only a server told to allow loopback may fetch it.
    loopbackAllowed = await startAuthServer({ metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca } });
    guarded = await startAuthServer({ metadataFetch: { ca: docs.ca } });
  });
  after(async () => {
    await loopbackAllowed?.close();
    await guarded?.close();
    await docs?.close();
  });

  test('its keys are fetched from the jwks_uri and verify its assertions', async () => {
    const { clientId } = await loopbackAllowed.auth.admin.serviceAccounts.create({ name: 'Keys at a URL', authMethod: 'private_key_jwt', scopes: ['mcp:read'], jwksUri }, CLI);
    const answer = await byAssertion(loopbackAllowed.issuer, await assertion(loopbackAllowed.issuer, clientId, privateKey, 'uri-1'));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.ok((docs.hits.get('/service/jwks.json') ?? 0) >= 1);
  });

  test('a Client ID Metadata Document listing client_credentials does not get the grant: unauthorized_client', async () => {
    // Shaped like Claude Code's document (https://claude.ai/oauth/claude-code-client-metadata), plus the grant.
    const url = docs.json('/cimd/script-client.json', {
      client_id: `${docs.origin}/cimd/script-client.json`, client_name: 'Script', redirect_uris: ['http://localhost/callback'],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], response_types: ['code'], token_endpoint_auth_method: 'none',
    });
    const answer = await tokenRequest(loopbackAllowed.issuer, { grant_type: 'client_credentials', client_id: url, resource: RESOURCE });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'unauthorized_client');
  });

  test('a jwks_uri on a special-use address is never fetched (SSRF guard): invalid_client, no 5xx', async () => {
    const before = docs.hits.get('/service/jwks.json') ?? 0;
    const { clientId } = await guarded.auth.admin.serviceAccounts.create({ name: 'Keys on loopback', authMethod: 'private_key_jwt', scopes: ['mcp:read'], jwksUri }, CLI);
    const answer = await byAssertion(guarded.issuer, await assertion(guarded.issuer, clientId, privateKey, 'uri-1'));
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'invalid_client');
    assert.equal(docs.hits.get('/service/jwks.json') ?? 0, before, 'nothing was fetched');
  });
});

describe('service accounts on two replicas of one PostgreSQL database', { skip: !TEST_BACKENDS.includes('postgres') }, () => {
  let first: TestAuthServer;
  let second: TestAuthServer;
  let privateKey: CryptoKey;
  let clientId: string;

  before(async () => {
    const databaseUrl = await createTestPostgresDatabase();
    first = await startAuthServer({ databaseUrl });
    second = await startAuthServer({ databaseUrl });
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    ({ clientId } = await first.auth.admin.serviceAccounts.create({
      name: 'Replicated job', authMethod: 'private_key_jwt', scopes: ['mcp:read'],
      jwks: JSON.stringify({ keys: [{ ...await exportJWK(pair.publicKey), kid: 'r-1' }] }),
    }, CLI));
  });
  after(async () => {
    await second?.close();
    await first?.close();
  });

  // The test's replicas listen on two ports, so two issuer URLs: the assertion names both (RFC 7523
  // §3 item 3 allows an array); behind a real load balancer they share one.
  const bothIssuers = () => [first.issuer, second.issuer];

  test('an assertion used at one replica is refused at the other, also when both get it at once', async () => {
    const token = await assertion(bothIssuers(), clientId, privateKey, 'r-1');
    assert.equal((await byAssertion(first.issuer, token)).status, 200);
    const replayed = await byAssertion(second.issuer, token);
    assert.equal(replayed.status, 401, JSON.stringify(replayed.body));
    assert.equal(replayed.body.error, 'invalid_client');

    const raced = await assertion(bothIssuers(), clientId, privateKey, 'r-1');
    const answers = await Promise.all([first, second, first, second].map((replica) => tokenRequest(replica.issuer, {
      grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: raced, resource: RESOURCE,
    })));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401, 401, 401], JSON.stringify(answers.map((a) => a.body)));
  });

  test('a service account disabled at one replica gets no token at the other', async () => {
    const { clientId: paused, clientSecret } = await first.auth.admin.serviceAccounts.create({ name: 'Paused elsewhere', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
    const ask = () => tokenRequest(second.issuer, { grant_type: 'client_credentials', resource: RESOURCE }, clientSecretBasic(paused, clientSecret!));
    assert.equal((await ask()).status, 200);
    await first.auth.admin.serviceAccounts.setDisabled(paused, true, CLI);
    assert.equal((await ask()).body.error, 'unauthorized_client');
  });
});
