/**
 * The refresh benchmark's extra side runs Gatehouse with its provider models in memory
 * (bench/map-adapter.ts, `adapterOverride`): that side must serve the same grants as the real one,
 * or the benchmark stops at its first round. Its registrations live in the adapter, so nothing in
 * the database has an expiry to clear when their first token is built.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { createMapAdapter } from '../../bench/map-adapter.ts';
import { connect, redeem, refresh, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('Gatehouse on the benchmarks\' in-memory adapter', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer({ adapterOverride: createMapAdapter() });
  });
  after(() => server?.close());

  test('a registered client redeems its code and refreshes, as on the database', async () => {
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const redeemed = await redeem(server.issuer, client, result);
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    let refreshToken = redeemed.body.refresh_token as string;
    for (let i = 0; i < 2; i += 1) {
      const refreshed = await refresh(server.issuer, client, refreshToken);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(decodeJwt(refreshed.body.access_token as string).aud, RESOURCE);
      refreshToken = refreshed.body.refresh_token as string;
    }
  });
});
