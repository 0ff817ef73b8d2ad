import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { listConfigFields } from '../../apps/shared/config/config-fields.ts';
import { ConfigError } from '../../apps/shared/config/config-error.ts';
import { loadAuthServerConfig, loadConfig, loadResourceServerConfig } from '../../apps/shared/config/load-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('configuration', () => {
  test('zero config gives the documented defaults', () => {
    const config = loadConfig({}, dir);
    assert.equal(config.authServer.port, 4000);
    assert.equal(config.authServer.issuer, 'http://localhost:4000');
    assert.equal(config.resourceServer.port, 4001);
    assert.equal(config.resourceServer.resource, 'http://localhost:4001/mcp');
    assert.equal(config.authServer.resource, 'http://localhost:4001/mcp');
    assert.equal(config.resourceServer.issuer, 'http://localhost:4000');
    assert.equal(config.resourceServer.jwksUri, 'http://localhost:4000/oauth/jwks');
    assert.equal(config.authServer.databaseFile, join(dir, 'data', 'auth-server.db'));
    assert.equal(config.authServer.keysDir, join(dir, 'keys'));
    assert.equal(config.authServer.bootstrapAdmin.username, 'admin');
    assert.equal(config.authServer.bcryptCost, 12);
    assert.equal(config.authServer.accessTokenTtl, 3600);
    assert.deepEqual(config.authServer.admin, { idleTimeout: 15 * 60, reauthenticateAfter: 5 * 60 });
    assert.deepEqual(config.authServer.registration.allowedRedirectUris, [
      'https://claude.ai/api/mcp/auth_callback',
      'https://claude.com/api/mcp/auth_callback',
    ]);
  });

  test('the YAML file applies, with ${VAR} interpolation, and env vars override it', () => {
    const path = file('gatehouse.yaml', `
auth_server:
  issuer: https://auth.example.com
  token_lifetime: 15m
  refresh_token_lifetime: 7d
  registration:
    allowed_redirect_uris: ["\${CALLBACK}"]
  builtin:
    users:
      - { username: reader, password_env: READER_PASSWORD, scopes: [mcp:read] }
resource_server:
  resource: https://mcp.example.com/mcp
`);
    const config = loadConfig({ GATEHOUSE_CONFIG: path, CALLBACK: 'https://vscode.dev/redirect', READER_PASSWORD: 'reader-secret-pw', AUTH_PORT: '4100' }, dir);
    assert.equal(config.authServer.issuer, 'https://auth.example.com');
    assert.equal(config.resourceServer.issuer, 'https://auth.example.com', 'the resource server trusts the configured issuer');
    assert.equal(config.authServer.accessTokenTtl, 900);
    assert.equal(config.authServer.refreshTokenTtl, 7 * 86400);
    assert.deepEqual(config.authServer.registration.allowedRedirectUris, ['https://vscode.dev/redirect']);
    assert.equal(config.authServer.users[0]!.password, 'reader-secret-pw');
    assert.equal(config.authServer.port, 4100, 'env beats defaults');
    assert.equal(config.resourceServer.resource, 'https://mcp.example.com/mcp');

    const overridden = loadConfig({ GATEHOUSE_CONFIG: path, CALLBACK: 'https://x.example/cb', READER_PASSWORD: 'p', ISSUER: 'https://other.example.com' }, dir);
    assert.equal(overridden.authServer.issuer, 'https://other.example.com', 'env beats the file');
  });

  test('federated: the single-upstream form of DESIGN.md and a list of upstreams both load, secrets from the env', () => {
    const single = file('single.yaml', `
auth_server:
  mode: both
  federated:
    upstream_issuer: https://accounts.google.com
    client_id: \${GOOGLE_CLIENT_ID}
    client_secret_env: GOOGLE_CLIENT_SECRET
    scopes: [openid, email, profile]
    allowed_domains: [example.com]
    default_scopes: [mcp:read]
    admin_users: [ops@example.com]
    admin_scopes: [mcp:read, mcp:write, mcp:admin]
`);
    const one = loadConfig({ GATEHOUSE_CONFIG: single, GOOGLE_CLIENT_ID: 'gid', GOOGLE_CLIENT_SECRET: 'gsecret' }, dir).authServer;
    assert.equal(one.mode, 'both');
    assert.equal(one.upstreams.length, 1);
    assert.deepEqual(
      { id: one.upstreams[0]!.id, name: one.upstreams[0]!.displayName, clientId: one.upstreams[0]!.clientId, secret: one.upstreams[0]!.clientSecret, newUsers: one.upstreams[0]!.newUsers },
      { id: 'upstream', name: 'accounts.google.com', clientId: 'gid', secret: 'gsecret', newUsers: 'allow' },
    );

    const list = file('list.yaml', `
auth_server:
  mode: federated
  federated:
    - { id: google, display_name: Google, upstream_issuer: https://accounts.google.com, client_id: a, client_secret_env: A_SECRET }
    - { id: okta, display_name: Okta, upstream_issuer: https://example.okta.com, client_id: b, new_users: pending }
`);
    const many = loadConfig({ GATEHOUSE_CONFIG: list, A_SECRET: 's' }, dir).authServer;
    assert.deepEqual(many.upstreams.map((u) => [u.id, u.displayName, u.newUsers, u.clientSecret]), [['google', 'Google', 'allow', 's'], ['okta', 'Okta', 'pending', undefined]]);
    assert.deepEqual([...one.upstreams, ...many.upstreams].map((u) => u.legacyRedirectUri), [false, false, false], 'each upstream gets its own redirect URI by default');
    const legacy = file('legacy.yaml', 'auth_server:\n  federated:\n    upstream_issuer: https://a.example.com\n    client_id: x\n    legacy_redirect_uri: true\n');
    assert.equal(loadConfig({ GATEHOUSE_CONFIG: legacy }, dir).authServer.upstreams[0]!.legacyRedirectUri, true);
  });

  /** The durations the servers wait out with a timer, each as a config file setting it. */
  const timerFields: Array<[string, (value: string) => string]> = [
    ['database.statement_timeout', (v) => `database:\n  url: postgres://gatehouse@db.example.com/gatehouse\n  statement_timeout: ${v}\nauth_server:\n  key_encryption_key: ${'a'.repeat(64)}\n`],
    ['shutdown_timeout', (v) => `shutdown_timeout: ${v}\n`],
    ['auth_server.signing.reload_interval', (v) => `auth_server:\n  signing: { reload_interval: ${v} }\n`],
    ['auth_server.federated.timeout', (v) => `auth_server:\n  federated:\n    upstream_issuer: https://a.example.com\n    client_id: x\n    timeout: ${v}\n`],
    ['resource_server.revocation.poll_interval', (v) => `resource_server:\n  revocation: { poll_interval: ${v}, max_staleness: 30d }\n`],
    ['resource_server.servers.0.timeout', (v) => `resource_server:\n  servers: [{ name: files, url: https://files.example.com/mcp, timeout: ${v}, scopes: { default: mcp:read } }]\n`],
    ['resource_server.servers.0.start_timeout', (v) => `resource_server:\n  servers: [{ name: files, command: node, start_timeout: ${v}, scopes: { default: mcp:read } }]\n`],
  ];

  test('a timeout or interval of 24 days, the longest a timer waits, is accepted and read as written', () => {
    for (const [field, yaml] of timerFields) {
      const config = loadConfig({ GATEHOUSE_CONFIG: file(`timer-${field}.yaml`, yaml('2147483s')) }, dir);
      const read = {
        'database.statement_timeout': () => config.authServer.database.postgres!.statementTimeoutMs! / 1000,
        shutdown_timeout: () => config.shutdownTimeout,
        'auth_server.signing.reload_interval': () => config.authServer.keysReloadInterval,
        'auth_server.federated.timeout': () => config.authServer.upstreams[0]!.timeout,
        'resource_server.revocation.poll_interval': () => config.resourceServer.revocation.pollInterval,
        'resource_server.servers.0.timeout': () => config.resourceServer.servers[0]!.timeout,
        'resource_server.servers.0.start_timeout': () => config.resourceServer.servers[0]!.startTimeout,
      }[field]!;
      assert.equal(read(), 2147483, field);
    }
  });

  const bad: Array<[string, Record<string, string>, string | undefined, RegExp]> = [
    ['federated mode without an upstream', {}, 'auth_server:\n  mode: federated\n', /auth_server\.mode: "federated" needs at least one upstream/],
    ['an upstream client secret written in the file', {}, 'auth_server:\n  federated:\n    upstream_issuer: https://a.example.com\n    client_id: x\n    client_secret: plain\n', /auth_server\.federated: unknown field\(s\) "client_secret"/],
    ['an upstream secret env var that is not set', {}, 'auth_server:\n  federated:\n    upstream_issuer: https://a.example.com\n    client_id: x\n    client_secret_env: NOT_SET_SECRET\n', /auth_server\.federated\.client_secret_env: the environment variable NOT_SET_SECRET is not set/],
    ['a plain-http upstream off loopback', {}, 'auth_server:\n  federated:\n    upstream_issuer: http://idp.example.com\n    client_id: x\n', /auth_server\.federated\.upstream_issuer: expected an https issuer/],
    ['two upstreams with the same id', {}, 'auth_server:\n  federated:\n    - { id: a, upstream_issuer: https://a.example.com, client_id: x }\n    - { id: a, upstream_issuer: https://b.example.com, client_id: y }\n', /upstream ids must be unique/],
    ['the shared redirect URI with several upstreams', {}, 'auth_server:\n  federated:\n    - { id: a, upstream_issuer: https://a.example.com, client_id: x, legacy_redirect_uri: true }\n    - { id: b, upstream_issuer: https://b.example.com, client_id: y }\n', /auth_server\.federated: legacy_redirect_uri is only allowed with a single upstream .*mix-up/],
    ['a non-numeric port', { AUTH_PORT: 'abc' }, undefined, /^Invalid configuration: auth_server\.port \(from AUTH_PORT\): expected a port/],
    ['a port out of range', { RESOURCE_PORT: '70000' }, undefined, /resource_server\.port \(from RESOURCE_PORT\): expected a port from 0 to 65535/],
    ['an issuer with a trailing slash', { ISSUER: 'http://localhost:4000/' }, undefined, /auth_server\.issuer \(from ISSUER\): expected an absolute http\(s\) URL without/],
    ['an issuer with a path (no client could discover it)', { ISSUER: 'https://auth.example.com/auth' }, undefined, /auth_server\.issuer \(from ISSUER\): expected an origin such as https:\/\/auth\.example\.com, with no path .*got "https:\/\/auth\.example\.com\/auth"/],
    ['a plain-http issuer on a public host', { ISSUER: 'http://auth.example.com' }, undefined, /auth_server\.issuer: an http issuer is only allowed on a loopback host/],
    ['a resource without a path', { RESOURCE_URL: 'https://mcp.example.com' }, undefined, /resource_server\.resource \(from RESOURCE_URL\): expected an absolute http\(s\) URL with a path/],
    // Published in the resource metadata and every token's aud; the refusal quotes it without them.
    ['a resource with credentials', { RESOURCE_URL: 'https://u:SECRETPW@mcp.example.com/mcp' }, undefined, /resource_server\.resource \(from RESOURCE_URL\): .*credentials.*got "https:\/\/\*\*\*@mcp\.example\.com\/mcp"$/],
    ['an upstream issuer with a query, its values not quoted', {}, 'auth_server:\n  federated:\n    upstream_issuer: https://u:SECRETPW@idp.example.com/?key=SECRETKEY\n    client_id: x\n', /auth_server\.federated\.upstream_issuer: expected the upstream's issuer URL, got "https:\/\/\*\*\*@idp\.example\.com\/\?key=\*\*\*"/],
    ['an unknown log level', { LOG_LEVEL: 'loud' }, undefined, /log_level \(from LOG_LEVEL\)/],
    ['an unknown field in the file', {}, 'auth_server:\n  isuer: https://a.example.com\n', /auth_server: unknown field\(s\) "isuer"/],
    ['a bad duration', {}, 'auth_server:\n  token_lifetime: forever\n', /auth_server\.token_lifetime: expected a duration such as 90s, 15m, 1h or 30d, got "forever"/],
    ['an unknown scope for a user', {}, 'auth_server:\n  builtin:\n    users:\n      - { username: a, password_env: A, scopes: [root] }\n', /auth_server\.builtin\.users\.0\.scopes\.0: expected scopes from mcp:read, mcp:write, mcp:admin/],
    ['a user with both password forms', {}, 'auth_server:\n  builtin:\n    users:\n      - { username: a, password_env: A, password_hash: "$2b$12$abcdefghijklmnopqrstuuJ0pWl1cWQ4vFo0Yzq1eLwH5h3b2dI6e" }\n', /auth_server\.builtin\.users\.0: expected exactly one of password_hash or password_env/],
    ['a password_env that is not set', {}, 'auth_server:\n  builtin:\n    users:\n      - { username: a, password_env: MISSING_PW }\n', /auth_server\.builtin\.users\.0\.password_env: the environment variable MISSING_PW is not set/],
    ['an unset ${VAR}', {}, 'auth_server:\n  issuer: ${NOPE}\n', /auth_server\.issuer: \$\{NOPE\} is used but the environment variable NOPE is not set/],
    ['a ${VAR} set to the empty string (compose\'s ${VAR:-})', { NOPE: '' }, 'auth_server:\n  issuer: ${NOPE}\n', /auth_server\.issuer: \$\{NOPE\} is used but the environment variable NOPE is not set \(or is empty\)/],
    ['invalid YAML', {}, 'auth_server: [\n', /is not valid YAML/],
    // The parser took the value as a plain string, and printed the line holding it to stderr.
    ['a YAML tag it does not know', {}, 'auth_server:\n  bootstrap_admin:\n    password: !vault hunter2-very-secret\n', /Unresolved tag: !vault at line 3, column 15: .*remove the tag/],
    ['a YAML directive it does not know, not blamed on a tag', {}, '%FOO bar\n---\nauth_server: {}\n', /Unknown directive %FOO at line 1, column 1:?$/],
    ['a YAML list at the top', {}, '- a\n- b\n', /must contain a YAML mapping/],
    ['a bad admin idle timeout', {}, 'auth_server:\n  admin: { idle_timeout: soon }\n', /auth_server\.admin\.idle_timeout: expected a duration such as 90s, 15m, 1h or 30d, got "soon"/],
    ['an unsupported signing algorithm', {}, 'auth_server:\n  signing: { algorithm: HS256 }\n', /auth_server\.signing\.algorithm: only RS256 is supported/],
    ['a bootstrap password over 72 bytes', { BOOTSTRAP_ADMIN_PASSWORD: 'é'.repeat(37) }, undefined, /auth_server\.bootstrap_admin\.password \(from BOOTSTRAP_ADMIN_PASSWORD\): expected at most 72 bytes/],
    ['a password_env password over 72 bytes', { LONG_PW: 'x'.repeat(73) }, 'auth_server:\n  builtin:\n    users:\n      - { username: a, password_env: LONG_PW }\n', /users\.0\.password_env: the password in LONG_PW is longer than 72 bytes/],
    ['a short bootstrap password', { BOOTSTRAP_ADMIN_PASSWORD: 'short' }, undefined, /auth_server\.bootstrap_admin\.password \(from BOOTSTRAP_ADMIN_PASSWORD\): expected at least 12 characters/],
    // Such a name could be another user's id where a user is named by id or username (the CLI).
    ['a user named like a user id', { A: 'a long enough password' }, 'auth_server:\n  builtin:\n    users:\n      - { username: 0f8fad5b-d9cb-469f-a165-70867728950e, password_env: A }\n', /auth_server\.builtin\.users\.0\.username: a username cannot have the form of a user id/],
    ['a user named as the audit log names the CLI', { A: 'a long enough password' }, 'auth_server:\n  builtin:\n    users:\n      - { username: cli, password_env: A }\n', /auth_server\.builtin\.users\.0\.username: a username cannot be a name the audit log gives what is not a user/],
    ['a bootstrap admin named as the audit log names the server itself', { BOOTSTRAP_ADMIN_USERNAME: 'SYSTEM' }, undefined, /auth_server\.bootstrap_admin\.username \(from BOOTSTRAP_ADMIN_USERNAME\): a username cannot be a name the audit log gives what is not a user/],
    ['a bootstrap admin named like a user id', { BOOTSTRAP_ADMIN_USERNAME: '0F8FAD5B-D9CB-469F-A165-70867728950E' }, undefined, /auth_server\.bootstrap_admin\.username \(from BOOTSTRAP_ADMIN_USERNAME\): a username cannot have the form of a user id/],
    ['a revocation staleness not above the poll interval', {}, 'resource_server:\n  revocation: { poll_interval: 10s, max_staleness: 10s }\n', /resource_server\.revocation\.max_staleness: expected more than poll_interval/],
    // A timer longer than 2^31 - 1 ms fires after 1 ms: a 25-day interval would run every millisecond.
    ...timerFields.map(([field, yaml]) => [`${field} longer than a timer can wait`, {}, yaml('25d'), new RegExp(`${field.replaceAll('.', '\\.')}: expected at most 24d \\(2147483s\\), the longest a timer can wait`)] as [string, Record<string, string>, string, RegExp]),
    ['a revocation feed URI that is not a URL', { REVOCATION_FEED_URI: 'feed' }, undefined, /resource_server\.revocation\.feed_uri \(from REVOCATION_FEED_URI\)/],
  ];
  test('a YAML tag it does not know is refused without its value anywhere: not in the error, not on stderr', () => {
    const said: string[] = [];
    const { emitWarning } = process;
    const { warn } = console;
    process.emitWarning = ((warning: string | Error) => void said.push(String(warning))) as typeof process.emitWarning;
    console.warn = (...args: unknown[]) => void said.push(args.map(String).join(' '));
    try {
      const GATEHOUSE_CONFIG = file('tagged-secret.yaml', 'auth_server:\n  bootstrap_admin:\n    password: !vault hunter2-very-secret\n');
      assert.throws(() => loadConfig({ GATEHOUSE_CONFIG }, dir), (err: unknown) => err instanceof ConfigError && !err.message.includes('hunter2'));
    } finally {
      process.emitWarning = emitWarning;
      console.warn = warn;
    }
    assert.deepEqual(said.filter((line) => line.includes('hunter2')), []);
  });

  for (const [name, env, yaml, expected] of bad) {
    test(`refuses ${name} with one line naming the field`, () => {
      const withFile = yaml === undefined ? env : { ...env, GATEHOUSE_CONFIG: file(`bad-${name.replace(/\W+/g, '-')}.yaml`, yaml) };
      assert.throws(() => loadConfig(withFile, dir), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, expected);
        assert.doesNotMatch(err.message, /\n/, 'one line');
        return true;
      });
    });
  }

  // docker-compose.yml puts POSTGRES_PASSWORD into DATABASE_URL as it is: `openssl rand -base64` gives `/`.
  // One that starts with / ? or # parses, as host `gatehouse` and no user, and failed only on
  // connecting (ENOTFOUND gatehouse); one of digits before / ? or # as host `gatehouse` and
  // those digits as its port. A `%` not starting a %XX, or a space, made node-postgres read
  // every %XX with a hex letter in the URL as it is: `a%2Fb%zz` failed only on connecting, as a
  // wrong password.
  const composeUrl = (password: string) => `postgres://gatehouse:${password}@postgres:5432/gatehouse`;
  const cutPasswords: Array<[what: string, url: string, password: string]> = [
    ['holds /', composeUrl('Zm9v/YmFyYmF6+cXV4='), 'Zm9v/YmFyYmF6+cXV4='],
    ['holds #', composeUrl('hunter2#x'), 'hunter2#x'],
    ['holds ?', composeUrl('hunter2?x'), 'hunter2?x'],
    ['starts with /', composeUrl('/abcdYmFyYmF6+cXV4='), '/abcdYmFyYmF6+cXV4='],
    ['starts with ?', composeUrl('?hunter2x'), '?hunter2x'],
    ['starts with #', composeUrl('#hunter2x'), '#hunter2x'],
    ['is only /@', composeUrl('/@'), '/@'],
    ['is digits before /', composeUrl('12/ab'), '12/ab'],
    ['is digits before ?', composeUrl('12?ab'), '12?ab'],
    ['is digits before #', composeUrl('5432#ab'), '5432#ab'],
    ['is digits and a last /', composeUrl('2024/'), '2024/'],
    ['is digits before /, to a host without a port', 'postgres://user:12/ab@host/db', '12/ab'],
    ['is digits before /, to an IPv6 host', 'postgresql://user:12/ab@[::1]:5432/db', '12/ab'],
    ['is digits before /, on a Unix socket', 'postgres://user:12/ab@/db?host=/var/run/postgresql', '12/ab'],
    ['is digits before ?, on a Unix socket', 'postgres://user:12?ab@/db?host=/var/run/postgresql', '12?ab'],
    ['holds / on a Unix socket', 'postgres://gatehouse:a/b@/gatehouse?host=/var/run/postgresql', 'a/b'],
    ['holds a % beside an encoded /', composeUrl('a%2Fb%zz'), 'a%2Fb%zz'],
    ['holds a % before letters beside an encoded =', composeUrl('50%off%3Dx'), '50%off%3Dx'],
    ['holds a space beside an encoded /', composeUrl('a%2Fb zz'), 'a%2Fb zz'],
    ['holds @ and / (parsed as password x, host y)', 'postgres://gatehouse:x@y/z@postgres:5432/gatehouse', 'x@y/z'],
    ['holds @ and ? (parsed as password p, host ss)', 'postgres://gatehouse:p@ss?word@127.0.0.1:5432/gatehouse', 'p@ss?word'],
    ['holds @ and # (parsed as password p, host ss)', 'postgres://gatehouse:p@ss#word@127.0.0.1:5432/gatehouse', 'p@ss#word'],
    ['holds @, / and ? (parsed as host b, database c)', 'postgres://gatehouse:a@b/c?d@postgres:5432/gatehouse', 'a@b/c?d'],
    ['holds a space, to an IPv6 host (node-postgres cannot parse it)', 'postgres://gatehouse:a b@[::1]:5432/gatehouse', 'a b'],
    ['holds a bare %, to an IPv6 host', 'postgres://gatehouse:50%off@[::1]:5432/gatehouse', '50%off'],
    ['ends with % after an encoded ?', composeUrl('a%3Fb100%'), 'a%3Fb100%'],
    ['holds a % before one hex digit, with an escape in a parameter', `${composeUrl('ab%4')}?application_name=a%2Fb`, 'ab%4'],
    ['holds a % before one hex digit, on a Unix socket', 'postgres://gatehouse:ab%4x@%2Fvar%2Frun%2Fpostgresql/gatehouse', 'ab%4x'],
  ];
  for (const [what, url, password] of cutPasswords) {
    test(`a DATABASE_URL whose password ${what} says to percent-encode it, without echoing it`, () => {
      const env = { DATABASE_URL: url, GATEHOUSE_KEY_ENCRYPTION_KEY: 'a'.repeat(64) };
      assert.throws(() => loadConfig(env, dir), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, /^Invalid configuration: database\.url \(from DATABASE_URL\): expected a PostgreSQL URL .*must be percent-encoded .*\/ as %2F.*openssl rand -hex 24/);
        assert.ok(!err.message.includes(password), 'the password is not in the message');
        assert.doesNotMatch(err.message, /\n/, 'one line');
        return true;
      });
    });
  }

  const goodUrls: Array<[string, string]> = [
    ['no user, a Unix socket (peer authentication)', 'postgres:///gatehouse?host=/var/run/postgresql'],
    ['no user, a Unix socket, postgresql://', 'postgresql:///gatehouse?host=/var/run/postgresql'],
    ['no user (PGUSER, or the system user)', 'postgres://db.internal/gatehouse'],
    ['no user, a port', 'postgres://db.internal:5432/gatehouse'],
    ['a user and password, a port', 'postgres://u:p@host:5432/db'],
    ['a user and password, no port', 'postgresql://u:p@host/db'],
    ['a password of digits', 'postgres://gatehouse:1234@postgres:5432/gatehouse'],
    ['a user and password, an IPv6 host', 'postgres://u:p@[::1]:5432/db'],
    ['no user, an IPv6 host', 'postgresql://[::1]:5432/db'],
    ['a user without a password', 'postgres://gatehouse@postgres:5432/gatehouse'],
    ['a percent-encoded password starting with /', 'postgres://gatehouse:%2Fabcd@127.0.0.1:5432/gatehouse'],
    ['a percent-encoded password of digits before /', 'postgres://gatehouse:12%2Fab@postgres:5432/gatehouse'],
    ['a percent-encoded password holding / # ? %', 'postgres://gatehouse:a%2Fb%23c%3Fd%25e@postgres:5432/gatehouse'],
    ['an @ in a parameter after a user', 'postgres://gatehouse:pw@db.internal/gatehouse?application_name=gate@house'],
    ['a Unix socket as a percent-encoded host', 'postgres://gatehouse:pw@%2Fvar%2Frun%2Fpostgresql/gatehouse'],
    ['percent-encoded parameters', 'postgres://u:p@db.internal/gatehouse?options=-c%20statement_timeout%3D5s&application_name=a%2fb'],
    ['TLS parameters', 'postgres://u:p@db.internal:5432/gatehouse?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca.pem'],
    ['TLS file parameters that are not on this machine', 'postgres://u:p@db.internal/gatehouse?sslmode=verify-full&sslrootcert=/nowhere/ca.pem&sslcert=/nowhere/c.pem&sslkey=/nowhere/k.pem'],
    ['ssl=1', 'postgres://u:p@db.internal/gatehouse?ssl=1'],
    // A bare % and no %XX: node-postgres reads it as written (it connects; libpq would refuse it).
    ['a password holding a % before letters', composeUrl('50%off')],
    ['a password ending with %', composeUrl('100%')],
    ['a password holding a % before one hex digit', composeUrl('ab%4')],
    ['a password holding a bare % beside an encoded # (node-postgres turns %23 back)', composeUrl('50%off%23x')],
    ['a database named with an @', 'postgres://gatehouse:pw@127.0.0.1:5432/team@prod'],
    ['an @ in a parameter\'s value', 'postgres://gatehouse:pw@db.internal/gatehouse?application_name=a@b&options=-c%20x%3Dy'],
    ['a % at the end of a parameter', 'postgres://u:p@db.internal/gatehouse?application_name=a%2Fb&x=100%25'],
    ['a password holding a space', composeUrl('a b')],
    // Credentials before an empty host: WHATWG URL refuses them, node-postgres connects.
    ['a user and password on a Unix socket', 'postgres://gatehouse:pw@/gatehouse?host=/var/run/postgresql'],
    ['a user and password on a Unix socket, postgresql://', 'postgresql://gatehouse:pw@/gatehouse?host=/var/run/postgresql&sslmode=disable'],
  ];
  for (const [what, url] of goodUrls) {
    test(`a DATABASE_URL with ${what} is taken as it is`, () => {
      const config = loadConfig({ DATABASE_URL: url, GATEHOUSE_KEY_ENCRYPTION_KEY: 'a'.repeat(64) }, dir);
      assert.equal(config.authServer.database.postgres?.url, url);
    });
  }

  test('a bad value stops the auth-server process with exit code 2 and that one line', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'apps/auth-server/src/main.ts'], {
      env: { PATH: process.env.PATH, AUTH_PORT: 'not-a-port', DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(result.status, 2, result.stderr);
    const lines = result.stderr.split('\n').filter((l) => l && !l.startsWith('oidc-provider WARNING'));
    assert.deepEqual(lines, ['gatehouse auth-server: Invalid configuration: auth_server.port (from AUTH_PORT): expected a port number']);
  });
});

