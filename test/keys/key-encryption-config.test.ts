/**
 * GATEHOUSE_KEY_ENCRYPTION_KEY (`auth_server.key_encryption_key`): required with PostgreSQL,
 * accepted as base64 or hex, never shown; and a replica started with a key other than the one
 * the stored keys were encrypted with stops with one line, not a stack.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../apps/shared/config/config-error.ts';
import { loadAuthServerConfig, loadConfig, loadResourceServerConfig } from '../../apps/shared/config/load-config.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { loadStartingKeys, openKeyStore } from '../../apps/auth-server/src/keys/open-key-store.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kek-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const DATABASE_URL = 'postgres://gatehouse:pw@db.internal:5432/gatehouse';
const refusal = (pattern: RegExp) => (err: unknown) => err instanceof ConfigError && pattern.test(err.message) && !err.message.includes('\n');

describe('key encryption key in the configuration', () => {
  test('DATABASE_URL without it stops the auth-server with a config error naming the field; the resource server needs none', () => {
    const required = /^Invalid configuration: auth_server\.key_encryption_key: required when database\.url \(DATABASE_URL\) is set/;
    assert.throws(() => loadAuthServerConfig({ DATABASE_URL }, dir), refusal(required));
    assert.throws(() => loadConfig({ DATABASE_URL }, dir), refusal(required), 'npm start checks both apps');
    assert.ok(loadResourceServerConfig({ DATABASE_URL }, dir).resourceServer.database.postgres);
    assert.equal(loadAuthServerConfig({}, dir).authServer.keyEncryptionKey, undefined, 'SQLite needs none');
  });

  const secret = randomBytes(32);
  for (const [form, value] of [['base64 (openssl rand -base64 32)', secret.toString('base64')], ['base64url', secret.toString('base64url')], ['hex', secret.toString('hex')]] as const) {
    test(`takes 32 bytes as ${form}, and never shows them`, () => {
      const config = loadAuthServerConfig({ DATABASE_URL, GATEHOUSE_KEY_ENCRYPTION_KEY: value }, dir);
      const key = config.authServer.keyEncryptionKey!;
      assert.ok(key.equals(createSecretKey(secret)), 'the same key');
      for (const shown of [JSON.stringify(config), inspect(config, { depth: 10 })]) {
        for (const encoding of ['base64', 'base64url', 'hex'] as const) assert.ok(!shown.includes(secret.toString(encoding)), `not in ${encoding}`);
      }
    });
  }

  for (const [what, value] of [['16 bytes', randomBytes(16).toString('base64')], ['63 hex digits', randomBytes(32).toString('hex').slice(1)], ['a passphrase', 'correct horse battery staple and more words']] as const) {
    test(`refuses ${what} without echoing it`, () => {
      assert.throws(() => loadAuthServerConfig({ DATABASE_URL, GATEHOUSE_KEY_ENCRYPTION_KEY: value }, dir), (err: unknown) => {
        assert.ok(refusal(/^Invalid configuration: auth_server\.key_encryption_key \(from GATEHOUSE_KEY_ENCRYPTION_KEY\): expected 32 random bytes as base64/)(err), String(err));
        assert.ok(!(err as Error).message.includes(value), 'the value is not echoed');
        return true;
      });
    });
  }
});

describe('starting with the wrong key encryption key', { skip: !TEST_BACKENDS.includes('postgres') && 'GATEHOUSE_TEST_BACKENDS excludes postgres' }, () => {
  function startAuthServerProcess(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/auth-server/src/main.ts'], {
      env: { PATH: process.env.PATH!, AUTH_PORT: '0', DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), ...env },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    return new Promise((resolve) => child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }));
  }

  test('the auth-server process refuses to start with one line naming the field, exit code 2', async () => {
    const url = await createTestPostgresDatabase();
    const database = await openDatabase({ sqliteFile: join(dir, 'unused.db'), postgres: { url } }, 'auth-server');
    try {
      // The first replica stored the keys under its encryption key.
      await loadStartingKeys(openKeyStore({ keysDir: join(dir, 'keys'), keyEncryptionKey: createSecretKey(randomBytes(32)) }, database));
    } finally {
      await database.close();
    }
    const { code, stderr } = await startAuthServerProcess({ DATABASE_URL: url, GATEHOUSE_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
    const lines = stderr.split('\n').filter((l) => l && !l.startsWith('oidc-provider WARNING'));
    assert.equal(code, 2, stderr);
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, /^gatehouse auth-server: Invalid configuration: auth_server\.key_encryption_key: the keys stored in the database do not decrypt with it/);
  });
});
