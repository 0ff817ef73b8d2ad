/**
 * Start-up mistakes an operator makes on day one end the process with one line saying what is
 * wrong, not a stack trace: a port already taken, a configuration value the apps cannot use, a
 * data or keys directory the service user cannot use.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { asNobody, canRunAsNobody, NOBODY } from '../helpers/run-as-nobody.ts';
import { freshSetup, kill, REPO_ROOT, run, runApp, waitForOk, type RunningProcess } from './support/processes.ts';

/** What an app or the CLI printed, without its JSON log lines and Node version warning. */
function printedLines(output: string): string[] {
  return output.split('\n').filter((line) => line && !line.startsWith('{') && !line.startsWith('oidc-provider WARNING'));
}

describe('start-up errors', () => {
  test('a port already in use: one line naming the address and the setting, exit 1', async () => {
    const setup = await freshSetup();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(setup.resourcePort, '127.0.0.1', resolve));
    try {
      const app = runApp('resource-server', setup.env);
      const { code } = await app.exited;
      assert.equal(code, 1);
      assert.equal(app.output().trim(), `gatehouse resource-server: cannot listen on 127.0.0.1:${setup.resourcePort} (the port is in use); choose another port (RESOURCE_PORT, or the metrics port)`);
    } finally {
      taken.close();
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });

  const hosts: Array<[string, string, RegExp]> = [
    ['a listen host that does not resolve', 'nowhere.invalid', /"nowhere\.invalid" \(the host name does not resolve\)/],
    ['a listen host that is no address of this machine', '192.0.2.1', /"192\.0\.2\.1" \(no network interface of this machine has that address\)/],
  ];
  for (const [what, host, why] of hosts) {
    test(`${what}: one line naming it and LISTEN_HOST, exit 1`, async () => {
      const setup = await freshSetup({ LISTEN_HOST: host });
      try {
        const app = runApp('resource-server', setup.env);
        assert.equal((await app.exited).code, 1);
        // Before it, the start-up log warns of plain http off loopback, as a JSON line.
        const lines = app.output().trim().split('\n').filter((line) => !line.startsWith('{'));
        assert.equal(lines.length, 1, 'one line, no stack');
        assert.match(lines[0]!, new RegExp(`^gatehouse resource-server: cannot listen on ${why.source}; set LISTEN_HOST`));
      } finally {
        rmSync(setup.dir, { recursive: true, force: true });
      }
    });
  }

  // A key file holds private keys: what it is made of must never reach the terminal or the log.
  const PRIVATE_PART = 'PRIVATE-KEY-TEXT';
  /** Mistakes in DATA_DIR and KEYS_DIR; `make` sets one up in the temp dir and names the line it gets. */
  const directories: Array<{ what: string; asNobody?: true; make(dir: string, env: Record<string, string>): string }> = [
    {
      what: 'a signing-keys.json edited by hand or cut short',
      make: (_dir, env) => {
        mkdirSync(env.KEYS_DIR!);
        writeFileSync(join(env.KEYS_DIR!, 'signing-keys.json'), `{"keys": [{"kty": "RSA", "d": "${PRIVATE_PART}"} x`);
        return `KEYS_DIR: ${env.KEYS_DIR}/signing-keys.json is not a key file (JSON with a "keys" list), edited by hand or cut short; restore it from a backup`;
      },
    },
    {
      what: 'a KEYS_DIR that names a file',
      make: (dir, env) => {
        env.KEYS_DIR = join(dir, 'keys-file');
        writeFileSync(env.KEYS_DIR, '');
        return `KEYS_DIR: cannot open ${env.KEYS_DIR}/signing-keys.json (ENOTDIR: not a directory); KEYS_DIR must name a directory, or a path where one can be made`;
      },
    },
    {
      what: 'a DATA_DIR the service user cannot make',
      asNobody: true,
      make: (_dir, env) => `DATA_DIR: cannot mkdir ${env.DATA_DIR} (EACCES: permission denied); give the user this runs as (uid ${NOBODY}) read and write access to DATA_DIR, or run as the user that owns it`,
    },
    {
      what: 'a DATA_DIR the service user cannot write, holding a database file it owns',
      asNobody: true,
      make: (_dir, env) => {
        mkdirSync(env.DATA_DIR!, { mode: 0o755 });
        const database = join(env.DATA_DIR!, 'auth-server.db');
        writeFileSync(database, '', { mode: 0o600 });
        chownSync(database, NOBODY, NOBODY);
        mkdirSync(env.KEYS_DIR!);
        chownSync(env.KEYS_DIR!, NOBODY, NOBODY);
        return `DATA_DIR: cannot access ${env.DATA_DIR} (EACCES: permission denied); give the user this runs as (uid ${NOBODY}) read and write access to DATA_DIR, or run as the user that owns it`;
      },
    },
    {
      what: 'a KEYS_DIR the service user cannot write',
      asNobody: true,
      make: (_dir, env) => {
        mkdirSync(env.DATA_DIR!);
        chownSync(env.DATA_DIR!, NOBODY, NOBODY);
        mkdirSync(env.KEYS_DIR!);
        return `KEYS_DIR: cannot open ${env.KEYS_DIR}/signing-keys.json.<random>.tmp (EACCES: permission denied); give the user this runs as (uid ${NOBODY}) read and write access to KEYS_DIR, or run as the user that owns it`;
      },
    },
  ];
  for (const { what, asNobody: needsNobody, make } of directories) {
    test(`${what}: the auth-server and the CLI say so in one line, exit 1`, { skip: needsNobody && !canRunAsNobody && 'needs root and setpriv' }, async () => {
      const setup = await freshSetup({ HOME: '/tmp' });
      try {
        // As a service user, the root-owned temp dir is where it cannot write.
        chmodSync(setup.dir, 0o755);
        const line = make(setup.dir, setup.env);
        const commands: Array<[string, string, string[]]> = [
          ['gatehouse auth-server: ', process.execPath, ['--import', 'tsx', join('apps', 'auth-server', 'src', 'main.ts')]],
          ['gatehouse: ', process.execPath, [join(REPO_ROOT, 'apps', 'auth-server', 'src', 'cli', 'gatehouse.js'), 'keys', 'rotate']],
        ];
        for (const [prefix, command, args] of commands) {
          const proc = needsNobody ? run(...asNobody(command, args), setup.env) : run(command, args, setup.env);
          assert.equal((await proc.exited).code, 1, proc.output());
          assert.deepEqual(printedLines(proc.output()).map((l) => l.replace(/\.[0-9a-f]{12}\.tmp /, '.<random>.tmp ')), [prefix + line]);
          assert.ok(!proc.output().includes(PRIVATE_PART));
        }
      } finally {
        rmSync(setup.dir, { recursive: true, force: true });
      }
    });
  }

  test('a PostgreSQL that does not answer: one line with the database\'s words and no password, exit 1', async () => {
    const nobody = await freePort();
    const setup = await freshSetup({ DATABASE_URL: `postgres://gatehouse:s3cret-pw@127.0.0.1:${nobody}/gatehouse`, GATEHOUSE_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
    try {
      for (const name of ['auth-server', 'resource-server'] as const) {
        const app = runApp(name, setup.env);
        assert.equal((await app.exited).code, 1, app.output());
        const lines = app.output().split('\n').filter((line) => line && !line.startsWith('oidc-provider WARNING'));
        assert.deepEqual(lines, [`gatehouse ${name}: cannot reach the database: connect ECONNREFUSED 127.0.0.1:${nobody}`]);
      }
    } finally {
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });

  // The refusal names DATABASE_URL and says how to write it; the password is in no line either app prints.
  const unusableUrls: Array<[what: string, password: string]> = [
    ['digits before a / (parsed as a port)', '12/s3cret'],
    ['a % not starting a %XX beside an escape (node-postgres misreads the URL)', '50%s3%2Fcret'],
  ];
  for (const [what, password] of unusableUrls) {
    test(`a DATABASE_URL whose password is ${what}: one line with the hint and no password, exit 2`, async () => {
      const setup = await freshSetup({ DATABASE_URL: `postgres://gatehouse:${password}@127.0.0.1:5432/gatehouse`, GATEHOUSE_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
      try {
        for (const name of ['auth-server', 'resource-server'] as const) {
          const app = runApp(name, setup.env);
          assert.equal((await app.exited).code, 2, app.output());
          const lines = printedLines(app.output());
          assert.equal(lines.length, 1, app.output());
          assert.match(lines[0]!, new RegExp(`^gatehouse ${name}: Invalid configuration: database\\.url \\(from DATABASE_URL\\): expected a PostgreSQL URL .* must be percent-encoded`));
          assert.ok(!app.output().includes(password), 'the password is not printed');
        }
      } finally {
        rmSync(setup.dir, { recursive: true, force: true });
      }
    });
  }

  test('npm start with a bad setting reports it once, before starting either app, exit 2', async () => {
    const setup = await freshSetup({ RESOURCE_URL: 'http://localhost:4001/' });
    try {
      const launcher = run(process.execPath, ['--import', 'tsx', 'apps/start.ts'], setup.env);
      const { code } = await launcher.exited;
      assert.equal(code, 2);
      assert.equal(launcher.output().trim(), 'gatehouse: Invalid configuration: resource_server.resource (from RESOURCE_URL): expected an absolute http(s) URL with a path and no trailing slash, query, fragment or credentials (like https://mcp.example.com/mcp), got "http://localhost:4001/"');
    } finally {
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });

  test('a mistake in the auth_server section stops the auth-server naming the field, and the resource server starts', async () => {
    const setup = await freshSetup();
    const configFile = join(setup.dir, 'gatehouse.yaml');
    writeFileSync(configFile, 'auth_server:\n  builtin:\n    users:\n      - { username: reader, password_env: READER_PASSWORD_NOT_SET }\n');
    const env = { ...setup.env, GATEHOUSE_CONFIG: configFile };
    let resourceServer: RunningProcess | undefined;
    try {
      const authServer = runApp('auth-server', env);
      assert.equal((await authServer.exited).code, 2);
      const lines = authServer.output().split('\n').filter((line) => line && !line.startsWith('oidc-provider WARNING'));
      assert.deepEqual(lines, ['gatehouse auth-server: Invalid configuration: auth_server.builtin.users.0.password_env: the environment variable READER_PASSWORD_NOT_SET is not set']);

      resourceServer = runApp('resource-server', env);
      await waitForOk(`http://127.0.0.1:${setup.resourcePort}/healthz`, { proc: resourceServer });
      resourceServer.signal('SIGTERM');
      assert.equal((await resourceServer.exited).code, 0);
    } finally {
      kill(resourceServer);
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });
});
