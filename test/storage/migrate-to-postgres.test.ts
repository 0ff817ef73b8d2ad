/**
 * `gatehouse migrate-to-postgres`: an existing SQLite deployment (both apps, with real sign-ins,
 * grants, a tool call and a note) is copied into a new PostgreSQL database, every table counted
 * on both sides; running it again is refused and changes nothing.
 */
import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { decodeProtectedHeader } from 'jose';
import pg from 'pg';
import { run as runGatehouse } from '../../apps/auth-server/src/cli/run.ts';
import { openKeyStore } from '../../apps/auth-server/src/keys/open-key-store.ts';
import { readCookieKeys, readSigningKeys } from '../../apps/auth-server/src/keys/signing-keys.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { CapturedOutput } from '../cli/support/captured-output.ts';
import { createUser } from '../admin/support/admin-browser.ts';
import { connectClient } from '../helpers/mcp-http.ts';
import { freePort } from '../helpers/net.ts';
import { connect, redeem, refresh, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, TEST_KEY_ENCRYPTION_KEY, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';

interface Copied {
  database: string;
  tables: Array<{ app: string; table: string; rows: number }>;
  keys: { signing_keys: number; cookie_keys: number };
}

async function gatehouse(dir: string, args: string[], databaseUrl: string, keysDir = join(dir, 'keys')) {
  const stdout = new CapturedOutput();
  const stderr = new CapturedOutput();
  const env = { DATA_DIR: join(dir, 'data'), KEYS_DIR: keysDir, DATABASE_URL: databaseUrl, GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY };
  const code = await runGatehouse(args, { stdin: Readable.from([]), stdout, stderr }, env);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function sqliteCounts(file: string): Map<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'").pluck().all() as string[];
    return new Map(tables.map((table) => [table, db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number]));
  } finally {
    db.close();
  }
}

async function postgresCount(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  } finally {
    await client.end();
  }
}

