/**
 * A revocation and its feed entry commit together or not at all: the resource server learns of a
 * revocation only from the feed, so a revocation committed without its entry leaves the access
 * tokens it meant to stop working for their whole lifetime. The feed is made to fail by a real
 * trigger on its table (a full disk, a lost connection or a statement timeout would fail the
 * same insert), on both backends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { breakRevocationFeed } from '../helpers/break-revocation-feed.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { clientSecretBasic, connect, redeem, refresh, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { revocationValue } from '../../apps/shared/revocation-entry.ts';
import { claudeCodeDocument } from '../registration/support/claude-code-document.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

for (const backend of TEST_BACKENDS) {
  describe(`a revocation and its feed entry (${backend})`, () => {
    let server: TestAuthServer;
    let docs: DocumentServer;

    before(async () => {
      docs = await startDocumentServer();
      server = await startAuthServer({
        backend,
        metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
        configure(config) {
          config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host];
        },
      });
    });
    after(async () => {
      await server?.close();
      await docs?.close();
    });

    /** A grant of the admin's with its tokens, as a connected app holds them. */
    const connectApp = async () => {
      const client = await registerClient(server.issuer);
      const tokens = await redeem(server.issuer, client, await connect(server.issuer, {
        clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD,
      }));
      const accessToken = tokens.body.access_token as string;
      const claims = decodeJwt(accessToken);
      return { client, refreshToken: tokens.body.refresh_token as string, grantId: claims.gid as string, accessToken };
    };

    /** Whether the feed refuses this access token, as the resource server following it decides. */
    const refused = (accessToken: string) => {
      const claims = decodeJwt(accessToken);
      return server.auth.admin.revocations.refuses({
        sub: claims.sub!, clientId: claims.client_id as string, grantId: claims.gid as string, jti: claims.jti!, kid: decodeProtectedHeader(accessToken).kid!, iat: claims.iat!,
      });
    };

    test('a grant revocation that could not publish its entry leaves the grant, so the second attempt stops its access token', async () => {
      const app = await connectApp();
      const feed = await breakRevocationFeed(server.auth.database);
      try {
        await assert.rejects(server.auth.admin.grants.revoke(app.grantId, BY, 'test'), /the feed is unavailable/);
      } finally {
        await feed.restore();
      }
      // The admin saw an error and tries again.
      await server.auth.admin.grants.revoke(app.grantId, BY, 'test');
      assert.equal(await refused(app.accessToken), true, 'its access token is refused');
      assert.equal((await refresh(server.issuer, app.client, app.refreshToken)).status, 400, 'its refresh token is gone');
      assert.equal(await server.auth.admin.grants.find(app.grantId), undefined);
    });

    /** The grant entries on the feed for this grant. */
    const grantEntries = async (grantId: string) => (await server.auth.database.get<{ n: number }>(
      "SELECT count(*) AS n FROM revocations WHERE kind = 'grant' AND value = ?", [revocationValue('grant', grantId)]))!.n;

    /**
     * oidc-provider ends a grant by itself in three places (a refresh token presented again, a code
     * presented again, a refresh token revoked at /oauth/revoke). Each time the grant's rows and its
     * feed entry commit together: when the entry cannot be written, the grant stays whole, the
     * request fails, and the next attempt (the rightful client's retry, or the next replay) ends it.
     */
    interface ConnectedApp {
      client: { client_id: string };
      /** The first refresh token, rotated once. */
      refreshToken: string;
      latestRefreshToken: string;
      /** Redeems the authorization code (again); the answer's status. */
      code(): Promise<number>;
    }
    const endedByTheProvider: Array<{ name: string; attempt(app: ConnectedApp): Promise<number>; after: number }> = [
      {
        name: 'a refresh token presented after its rotation (reuse detection)',
        attempt: async (app) => (await refresh(server.issuer, app.client, app.refreshToken)).status,
        after: 400,
      },
      {
        name: 'an authorization code presented again',
        attempt: (app) => app.code(),
        after: 400,
      },
      {
        name: 'a refresh token revoked at /oauth/revoke',
        attempt: async (app) => (await fetch(`${server.issuer}/oauth/revoke`, {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: app.latestRefreshToken, token_type_hint: 'refresh_token', client_id: app.client.client_id }),
        })).status,
        after: 200,
      },
    ];

    for (const { name, attempt, after: answerAfter } of endedByTheProvider) {
      test(`${name}: a revocation whose entry could not be written leaves the grant whole, and the next attempt stops its access tokens`, async () => {
        const client = await registerClient(server.issuer);
        const connected = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
        const first = await redeem(server.issuer, client, connected);
        // The chain moves on once: the first refresh token is now a rotated one.
        const rotated = await refresh(server.issuer, client, first.body.refresh_token as string);
        assert.equal(rotated.status, 200);
        const accessToken = rotated.body.access_token as string;
        const grantId = decodeJwt(accessToken).gid as string;
        const app: ConnectedApp = {
          client,
          refreshToken: first.body.refresh_token as string,
          latestRefreshToken: rotated.body.refresh_token as string,
          code: async () => (await redeem(server.issuer, client, connected)).status,
        };

        const feed = await breakRevocationFeed(server.auth.database, 'grant');
        let failed: number;
        try {
          failed = await attempt(app);
        } finally {
          await feed.restore();
        }
        assert.equal(failed, 500, 'the request fails: nothing was revoked');
        assert.ok(await server.auth.admin.grants.find(grantId), 'the grant is still stored, to be revoked by the next attempt');
        assert.equal(await grantEntries(grantId), 0);

        assert.equal(await attempt(app), answerAfter);
        assert.equal(await refused(accessToken), true, 'its access token is refused');
        assert.equal(await grantEntries(grantId), 1, 'one entry for the grant');
        assert.equal(await server.auth.admin.grants.find(grantId), undefined, 'the grant is gone');
        assert.equal((await refresh(server.issuer, client, app.latestRefreshToken)).status, 400, 'its latest refresh token is gone');
      });
    }

    test('deleting a client that could not publish its entry leaves the client, so the second attempt stops its access token', async () => {
      const app = await connectApp();
      const feed = await breakRevocationFeed(server.auth.database);
      try {
        await assert.rejects(server.auth.admin.clients.remove(app.client.client_id, BY), /the feed is unavailable/);
      } finally {
        await feed.restore();
      }
      await server.auth.admin.clients.remove(app.client.client_id, BY);
      assert.equal(await refused(app.accessToken), true, 'its access token is refused');
      assert.equal(await server.auth.admin.clients.find(app.client.client_id), undefined);
    });

    test('disabling a user again finishes what a failed attempt left: their grants and access tokens', async () => {
      await server.auth.admin.users.create({ username: 'carol', password: 'carol password 123', scopes: ['mcp:read'] }, BY);
      const client = await registerClient(server.issuer);
      const tokens = await redeem(server.issuer, client, await connect(server.issuer, {
        clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'carol', password: 'carol password 123',
      }));
      const accessToken = tokens.body.access_token as string;
      const feed = await breakRevocationFeed(server.auth.database);
      try {
        await assert.rejects(server.auth.admin.users.disable('carol', BY), /the feed is unavailable/);
      } finally {
        await feed.restore();
      }
      const { grantsRevoked } = await server.auth.admin.users.disable('carol', BY);
      assert.equal(grantsRevoked, 1);
      assert.equal(await refused(accessToken), true, 'her access token is refused');
      await server.auth.admin.users.enable('carol', BY);
      assert.equal((await refresh(server.issuer, client, tokens.body.refresh_token as string)).status, 400, 'her refresh token stays revoked once she is enabled again');
    });

    test('setting a user\'s scopes again finishes what a failed attempt left: the grants holding a removed scope', async () => {
      await server.auth.admin.users.create({ username: 'dave', password: 'dave password 123', scopes: ['mcp:read', 'mcp:write'] }, BY);
      const client = await registerClient(server.issuer);
      const tokens = await redeem(server.issuer, client, await connect(server.issuer, {
        clientId: client.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE, username: 'dave', password: 'dave password 123',
      }));
      const accessToken = tokens.body.access_token as string;
      assert.equal(decodeJwt(accessToken).scope, 'mcp:read mcp:write');
      const feed = await breakRevocationFeed(server.auth.database);
      try {
        await assert.rejects(server.auth.admin.users.setScopes('dave', ['mcp:read'], BY), /the feed is unavailable/);
      } finally {
        await feed.restore();
      }
      const { grantsRevoked } = await server.auth.admin.users.setScopes('dave', ['mcp:read'], BY);
      assert.equal(grantsRevoked, 1);
      assert.equal(await refused(accessToken), true, 'the access token carrying mcp:write is refused');
    });

    test('a service account\'s scope removal that could not publish its entry changes nothing, so the second attempt stops its access token', async () => {
      const service = await server.auth.admin.serviceAccounts.create({ name: 'Nightly job', authMethod: 'client_secret_basic', scopes: ['mcp:read', 'mcp:write'] }, BY);
      const answer = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE, scope: 'mcp:read mcp:write' },
        clientSecretBasic(service.clientId, service.clientSecret!));
      const accessToken = answer.body.access_token as string;
      assert.equal(decodeJwt(accessToken).scope, 'mcp:read mcp:write');
      const feed = await breakRevocationFeed(server.auth.database);
      try {
        await assert.rejects(server.auth.admin.serviceAccounts.setScopes(service.clientId, ['mcp:read'], BY), /the feed is unavailable/);
      } finally {
        await feed.restore();
      }
      await server.auth.admin.serviceAccounts.setScopes(service.clientId, ['mcp:read'], BY);
      assert.equal(await refused(accessToken), true, 'the access token carrying mcp:write is refused');
    });

    test('deleting a CIMD client whose grants could not all be revoked leaves it listed, so the second attempt stops its refresh token', async () => {
      const clientId = docs.json('/deleted-cimd.json', claudeCodeDocument(`${docs.origin}/deleted-cimd.json`));
      const client = { client_id: clientId };
      const tokens = await redeem(server.issuer, client, await connect(server.issuer, {
        clientId, redirectUri: 'http://localhost:49152/callback', scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD,
      }));
      assert.equal(tokens.status, 200);
      const feed = await breakRevocationFeed(server.auth.database, 'grant');
      try {
        await assert.rejects(server.auth.admin.clients.remove(clientId, BY), /the feed is unavailable/);
      } finally {
        await feed.restore();
      }
      assert.ok(await server.auth.admin.clients.find(clientId), 'still listed, to be deleted again');
      await server.auth.admin.clients.remove(clientId, BY);
      assert.equal((await refresh(server.issuer, client, tokens.body.refresh_token as string)).status, 400, 'its refresh token is gone, though the client may connect again');
    });
  });
}
