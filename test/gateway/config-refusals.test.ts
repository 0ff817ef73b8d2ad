/**
 * The gateway's part of the configuration (issue 12, "Configuration"): what a correct
 * `resource_server.servers` becomes, and every mistake an operator can make refused at boot with
 * the field's path in the message, through the real loadConfig and a YAML file in a temp dir.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../apps/shared/config/config-error.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';

describe('gateway configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gw-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function load(yaml: string, env: Record<string, string> = {}) {
    writeFileSync(join(dir, 'gatehouse.yaml'), yaml);
    return loadConfig({ GATEHOUSE_CONFIG: 'gatehouse.yaml', ...env }, dir).resourceServer;
  }

  /** A `resource_server:` block with the given YAML lines under it, indented. */
  const block = (...lines: string[]) => ['resource_server:', ...lines.map((line) => `  ${line}`)].join('\n');

  const stdioOk = ['  - name: files', '    command: node', '    scopes: { default: mcp:read }'];
  const httpOk = ['  - name: remote', '    url: http://127.0.0.1:3001/mcp', '    scopes: { default: mcp:read }'];

  test('reads the issue\'s example: a stdio server and an HTTP server with their own options', () => {
    const config = load(block(
      'built_in_tools: false',
      'max_processes: 10',
      'max_processes_per_user: 2',
      'identity_client: { client_id: gatehouse-gateway, client_secret_env: GW_SECRET }',
      'servers:',
      '  - name: files',
      '    command: npx',
      '    args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv/share"]',
      '    env: { LOG_LEVEL: info, KEY: "${FILES_KEY}" }',
      '    cwd: /srv',
      '    per_user: true',
      '    idle_timeout: 5m',
      '    scopes:',
      '      default: mcp:read',
      '      tools: { write_file: mcp:write, move_file: mcp:write }',
      '  - name: everything',
      '    url: http://127.0.0.1:3001/mcp',
      '    headers: { X-Api-Key: "${EVERYTHING_KEY}" }',
      '    forward_identity: true',
      '    timeout: 10s',
      '    scopes: { default: mcp:write }',
    ), { FILES_KEY: 'files-secret', EVERYTHING_KEY: 'every-secret', GW_SECRET: 'gw-secret' });
    assert.equal(config.builtInTools, false);
    assert.equal(config.maxProcesses, 10);
    assert.equal(config.maxProcessesPerUser, 2);
    assert.deepEqual(config.servers[0], {
      name: 'files',
      transport: 'stdio',
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-filesystem', '/srv/share'],
      env: { LOG_LEVEL: 'info', KEY: 'files-secret' },
      cwd: '/srv',
      perUser: true,
      idleTimeout: 300,
      timeout: 30,
      startTimeout: 60,
      scopes: { default: 'mcp:read', tools: { write_file: 'mcp:write', move_file: 'mcp:write' } },
    });
    assert.deepEqual(config.servers[1], {
      name: 'everything',
      transport: 'http',
      url: 'http://127.0.0.1:3001/mcp',
      headers: { 'X-Api-Key': 'every-secret' },
      forwardIdentity: true,
      timeout: 10,
      startTimeout: 60,
      scopes: { default: 'mcp:write', tools: {} },
    });
    assert.equal(config.identityClient?.clientId, 'gatehouse-gateway');
    assert.equal(config.identityClient?.clientSecret, 'gw-secret');
  });

  // [what, the server's timeout lines, the seconds its start may take]
  const startBounds: Array<[string, string[], number]> = [
    ['a minute by default', [], 60],
    ['a minute beside a short timeout', ['    timeout: 5s'], 60],
    ['as written', ['    timeout: 5s', '    start_timeout: 3m'], 180],
    ['the timeout when that is longer', ['    timeout: 90s', '    start_timeout: 10s'], 90],
    ['the timeout when that is longer than the default', ['    timeout: 2m'], 120],
  ];
  for (const [what, lines, seconds] of startBounds) {
    test(`a server's start may take ${what}, for a stdio and an HTTP server alike`, () => {
      const servers = load(block('servers:', ...stdioOk, ...lines, ...httpOk, ...lines)).servers;
      assert.deepEqual(servers.map((server) => server.startTimeout), [seconds, seconds]);
    });
  }

  test('defaults: built-in tools on, no servers, and a stdio server shared, not per user', () => {
    const bare = load('');
    assert.equal(bare.builtInTools, true);
    assert.deepEqual(bare.servers, []);
    const [files] = load(block('servers:', ...stdioOk)).servers;
    assert.equal(files?.transport, 'stdio');
    assert.equal(files?.transport === 'stdio' && files.perUser, false);
    assert.deepEqual(files?.scopes.tools, {});
  });

  // [what is wrong, the YAML, the field path the message must name, what it must say]
  const mistakes: Array<[string, string, string, RegExp?]> = [
    ['an unknown field on a server', block('servers:', ...stdioOk, '    restart: always'), 'resource_server.servers.0', /unknown field.*restart/],
    ['an unknown field under scopes', block('servers:', '  - name: files', '    command: node', '    scopes: { default: mcp:read, prompts: mcp:write }'), 'resource_server.servers.0.scopes', /unknown field.*prompts/],
    ['two servers with one name', block('servers:', ...stdioOk, ...stdioOk), 'resource_server.servers.1.name', /files/],
    ['a name with capitals', block('servers:', '  - name: Files', '    command: node', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.name'],
    ['a name with an underscore (it would blur the <server>__<tool> separator)', block('servers:', ...httpOk, '  - name: a_b', '    command: node', '    scopes: { default: mcp:read }'), 'resource_server.servers.1.name'],
    ['a name of 33 characters', block('servers:', `  - name: ${'a'.repeat(33)}`, '    command: node', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.name'],
    ['an empty name', block('servers:', '  - name: ""', '    command: node', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.name'],
    ['both command and url', block('servers:', '  - name: both', '    command: node', '    url: http://127.0.0.1:3001/mcp', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.command', /exactly one of command .* or url/],
    ['neither command nor url', block('servers:', '  - name: none', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.command', /exactly one of command .* or url/],
    ['headers on a stdio server', block('servers:', ...stdioOk, '    headers: { X-Api-Key: k }'), 'resource_server.servers.0.headers', /HTTP server/],
    ['forward_identity on a stdio server', block('servers:', ...stdioOk, '    forward_identity: true'), 'resource_server.servers.0.forward_identity', /HTTP server/],
    ['args on an HTTP server', block('servers:', ...httpOk, '    args: [a]'), 'resource_server.servers.0.args', /stdio server/],
    ['env on an HTTP server', block('servers:', ...httpOk, '    env: { A: b }'), 'resource_server.servers.0.env', /stdio server/],
    ['per_user on an HTTP server', block('servers:', ...httpOk, '    per_user: true'), 'resource_server.servers.0.per_user', /stdio server/],
    ['cwd on an HTTP server', block('servers:', ...httpOk, '    cwd: /srv'), 'resource_server.servers.0.cwd', /stdio server/],
    ['a default scope that is not the resource\'s', block('servers:', '  - name: files', '    command: node', '    scopes: { default: files:read }'), 'resource_server.servers.0.scopes.default', /mcp:read, mcp:write, mcp:admin/],
    ['an OpenID scope as default', block('servers:', '  - name: files', '    command: node', '    scopes: { default: openid }'), 'resource_server.servers.0.scopes.default', /mcp:read/],
    ['a tool scope that is not the resource\'s', block('servers:', '  - name: files', '    command: node', '    scopes: { default: mcp:read, tools: { write_file: admin } }'), 'resource_server.servers.0.scopes.tools.write_file', /mcp:read, mcp:write, mcp:admin/],
    ['no scopes at all', block('servers:', '  - name: files', '    command: node'), 'resource_server.servers.0.scopes'],
    ['a url that is not http(s)', block('servers:', '  - name: remote', '    url: ftp://127.0.0.1/mcp', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.url'],
    ['a url with credentials in it', block('servers:', '  - name: remote', '    url: http://user:pw@127.0.0.1/mcp', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.url'],
    ['a header name with a space', block('servers:', ...httpOk, '    headers: { "X Api": k }'), 'resource_server.servers.0.headers'],
    ['an env name that is no variable name', block('servers:', ...stdioOk, '    env: { "A-B": c }'), 'resource_server.servers.0.env'],
    ['a timeout that is no duration', block('servers:', ...httpOk, '    timeout: soon'), 'resource_server.servers.0.timeout'],
    ['a start_timeout that is no duration', block('servers:', ...stdioOk, '    start_timeout: slow'), 'resource_server.servers.0.start_timeout', /expected a duration such as 90s/],
    ['a negative start_timeout', block('servers:', ...httpOk, '    start_timeout: -5'), 'resource_server.servers.0.start_timeout', /expected a duration/],
    ['servers that is not a list', block('servers: { files: { command: node } }'), 'resource_server.servers'],
    ['zero processes', block('max_processes: 0'), 'resource_server.max_processes'],
    ['zero processes per user', block('max_processes_per_user: 0'), 'resource_server.max_processes_per_user'],
    ['forward_identity without an identity_client', block('servers:', ...stdioOk, ...httpOk, '    forward_identity: true'), 'resource_server.servers.1.forward_identity', /identity_client/],
    ['an identity_client whose secret variable is unset', block('identity_client: { client_id: gw, client_secret_env: GW_SECRET_UNSET }', 'servers:', ...httpOk, '    forward_identity: true'), 'resource_server.identity_client.client_secret_env', /GW_SECRET_UNSET/],
    ['an identity_client with an unknown field', block('identity_client: { client_id: gw, client_secret_env: GW_SECRET, client_secret: inline }'), 'resource_server.identity_client', /unknown field.*client_secret/],
  ];
  for (const [what, yaml, field, says] of mistakes) {
    test(`refuses ${what}, naming ${field}`, () => {
      assert.throws(() => load(yaml), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
        // The path may go one step deeper (the offending key of a map), never shallower.
        assert.match(err.message, new RegExp(`^Invalid configuration: ${field.replaceAll('.', '\\.')}(\\.[^:]+)?: `), `the message names ${field}: ${err.message}`);
        if (says) assert.match(err.message, says);
        assert.doesNotMatch(err.message, /\n/, 'one line');
        return true;
      });
    });
  }

  // The refusal is the start-up log's one line (container logs, journald, CI output): the user
  // info it refuses must not be in it, whether written in the file or interpolated from a secret.
  const withCredentials: Array<[string, string, string]> = [
    ['a gateway server url', block('servers:', '  - name: remote', '    url: https://svc:${REMOTE_KEY}@mcp.example.com/mcp', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.url'],
    ['a gateway server url with a token as its user name', block('servers:', '  - name: remote', '    url: https://${REMOTE_KEY}@mcp.example.com/mcp', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.url'],
    ['the issuer', block('issuer: https://svc:${REMOTE_KEY}@auth.example.com'), 'resource_server.issuer'],
    ['a gateway server url with a key in its query (refused for its fragment)', block('servers:', '  - name: remote', '    url: https://mcp.example.com/mcp?tenant=a&api_key=${REMOTE_KEY}#tools', '    scopes: { default: mcp:read }'), 'resource_server.servers.0.url'],
    ['an issuer with a token in its query', block('issuer: https://auth.example.com?token=${REMOTE_KEY}'), 'resource_server.issuer'],
  ];
  for (const [what, yaml, field] of withCredentials) {
    test(`refuses ${what} with credentials in it without printing them`, () => {
      const secret = 'gw-api-key-4f1d9c0e7b';
      assert.throws(() => load(yaml, { REMOTE_KEY: secret }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
        assert.match(err.message, new RegExp(`^Invalid configuration: ${field.replaceAll('.', '\\.')}: `), `the message names ${field}: ${err.message}`);
        assert.ok(!err.message.includes(secret), `the credential is not in the message: ${err.message}`);
        return true;
      });
    });
  }

  test('accepts a name of exactly 32 characters, digits and dashes', () => {
    const name = `a-1${'b'.repeat(29)}`;
    assert.equal(name.length, 32);
    assert.equal(load(block('servers:', `  - name: ${name}`, '    command: node', '    scopes: { default: mcp:admin }')).servers[0]?.name, name);
  });
});
