/**
 * Issue 17, trap 1: the first admin's password can never be lost. A first `npm start` that
 * cannot listen (the port is taken) creates no admin; the next start creates it and prints its
 * password, which signs in. While that admin has never signed in, every start says how to set a
 * new password; after a sign-in, starts say nothing about it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connect, registerClient } from '../helpers/oauth-flow.ts';
import { createAuthServer } from '../../apps/auth-server/src/create-auth-server.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createHttpServer } from '../../apps/shared/http-server.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { freshSetup, kill, run, waitForOk, type RunningProcess, type Setup } from './support/processes.ts';

const PASSWORD_LINE = /created admin user "admin" with password: (\S+)/;
const RESET_HINT = /Admin user "admin" has not signed in yet\. Lost its password\? Set a new one:\n {4}npx gatehouse users passwd admin\n/;

/** `npm start`'s launcher (apps/start.ts) under tsx, as the package.json script runs it. */
function startBoth(setup: Setup): RunningProcess {
  return run(process.execPath, ['--import', 'tsx', 'apps/start.ts'], setup.env);
}

async function stop(proc: RunningProcess): Promise<void> {
  proc.signal('SIGINT', { group: true });
  await proc.exited;
}

describe('the first admin', () => {
  let setup: Setup;
  const started: RunningProcess[] = [];
  after(() => {
    started.forEach(kill);
    if (setup) rmSync(setup.dir, { recursive: true, force: true });
  });

  test('a first start that cannot listen creates no admin; the next one creates it and prints a password that signs in', async () => {
    setup = await freshSetup();
    // Someone else's server on the port; the resource server's calls to it are hung up on.
    const taken = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => taken.listen(setup.authPort, '127.0.0.1', resolve));
    try {
      const failed = startBoth(setup);
      started.push(failed);
      assert.notEqual((await failed.exited).code, 0, 'the start with the port taken fails');
      assert.match(failed.output(), /cannot listen on 127\.0\.0\.1:\d+ \(the port is in use\)/);
      assert.doesNotMatch(failed.output(), /password/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const db = await openDatabase({ sqliteFile: join(setup.dir, 'data', 'auth-server.db') }, 'auth-server');
    try {
      assert.equal((await db.get<{ n: number }>('SELECT count(*) AS n FROM users'))!.n, 0, 'no admin was created by the failed start');
    } finally {
      await db.close();
    }

    const app = startBoth(setup);
    started.push(app);
    const output = await app.waitForOutput(/Press Ctrl-C/);
    const password = PASSWORD_LINE.exec(output)?.[1];
    assert.ok(password, `the password is printed on the start that created the admin:\n${output}`);
    assert.doesNotMatch(output, RESET_HINT, 'no reset hint beside the password itself');
    await waitForOk(`${setup.issuer}/readyz`, { proc: app });
    await stop(app);
    // Not signed in yet: the next start points to the reset command.
    const again = startBoth(setup);
    started.push(again);
    const againOutput = await again.waitForOutput(/Press Ctrl-C/);
    assert.match(againOutput, RESET_HINT);
    assert.doesNotMatch(againOutput, PASSWORD_LINE);
    await waitForOk(`${setup.issuer}/readyz`, { proc: again });
    const client = await registerClient(setup.issuer);
    const signedIn = await connect(setup.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: setup.mcpUrl, username: 'admin', password });
    assert.ok(signedIn.code, 'the printed password signs the admin in');
    await stop(again);

    const later = startBoth(setup);
    started.push(later);
    const laterOutput = await later.waitForOutput(/Press Ctrl-C/);
    assert.doesNotMatch(laterOutput, /passwd|password/, 'once the admin signed in, nothing about its password');
    assert.match(laterOutput, new RegExp(`Admin pages: {2}${setup.issuer.replaceAll('.', '\\.')}/admin\\n`), 'the admin URL on every start');
    await stop(later);
  });

  test('the auth-server is not ready until the first-admin step has run, so a probe never lets that sign-in fail', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-first-admin-'));
    const config = loadConfig({ DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), BOOTSTRAP_ADMIN_PASSWORD: 'correct horse battery staple' }, dir);
    config.authServer.bcryptCost = 10;
    const server = await createAuthServer(config.authServer, createLogger('auth-server', 'silent'));
    const http = createHttpServer(server.app.callback());
    try {
      const base = await http.listen(0, '127.0.0.1');
      const before = await fetch(`${base}/readyz`);
      assert.equal(before.status, 503);
      assert.equal((await before.json() as { checks: Record<string, string> }).checks.users, 'failed');
      assert.equal((await server.createBootstrapAdmin())?.username, 'admin');
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
    } finally {
      await http.shutdown(1000);
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