describe('gatehouse migrate-to-postgres', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let server: TestAuthServer;
  let dir: string;
  let databaseUrl: string;
  let mcpUrl: string;
  let client: Awaited<ReturnType<typeof registerClient>>;
  /** What alice's client holds when the deployment is moved. */
  let held: { accessToken: string; refreshToken: string };

  before(async () => {
    mcpUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-'));
    server = await startAuthServer({ dir, env: { RESOURCE_URL: mcpUrl } });
    const resource = await startResourceServerBeside(server);
    await createUser(server, 'alice', 'alice password 1', ['mcp:read', 'mcp:write']);
    client = await registerClient(server.issuer);
    const signedIn = await connect(server.issuer, { clientId: client.client_id, redirectUri: client.redirect_uris[0], scope: 'mcp:read mcp:write', resource: mcpUrl, username: 'alice', password: 'alice password 1' });
    const tokens = await redeem(server.issuer, client, signedIn);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 200);
    held = { accessToken: refreshed.body.access_token as string, refreshToken: refreshed.body.refresh_token as string };
    const { client: mcp } = await connectClient(resource.mcpUrl, tokens.body.access_token as string);
    await mcp.callTool({ name: 'create_note', arguments: { title: 'moved', body: 'to PostgreSQL' } });
    await mcp.close();
    await resource.close();
    // Stopped as the README says; the directory (its own) stays for the copy.
    await server.close();
    databaseUrl = await createTestPostgresDatabase();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('copies every table of both apps, and the counts match on both sides', async () => {
    const result = await gatehouse(dir, ['--json', 'migrate-to-postgres'], databaseUrl);
    assert.equal(result.code, 0, result.stderr);
    const copied = JSON.parse(result.stdout) as Copied;
    assert.doesNotMatch(result.stdout, /password|secret/i, 'the database URL is shown without credentials');
    for (const [app, file] of [['auth-server', 'auth-server.db'], ['resource-server', 'resource-server.db']] as const) {
      const source = sqliteCounts(join(dir, 'data', file));
      const reported = new Map(copied.tables.filter((t) => t.app === app).map((t) => [t.table, t.rows]));
      assert.deepEqual([...reported.keys()].sort(), [...source.keys()].sort(), `${app}: every table`);
      for (const [table, rows] of source) {
        assert.equal(reported.get(table), rows, `${app}.${table}: reported`);
        assert.equal(await postgresCount(databaseUrl, table), rows, `${app}.${table}: in PostgreSQL`);
      }
    }
    const rowsOf = (table: string) => copied.tables.find((t) => t.table === table)?.rows ?? 0;
    assert.deepEqual(copied.keys, { signing_keys: 2, cookie_keys: 1 });
    assert.ok(rowsOf('users') >= 2 && rowsOf('oidc_models') > 0 && rowsOf('audit_events') > 0 && rowsOf('notes') === 1 && rowsOf('tool_calls') >= 1, 'real data was moved');
  });

  test('moves the signing and cookie keys, encrypted, so tokens and cookies issued before stay valid', async () => {
    const files = readSigningKeys(join(dir, 'keys'));
    const database = await openDatabase({ sqliteFile: join(dir, 'unused.db'), postgres: { url: databaseUrl } }, 'auth-server');
    try {
      const store = openKeyStore({ keysDir: join(dir, 'keys'), keyEncryptionKey: createSecretKey(Buffer.from(TEST_KEY_ENCRYPTION_KEY, 'base64')) }, database);
      assert.deepEqual(await store.readSigningKeys(), files, 'the same keys in the same stages');
      assert.deepEqual(await store.loadOrCreateCookieKeys(), readCookieKeys(join(dir, 'keys')));
      const rows = await database.all<{ private_jwk: string }>('SELECT private_jwk FROM signing_keys');
      for (const key of files) assert.ok(rows.every((row) => !row.private_jwk.includes(key.jwk.d!)), 'encrypted');
    } finally {
      await database.close();
    }
  });

  test('started on PostgreSQL afterwards, the apps carry on: the client\'s refresh token, the same signing key, the user\'s notes', async () => {
    const moved = await startAuthServer({ dir, databaseUrl, env: { RESOURCE_URL: mcpUrl } });
    try {
      assert.equal(moved.auth.database.dialect, 'postgres');
      const next = await refresh(moved.issuer, client, held.refreshToken);
      assert.equal(next.status, 200, `the refresh token issued on SQLite works on PostgreSQL: ${JSON.stringify(next.body)}`);
      const accessToken = next.body.access_token as string;
      assert.equal(decodeProtectedHeader(accessToken).kid, decodeProtectedHeader(held.accessToken).kid, 'signed with the key moved from KEYS_DIR');
      const resource = await startResourceServerBeside(moved, { configure: (config) => { config.database = { ...config.database, postgres: { url: databaseUrl } }; } });
      try {
        const { client: mcp } = await connectClient(resource.mcpUrl, accessToken);
        const notes = await mcp.callTool({ name: 'list_notes', arguments: {} });
        assert.match(JSON.stringify(notes.content), /moved/, 'the note written on SQLite');
        await mcp.close();
      } finally {
        await resource.close();
      }
    } finally {
      await moved.close();
    }
  });

  test('a second run is refused, naming the table that already holds data, and changes nothing', async () => {
    const before = await postgresCount(databaseUrl, 'users');
    const result = await gatehouse(dir, ['migrate-to-postgres'], databaseUrl);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /already holds \d+ rows: migrate into an empty database/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(await postgresCount(databaseUrl, 'users'), before);
  });

  test('a run that fails copying the second app copies nothing, so the next run completes', async () => {
    const target = await createTestPostgresDatabase();
    // The resource server's schema in place with a trigger that fails the copy of its notes, as a
    // lost connection or a kill would once the auth-server's tables are copied.
    await (await openDatabase({ sqliteFile: join(dir, 'unused.db'), postgres: { url: target } }, 'resource-server')).close();
    const admin = new pg.Client({ connectionString: target });
    await admin.connect();
    try {
      await admin.query("CREATE FUNCTION refuse_notes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'connection lost'; END $$");
      await admin.query('CREATE TRIGGER refuse_notes BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION refuse_notes()');
      const failed = await gatehouse(dir, ['migrate-to-postgres'], target);
      assert.equal(failed.code, 1);
      assert.equal(failed.stderr, 'gatehouse: table notes: PostgreSQL refused a row: connection lost; no table was copied\n', 'one line naming the table');
      assert.equal(await postgresCount(target, 'users'), 0, 'nothing of the auth-server was left behind');
      await admin.query('DROP TRIGGER refuse_notes ON notes');
    } finally {
      await admin.end();
    }
    const again = await gatehouse(dir, ['migrate-to-postgres'], target);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await postgresCount(target, 'notes'), 1);
    assert.ok(await postgresCount(target, 'users') >= 2);
  });

  test('without DATABASE_URL it says what to set', async () => {
    const stdout = new CapturedOutput();
    const stderr = new CapturedOutput();
    const code = await runGatehouse(['migrate-to-postgres'], { stdin: Readable.from([]), stdout, stderr }, { DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys') });
    assert.equal(code, 1);
    assert.match(stderr.text, /set DATABASE_URL/);
  });
});

describe('gatehouse migrate-to-postgres, given a database it cannot use', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-refused-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Tables in the target's public schema: none, when the run touched nothing. */
  async function tablesIn(url: string): Promise<number> {
    return postgresCount(url, "information_schema.tables WHERE table_schema = 'public'");
  }
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  test('a SQLite file that is not a database: named in one line, and the target untouched', async () => {
    const data = join(dir, 'garbage');
    mkdirSync(join(data, 'data'), { recursive: true });
    const file = join(data, 'data', 'auth-server.db');
    writeFileSync(file, 'not a database, '.repeat(512));
    const target = await createTestPostgresDatabase();
    const result = await gatehouse(data, ['migrate-to-postgres'], target);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^gatehouse: cannot open the database ${escape(file)}: file is not a database\\n$`));
    assert.equal(await tablesIn(target), 0, 'nothing was written to the target');
  });

  // Each row: what is wrong with DATABASE_URL, the URL (given the test cluster's), and the reason expected.
  const targets: Array<[string, (cluster: URL, port: number) => string, RegExp]> = [
    ['nothing listens at its port', (cluster, port) => `postgres://gatehouse:s3cret-password@127.0.0.1:${port}${cluster.pathname}`, /ECONNREFUSED/],
    ['its database does not exist', (cluster) => { const url = new URL(cluster); url.pathname = '/no_such_database'; return url.href; }, /database "no_such_database" does not exist/],
  ];
  for (const [what, url, reason] of targets) {
    test(`PostgreSQL when ${what}: named in one line, without its password`, async () => {
      const data = join(dir, what.replace(/\W+/g, '-'));
      const source = await startAuthServer({ dir: data });
      await source.close();
      const target = url(new URL(await createTestPostgresDatabase()), await freePort());
      const result = await gatehouse(data, ['migrate-to-postgres'], target);
      assert.equal(result.code, 1);
      const lines = result.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, /^gatehouse: cannot open the database PostgreSQL at postgres:\/\//);
      assert.match(lines[0]!, reason);
      assert.doesNotMatch(result.stderr, /s3cret-password/);
    });
  }
});

describe('gatehouse migrate-to-postgres, given data PostgreSQL does not hold as SQLite does', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let dir: string;
  let deployments = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-data-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A fresh DATA_DIR whose auth-server.db (migrated, empty) is filled by `fill`. */
  async function deployment(fill: (db: Database.Database) => void): Promise<string> {
    const root = join(dir, `deployment-${++deployments}`);
    const file = join(root, 'data', 'auth-server.db');
    await (await openDatabase({ sqliteFile: file }, 'auth-server')).close();
    const db = new Database(file);
    try {
      fill(db);
    } finally {
      db.close();
    }
    return root;
  }
  /** Tables in the target's public schema: none, when the run touched nothing. */
  const tablesIn = (url: string) => postgresCount(url, "information_schema.tables WHERE table_schema = 'public'");

  test('the revocation feed goes on from the last number SQLite gave, pruned revocations included, so no follower misses one', async () => {
    const root = await deployment((db) => {
      const insert = db.prepare("INSERT INTO revocations (kind, value, issued_before, expires_at) VALUES ('grant', ?, 0, 0)");
      for (const grant of ['g1', 'g2', 'g3']) insert.run(grant);
      // All pruned once expired; a resource server had read the feed up to 3.
      db.prepare('DELETE FROM revocations').run();
    });
    const target = await createTestPostgresDatabase();
    const result = await gatehouse(root, ['migrate-to-postgres'], target);
    assert.equal(result.code, 0, result.stderr);
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      const latest = await client.query("SELECT pg_sequence_last_value(pg_get_serial_sequence('revocations', 'seq')) AS n");
      assert.equal(Number(latest.rows[0].n), 3, 'the feed\'s position, as SQLite had it');
      const next = await client.query("INSERT INTO revocations (kind, value, issued_before, expires_at) VALUES ('grant', 'g4', 0, 0) RETURNING seq");
      assert.equal(Number(next.rows[0].seq), 4, 'the first revocation on PostgreSQL comes after what followers read');
    } finally {
      await client.end();
    }
    // Only auth-server.db was there (docker compose keeps each app's database in its own volume).
    assert.match(result.stdout, new RegExp(`Not copied: resource-server \\(no ${join(root, 'data', 'resource-server.db').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)\\. If its database is elsewhere`));
    const json = await gatehouse(root, ['--json', 'migrate-to-postgres'], await createTestPostgresDatabase());
    assert.deepEqual((JSON.parse(json.stdout) as { not_found: unknown }).not_found, [{ app: 'resource-server', file: join(root, 'data', 'resource-server.db') }]);
  });

  // Each row: what SQLite holds, how it was put there, and the one line expected instead of a copy.
  const refusals: Array<[string, (db: Database.Database) => void, RegExp]> = [
    [
      'text with U+0000 (NUL)',
      (db) => db.prepare("INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at) VALUES ('u1', 'nul', NULL, 'mcp:read', 0, 0, ?, 'builtin', 0, 0)").run('a\u0000b@example.com'),
      /holds text with U\+0000 \(NUL\), which PostgreSQL cannot store, in users\.email \(1 row\); replace it first, e\.g\. with the sqlite3 shell: UPDATE users SET email = replace\(email, char\(0\), char\(65533\)\) WHERE instr\(email, char\(0\)\) > 0; nothing was copied$/,
    ],
    [
      'usernames that differ only in the case of a non-ASCII letter',
      (db) => {
        const insert = db.prepare("INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at) VALUES (?, ?, NULL, 'mcp:read', 0, 0, NULL, 'federated', 0, 0)");
        insert.run('u1', 'Émile@example.com');
        insert.run('u2', 'émile@example.com');
        insert.run('u3', 'zoé@example.com');
      },
      /these usernames differ only in case, which PostgreSQL's lower\(\) folds and SQLite's does not: "Émile@example\.com" and "émile@example\.com"; rename one of each \(gatehouse users rename USERNAME NEW_USERNAME\), then run this again; nothing was copied$/,
    ],
  ];
  for (const [what, fill, expected] of refusals) {
    test(`${what}: refused in one line saying what to do, before anything is written`, async () => {
      const root = await deployment(fill);
      const target = await createTestPostgresDatabase({ locale: 'C.UTF-8' });
      const result = await gatehouse(root, ['migrate-to-postgres'], target);
      assert.equal(result.code, 1);
      const lines = result.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, expected);
      assert.equal(await tablesIn(target), 0, 'the target untouched');
    });
  }

  test('a KEYS_DIR without keys beside tokens and sessions is refused; --without-keys moves the data without them', async () => {
    const root = join(dir, 'signed-in');
    const server = await startAuthServer({ dir: root });
    try {
      const client = await registerClient(server.issuer);
      await connect(server.issuer, { clientId: client.client_id, redirectUri: client.redirect_uris[0], scope: 'mcp:read', resource: server.config.authServer.resource, username: 'admin', password: ADMIN_PASSWORD });
    } finally {
      await server.close();
    }
    const empty = join(root, 'not-the-keys');
    mkdirSync(empty);
    const target = await createTestPostgresDatabase();
    const refused = await gatehouse(root, ['migrate-to-postgres'], target, empty);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^gatehouse: KEYS_DIR \\(${empty}\\) holds no signing keys, but .*auth-server\\.db holds \\d+ tokens, sessions and clients made with keys: point KEYS_DIR at the keys of the server that used this database, or pass --without-keys .*; nothing was copied\\n$`));
    assert.equal(await tablesIn(target), 0, 'the target untouched');

    const moved = await gatehouse(root, ['migrate-to-postgres', '--without-keys'], target, empty);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /Keys: none moved \(--without-keys\): the first start on PostgreSQL creates new ones\./);
    assert.ok(await postgresCount(target, 'oidc_models') > 0);
    assert.equal(await postgresCount(target, 'signing_keys'), 0);
  });
});