describe('the config file\'s allow-list entries', () => {
  const HOSTS = 'auth_server.client_id_metadata_documents.trusted_hosts';
  const URIS = 'auth_server.registration.allowed_redirect_uris';
  const SCHEMES = 'auth_server.registration.allowed_schemes';
  const yamlFor = (key: string, entry: string) => key === HOSTS
    ? `auth_server:\n  client_id_metadata_documents:\n    trusted_hosts: [${JSON.stringify(entry)}]\n`
    : `auth_server:\n  registration:\n    ${key.split('.').at(-1)}: [${JSON.stringify(entry)}]\n`;
  const what = (key: string) => ({ [HOSTS]: 'a trusted host', [URIS]: 'an allowed redirect URI', [SCHEMES]: 'an allowed scheme' })[key];
  const load = (key: string, entry: string) => loadAuthServerConfig({ GATEHOUSE_CONFIG: file('allow-list-entry.yaml', yamlFor(key, entry)) }, dir).authServer;

  // What the admin pages and `gatehouse hosts trust` / `redirects allow` refuse (test/admin/allow-lists.test.ts).
  const refused: Array<[string, string, string, RegExp]> = [
    ['an empty label', HOSTS, 'docs..example.com', /"docs\.\.example\.com" is not a host name/],
    ['a label starting with a hyphen', HOSTS, '-docs.example.com', /is not a host name/],
    ['a label ending with a hyphen', HOSTS, 'docs-.example.com', /is not a host name/],
    ['a label of 64 characters', HOSTS, `${'a'.repeat(64)}.example.com`, /is not a host name/],
    ['port 0', HOSTS, 'example.com:0', /is not a host name/],
    ['port 65536', HOSTS, 'example.com:65536', /is not a host name/],
    ['a port with a leading zero', HOSTS, 'example.com:0443', /is not a host name/],
    ['a non-ASCII name', HOSTS, 'bücher.example', /is not a host name/],
    ['a path', HOSTS, 'example.com/docs', /is not a host name/],
    ['port 443, which a URL leaves out', HOSTS, 'example.com:443', /an https URL writes "example\.com:443" as "example\.com"; list "example\.com" instead/],
    ['a hexadecimal IPv4 address', HOSTS, '0x7f.1', /an https URL writes "0x7f\.1" as "127\.0\.0\.1"/],
    ['a host of 15,000 characters', HOSTS, 'a'.repeat(15_000), /expected a host name of at most 253 characters$/],
    ['a line break', HOSTS, 'docs.example.com\nevil.example', /"docs\.example\.com\\nevil\.example" is not a host name/],
    ['plain http off loopback', URIS, 'http://app.example.com/cb', /"http:\/\/app\.example\.com\/cb": expected an absolute https URI/],
    ['loopback http', URIS, 'http://127.0.0.1:9000/cb', /loopback http redirect URIs are always allowed/],
    ['a private-use scheme', URIS, 'myapp:/cb', /only https URIs go here; list a private-use scheme under allowed_schemes/],
    ['a relative URI', URIS, '/cb', /"\/cb": expected an absolute https URI/],
    ['a fragment', URIS, 'https://app.example.com/cb#x', /must not contain a fragment/],
    ['user info', URIS, 'https://user:pw@app.example.com/cb', /must not contain a user name or password/],
    ['a wildcard host', URIS, 'https://*.example.com/cb', /"https:\/\/\*\.example\.com\/cb": redirect URIs are matched exactly; wildcards are not supported/],
    ['a wildcard path', URIS, 'https://app.example.org/*', /wildcards are not supported/],
    ['a default port', URIS, 'https://app.example.com:443/cb', /registration would refuse it: redirect_uris must be in normal form/],
    ['a space', URIS, 'https://app.example.com/a b', /registration would refuse it: redirect_uris must contain only RFC 3986 characters/],
    ['a dot segment', URIS, 'https://app.example.com/a/../cb', /registration would refuse it/],
    ['a URI of 15,000 characters', URIS, `https://app.example.com/${'a'.repeat(15_000)}`, /expected at most 2000 characters$/],
    ['javascript', SCHEMES, 'javascript', /"javascript": the scheme opens a browser, runs content or starts a system handler/],
    ['an ms- handler', SCHEMES, 'ms-msdt', /"ms-msdt": the scheme opens a browser/],
    ['a browser-opening scheme', SCHEMES, 'Microsoft-Edge', /"Microsoft-Edge": the scheme opens a browser/],
    ['x-safari-https', SCHEMES, 'x-safari-https', /"x-safari-https": the scheme opens a browser/],
    ['data', SCHEMES, 'data:', /"data:": the scheme opens a browser/],
    ['https', SCHEMES, 'https', /"https": https redirect URIs go under allowed_redirect_uris/],
    ['http', SCHEMES, 'HTTP://', /"HTTP:\/\/": https redirect URIs go under allowed_redirect_uris/],
    ['a scheme of 101 characters', SCHEMES, `a${'b'.repeat(100)}`, /expected a scheme name of at most 100 characters$/],
    ['a line break', SCHEMES, 'myapp\nevil', /"myapp\\nevil" is not a URI scheme name/],
    ['a leading digit', SCHEMES, '1app', /"1app" is not a URI scheme name/],
  ];
  for (const [name, key, entry, message] of refused) {
    test(`refuses ${what(key)} with ${name}, naming the entry on one line`, () => {
      assert.throws(() => load(key, entry), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, new RegExp(`^Invalid configuration: ${key.replaceAll('.', '\\.')}\\.0: `));
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\n/, 'one line');
        assert.ok(err.message.length < 600, 'a long entry is cut');
        return true;
      });
    });
  }

  // Scheme and host are matched in lower case; the rest of a URI is case-sensitive.
  const accepted: Array<[string, string, string, string]> = [
    ['a host in upper case, with a port', HOSTS, 'Docs.Example.COM:8443', 'docs.example.com:8443'],
    ['an IPv4 address', HOSTS, '10.0.0.5', '10.0.0.5'],
    ['an international name in its xn-- form', HOSTS, 'xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['a URI with an upper-case scheme and host', URIS, 'HTTPS://App.Example.COM/Cb', 'https://app.example.com/Cb'],
    ['a URI with a port and a query', URIS, 'https://app.example.com:8443/cb?tenant=a', 'https://app.example.com:8443/cb?tenant=a'],
    ['a scheme in upper case', SCHEMES, 'MyApp', 'myapp'],
    ['a scheme written with ://', SCHEMES, 'myapp2://', 'myapp2'],
    ['a reverse-domain scheme', SCHEMES, 'com.example.app', 'com.example.app'],
  ];
  for (const [what, key, entry, stored] of accepted) {
    test(`takes ${what}, as the list stores it`, () => {
      const config = load(key, entry);
      const list = { [HOSTS]: config.clientIdMetadataDocuments.trustedHosts, [URIS]: config.registration.allowedRedirectUris, [SCHEMES]: config.registration.allowedSchemes }[key];
      assert.deepEqual(list, [stored]);
    });
  }
});

