/**
 * The `gatehouse` command line against a temp data and keys directory: secrets only from stdin or
 * a prompt that never echoes, --json output, exit codes 0/1/2; and next to a running server, whose
 * refresh tokens and signing keys it changes. Commands run in-process through the CLI's run()
 * (what the binary calls), each on a fresh context that closes what it opened; two smoke tests
 * spawn the real binary (on a pseudo-terminal) and `npx gatehouse` (the form the README uses).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import Database from 'better-sqlite3';
import { refresh, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, RESOURCE } from '../admin/support/admin-browser.ts';
import { run as runGatehouse } from '../../apps/auth-server/src/cli/run.ts';
import { CapturedOutput } from './support/captured-output.ts';
import { BIN, envFor, makeCliDir, ROOT, runCli, spawnCli, type CliResult as Run } from './support/cli-runner.ts';
import { FakeTerminal } from './support/fake-terminal.ts';

/** Runs one command line in-process, as the binary would; `input` is stdin (a pipe, not a terminal), which then ends. */
const run = runCli;

/** Runs one command line in-process on a terminal that types `answers` the instant each prompt shows. */
async function runOnTerminal(dir: string, args: string[], answers: string[]): Promise<{ code: number; terminal: FakeTerminal }> {
  const terminal = new FakeTerminal(answers);
  const code = await runGatehouse(args, terminal, envFor(dir));
  return { code, terminal };
}

