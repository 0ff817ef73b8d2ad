/**
 * The resource_server part of the configuration: defaults, YAML fields, errors naming the field,
 * and that switching authentication off is not something configuration can do.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../apps/shared/config/config-error.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';

describe('resource_server configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rs-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function loadYaml(yaml: string) {
    writeFileSync(join(dir, 'gatehouse.yaml'), yaml);
    return loadConfig({ GATEHOUSE_CONFIG: 'gatehouse.yaml' }, dir).resourceServer;
  }

  test('has safe defaults', () => {
    const config = loadConfig({}, dir).resourceServer;
    assert.equal(config.resource, 'http://localhost:4001/mcp');
    assert.equal(config.issuer, 'http://localhost:4000');
    assert.equal(config.jwksUri, 'http://localhost:4000/oauth/jwks');
    assert.equal(config.maxBodyBytes, 256 * 1024);
    assert.equal(config.tokenCacheSize, 10_000);
    assert.equal(config.sessionIdleTtl, 1800);
    assert.equal(config.maxSessions, 10_000);
    assert.equal(config.auditRetention, 30 * 86400);
    assert.equal(config.challengeScopes, 'all');
    assert.equal(config.authorizationServerMetadataUri, 'http://localhost:4000/.well-known/oauth-authorization-server');
  });

  test('challenge_scopes takes minimal, and the metadata URL follows an internal JWKS_URI', () => {
    const config = loadYaml(['resource_server:', '  challenge_scopes: minimal', '  jwks_uri: http://auth-server:4000/oauth/jwks'].join('\n'));
    assert.equal(config.challengeScopes, 'minimal');
    assert.equal(config.authorizationServerMetadataUri, 'http://auth-server:4000/.well-known/oauth-authorization-server');
  });

  test('reads its fields from the config file', () => {
    const config = loadYaml([
      'resource_server:',
      '  resource: https://mcp.example.com/mcp',
      '  issuer: https://auth.example.com',
      '  allowed_origins: [http://localhost:6274]',
      '  max_body_bytes: 65536',
      '  token_cache_size: 0',
      '  session_idle_timeout: 10m',
      '  max_sessions: 500',
      '  audit_retention: 7d',
    ].join('\n'));
    assert.equal(config.resource, 'https://mcp.example.com/mcp');
    assert.equal(config.jwksUri, 'https://auth.example.com/oauth/jwks');
    assert.deepEqual(config.allowedOrigins, ['http://localhost:6274']);
    assert.equal(config.maxBodyBytes, 65536);
    assert.equal(config.tokenCacheSize, 0);
    assert.equal(config.sessionIdleTtl, 600);
    assert.equal(config.maxSessions, 500);
    assert.equal(config.auditRetention, 7 * 86400);
  });

  const mistakes: Array<[string, string, RegExp]> = [
    ['a body cap below 1 KiB', 'max_body_bytes: 10', /resource_server\.max_body_bytes: expected at least 1024 bytes/],
    ['a negative token cache size', 'token_cache_size: -1', /resource_server\.token_cache_size/],
    ['a session timeout that is not a duration', 'session_idle_timeout: soon', /resource_server\.session_idle_timeout: expected a duration/],
    ['zero sessions', 'max_sessions: 0', /resource_server\.max_sessions/],
    ['challenge_scopes that is neither all nor minimal', 'challenge_scopes: some', /resource_server\.challenge_scopes: expected all or minimal/],
  ];
  for (const [name, line, message] of mistakes) {
    test(`refuses ${name}, naming the field`, () => {
      assert.throws(() => loadYaml(`resource_server:\n  ${line}\n`), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  test('offers no way to switch authentication off', () => {
    for (const key of ['dangerously_disable_authentication', 'disable_authentication', 'auth']) {
      assert.throws(() => loadYaml(`resource_server:\n  ${key}: false\n`), (err: unknown) => err instanceof ConfigError && /unknown field/.test(err.message));
    }
  });
});