describe('revocation defaults', () => {
  test('the resource server reads the feed beside its key set and accepts tokens as long-lived as the issuer makes them', () => {
    const zero = loadConfig({}, dir).resourceServer;
    assert.equal(zero.revocation.feedUri, 'http://localhost:4000/oauth/revocations');
    assert.equal(zero.revocation.pollInterval, 2);
    assert.equal(zero.revocation.maxStaleness, 30);
    assert.equal(zero.maxTokenLifetime, 3600);

    const internal = loadConfig({ JWKS_URI: 'http://auth-server:4000/oauth/jwks' }, dir).resourceServer;
    assert.equal(internal.revocation.feedUri, 'http://auth-server:4000/oauth/revocations', 'follows an internal JWKS_URI');

    const yaml = file('revocation.yaml', 'auth_server:\n  token_lifetime: 15m\nresource_server:\n  revocation: { feed_uri: "http://10.0.0.5:4000/oauth/revocations", poll_interval: 1s, max_staleness: 1m }\n');
    const custom = loadConfig({ GATEHOUSE_CONFIG: yaml }, dir).resourceServer;
    assert.equal(custom.maxTokenLifetime, 900, 'follows auth_server.token_lifetime');
    assert.deepEqual(custom.revocation, { feedUri: 'http://10.0.0.5:4000/oauth/revocations', pollInterval: 1, maxStaleness: 60 });
  });
});