function json<T>(result: Run): T {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

describe('gatehouse CLI on its own data directory', () => {
  let dir: string;
  /** One read-only query on the CLI's database. */
  function query<T>(sql: string, ...params: unknown[]): { get(): T; all(): T[] } {
    const read = <R>(fn: (db: Database.Database) => R) => {
      const db = new Database(join(dir, 'data', 'auth-server.db'), { readonly: true });
      try {
        return fn(db);
      } finally {
        db.close();
      }
    };
    return {
      get: () => read((db) => db.prepare(sql).pluck().get(...params) as T),
      all: () => read((db) => db.prepare(sql).pluck().all(...params) as T[]),
    };
  }

  before(() => {
    dir = makeCliDir('gatehouse-cli-');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('--help lists every command and exits 0; no command is a usage error (2)', async () => {
    const help = await run(dir, ['--help']);
    assert.equal(help.code, 0);
    for (const command of ['users add', 'users list', 'users disable', 'users enable', 'users passwd', 'users rename', 'hash-password', 'clients add', 'clients list', 'clients remove',
      'redirects allow', 'redirects list', 'redirects remove', 'schemes allow', 'schemes list', 'schemes remove', 'grants list', 'grants revoke', 'keys list', 'keys rotate', 'keys retire', 'audit tail',
      'services add', 'services scopes', 'services disable', 'services enable']) {
      assert.match(help.stdout, new RegExp(`gatehouse ${command}`), command);
    }
    assert.equal((await run(dir, [])).code, 2);
    const unknown = await run(dir, ['users', 'frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown subcommand: users frobnicate/);
  });

  test('users add reads the password from stdin; --json users list shows the user', async () => {
    const added = await run(dir, ['users', 'add', 'root', '--scope', 'mcp:read,mcp:write,mcp:admin'], 'root password 1234\n');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /created user root/);
    const users = json<Array<{ username: string; scopes: string[]; status: string }>>(await run(dir, ['--json', 'users', 'list']));
    assert.deepEqual(users.map((u) => [u.username, u.scopes, u.status]), [['root', ['mcp:read', 'mcp:write', 'mcp:admin'], 'active']]);
    const hash = query<string>('SELECT password_hash FROM users WHERE username = ?', 'root').get();
    assert.ok(bcrypt.compareSync('root password 1234', hash));
  });

  const refusedAdds: Array<[string, string[], string, number, RegExp]> = [
    ['a password on the command line', ['users', 'add', 'eve', '--password', 'root password 1234'], '', 2, /never from the command line/],
    ['a password= option', ['users', 'add', 'eve', '--password=root password 1234'], '', 2, /never from the command line/],
    ['no password on stdin', ['users', 'add', 'eve'], '', 1, /no password on stdin/],
    ['a password over 72 bytes', ['users', 'add', 'eve'], `${'€'.repeat(25)}\n`, 1, /limited to 72 bytes/],
    ['a short password', ['users', 'add', 'eve'], 'short\n', 1, /at least 12 characters/],
    ['an unknown scope', ['users', 'add', 'eve', '--scope', 'mcp:all'], 'long enough password\n', 2, /unknown scope mcp:all; the scopes are mcp:read, mcp:write, mcp:admin/],
    ['an unknown option', ['users', 'add', 'eve', '--admin'], 'long enough password\n', 2, /Unknown option '--admin'/],
    ['a taken name', ['users', 'add', 'root'], 'long enough password\n', 1, /already exists/],
    // Before any password is read (none is given here): nobody types one twice to hear the name was wrong.
    ['a taken name, before asking for a password', ['users', 'add', 'root'], '', 1, /^gatehouse: A user named root already exists\.\n$/],
    ['a malformed name, before asking for a password', ['users', 'add', 'eve smith'], '', 1, /^gatehouse: Usernames are 1 to 64 letters/],
  ];
  for (const [what, args, input, code, message] of refusedAdds) {
    test(`users add refuses ${what} (exit ${code})`, async () => {
      const result = await run(dir, args, input);
      assert.equal(result.code, code, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
      assert.equal(query<number>("SELECT count(*) FROM users WHERE username = 'eve'").get(), 0);
    });
  }

  test('on a terminal the password is asked twice and never echoed, even when typed the instant the prompt shows', async () => {
    const typed = await runOnTerminal(dir, ['users', 'add', 'termuser'], ['term password 1234', 'term password 1234']);
    assert.equal(typed.code, 0, typed.terminal.screen);
    assert.match(typed.terminal.screen, /Password for termuser: [\s\S]*Repeat it: [\s\S]*created user termuser/);
    assert.deepEqual(typed.terminal.promptsWhileEchoing, [], 'echo is off before each prompt is written');
    assert.doesNotMatch(typed.terminal.screen, /term password/, 'not echoed');
    assert.equal(typed.terminal.raw, false, 'the terminal is given back in its normal mode');
    const differ = await runOnTerminal(dir, ['users', 'add', 'termuser2'], ['term password 1234', 'another password']);
    assert.equal(differ.code, 1);
    assert.match(differ.terminal.screen, /the two passwords differ/);
    assert.equal(query<number>("SELECT count(*) FROM users WHERE username = 'termuser2'").get(), 0);
  });

  test('users passwd, disable and enable; the last admin cannot be disabled', async () => {
    assert.equal((await run(dir, ['users', 'add', 'sam'], 'sam password 1234\n')).code, 0);
    const changed = await run(dir, ['users', 'passwd', 'sam'], 'sam new password 1\n');
    assert.equal(changed.code, 0, changed.stderr);
    const hash = query<string>("SELECT password_hash FROM users WHERE username = 'sam'").get();
    assert.ok(bcrypt.compareSync('sam new password 1', hash));
    const disabled = json<{ status: string; grants_revoked: number }>(await run(dir, ['--json', 'users', 'disable', 'sam']));
    assert.equal(disabled.status, 'disabled');
    assert.equal(json<{ status: string }>(await run(dir, ['--json', 'users', 'enable', 'sam'])).status, 'active');
    const last = await run(dir, ['users', 'disable', 'root']);
    assert.equal(last.code, 1);
    assert.match(last.stderr, /root is the last active administrator/);
    const missing = await run(dir, ['users', 'disable', 'nobody']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /There is no user nobody/);
  });

  test('hash-password prints a bcrypt hash of the password on stdin, for the config file', async () => {
    const result = await run(dir, ['hash-password'], 'config password 123\n');
    assert.equal(result.code, 0, result.stderr);
    const hash = result.stdout.trim();
    assert.match(hash, /^\$2[aby]\$\d\d\$/);
    assert.ok(bcrypt.compareSync('config password 123', hash));
    assert.equal((await run(dir, ['hash-password'], `${'x'.repeat(73)}\n`)).code, 1);
    assert.match(json<{ password_hash: string }>(await run(dir, ['--json', 'hash-password'], 'config password 123\n')).password_hash, /^\$2/);
  });

  // Matching is exact: a pattern would sit on the list, "added", and match nothing.
  const wildcardUris = ['https://app.example.org/*', 'https://*.example.com/cb', 'https://*/cb', 'https://app.example.org/cb/*/x', 'https://*.example.com:8443/cb'];
  for (const uri of wildcardUris) {
    test(`redirects allow refuses the wildcard ${uri} (exit 1), and lists nothing`, async () => {
      const result = await run(dir, ['redirects', 'allow', uri]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^gatehouse: Redirect URIs are matched exactly; wildcards are not supported\./);
      assert.equal(result.stdout, '');
      const listed = json<Array<{ uri: string }>>(await run(dir, ['--json', 'redirects', 'list']));
      assert.ok(!listed.some((e) => e.uri.includes('*')), JSON.stringify(listed));
    });
  }

  test('redirects allow, list and remove; a loopback URI is refused with a reason', async () => {
    assert.equal((await run(dir, ['redirects', 'allow', 'https://app.example.com/cb'])).code, 0);
    const listed = json<Array<{ uri: string; source: string; added_by: string }>>(await run(dir, ['--json', 'redirects', 'list']));
    const entry = listed.find((e) => e.uri === 'https://app.example.com/cb');
    assert.equal(entry?.source, 'admin');
    assert.equal(entry?.added_by, 'cli');
    assert.ok(listed.some((e) => e.uri === 'https://claude.ai/api/mcp/auth_callback' && e.source === 'config'));
    const loopback = await run(dir, ['redirects', 'allow', 'http://127.0.0.1:9000/cb']);
    assert.equal(loopback.code, 1);
    assert.match(loopback.stderr, /always allowed/);
    assert.equal((await run(dir, ['redirects', 'remove', 'https://app.example.com/cb'])).code, 0);
    assert.equal((await run(dir, ['redirects', 'remove', 'https://app.example.com/cb'])).code, 1);
    assert.equal((await run(dir, ['redirects', 'remove', 'https://claude.ai/api/mcp/auth_callback'])).code, 1);
  });

  test('schemes allow, list and remove; a dangerous scheme is refused with a reason', async () => {
    const added = await run(dir, ['schemes', 'allow', 'MyApp']);
    assert.equal(added.code, 0, added.stderr);
    const listed = json<Array<{ scheme: string; source: string; added_by: string }>>(await run(dir, ['--json', 'schemes', 'list']));
    assert.deepEqual(listed.map((e) => [e.scheme, e.source, e.added_by]), [['myapp', 'admin', 'cli']]);
    for (const dangerous of ['microsoft-edge', 'ms-msdt', 'x-safari-https', 'javascript']) {
      const refused = await run(dir, ['schemes', 'allow', dangerous]);
      assert.equal(refused.code, 1, dangerous);
      assert.match(refused.stderr, /never allowed/, dangerous);
    }
    assert.equal((await run(dir, ['schemes', 'remove', 'myapp'])).code, 0);
    assert.equal((await run(dir, ['schemes', 'remove', 'myapp'])).code, 1);
  });

  test('hosts trust and remove take a host in any case, as the document fetch compares it; an odd host is refused', async () => {
    const trusted = await run(dir, ['hosts', 'trust', 'Docs.Example.COM:8443']);
    assert.equal(trusted.code, 0, trusted.stderr);
    const listed = json<Array<{ host: string; source: string }>>(await run(dir, ['--json', 'hosts', 'list']));
    assert.ok(listed.some((e) => e.host === 'docs.example.com:8443' && e.source === 'admin'));
    const removed = await run(dir, ['hosts', 'remove', 'DOCS.example.com:8443']);
    assert.equal(removed.code, 0, removed.stderr);
    for (const [host, message] of [['docs..example.com', /is not a host name/], ['example.com:99999', /is not a host name/], ['example.com:443', /trust example\.com instead/]] as const) {
      const refused = await run(dir, ['hosts', 'trust', host]);
      assert.equal(refused.code, 1, host);
      assert.match(refused.stderr, message, host);
    }
  });

  test('redirects list and hosts list say where each entry comes from, in the admin page\'s words: built-in default, config file, or admin', async () => {
    const configured = makeCliDir('gatehouse-cli-sources-');
    try {
      writeFileSync(join(configured, 'gatehouse.yaml'), [
        'auth_server:',
        '  bcrypt_cost: 10',
        '  registration: { allowed_redirect_uris: [https://file.example.com/cb] }',
        '  client_id_metadata_documents: { trusted_hosts: [file.example.com] }',
        '',
      ].join('\n'));
      assert.equal((await run(configured, ['redirects', 'allow', 'https://added.example.com/cb'])).code, 0);
      assert.equal((await run(configured, ['hosts', 'trust', 'added.example.com'])).code, 0);
      // [directory, group, entry, the rest of its row]
      const rows: Array<[string, string, string, RegExp]> = [
        [dir, 'redirects', 'https://claude.ai/api/mcp/auth_callback', /^built-in default$/],
        [dir, 'hosts', 'claude.com', /^built-in default$/],
        [configured, 'redirects', 'https://file.example.com/cb', /^config file$/],
        [configured, 'hosts', 'file.example.com', /^config file$/],
        [configured, 'redirects', 'https://added.example.com/cb', /^admin +cli +\d{4}-\d\d-\d\dT/],
        [configured, 'hosts', 'added.example.com', /^admin +cli +\d{4}-\d\d-\d\dT/],
      ];
      for (const [at, group, entry, rest] of rows) {
        const listed = await run(at, [group, 'list']);
        assert.equal(listed.code, 0, listed.stderr);
        const row = listed.stdout.split('\n').find((line) => line.startsWith(`${entry} `));
        assert.ok(row, `${group} list shows ${entry}:\n${listed.stdout}`);
        assert.match(row.slice(entry.length).trim(), rest, `${group} list, ${entry}:\n${listed.stdout}`);
      }
      const hosts = json<Array<Record<string, unknown>>>(await run(dir, ['--json', 'hosts', 'list']));
      const claude = hosts.find((e) => e.host === 'claude.com');
      assert.deepEqual([claude?.source, claude?.built_in_default], ['config', true], '--json keeps its fields');
    } finally {
      rmSync(configured, { recursive: true, force: true });
    }
  });

  // What is printed is what was stored, as `list` shows it; the text and --json alike, also when it was there already.
  const printedAsStored: Array<[string, string, string, string]> = [
    ['redirects allow', 'HTTPS://Printed.Example.COM/Cb', 'https://printed.example.com/Cb', 'uri'],
    ['schemes allow', 'Printed-App', 'printed-app', 'scheme'],
    ['schemes allow', 'Printed-App2://', 'printed-app2', 'scheme'],
    ['hosts trust', 'Printed.Example.COM:8443', 'printed.example.com:8443', 'host'],
    ['hosts trust', ' printed2.example.com ', 'printed2.example.com', 'host'],
  ];
  for (const [command, typed, stored, key] of printedAsStored) {
    test(`${command} ${JSON.stringify(typed)} prints the entry as stored, ${stored}`, async () => {
      const args = [...command.split(' '), typed];
      const added = await run(dir, args);
      assert.equal(added.code, 0, added.stderr);
      assert.equal(added.stdout.trim(), `added ${stored}`);
      assert.equal((await run(dir, args)).stdout.trim(), `${stored} was already on the list`);
      assert.deepEqual(json<Record<string, unknown>>(await run(dir, ['--json', ...args])), { [key]: stored, added: false });
      const group = command.split(' ')[0]!;
      const listed = json<Array<Record<string, string>>>(await run(dir, ['--json', group, 'list']));
      assert.ok(listed.some((e) => e[key] === stored), `${stored} is listed`);
      assert.equal((await run(dir, [group, 'remove', stored])).code, 0);
    });
  }

  // remove, too, prints the entry as the list held it, however it was typed.
  const removedAsStored: Array<[string, string, string, string]> = [
    ['redirects allow', 'HTTPS://Removed.Example.COM/Cb', 'https://removed.example.com/Cb', 'uri'],
    ['schemes allow', 'Removed-App://', 'removed-app', 'scheme'],
    ['schemes allow', ' REMOVED-APP2: ', 'removed-app2', 'scheme'],
    ['hosts trust', 'Removed.Example.COM:8443', 'removed.example.com:8443', 'host'],
    ['hosts trust', ' REMOVED2.example.com ', 'removed2.example.com', 'host'],
  ];
  for (const [command, typed, stored, key] of removedAsStored) {
    test(`${command.split(' ')[0]} remove ${JSON.stringify(typed)} prints the entry as stored, ${stored}`, async () => {
      const group = command.split(' ')[0]!;
      assert.equal((await run(dir, [...command.split(' '), stored])).code, 0);
      const removed = await run(dir, [group, 'remove', typed]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(removed.stdout.trim(), `removed ${stored}`);
      assert.equal((await run(dir, [...command.split(' '), stored])).code, 0);
      assert.deepEqual(json<Record<string, unknown>>(await run(dir, ['--json', group, 'remove', typed])), { [key]: stored, removed: true });
      const listed = json<Array<Record<string, string>>>(await run(dir, ['--json', group, 'list']));
      assert.ok(!listed.some((e) => e[key] === stored), `${stored} is no longer listed`);
    });
  }

  test('clients add prints the secret once (stored hashed); list and remove', async () => {
    const created = json<{ client_id: string; client_secret: string }>(await run(dir, ['--json', 'clients', 'add', '--name', 'Reports', '--redirect-uri', 'https://reports.example.com/cb', '--client-id', 'reports']));
    assert.equal(created.client_id, 'reports');
    assert.ok(created.client_secret.length >= 43);
    const stored = query<string>("SELECT payload FROM oidc_models WHERE model = 'Client' AND id = 'reports'").get();
    assert.ok(!stored.includes(created.client_secret));
    const list = json<Array<{ client_id: string; kind: string; redirect_uris: string[] }>>(await run(dir, ['--json', 'clients', 'list']));
    assert.deepEqual(list.map((c) => [c.client_id, c.kind, c.redirect_uris]), [['reports', 'static', ['https://reports.example.com/cb']]]);
    assert.doesNotMatch((await run(dir, ['clients', 'list'])).stdout, new RegExp(created.client_secret));
    const bad = await run(dir, ['clients', 'add', '--name', 'Bad', '--redirect-uri', 'javascript:alert(1)']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /javascript: scheme is never allowed/);
    assert.equal((await run(dir, ['clients', 'remove', 'reports'])).code, 0);
    assert.equal((await run(dir, ['clients', 'remove', 'reports'])).code, 1);
    assert.equal((await run(dir, ['clients', 'add', '--name', 'X', '--redirect-uri'])).code, 2, 'an option without its value');
  });

  // A name that reads as another in `clients list` and on the admin pages (the pages' own table: refused-forms.test).
  const hostileNames: Array<[string, string]> = [
    ['an escape sequence', 'Reports\u001b[2K'],
    ['a CR LF', 'Reports\r\nAdmin'],
    ['a right-to-left override', 'Reports \u202etropxe'],
    ['a right-to-left isolate', 'Reports \u2067txt\u2069'],
  ];
  for (const [what, name] of hostileNames) {
    for (const command of [['clients', 'add', '--redirect-uri', 'https://named.example.com/cb'], ['services', 'add', '--auth-method', 'client_secret_basic', '--scope', 'mcp:read']]) {
      test(`${command.slice(0, 2).join(' ')} refuses a name with ${what} (exit 1), and creates nothing`, async () => {
        const before = json<unknown[]>(await run(dir, ['--json', 'clients', 'list'])).length;
        const refused = await run(dir, [...command, '--name', name]);
        assert.equal(refused.code, 1, refused.stderr);
        assert.match(refused.stderr, /A name must not contain control characters, line breaks or bidirectional formatting characters/);
        assert.equal(json<unknown[]>(await run(dir, ['--json', 'clients', 'list'])).length, before);
      });
    }
  }

  test('audit tail shows the CLI\'s changes with actor cli, as text or JSON lines, filtered', async () => {
    const text = await run(dir, ['audit', 'tail', '-n', '50']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /user\.created {2}actor=cli {2}user_id=\S+ username=root/);
    const lines = (await run(dir, ['--json', 'audit', 'tail', '--event', 'client.created'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; actor: string; client_id: string });
    assert.deepEqual(lines.map((l) => [l.event, l.actor, l.client_id]), [['client.created', 'cli', 'reports']]);
    // The client was removed (the test above): its events still show, its id is no typo.
    const removed = await run(dir, ['audit', 'tail', '--client', 'reports', '--event', 'client.deleted']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /client\.deleted {2}actor=cli {2}client=reports/);
    assert.equal((await run(dir, ['audit', 'tail', '--since', 'soon'])).code, 2);
    const dump = query<string>('SELECT details FROM audit_events UNION ALL SELECT value FROM audit_values').all().join('\n');
    for (const secret of ['root password 1234', 'sam new password 1', 'config password 123']) assert.ok(!dump.includes(secret));
  });

  test('audit tail --since reads a date and time without offset in UTC, as it prints times, whatever the zone the server runs in', async () => {
    const minute = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString().slice(0, 16);
    // UTC-5: a time read in the local zone would be five hours later than the one typed.
    const tail = async (since: string) => (await spawnCli(dir, ['--json', 'audit', 'tail', '--event', 'client.created', '--since', since], { env: { TZ: 'Etc/GMT+5' } }));
    const shown = await tail(minute(-10 * 60_000));
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(shown.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { client_id: string }).client_id), ['reports'], 'the client created minutes ago');
    assert.equal((await tail(minute(10 * 60_000))).stdout, '', 'nothing after a time still to come');
    const offset = await tail(`${minute(-10 * 60_000)}-01:00`);
    assert.equal(offset.stdout, '', 'an offset is honoured: the UTC time of ten minutes ago, read at UTC-1, is fifty minutes from now');
    const nonsense = await tail('2026-02-31');
    assert.equal(nonsense.code, 2);
    assert.match(nonsense.stderr, /--since expects a duration like 1h or a date and time in UTC like 2026-01-31T14:00, got "2026-02-31"/);
  });

  test('services add / scopes / disable / enable: a machine client for client credentials, listed by clients list, removed by clients remove', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwksFile = join(dir, 'report-jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...await exportJWK(publicKey), kid: 'r1' }] }));
    const byKey = json<{ client_id: string; client_secret?: string }>(await run(dir, ['--json', 'services', 'add', '--name', 'Nightly report', '--client-id', 'nightly-report', '--scope', 'mcp:read', '--scope', 'mcp:write', '--jwks-file', jwksFile]));
    assert.deepEqual(byKey, { client_id: 'nightly-report' });
    const bySecret = json<{ client_id: string; client_secret: string }>(await run(dir, ['--json', 'services', 'add', '--name', 'Backup', '--auth-method', 'client_secret_basic', '--scope', 'mcp:read']));
    assert.ok(bySecret.client_id.startsWith('svc-') && bySecret.client_secret.length >= 43);
    assert.ok(!query<string>("SELECT payload FROM oidc_models WHERE model = 'Client' AND id = ?", bySecret.client_id).get().includes(bySecret.client_secret));

    assert.equal((await run(dir, ['services', 'scopes', 'nightly-report', '--scope', 'mcp:read'])).code, 0);
    assert.equal((await run(dir, ['services', 'disable', 'nightly-report'])).code, 0);
    const listed = json<Array<{ client_id: string; service_account: boolean; scopes: string[]; disabled: boolean }>>(await run(dir, ['--json', 'clients', 'list']));
    const report = listed.find((c) => c.client_id === 'nightly-report');
    assert.deepEqual([report?.service_account, report?.scopes, report?.disabled], [true, ['mcp:read'], true]);
    assert.match((await run(dir, ['clients', 'list'])).stdout, /nightly-report\s+static \(service account, disabled: mcp:read\)/);
    assert.equal((await run(dir, ['services', 'enable', 'nightly-report'])).code, 0);

    // Exit 1: refused by the service accounts; exit 2: a wrong command line (command-lines.test.ts has more).
    const refusals: Array<[string[], 1 | 2, RegExp]> = [
      [['services', 'add', '--name', 'X', '--scope', 'mcp:read'], 2, /private_key_jwt \(the default --auth-method\) needs the service's public keys: --jwks-file PATH \(a JWK Set\) or --jwks-uri URL; or --auth-method client_secret_basic/],
      [['services', 'add', '--name', 'X', '--scope', 'mcp:read', '--auth-method', 'private_key_jwt'], 2, /needs the service's public keys: --jwks-file PATH/],
      [['services', 'add', '--name', 'X', '--scope', 'mcp:read', '--jwks-file', 'k.json', '--jwks-uri', 'https://keys.example.com/jwks'], 2, /give --jwks-file or --jwks-uri, not both/],
      [['services', 'add', '--name', 'X', '--scope', 'openid', '--auth-method', 'client_secret_basic'], 2, /unknown scope openid; the scopes are/],
      [['services', 'add', '--name', 'X', '--scope', 'mcp:read', '--jwks-file', join(dir, 'missing.json')], 1, /--jwks-file: cannot read/],
      [['services', 'disable', 'no-such-service'], 1, /There is no service account no-such-service/],
      [['services', 'scopes', 'nightly-report', '--scope', 'none'], 1, /scopes: a service account needs at least one scope/],
      [['services', 'scopes', 'nightly-report'], 2, /missing --scope/],
    ];
    for (const [args, code, message] of refusals) {
      const refused = await run(dir, args);
      assert.equal(refused.code, code, args.join(' '));
      assert.match(refused.stderr, message);
    }
    assert.equal((await run(dir, ['clients', 'remove', 'nightly-report'])).code, 0);
    assert.equal((await run(dir, ['services', 'enable', 'nightly-report'])).code, 1);
  });

  test('clients add --resource-server marks a confidential client (list shows it); a public one is refused', async () => {
    await run(dir, ['clients', 'add', '--name', 'Reports API', '--redirect-uri', 'https://reports.example.com/cb', '--client-id', 'reports-api', '--resource-server']);
    const list = json<Array<{ client_id: string; resource_server: boolean }>>(await run(dir, ['--json', 'clients', 'list']));
    assert.equal(list.find((c) => c.client_id === 'reports-api')?.resource_server, true);
    assert.match((await run(dir, ['clients', 'list'])).stdout, /reports-api\s+static \(resource server\)/);
    const refused = await run(dir, ['clients', 'add', '--name', 'Public', '--redirect-uri', 'https://p.example.com/cb', '--auth-method', 'none', '--resource-server']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /A resource server must be a confidential client/);
  });

  test('clients add --upstream-audience (repeatable) lists the upstreams a resource server may get identity tokens for; our own resource is refused', async () => {
    const added = await run(dir, ['clients', 'add', '--name', 'Gateway', '--redirect-uri', 'https://gw.example.com/cb', '--client-id', 'gateway-rs', '--resource-server',
      '--upstream-audience', 'http://127.0.0.1:3001/mcp', '--upstream-audience', 'https://tools.example.com/mcp']);
    assert.equal(added.code, 0, added.stderr);
    const list = json<Array<{ client_id: string; upstream_audiences: string[] }>>(await run(dir, ['--json', 'clients', 'list']));
    assert.deepEqual(list.find((c) => c.client_id === 'gateway-rs')?.upstream_audiences, ['http://127.0.0.1:3001/mcp', 'https://tools.example.com/mcp']);
    for (const args of [
      ['--resource-server', '--upstream-audience', 'http://localhost:4001/mcp'],
      ['--upstream-audience', 'http://127.0.0.1:3001/mcp'],
    ]) {
      const refused = await run(dir, ['clients', 'add', '--name', 'Refused', '--redirect-uri', 'https://r.example.com/cb', ...args]);
      assert.equal(refused.code, 1, args.join(' '));
      assert.match(refused.stderr, /Upstream audience refused|Only a resource server/);
    }
  });

  test('audit tail --follow prints events as they happen, until it is stopped', async () => {
    const stop = new AbortController();
    const out = new CapturedOutput();
    const following = runGatehouse(['audit', 'tail', '-n', '1', '--follow'], { stdin: Readable.from([]), stdout: out, stderr: new CapturedOutput(), signal: stop.signal }, envFor(dir));
    try {
      await out.until(/\n/);
      assert.equal((await run(dir, ['redirects', 'allow', 'https://followed.example/cb'])).code, 0);
      await out.until(/followed\.example/);
      assert.match(out.text, /redirect_uri\.allowed {2}actor=cli {2}uri=https:\/\/followed\.example\/cb/);
    } finally {
      stop.abort();
    }
    assert.equal(await following, 0, 'stopping it ends it normally');
  });

  test('a bad configuration stops with its message and exit code 1', async () => {
    const result = await run(dir, ['users', 'list'], '', { GATEHOUSE_CONFIG: join(dir, 'missing.yaml') });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /GATEHOUSE_CONFIG: cannot read/);
  });

  /** Runs the installed binary (its shebang, through tsx) on a pseudo-terminal (util-linux `script`), answering each prompt as it appears. */
  function spawnOnTerminal(args: string[], answers: string[]): Promise<{ code: number; output: string }> {
    return new Promise((resolve, reject) => {
      const command = [BIN, ...args].map((a) => `'${a}'`).join(' ');
      const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: envFor(dir) });
      let output = '';
      let answered = 0;
      child.stdout.on('data', (chunk) => {
        output += String(chunk);
        const prompts = (output.match(/(Password for \S+|Repeat it): /g) ?? []).length;
        while (answered < prompts && answered < answers.length) child.stdin.write(`${answers[answered++]}\r`);
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, output }));
    });
  }

  test('the gatehouse binary on a real terminal: the password prompt does not echo, and the user is stored', async () => {
    const typed = await spawnOnTerminal(['users', 'add', 'ttyuser'], ['tty password 1234', 'tty password 1234']);
    assert.equal(typed.code, 0, typed.output);
    assert.match(typed.output, /Password for ttyuser: [\s\S]*Repeat it: [\s\S]*created user ttyuser/);
    assert.doesNotMatch(typed.output, /tty password/, 'not echoed');
    assert.ok(bcrypt.compareSync('tty password 1234', query<string>("SELECT password_hash FROM users WHERE username = 'ttyuser'").get()));
  });

  test('npx gatehouse, as the README writes it, runs the same CLI and prints only its output: --json pipes into a JSON parser', async () => {
    const result = await spawnCli(dir, ['--json', 'users', 'list'], { command: ['npx', '--offline', 'gatehouse'] });
    assert.equal(result.code, 0, result.stderr);
    // The whole of stdout is the JSON: `npm run gatehouse -- …` would print npm's header lines first.
    assert.ok(json<Array<{ username: string }>>(result).some((u) => u.username === 'root'));
  });

  test('the README and the help text write the command as npx gatehouse, never as npm run without -s (its header would break a pipe)', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.doesNotMatch(readme, /npm run gatehouse(?! *-s)/, 'npm run gatehouse without -s');
    assert.doesNotMatch(readme, /^gatehouse /m, 'a bare gatehouse command line (not on PATH in a clone)');
    assert.match(readme, /^npx gatehouse --json users list \|/m, 'a piped example');
    const help = (await run(dir, ['--help'])).stdout;
    const commandLines = help.split('\n').filter((line) => /^ {2}\S/.test(line));
    assert.ok(commandLines.length > 20 && commandLines.every((line) => line.startsWith('  npx gatehouse ')), help);
  });

  // A name's 100 characters are counted as registration counts client_name (code points): an emoji is one.
  const nameLengths: Array<[string, string, boolean]> = [
    ['100 emoji (200 UTF-16 code units)', '\u{1F511}'.repeat(100), true],
    ['99 letters and an emoji', `${'n'.repeat(99)}\u{1F511}`, true],
    ['101 emoji', '\u{1F511}'.repeat(101), false],
    ['101 letters', 'n'.repeat(101), false],
  ];
  for (const [what, name, accepted] of nameLengths) {
    for (const command of [['clients', 'add', '--redirect-uri', 'https://named.example.com/cb'], ['services', 'add', '--auth-method', 'client_secret_basic', '--scope', 'mcp:read']]) {
      test(`${command.slice(0, 2).join(' ')} ${accepted ? 'takes' : 'refuses'} a name of ${what}`, async () => {
        const answer = await run(dir, ['--json', ...command, '--name', name]);
        if (!accepted) {
          assert.equal(answer.code, 1, answer.stderr);
          assert.match(answer.stderr, /a name of 1 to 100 characters/);
          return;
        }
        const { client_id: clientId } = json<{ client_id: string }>(answer);
        const listed = json<Array<{ client_id: string; client_name: string }>>(await run(dir, ['--json', 'clients', 'list']));
        assert.equal(listed.find((c) => c.client_id === clientId)?.client_name, name);
        assert.equal((await run(dir, ['clients', 'remove', clientId])).code, 0);
      });
    }
  }
});

describe('gatehouse CLI next to a running server', () => {
  let dir: string;
  let server: TestAuthServer;

  before(async () => {
    dir = makeCliDir('gatehouse-cli-live-');
    server = await startAuthServer({ dir, configure: (config) => { config.authServer.keysReloadInterval = 1; } });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function publishedKids(): Promise<string[]> {
    return ((await (await fetch(`${server.issuer}/oauth/jwks`)).json()) as JSONWebKeySet).keys.map((k) => k.kid!);
  }

  test('grants list and revoke: the revoked client\'s refresh fails at once', async () => {
    const client = await registerClient(server.issuer);
    const tokens = await connectAs(server, client, 'admin', ADMIN_PASSWORD, 'mcp:read mcp:write');
    const grants = json<Array<{ grant_id: string; user: string; client_id: string; scopes: string[] }>>(await run(dir, ['--json', 'grants', 'list', '--user', 'admin']));
    assert.equal(grants.length, 1);
    assert.equal(grants[0]!.client_id, client.client_id);
    assert.deepEqual(grants[0]!.scopes.sort(), ['mcp:read', 'mcp:write']);
    assert.equal((await run(dir, ['grants', 'revoke'])).code, 2, 'nothing to revoke named');
    assert.equal((await run(dir, ['grants', 'revoke', 'no-such-grant'])).code, 1);
    // `--` ends the options: a grant id or a kid (base64url) starts with '-' one time in 64.
    const revoked = await run(dir, ['grants', 'revoke', '--', grants[0]!.grant_id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const refused = await refresh(server.issuer, client, tokens.refreshToken);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
  });

  test('users disable revokes the user\'s grants while the server runs', async () => {
    assert.equal((await run(dir, ['users', 'add', 'tess'], 'tess password 12\n')).code, 0);
    const client = await registerClient(server.issuer);
    const tokens = await connectAs(server, client, 'tess', 'tess password 12');
    const result = json<{ grants_revoked: number }>(await run(dir, ['--json', 'users', 'disable', 'tess']));
    assert.equal(result.grants_revoked, 1);
    assert.equal((await refresh(server.issuer, client, tokens.refreshToken)).status, 400);
  });

  test('keys rotate: the running server picks up the new key; old and new tokens verify; retire needs --force', async () => {
    const client = await registerClient(server.issuer);
    const before = await connectAs(server, client, 'admin', ADMIN_PASSWORD);
    const oldKid = decodeProtectedHeader(before.accessToken).kid!;
    const publishedBefore = await publishedKids();
    const rotated = json<{ kid: string }>(await run(dir, ['--json', 'keys', 'rotate']));
    assert.ok(publishedBefore.includes(rotated.kid), 'the key that signs after the rotation was published before it');
    const keys = json<Array<{ kid: string; status: string; safe_to_retire: boolean }>>(await run(dir, ['--json', 'keys', 'list']));
    const nextKid = keys.find((k) => k.status === 'next')!.kid;
    assert.deepEqual(keys.map((k) => [k.kid, k.status, k.safe_to_retire]), [[rotated.kid, 'active', false], [nextKid, 'next', false], [oldKid, 'retiring', false]]);
    // The server has loaded the rotated file once it publishes the new next key.
    await waitFor('the server to load the rotated keys', async () => (await publishedKids()).includes(nextKid));
    assert.deepEqual((await publishedKids()).sort(), [oldKid, rotated.kid, nextKid].sort());
    const after = await connectAs(server, client, 'admin', ADMIN_PASSWORD);
    assert.equal(decodeProtectedHeader(after.accessToken).kid, rotated.kid);
    const jwks = createLocalJWKSet(await (await fetch(`${server.issuer}/oauth/jwks`)).json() as JSONWebKeySet);
    for (const token of [before.accessToken, after.accessToken]) await jwtVerify(token, jwks, { issuer: server.issuer, audience: RESOURCE });

    const active = await run(dir, ['keys', 'retire', '--force', '--', rotated.kid]);
    assert.equal(active.code, 1);
    assert.match(active.stderr, /cannot be retired/);
    const early = await run(dir, ['keys', 'retire', '--', oldKid]);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /may be valid until .*To retire it anyway: npx gatehouse keys retire --force --/);
    assert.equal((await run(dir, ['keys', 'retire', '--force', '--', oldKid])).code, 0);
    await waitFor('the server to stop publishing the retired key', async () => !(await publishedKids()).includes(oldKid));
    const file = JSON.parse(readFileSync(join(dir, 'keys', 'signing-keys.json'), 'utf8')) as { keys: unknown[] };
    assert.equal(file.keys.length, 2, 'the active and the next key remain');
  });
});
