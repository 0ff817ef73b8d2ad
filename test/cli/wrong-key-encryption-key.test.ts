/**
 * The CLI on PostgreSQL (where the keys are stored in the database, encrypted) given another
 * GATEHOUSE_KEY_ENCRYPTION_KEY than the one the keys were stored with: one line naming the
 * setting, exit 1, as the server says it at start-up; not a stack trace. The keys are unchanged.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startAuthServer, TEST_KEY_ENCRYPTION_KEY, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { makeCliDir, runCli } from './support/cli-runner.ts';

for (const backend of TEST_BACKENDS.filter((b) => b === 'postgres')) describe(`gatehouse with the wrong key encryption key (${backend})`, () => {
  let dir: string;
  let server: TestAuthServer;
  let databaseUrl: string;

  before(async () => {
    dir = makeCliDir('gatehouse-cli-wrong-kek-');
    server = await startAuthServer({ dir, backend });
    databaseUrl = server.config.authServer.database.postgres!.url;
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const withKey = (key: string) => ({ DATABASE_URL: databaseUrl, GATEHOUSE_KEY_ENCRYPTION_KEY: key });

  for (const args of [['keys', 'list'], ['keys', 'rotate']]) {
    test(`${args.join(' ')}: one line naming GATEHOUSE_KEY_ENCRYPTION_KEY, exit 1, the keys unchanged`, async () => {
      const before = await runCli(dir, ['--json', 'keys', 'list'], '', withKey(TEST_KEY_ENCRYPTION_KEY));
      assert.equal(before.code, 0, `the right key reads the keys: ${before.stderr}`);

      const result = await runCli(dir, args, '', withKey(randomBytes(32).toString('base64')));
      assert.equal(result.code, 1, `exit code; stderr: ${result.stderr}`);
      assert.equal(result.stdout, '', 'nothing on stdout');
      assert.match(result.stderr, /^gatehouse: Invalid configuration: auth_server\.key_encryption_key: the keys stored in the database do not decrypt with it; .*\(GATEHOUSE_KEY_ENCRYPTION_KEY\)\n$/, `one line naming the setting: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /\n\s+at /, `no stack trace: ${result.stderr}`);

      const after = await runCli(dir, ['--json', 'keys', 'list'], '', withKey(TEST_KEY_ENCRYPTION_KEY));
      assert.equal(after.stdout, before.stdout, 'the keys are unchanged');
    });
  }
});