describe('defaults that follow the ports', () => {
  test('moving AUTH_PORT / RESOURCE_PORT moves the default issuer and resource URL with them', () => {
    const config = loadConfig({ AUTH_PORT: '5000', RESOURCE_PORT: '5001' }, dir);
    assert.equal(config.authServer.issuer, 'http://localhost:5000');
    assert.equal(config.resourceServer.issuer, 'http://localhost:5000');
    assert.equal(config.resourceServer.jwksUri, 'http://localhost:5000/oauth/jwks');
    assert.equal(config.resourceServer.resource, 'http://localhost:5001/mcp');
    assert.equal(config.authServer.resource, 'http://localhost:5001/mcp');
    const explicit = loadConfig({ AUTH_PORT: '5000', ISSUER: 'https://auth.example.com' }, dir);
    assert.equal(explicit.authServer.issuer, 'https://auth.example.com', 'an explicit issuer wins');
  });
});

describe('the token lifetime from the environment', () => {
  test('TOKEN_LIFETIME sets it for both apps (docker-compose passes it to each); empty, the default', () => {
    const config = loadConfig({ TOKEN_LIFETIME: '15m' }, dir);
    assert.equal(config.authServer.accessTokenTtl, 900);
    assert.equal(config.resourceServer.maxTokenLifetime, 900, 'the resource server refuses tokens living longer');
    assert.equal(loadConfig({ TOKEN_LIFETIME: '' }, dir).authServer.accessTokenTtl, 3600);
    assert.throws(() => loadConfig({ TOKEN_LIFETIME: 'soon' }, dir), /token_lifetime \(from TOKEN_LIFETIME\)/);
  });
});

