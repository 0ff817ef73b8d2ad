/**
 * A revocation and its feed entry commit together or not at all: the resource server learns of a
 * revocation only from the feed, so a revocation committed without its entry leaves the access
 * tokens it meant to stop working for their whole lifetime. The feed is made to fail by a real
 * trigger on its table (a full disk, a lost connection or a statement timeout would fail the
 * same insert), on both backends. So are the administrator's changes that such an entry makes hold
 * (disabling a user or a service account, narrowing scopes, a new password): each leaves either
 * the state it started from or the new one with nothing working that it was meant to stop.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { breakRevocationFeed } from '../helpers/break-revocation-feed.ts';
import { readingDocumentsFrom, startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { clientSecretBasic, connect, redeem, refresh, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { revocationValue } from '../../apps/shared/revocation-entry.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { claudeCodeDocument } from '../registration/support/claude-code-document.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

/** Makes ending a browser session (its row's update into a tombstone) fail until `restore`, on either backend. */
async function refuseSessionEnds(db: SqlDatabase): Promise<{ restore(): Promise<void> }> {
  if (db.dialect === 'sqlite') {
    await db.run("CREATE TRIGGER refuse_session_ends BEFORE UPDATE ON oidc_models WHEN OLD.model = 'Session' AND NEW.consumed_at IS NOT NULL BEGIN SELECT RAISE(ABORT, 'sessions cannot be ended'); END");
    return { restore: async () => void await db.run('DROP TRIGGER refuse_session_ends') };
  }
  await db.run("CREATE FUNCTION refuse_session_ends() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'sessions cannot be ended'; END $$");
  await db.run("CREATE TRIGGER refuse_session_ends BEFORE UPDATE ON oidc_models FOR EACH ROW WHEN (OLD.model = 'Session' AND NEW.consumed_at IS NOT NULL) EXECUTE FUNCTION refuse_session_ends()");
  return {
    async restore() {
      await db.run('DROP TRIGGER refuse_session_ends ON oidc_models');
      await db.run('DROP FUNCTION refuse_session_ends()');
    },
  };
}

