/**
 * The CLI when its database cannot be opened: DATA_DIR is a file, the database file is a
 * directory or not SQLite, PostgreSQL drops the connection. One line naming the database and the
 * reason, exit 1, as a refused command says it; not a stack trace, and not the URL's password.
 * A database that opens but fails in a way no message foresees (a table dropped by hand) is one
 * line too; LOG_LEVEL=debug adds the stack.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TEST_KEY_ENCRYPTION_KEY } from '../helpers/start-auth-server.ts';
import { makeCliDir, runCli, spawnCli } from './support/cli-runner.ts';

interface Case {
  name: string;
  /** Makes the broken database in `dir`; returns the environment that points the CLI at it. */
  setup: (dir: string) => Record<string, string>;
  /** The one line on stderr. */
  stderr: (dir: string) => RegExp;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A PostgreSQL "server" that closes every connection at once: a real refusal, no PostgreSQL needed. */
let dropper: Server;
const dropperUrl = () => `postgres://gatehouse:s3cret-db-password@127.0.0.1:${(dropper.address() as AddressInfo).port}/gatehouse`;

const CASES: Case[] = [
  {
    name: 'DATA_DIR is a file',
    setup: (dir) => {
      writeFileSync(join(dir, 'data-file'), '');
      return { DATA_DIR: join(dir, 'data-file') };
    },
    stderr: (dir) => new RegExp(`^gatehouse: DATA_DIR: cannot mkdir ${escape(join(dir, 'data-file'))} \\(EEXIST: file already exists\\); DATA_DIR must name a directory, or a path where one can be made\\n$`),
  },
  {
    name: 'the database file is a directory',
    setup: (dir) => {
      mkdirSync(join(dir, 'dir-db', 'auth-server.db'), { recursive: true });
      return { DATA_DIR: join(dir, 'dir-db') };
    },
    stderr: (dir) => new RegExp(`^gatehouse: DATA_DIR: cannot open ${escape(join(dir, 'dir-db', 'auth-server.db'))} \\(EISDIR: [^)]*\\); check DATA_DIR\\n$`),
  },
  {
    name: 'the database file is not SQLite',
    setup: (dir) => {
      mkdirSync(join(dir, 'garbage'));
      writeFileSync(join(dir, 'garbage', 'auth-server.db'), 'not a database, '.repeat(512));
      return { DATA_DIR: join(dir, 'garbage') };
    },
    stderr: (dir) => new RegExp(`^gatehouse: cannot open the database ${escape(join(dir, 'garbage', 'auth-server.db'))}: file is not a database\\n$`),
  },
  {
    name: 'PostgreSQL drops the connection',
    setup: () => ({ DATABASE_URL: dropperUrl(), GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY }),
    stderr: () => new RegExp(`^gatehouse: cannot open the database PostgreSQL at ${escape(dropperUrl().replace('s3cret-db-password', '***'))}: \\S.*\\n$`),
  },
];

describe('gatehouse when the database cannot be opened', () => {
  let dir: string;

  before(async () => {
    dir = makeCliDir('gatehouse-cli-no-db-');
    dropper = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise((resolve) => dropper.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  for (const { name, setup, stderr } of CASES) {
    test(`${name}: one line naming the database and why, exit 1`, async () => {
      const result = await runCli(dir, ['users', 'list'], '', setup(dir));
      assert.equal(result.code, 1, `exit code; stderr: ${result.stderr}`);
      assert.equal(result.stdout, '', 'nothing on stdout');
      assert.match(result.stderr, stderr(dir));
      assert.doesNotMatch(result.stderr, /s3cret-db-password/, 'the password is not shown');
    });
  }

  test('a table dropped by hand: one line naming the error, exit 1; LOG_LEVEL=debug adds the stack', async () => {
    const env = { DATA_DIR: join(dir, 'no-users-table') };
    assert.equal((await runCli(dir, ['users', 'list'], '', env)).code, 0, 'the database is made');
    const db = new Database(join(env.DATA_DIR, 'auth-server.db'));
    db.exec('DROP TABLE users');
    db.close();
    const result = await runCli(dir, ['users', 'list'], '', env);
    assert.equal(result.code, 1, `exit code; stderr: ${result.stderr}`);
    assert.equal(result.stderr, 'gatehouse: failed: SqliteError: no such table: users (LOG_LEVEL=debug shows where)\n');
    const debug = await runCli(dir, ['users', 'list'], '', { ...env, LOG_LEVEL: 'debug' });
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^gatehouse: failed: SqliteError: no such table: users\n\s+at /);
  });

  test('the binary says it the same way', async () => {
    const result = await spawnCli(dir, ['users', 'list'], { env: CASES[0]!.setup(dir) });
    assert.equal(result.code, 1, `exit code; stderr: ${result.stderr}`);
    assert.match(result.stderr, CASES[0]!.stderr(dir));
  });
});