describe('each app loads its own section', () => {
  const cases: Array<[string, string, 'auth-server' | 'resource-server', RegExp]> = [
    ['an auth-server user whose password_env is unset', 'auth_server:\n  builtin:\n    users:\n      - { username: a, password_env: UNSET_PW }\n', 'auth-server', /^Invalid configuration: auth_server\.builtin\.users\.0\.password_env: the environment variable UNSET_PW is not set$/],
    ['an upstream whose client secret env var is unset', 'auth_server:\n  federated: { upstream_issuer: https://a.example.com, client_id: x, client_secret_env: UNSET_SECRET }\n', 'auth-server', /^Invalid configuration: auth_server\.federated\.client_secret_env: /],
    ['a gateway identity client whose secret env var is unset', 'resource_server:\n  identity_client: { client_id: gw, client_secret_env: UNSET_SECRET }\n', 'resource-server', /^Invalid configuration: resource_server\.identity_client\.client_secret_env: the environment variable UNSET_SECRET is not set$/],
    ['a bad gateway server', 'resource_server:\n  servers: [{ name: Files, command: node, scopes: { default: mcp:read } }]\n', 'resource-server', /^Invalid configuration: resource_server\.servers\.0\.name: /],
  ];
  for (const [what, yaml, refusing, message] of cases) {
    test(`${what}: the ${refusing} refuses naming the field, the other app loads`, () => {
      const env = { GATEHOUSE_CONFIG: file(`own-section-${what.replace(/\W+/g, '-')}.yaml`, yaml) };
      const [refuse, load] = refusing === 'auth-server' ? [loadAuthServerConfig, loadResourceServerConfig] : [loadResourceServerConfig, loadAuthServerConfig];
      assert.throws(() => refuse(env, dir), (err: unknown) => err instanceof ConfigError && message.test(err.message));
      assert.doesNotThrow(() => load(env, dir));
      assert.throws(() => loadConfig(env, dir), (err: unknown) => err instanceof ConfigError && message.test(err.message), 'npm start checks both');
    });
  }

  test("each app still follows the other's URL and lifetime for its defaults, checked as strictly", () => {
    const env = { AUTH_PORT: '5000', RESOURCE_URL: 'https://mcp.example.com/mcp', GATEHOUSE_CONFIG: file('peer.yaml', 'auth_server:\n  token_lifetime: 10m\n') };
    assert.equal(loadAuthServerConfig(env, dir).authServer.resource, 'https://mcp.example.com/mcp');
    const { resourceServer } = loadResourceServerConfig(env, dir);
    assert.deepEqual([resourceServer.issuer, resourceServer.maxTokenLifetime], ['http://localhost:5000', 600]);
    assert.throws(() => loadAuthServerConfig({ RESOURCE_URL: 'https://mcp.example.com' }, dir), /resource_server\.resource \(from RESOURCE_URL\): expected an absolute http\(s\) URL with a path/);
    assert.throws(() => loadResourceServerConfig({ ISSUER: 'https://auth.example.com/' }, dir), /auth_server\.issuer \(from ISSUER\): expected an absolute http\(s\) URL without/);
  });
});