for (const backend of TEST_BACKENDS) {
  describe(`a revocation and its feed entry (${backend})`, () => {
    let server: TestAuthServer;
    let docs: DocumentServer;

    before(async () => {
      docs = await startDocumentServer();
      server = await startAuthServer({ backend, ...readingDocumentsFrom(docs) });
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

    /** A user of their own, connected through an app: their access and refresh tokens. */
    const connectUser = async (username: string, scopes: string[]) => {
      const password = `${username} password 123`;
      const user = await server.auth.admin.users.create({ username, password, scopes }, BY);
      const client = await registerClient(server.issuer);
      const tokens = await redeem(server.issuer, client, await connect(server.issuer, {
        clientId: client.client_id, scope: scopes.join(' '), resource: RESOURCE, username, password,
      }));
      assert.equal(tokens.status, 200);
      return { user, client, accessToken: tokens.body.access_token as string, refreshToken: tokens.body.refresh_token as string };
    };
    const eventsAbout = async (event: string, userId: string) =>
      (await server.auth.admin.audit.query({ event })).filter((e) => e.details?.user_id === userId).length;
    const liveSessions = async (userId: string) => Number((await server.auth.database.get<{ n: number }>(
      "SELECT count(*) AS n FROM oidc_models WHERE model = 'Session' AND account_id = ? AND consumed_at IS NULL", [userId]))!.n);

    test('disabling a user whose grants could not be revoked still refuses their access tokens at once, and enabling them ends what was left', async () => {
      const app = await connectUser('frank', ['mcp:read']);
      const feed = await breakRevocationFeed(server.auth.database, 'grant');
      try {
        await assert.rejects(server.auth.admin.users.disable('frank', BY), /the feed is unavailable/);
      } finally {
        await feed.restore();
      }
      // What the administrator sees holds: disabled, and nothing of the user's works.
      assert.equal((await server.auth.admin.users.get('frank')).disabled, true);
      assert.equal(await refused(app.accessToken), true, 'his access token is refused');
      assert.equal(await eventsAbout('user.disabled', app.user.id), 1, 'the disable is in the audit log');
      assert.equal((await refresh(server.issuer, app.client, app.refreshToken)).status, 400, 'no refresh while disabled');
      assert.ok(await liveSessions(app.user.id) > 0, 'his browser session was left too');
      // The pages offer a disabled user only "Enable": it ends what the failed attempt left first.
      await server.auth.admin.users.enable('frank', BY);
      assert.equal((await refresh(server.issuer, app.client, app.refreshToken)).status, 400, 'his refresh token does not come back to life');
      assert.equal(await liveSessions(app.user.id), 0, 'nor his browser session');
    });

    test('narrowing a user\'s scopes when the grants holding a removed one could not be revoked leaves the scopes as they were', async () => {
      const app = await connectUser('grace', ['mcp:read', 'mcp:write']);
      const feed = await breakRevocationFeed(server.auth.database, 'grant');
      try {
        await assert.rejects(server.auth.admin.users.setScopes('grace', ['mcp:read'], BY), /the feed is unavailable/);
      } finally {
        await feed.restore();
      }
      assert.deepEqual((await server.auth.admin.users.get('grace')).scopes, ['mcp:read', 'mcp:write'], 'the administrator sees the change did not happen');
      assert.equal(await eventsAbout('user.scopes_changed', app.user.id), 0);
      await server.auth.admin.users.setScopes('grace', ['mcp:read'], BY);
      assert.deepEqual((await server.auth.admin.users.get('grace')).scopes, ['mcp:read']);
      assert.equal(await refused(app.accessToken), true, 'the access token carrying mcp:write is refused');
      assert.equal(await eventsAbout('user.scopes_changed', app.user.id), 1);
    });

    test('a new password whose browser sessions could not be ended is not kept: whoever it was to evict is not left signed in under it', async () => {
      const app = await connectUser('heidi', ['mcp:read']);
      const before = (await server.auth.admin.users.get('heidi')).passwordHash;
      assert.ok(await liveSessions(app.user.id) > 0);
      const sessions = await refuseSessionEnds(server.auth.database);
      try {
        await assert.rejects(server.auth.admin.users.setPassword('heidi', 'a brand new password', BY), /sessions cannot be ended/);
      } finally {
        await sessions.restore();
      }
      assert.equal((await server.auth.admin.users.get('heidi')).passwordHash, before, 'the old password stands, as the error says');
      assert.equal(await eventsAbout('user.password_reset', app.user.id), 0);
      await server.auth.admin.users.setPassword('heidi', 'a brand new password', BY);
      assert.notEqual((await server.auth.admin.users.get('heidi')).passwordHash, before);
      assert.equal(await liveSessions(app.user.id), 0);
    });

    test('disabling a service account that could not publish its entry leaves it enabled, and the second attempt refuses its tokens', async () => {
      const service = await server.auth.admin.serviceAccounts.create({ name: 'Weekly job', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, BY);
      const askToken = () => tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE, scope: 'mcp:read' }, clientSecretBasic(service.clientId, service.clientSecret!));
      const accessToken = (await askToken()).body.access_token as string;
      const feed = await breakRevocationFeed(server.auth.database);
      try {
        await assert.rejects(server.auth.admin.serviceAccounts.setDisabled(service.clientId, true, BY), /the feed is unavailable/);
      } finally {
        await feed.restore();
      }
      // Not "disabled" with its tokens still working: the change did not happen, as the error says.
      assert.equal((await askToken()).status, 200, 'still enabled');
      await server.auth.admin.serviceAccounts.setDisabled(service.clientId, true, BY);
      assert.equal(await refused(accessToken), true, 'its access token is refused');
      assert.notEqual((await askToken()).status, 200, 'no new token');
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
