/**
 * Refreshes on the timeline without flooding it (connections/record-provider-connection-events.ts):
 * a grant's successful refreshes are recorded at most once a minute, by the server's clock, so a
 * client refreshing in a loop cannot push the failures out of `connections.max_events`; a real
 * client, refreshing once per access token lifetime, has every refresh recorded. A refused
 * refresh is always recorded. Requests as the MCP SDK sends them (form-encoded, public client).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CapturedConnectionEvents } from '../helpers/capture-connection-events.ts';
import { connect, redeem, refresh, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('refreshes on the connection timeline', () => {
  let server: TestAuthServer;
  const recorded = new CapturedConnectionEvents();
  const clock = TestClock.ahead(0);

  before(async () => {
    server = await startAuthServer({ clock, connectionRecorder: recorded });
  });
  after(async () => {
    await server?.close();
  });

  async function newGrant(): Promise<{ clientId: string; refreshToken: string }> {
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200);
    return { clientId: client.client_id, refreshToken: String(tokens.body.refresh_token) };
  }

  test('a loop of refreshes of one grant is one event a minute; each minute\'s first is recorded', async () => {
    const { clientId, refreshToken: first } = await newGrant();
    let token = first;
    const refreshOnce = async () => {
      const answer = await refresh(server.issuer, { client_id: clientId }, token);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      token = String(answer.body.refresh_token);
    };
    for (let i = 0; i < 5; i++) await refreshOnce();
    const refreshesOf = () => recorded.of('refresh').filter((e) => e.clientId === clientId);
    assert.equal(refreshesOf().length, 1, 'five refreshes within a minute: one event');
    assert.equal(refreshesOf()[0]!.outcome, 'ok');
    assert.ok(refreshesOf()[0]!.grantId);

    clock.advance(61);
    await refreshOnce();
    assert.equal(refreshesOf().length, 2, 'a minute later the next refresh is recorded');

    // Presenting a rotated-away refresh token: refused (and the grant revoked), recorded at once.
    const replay = await refresh(server.issuer, { client_id: clientId }, first);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    const refusals = refreshesOf().filter((e) => e.outcome === 'refused');
    assert.equal(refusals.length, 1, 'a refused refresh is always recorded');
    assert.equal(refusals[0]!.error, 'invalid_grant');
  });

  test('refreshes of different grants in the same minute are each recorded', async () => {
    const grants = [await newGrant(), await newGrant()];
    for (const grant of grants) assert.equal((await refresh(server.issuer, { client_id: grant.clientId }, grant.refreshToken)).status, 200);
    for (const grant of grants) assert.equal(recorded.of('refresh').filter((e) => e.clientId === grant.clientId).length, 1);
  });
});
