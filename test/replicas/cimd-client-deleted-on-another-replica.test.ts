/**
 * A Client ID Metadata Document client is listed only through its usage row. Deleted by an
 * administrator on one replica while another replica had recorded its use less than a minute
 * before, it connected again through that replica and stayed off the clients list (and could not
 * be deleted again: "There is no client") for as long as its tokens kept it from another record,
 * up to its access tokens' lifetime, although it held a live grant. Reproduced by a review.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { connect, redeem } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { claudeCodeDocument } from '../registration/support/claude-code-document.ts';

const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };
const RESOURCE = 'http://localhost:4001/mcp';
const CALLBACK = 'http://127.0.0.1:51515/callback';
const PASSWORD = 'frank password 123';

describe('a metadata-document client deleted on one replica and connecting again through another', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let docs: DocumentServer;
  let one: TestAuthServer;
  let two: TestAuthServer;
  before(async () => {
    docs = await startDocumentServer();
    const databaseUrl = await createTestPostgresDatabase();
    const options = (issuer?: string) => ({
      databaseUrl,
      env: { RESOURCE_URL: RESOURCE, ...(issuer ? { ISSUER: issuer } : {}) },
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure(config: TestAuthServer['config']) {
        config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host];
      },
    });
    one = await startAuthServer(options());
    two = await startAuthServer(options(one.issuer));
    await one.auth.admin.users.create({ username: 'frank', password: PASSWORD, scopes: ['mcp:read'] }, BY);
  });
  after(async () => {
    await two?.close();
    await one?.close();
    await docs?.close();
  });

  test('is listed again, with its grant, and can be deleted again', async () => {
    const clientId = docs.json('/client.json', claudeCodeDocument(`${docs.origin}/client.json`, { redirect_uris: [CALLBACK] }));
    // The pages on the first replica (the issuer's host), the token request on the second.
    const connectThroughTwo = async () => {
      const result = await connect(one.issuer, { clientId, redirectUri: CALLBACK, scope: 'mcp:read', resource: RESOURCE, username: 'frank', password: PASSWORD });
      const tokens = await redeem(two.issuer, { client_id: clientId }, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    };
    const listed = async () => (await one.auth.admin.clients.list()).some((client) => client.clientId === clientId);

    await connectThroughTwo();
    assert.ok(await listed(), 'listed after its first token');
    await one.auth.admin.clients.remove(clientId, BY);
    assert.ok(!(await listed()), 'gone once deleted');

    await connectThroughTwo();
    assert.equal((await one.auth.admin.grants.list({ clientId })).length, 1, 'it holds a grant again');
    assert.ok(await listed(), 'and is on the clients list');
    await one.auth.admin.clients.remove(clientId, BY);
    assert.equal((await one.auth.admin.grants.list({ clientId })).length, 0, 'deleted again, with its grant');
  });
});
