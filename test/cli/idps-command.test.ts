/**
 * `gatehouse idps` and `gatehouse clients add --id-jag` next to a running server on the same data
 * directory: an IdP trusted from the command line is accepted by the server at its next token
 * request, listed beside the config file's, removed again; the config file's cannot be removed;
 * a refused entry exits 1 with a message; --json output.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { run as runGatehouse } from '../../apps/auth-server/src/cli/run.ts';
import { clientSecretBasic, tokenRequest } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';
import { CapturedOutput } from './support/captured-output.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

describe('gatehouse idps next to a running server', () => {
  let dir: string;
  let server: TestAuthServer;
  let fromFile: EnterpriseIdp;
  let fromCli: EnterpriseIdp;

  async function gatehouse(...args: string[]) {
    const stdout = new CapturedOutput();
    const stderr = new CapturedOutput();
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, GATEHOUSE_CONFIG: join(dir, 'gatehouse.yaml'), DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys') };
    const code = await runGatehouse(args, { stdin: Readable.from([]), stdout, stderr }, env);
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  before(async () => {
    [fromFile, fromCli] = await Promise.all([startEnterpriseIdp('file'), startEnterpriseIdp('cli')]);
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-idps-'));
    writeFileSync(join(dir, 'gatehouse.yaml'), `auth_server:\n  bcrypt_cost: 10\n  id_jag:\n    trusted_idps:\n      - { id: file, issuer: "${fromFile.issuer}", jwks_uri: "${fromFile.jwksUri}" }\n`);
    server = await startAuthServer({ dir, env: { GATEHOUSE_CONFIG: join(dir, 'gatehouse.yaml') }, metadataFetch: { dangerouslyAllowLoopback: true } });
  });
  after(async () => {
    await server?.close();
    await Promise.all([fromFile?.close(), fromCli?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('trust an IdP and register a client for the grant from the command line; the server accepts its assertions; remove it again', async () => {
    const created = await gatehouse('--json', 'clients', 'add', '--name', 'agent', '--redirect-uri', 'https://agent.example/cb', '--id-jag');
    assert.equal(created.code, 0, created.stderr);
    const agent = JSON.parse(created.stdout) as { client_id: string; client_secret: string };

    const jwksFile = join(dir, 'cli-keys.json');
    writeFileSync(jwksFile, JSON.stringify(fromCli.jwks));
    const added = await gatehouse('idps', 'add', '--issuer', fromCli.issuer, '--id', 'cli', '--jwks-file', jwksFile, '--new-users', 'allow', '--scope', 'mcp:read,mcp:write', '--client-id', agent.client_id);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /trusted .* \(cli\)/);

    const listed = JSON.parse((await gatehouse('--json', 'idps', 'list')).stdout) as Array<Record<string, string>>;
    assert.deepEqual(listed.map((idp) => [idp.id, idp.source]).sort(), [['cli', 'admin'], ['file', 'config']]);
    assert.match(listed.find((idp) => idp.id === 'cli')!.keys!, /^inline: cli-rs, cli-es$/);
    assert.equal(listed.find((idp) => idp.id === 'cli')!.default_scopes, 'mcp:read mcp:write', '--scope in the comma form users and services take');

    const present = async () => {
      const assertion = await fromCli.mint({ aud: server.issuer, client_id: agent.client_id, sub: 'cli-user', scope: 'mcp:read' });
      const response = await fetch(`${server.issuer}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...clientSecretBasic(agent.client_id, agent.client_secret) },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
      });
      return { status: response.status, body: await response.json() as Record<string, unknown> };
    };
    const accepted = await present();
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));

    const removed = await gatehouse('idps', 'remove', 'cli');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await present()).body.error, 'invalid_grant');
  });

  test('an IdP with new_users: refuse reaches an existing user once gatehouse users link --idp links its subject to them, and no longer once users unlink removes it', async () => {
    const created = await gatehouse('--json', 'clients', 'add', '--name', 'linked-agent', '--redirect-uri', 'https://agent.example/cb', '--id-jag');
    assert.equal(created.code, 0, created.stderr);
    const agent = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
    const existing = (await server.auth.users.create({ username: 'dana', passwordHash: null, scopes: ['mcp:read'] }))!;
    const present = async () => tokenRequest(server.issuer, {
      grant_type: JWT_BEARER,
      assertion: await fromFile.mint({ aud: server.issuer, client_id: agent.client_id, sub: 'emp-4711', scope: 'mcp:read' }),
    }, clientSecretBasic(agent.client_id, agent.client_secret));
    const refused = await present();
    assert.equal(refused.body.error, 'invalid_grant', 'no user is linked to the subject yet');

    const usage: Array<[string[], RegExp]> = [
      [['users', 'link', 'dana', '--subject', 'emp-4711'], /exactly one of --upstream ID .* or --idp ID/],
      [['users', 'link', 'dana', '--upstream', 'x', '--idp', 'file', '--subject', 'emp-4711'], /exactly one of/],
    ];
    for (const [args, message] of usage) {
      const result = await gatehouse(...args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}`);
      assert.match(result.stderr, message);
    }
    const unknown = await gatehouse('users', 'link', 'dana', '--idp', 'nope', '--subject', 'emp-4711');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /There is no trusted IdP nope; the trusted ones are file\./);

    const linked = await gatehouse('users', 'link', 'dana', '--idp', 'file', '--subject', 'emp-4711');
    assert.equal(linked.code, 0, linked.stderr);
    assert.match(linked.stdout, /linked file sign-in emp-4711 to dana/);
    const accepted = await present();
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(decodeJwt(accepted.body.access_token as string).sub, existing.id, 'the assertion for emp-4711 now names dana');

    const links = JSON.parse((await gatehouse('--json', 'users', 'links', 'dana')).stdout) as Array<Record<string, string>>;
    assert.deepEqual(links.map((l) => [l.upstream, l.issuer, l.subject]), [['file', fromFile.issuer, 'emp-4711']]);
    const unlinked = await gatehouse('users', 'unlink', 'dana', '--issuer', fromFile.issuer, '--subject', 'emp-4711');
    assert.equal(unlinked.code, 0, unlinked.stderr);
    assert.match(unlinked.stdout, /unlinked emp-4711 at .* from dana; revoked 1 grant\(s\) and ended their sessions/);
    assert.equal((await present()).body.error, 'invalid_grant', 'unlinked: the assertion no longer reaches dana');
    assert.match((await gatehouse('users', 'unlink', 'dana', '--issuer', fromFile.issuer, '--subject', 'emp-4711')).stdout, /has no link .*nothing changed/);
  });

  test('refuses to remove the config file\'s IdP, and refuses unfit entries, with exit code 1 and a message', async () => {
    const fromConfig = await gatehouse('idps', 'remove', fromFile.issuer);
    assert.equal(fromConfig.code, 1);
    assert.match(fromConfig.stderr, /config file/);
    const cases: Array<[string[], RegExp]> = [
      [['--issuer', 'http://idp.example.com', '--jwks-uri', 'http://idp.example.com/keys'], /https/],
      [['--issuer', 'https://idp.example.com', '--jwks-uri', 'https://idp.example.com/keys', '--algorithm', 'HS256'], /algorithms/],
      [['--issuer', fromFile.issuer, '--jwks-uri', fromFile.jwksUri], /config file/],
    ];
    for (const [args, message] of cases) {
      const result = await gatehouse('idps', 'add', ...args);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}`);
      assert.match(result.stderr, message, args.join(' '));
    }
    // Neither --jwks-uri nor --jwks-file is a wrong command line: exit 2 (test/cli/command-lines.test.ts).
    assert.equal((await gatehouse('idps', 'add', '--issuer', 'https://idp.example.com')).code, 2);
    assert.equal((await gatehouse('idps', 'add', '--issuer', 'https://idp.example.com', '--jwks-uri', 'https://idp.example.com/keys', '--new-users', 'maybe')).code, 2);
    const privateKey = join(dir, 'private.json');
    writeFileSync(privateKey, JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
    const symmetric = await gatehouse('idps', 'add', '--issuer', 'https://idp.example.com', '--jwks-file', privateKey);
    assert.equal(symmetric.code, 1);
    assert.match(symmetric.stderr, /public keys only/);
  });
});
