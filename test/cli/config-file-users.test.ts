/**
 * A change the CLI makes to a user the config file defines lasts only until the next start, when
 * the config file's values return: each such command says so on a line of its own, after the
 * line that says what it did (the users commands print their lines one by one, so that a value
 * cannot break one: test/cli/hostile-text).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { makeCliDir, runCli } from './support/cli-runner.ts';

const NOTE = 'note: this user comes from the config file, whose values return at the next start';

describe('the users commands on a user from the config file', () => {
  let dir: string;
  let server: TestAuthServer;

  before(async () => {
    dir = makeCliDir('gatehouse-cli-config-users-');
    server = await startAuthServer({
      dir,
      configure(config) {
        config.authServer.users = [{ username: 'reader', password: 'reader password', scopes: ['mcp:read'], disabled: false }];
      },
    });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** [command line, stdin, what it prints first]; in this order (enable follows disable). */
  const CASES: Array<[string[], string, string]> = [
    [['users', 'disable', 'reader'], '', 'disabled reader; revoked 0 grant(s)'],
    [['users', 'enable', 'reader'], '', 'enabled reader'],
    [['users', 'scopes', 'reader', '--scope', 'mcp:read,mcp:write'], '', 'reader may grant mcp:read mcp:write; revoked 0 grant(s) holding a removed scope'],
    [['users', 'passwd', 'reader'], 'a new reader password\n', 'changed the password of reader; their browser sessions were ended'],
  ];
  for (const [args, input, said] of CASES) {
    test(`${args.join(' ')} says what it did, then that the config file's values return`, async () => {
      const result = await runCli(dir, args, input);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${said}\n${NOTE}\n`);
    });
  }

  test('users add of a user the config file does not define prints no note', async () => {
    const result = await runCli(dir, ['users', 'add', 'writer'], 'a writer password\n');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^created user writer \([0-9a-f-]{36}\) with scopes mcp:read\n$/);
    const disabled = await runCli(dir, ['users', 'disable', 'writer']);
    assert.equal(disabled.stdout, 'disabled writer; revoked 0 grant(s)\n');
  });
});
