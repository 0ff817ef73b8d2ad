/**
 * Issue 17, trap 7: nothing stray in the output. On Node 20 oidc-provider wrote "Unsupported
 * runtime" at every start and CLI call, and "already parsed request body" into the JSON log at
 * the first registration. The auth-server, run as a process through a registration, a sign-in
 * and a token request, writes only JSON lines and its banner; the CLI writes only its answer.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isQuietedProviderNotice } from '../../apps/auth-server/src/provider/quiet-provider-notices.ts';
import { connect, redeem, registerClient } from '../helpers/oauth-flow.ts';
import { freshSetup, kill, run, runApp, waitForOk, type RunningProcess, type Setup } from './support/processes.ts';

const ADMIN_PASSWORD = 'correct horse battery staple';

/** The banner (apps/shared/announce-ready.ts): its title, indented lines and blank lines. */
function isBannerLine(line: string): boolean {
  return line === '' || line.startsWith('Gatehouse is running') || line.startsWith('  ');
}

describe('stray output', () => {
  let setup: Setup;
  let app: RunningProcess | undefined;
  after(() => {
    kill(app);
    if (setup) rmSync(setup.dir, { recursive: true, force: true });
  });

  test('the auth-server writes one JSON object per line (besides its banner) through registration, sign-in and tokens', async () => {
    setup = await freshSetup({ BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD });
    app = runApp('auth-server', setup.env);
    await app.waitForOutput(/Gatehouse is running/);
    await waitForOk(`${setup.issuer}/readyz`, { proc: app });
    const client = await registerClient(setup.issuer);
    const signedIn = await connect(setup.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: setup.mcpUrl, username: 'admin', password: ADMIN_PASSWORD });
    assert.equal((await redeem(setup.issuer, client, signedIn)).status, 200);
    app.signal('SIGTERM');
    assert.equal((await app.exited).code, 0);

    const output = app.output();
    assert.doesNotMatch(output, /oidc-provider|Unsupported runtime|already parsed/);
    const logLines = output.split('\n').filter((line) => !isBannerLine(line));
    assert.ok(logLines.length >= 5, `log lines were written:\n${output}`);
    for (const line of logLines) {
      assert.doesNotThrow(() => assert.equal(typeof JSON.parse(line), 'object'), `not a JSON log line: ${line}`);
    }
  });

  test('a CLI call writes its answer and nothing else', async () => {
    assert.ok(setup, 'runs after the server created its database');
    const cli = run(process.execPath, [join('apps', 'auth-server', 'src', 'cli', 'gatehouse.js'), 'users', 'list', '--json'], setup.env);
    assert.equal((await cli.exited).code, 0, cli.output());
    const users = JSON.parse(cli.output()) as Array<{ username: string }>;
    assert.deepEqual(users.map((u) => u.username), ['admin']);
  });

  const notices: Array<[string, unknown[], boolean]> = [
    ['the runtime line', ['oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.'], true],
    ['the runtime line, coloured for a terminal', ['\x1b[31;1moidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.\x1b[0m'], true],
    ['the parsed-body line', ['oidc-provider WARNING: already parsed request body detected, having upstream middleware parser is not recommended, resolving to use req.body or request.body instead'], true],
    ['another oidc-provider warning', ['oidc-provider WARNING: a configuration problem'], false],
    ['the runtime line with more arguments', ['oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.', 'x'], false],
    ['anything else', ['(node:1) Warning: something'], false],
  ];
  for (const [what, args, quieted] of notices) {
    test(`${quieted ? 'drops' : 'keeps'} ${what}`, () => assert.equal(isQuietedProviderNotice(args), quieted));
  }
});
