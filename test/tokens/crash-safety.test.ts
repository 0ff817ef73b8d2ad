/**
 * Nothing acknowledged is lost when the auth-server dies (issue 15): a response goes out only
 * after what it hands out is committed. A real auth-server process under refresh and
 * registration load is killed with SIGKILL at a random moment, started again on the same
 * database, and every refresh token and registration the clients had been answered still works.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { connect, redeem, registerClient } from '../helpers/oauth-flow.ts';
import { assertAcknowledgedSurvived, startRefreshLoad } from '../helpers/refresh-load.ts';
import { TEST_KEY_ENCRYPTION_KEY } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { freshSetup, kill, runApp, waitForOk, type RunningProcess } from '../ops/support/processes.ts';

const CALLBACK = 'http://127.0.0.1:33418/callback';
const PASSWORD = 'crash safety admin password';
const CHAINS = 8;

for (const backend of TEST_BACKENDS) describe(`kill -9 under token load (${backend})`, { timeout: 180_000 }, () => {
  let server: RunningProcess | undefined;
  after(() => kill(server));

  test('every acknowledged refresh token and registration works after the auth-server is killed and started again', async () => {
    const setup = await freshSetup({
      BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
      LOG_LEVEL: 'warn',
      ...(backend === 'postgres' ? { DATABASE_URL: await createTestPostgresDatabase(), GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY } : {}),
    });
    const configFile = join(setup.dir, 'gatehouse.yaml');
    writeFileSync(configFile, 'auth_server:\n  bcrypt_cost: 10\n  rate_limits: { enabled: false }\n');
    const env = { ...setup.env, GATEHOUSE_CONFIG: configFile };
    const start = async () => {
      server = runApp('auth-server', env);
      await waitForOk(`${setup.issuer}/healthz`, { proc: server, timeoutMs: 60_000 });
    };
    await start();

    const client = await registerClient(setup.issuer, { client_name: 'crash test', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] });
    const tokens: string[] = [];
    for (let i = 0; i < CHAINS; i += 1) {
      const result = await connect(setup.issuer, { clientId: client.client_id, redirectUri: CALLBACK, scope: 'mcp:read', resource: setup.mcpUrl, username: 'admin', password: PASSWORD });
      const redeemed = await redeem(setup.issuer, client, result);
      assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
      tokens.push(redeemed.body.refresh_token as string);
    }

    const load = startRefreshLoad(setup.issuer, client, tokens, CALLBACK);
    await waitFor('some load', () => load.registered.length >= CHAINS, 30_000);
    // Half the chains stop first, so some acknowledged tokens are certain to be checked; the other
    // half keep requests in flight when the process dies, at a moment the test does not choose.
    await load.stop([0, 1, 2, 3]);
    await sleep(Math.floor(Math.random() * 300));
    const killed = server!;
    killed.signal('SIGKILL');
    assert.equal((await killed.exited).signal, 'SIGKILL');
    await load.stop();

    await start();
    await assertAcknowledgedSurvived(setup.issuer, client, load);
    server!.signal('SIGTERM');
    await server!.exited;
    rmSync(setup.dir, { recursive: true, force: true });
  });
});
