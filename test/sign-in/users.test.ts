import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { decodeJwt } from 'jose';
import { connect, redeem, registerClient } from '../helpers/oauth-flow.ts';
import { Browser } from '../helpers/browser.ts';
import { authorizeUrl, signIn } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

/** Starts the real auth-server process and returns its stdout up to the "listening" log line. */
function startProcess(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/auth-server/src/main.ts'], {
      env: { PATH: process.env.PATH, AUTH_PORT: '0', DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys') },
    });
    let out = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error(`no start: ${out}`)); }, 30_000);
    child.stdout.on('data', (chunk) => {
      out += String(chunk);
      if (out.includes('Gatehouse is running')) {
        clearTimeout(timer);
        child.kill('SIGTERM');
        child.once('exit', () => resolve(out));
      }
    });
  });
}

describe('users', () => {
  test('the first start creates the admin with a random password handed over in a file, not stdout; later starts do not', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bootstrap-'));
    // It holds the admin's database and the signing keys.
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const first = await startProcess(dir);
    const file = /created admin user "admin"\. Its password is in the file\n {4}(\S+)\n/.exec(first)?.[1];
    assert.equal(file, join(dir, 'data', 'first-admin-password'), first);
    const password = readFileSync(file, 'utf8').trim();
    assert.ok(password.length >= 20, 'a strong random password');
    assert.ok(!first.includes(password), 'the password is not in stdout (a pipe here), JSON log included');
    const second = await startProcess(dir);
    assert.doesNotMatch(second, /created admin user/);
    assert.ok(!second.includes(password), 'the password is not shown again');
    // Never signed in: the way to a new password instead (issue 17, trap 1), with the DATA_DIR
    // the server was started with, so the command finds this admin.
    assert.ok(second.includes(`Admin user "admin" has not signed in yet. Its password is in ${file}\n  Lost its password? Set a new one:\n    DATA_DIR=${join(dir, 'data')} npx gatehouse users passwd admin\n`), second);
  });

  test('users declared in the config sign in with their scopes as a cap, and disabled ones cannot', async () => {
    const hash = bcrypt.hashSync('writer-password', 10);
    const server = await startAuthServer({
      env: { READER_PASSWORD: 'reader-password' },
      configure(config) {
        config.authServer.users = [
          { username: 'reader', password: 'reader-password', scopes: ['mcp:read'], disabled: false },
          { username: 'writer', passwordHash: hash, scopes: ['mcp:read', 'mcp:write'], disabled: false },
          { username: 'gone', passwordHash: hash, scopes: ['mcp:read'], disabled: true },
        ];
      },
    });
    try {
      assert.equal(await server.auth.users.findByUsername('admin'), undefined, 'no bootstrap admin when users exist');
      const client = await registerClient(server.issuer);
      for (const [username, password, expected] of [['reader', 'reader-password', 'mcp:read'], ['writer', 'writer-password', 'mcp:read mcp:write']] as const) {
        const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:write mcp:admin', resource: RESOURCE, username, password });
        const tokens = await redeem(server.issuer, client, result);
        assert.equal(decodeJwt(tokens.body.access_token as string).scope, expected, username);
      }

      const browser = new Browser(server.issuer);
      const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
      const after = await signIn(browser, page, 'gone', 'writer-password');
      assert.equal(after.status, 400);
      assert.match(after.html, /Incorrect username or password\./);
    } finally {
      await server.close();
    }
  });

  test('a password_env user keeps its stored hash across restarts when the password is unchanged', async () => {
    const server = await startAuthServer({
      configure(config) {
        config.authServer.users = [{ username: 'reader', password: 'reader-password', scopes: ['mcp:read'], disabled: false }];
      },
    });
    try {
      const before = (await server.auth.users.findByUsername('reader'))!;
      await server.restart();
      const after = (await server.auth.users.findByUsername('reader'))!;
      assert.equal(after.passwordHash, before.passwordHash);
      assert.equal(after.id, before.id, 'the subject never changes');
    } finally {
      await server.close();
    }
  });
});