describe('a plain-http issuer off loopback', () => {
  // Both apps: the auth-server would issue tokens naming it, the resource server would trust them.
  const refusals: Array<[string, Record<string, string>, RegExp]> = [
    ['ISSUER', { ISSUER: 'http://auth.example.com' }, /^Invalid configuration: auth_server\.issuer: an http issuer is only allowed on a loopback host/],
    ['the resource server\'s own issuer', { GATEHOUSE_CONFIG: 'rs-http-issuer.yaml' }, /^Invalid configuration: resource_server\.issuer: an http issuer is only allowed on a loopback host/],
  ];
  for (const [what, env, message] of refusals) {
    test(`is refused by the resource server too, from ${what}`, () => {
      file('rs-http-issuer.yaml', 'resource_server:\n  issuer: http://auth.example.com\n');
      assert.throws(() => loadResourceServerConfig(env, dir), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  test('starts both apps with the dangerous switch, and an internal http jwks_uri needs no switch', () => {
    const env = { ISSUER: 'http://auth.example.com', GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER: 'true' };
    assert.equal(loadAuthServerConfig(env, dir).authServer.issuer, 'http://auth.example.com');
    assert.equal(loadResourceServerConfig(env, dir).resourceServer.issuer, 'http://auth.example.com');
    const internal = loadResourceServerConfig({ ISSUER: 'https://auth.example.com', JWKS_URI: 'http://auth-server:4000/oauth/jwks' }, dir);
    assert.equal(internal.resourceServer.jwksUri, 'http://auth-server:4000/oauth/jwks');
  });
});

describe('annotations', () => {
  test('every field of the schema says what it is for, and each env var sets one field', () => {
    const fields = listConfigFields();
    assert.ok(fields.length > 100, `${fields.length} fields`);
    assert.deepEqual(fields.filter((field) => !field.note.description).map((field) => field.path), [], 'fields without a description');
    const envs = fields.flatMap((field) => (field.note.env ? [field.note.env] : []));
    assert.equal(new Set(envs).size, envs.length, 'no env var sets two fields');
    assert.deepEqual(fields.find((field) => field.path === 'auth_server.token_lifetime')?.defaultValue, '1h');
    assert.deepEqual(fields.find((field) => field.path === 'auth_server.port')?.note.env, 'AUTH_PORT');
  });
});
