/**
 * The auth-server's connection steps reach its `connection_events` table through the database
 * recorder (apps/shared/connections/connection-recorder.ts), on SQLite and PostgreSQL: a working
 * connection's steps joined by flow and grant, a replayed code and a denied consent with their
 * reasons, and not one stored column holding a code, token, password, verifier, state or secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConnectionEventStore } from '../../apps/shared/connections/connection-event-store.ts';
import {
  CLAUDE_DCR_BODY, connect, decide, redeem, refresh, registerClient, signIn, startAuthorization, type RegisteredClient,
} from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const admin = { username: 'admin', password: ADMIN_PASSWORD };

for (const backend of TEST_BACKENDS) {
  describe(`the auth-server's connection steps in its database (${backend})`, () => {
    let server: TestAuthServer;
    let client: RegisteredClient;
    let confidential: RegisteredClient;
    const secrets = new Set<string>([ADMIN_PASSWORD]);
    before(async () => {
      server = await startAuthServer({ backend });
      client = await registerClient(server.issuer);
      confidential = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
      secrets.add(confidential.client_secret!);

      // A working connection, refreshed; then its code replayed.
      const state = 'state-of-the-working-flow';
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state, ...admin });
      secrets.add(result.code).add(result.verifier).add(state);
      const tokens = (await redeem(server.issuer, client, result)).body;
      const refreshed = (await refresh(server.issuer, client, String(tokens.refresh_token))).body;
      for (const token of [tokens.access_token, tokens.refresh_token, tokens.id_token, refreshed.access_token, refreshed.refresh_token]) {
        if (typeof token === 'string') secrets.add(token);
      }
      assert.equal((await redeem(server.issuer, client, result)).body.error, 'invalid_grant');

      // A denied consent, after a wrong password.
      const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state: 'state-of-the-denied-flow' });
      secrets.add('state-of-the-denied-flow').add('a wrong password');
      const again = await signIn(browser, page, 'admin', 'a wrong password');
      const consentPage = await signIn(browser, again, admin.username, admin.password);
      await decide(browser, consentPage, 'deny');

      // A confidential client's code redeemed with a wrong secret.
      const confidentialResult = await connect(server.issuer, { clientId: confidential.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
      secrets.add(confidentialResult.code).add(confidentialResult.verifier).add('a-wrong-client-secret');
      assert.equal((await redeem(server.issuer, confidential, confidentialResult, { client_secret: 'a-wrong-client-secret' })).status, 401);

      await server.auth.connectionRecorder.flush();
    });
    after(() => server.close());

    test('a working connection\'s steps are stored, joined by flow and grant', async () => {
      const events = (await new ConnectionEventStore(server.auth.database, 'connection_events').read({ clientId: client.client_id, limit: 1000 }))
        .sort((a, b) => a.at - b.at);
      const firstFlow = events.find((e) => e.step === 'authorization')!.flowId;
      const flow = events.filter((e) => e.flowId === firstFlow);
      assert.deepEqual(flow.map((e) => `${e.step} ${e.outcome}`), ['authorization ok', 'sign_in ok', 'consent ok', 'redirect ok']);
      const grantId = flow.at(-1)!.grantId;
      const onGrant = events.filter((e) => e.grantId === grantId).map((e) => `${e.step} ${e.outcome}`);
      assert.deepEqual(onGrant, ['consent ok', 'redirect ok', 'code_exchange ok', 'refresh ok', 'code_exchange refused']);
      assert.ok(events.every((e) => e.app === 'auth-server' && e.ip === '127.0.0.1'));
    });

    test('refusals are stored with their RFC error, reason code and reason', async () => {
      const events = await new ConnectionEventStore(server.auth.database, 'connection_events').read({ limit: 1000 });
      const refusals = events.filter((e) => e.outcome === 'refused').map((e) => `${e.step} ${e.error ?? '-'} ${e.reasonCode}: ${e.reason}`).sort();
      assert.deepEqual(refusals, [
        `code_exchange invalid_client client_auth_failed: client \`${confidential.client_id}\` failed to authenticate: invalid secret provided`,
        'code_exchange invalid_grant code_replayed: authorization code already used — the grant was revoked',
        'consent access_denied consent_denied: the user denied access',
        'redirect access_denied consent_denied: the user denied access',
        'sign_in - sign_in_failed: wrong username or password',
      ]);
    });

    test('the connection log explains the failed attempts with these reasons', async () => {
      // No resource server runs here: the log says so in `problem` and lists the auth-server's steps.
      const { attempts } = await server.auth.connections.list({ outcome: 'failed' });
      const explained = attempts.map((a) => a.explanation && `${a.explanation.step} ${a.explanation.reasonCode}`).sort();
      assert.ok(explained.includes('code_exchange code_replayed'), JSON.stringify(explained));
      assert.ok(explained.includes('redirect consent_denied') || explained.includes('consent consent_denied'), JSON.stringify(explained));
    });

    test('privacy: no stored column holds a code, token, password, verifier, state or client secret', async () => {
      const rows = [...await server.auth.database.all('SELECT * FROM connection_events'), ...await server.auth.database.all('SELECT * FROM connection_values')];
      assert.ok(rows.length >= 19, `${rows.length} rows`);
      const stored = JSON.stringify(rows);
      for (const secret of secrets) assert.ok(!stored.includes(secret), `a stored event holds ${secret.slice(0, 6)}…`);
    });
  });
}
