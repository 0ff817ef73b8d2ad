/**
 * What the config file says of a user takes effect the way the same change made with the CLI or
 * the admin pages does (UserAdmin.finishConfiguredChanges): an operator who sets `disabled: true`
 * on a user and restarts ends that user's access, and one who changes a user's password there
 * signs out whoever signed in with the old one. Before, the file only set the flag: the user's
 * access tokens kept working at the resource server until they expired, their grants stayed (and
 * came back to life when the file enabled them again), and browser sessions stayed signed in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mcpRequest } from '../helpers/mcp-http.ts';
import { freePort } from '../helpers/net.ts';
import { authorizeUrl, connect, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { waitFor } from '../helpers/wait-for.ts';

describe('users changed in the config file', () => {
  let server: TestAuthServer;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let client: RegisteredClient;

  before(async () => {
    const port = await freePort();
    server = await startAuthServer({
      env: { RESOURCE_URL: `http://127.0.0.1:${port}/mcp` },
      configure(config) {
        config.authServer.users = [
          { username: 'leaver', password: 'leaver-password', scopes: ['mcp:read'], disabled: false },
          { username: 'mover', password: 'old-password-1', scopes: ['mcp:read'], disabled: false },
          { username: 'stayer', password: 'stayer-password', scopes: ['mcp:read'], disabled: false },
          { username: 'returner', password: 'returner-password', scopes: ['mcp:read'], disabled: false },
          { username: 'writer', password: 'writer-password', scopes: ['mcp:read', 'mcp:write'], disabled: false },
        ];
      },
    });
    rs = await startResourceServerBeside(server);
    client = await registerClient(server.issuer);
  });
  after(async () => {
    await rs?.close();
    await server?.close();
  });

  const entry = (username: string) => server.config.authServer.users.find((u) => u.username === username)!;
  const resource = () => server.config.authServer.resource;

  /** Connects the app as `username`: its tokens, and the browser that signed in. */
  async function connected(username: string, password: string, scope = 'mcp:read') {
    const flow = await connect(server.issuer, { clientId: client.client_id, scope, resource: resource(), username, password });
    const tokens = await redeem(server.issuer, client, flow);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    return { accessToken: tokens.body.access_token as string, refreshToken: tokens.body.refresh_token as string, browser: flow.browser };
  }
  const mcpStatus = async (token: string) => (await mcpRequest(rs.mcpUrl, { token })).status;

  test('disabling a user in the file refuses their access tokens at the resource server and ends their grants for good', async () => {
    const leaver = await connected('leaver', 'leaver-password');
    const stayer = await connected('stayer', 'stayer-password');
    assert.equal(await mcpStatus(leaver.accessToken), 200);

    entry('leaver').disabled = true;
    await server.restart();
    await waitFor('the resource server refuses the disabled user\'s access token', async () => (await mcpStatus(leaver.accessToken)) === 401, 15_000);
    assert.equal((await refresh(server.issuer, client, leaver.refreshToken)).status, 400, 'the refresh token is refused');
    assert.equal(await mcpStatus(stayer.accessToken), 200, 'another user\'s token still works');

    entry('leaver').disabled = false;
    await server.restart();
    const again = await refresh(server.issuer, client, leaver.refreshToken);
    assert.equal(again.status, 400, `enabled again, the old refresh token stays dead: ${JSON.stringify(again.body)}`);
    assert.equal(again.body.error, 'invalid_grant');
    const events = await server.auth.admin.audit.query({ event: 'user.disabled' });
    assert.deepEqual(events.map((event) => [event.actor, event.details.username]), [['config', 'leaver']], 'audited once, by the config file');
  });

  test('a password changed in the file signs out the browsers signed in with the old one', async () => {
    const mover = await connected('mover', 'old-password-1');
    const stayer = await connected('stayer', 'stayer-password');
    const signedIn = async (browser: typeof mover.browser) => {
      const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: resource() }, createPkce().challenge));
      return !page.html.includes('name="password"');
    };
    assert.ok(await signedIn(mover.browser), 'signed in before the change');

    entry('mover').password = 'new-password-2';
    await server.restart();
    assert.equal(await signedIn(mover.browser), false, 'the old password\'s browser session is over: the sign-in page shows');
    assert.ok(await signedIn(stayer.browser), 'another user\'s session stays');
    const events = await server.auth.admin.audit.query({ event: 'user.password_reset' });
    assert.deepEqual(events.map((event) => [event.actor, event.details.username]), [['config', 'mover']]);

    await server.restart();
    assert.equal((await server.auth.admin.audit.query({ event: 'user.password_reset' })).length, 1, 'the same password at the next start changes nothing');
  });

  const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };
  const eventsAbout = async (username: string, event: string) =>
    (await server.auth.admin.audit.query({ event })).filter((e) => e.details.username === username).map((e) => [e.actor, e.details]);

  test('an account an administrator disabled, which the file enables, is enabled at the next start and the log says so', async () => {
    await server.auth.admin.users.disable('returner', BY);
    await server.restart();
    assert.equal((await server.auth.users.findByUsername('returner'))!.disabled, false, 'the file decides');
    const returner = (await server.auth.users.findByUsername('returner'))!;
    assert.deepEqual(await eventsAbout('returner', 'user.enabled'), [['config', { user_id: returner.id, username: 'returner' }]]);
    await server.restart();
    assert.equal((await eventsAbout('returner', 'user.enabled')).length, 1, 'the next start changes nothing and records nothing');
  });

  test('scopes the file sets: one an administrator removed comes back and is recorded; one the file removes ends the grants holding it', async () => {
    const writer = (await server.auth.users.findByUsername('writer'))!;
    await server.auth.admin.users.setScopes('writer', ['mcp:read'], BY);
    await server.restart();
    assert.deepEqual((await server.auth.users.findByUsername('writer'))!.scopes, ['mcp:read', 'mcp:write']);
    const back = (await eventsAbout('writer', 'user.scopes_changed')).filter(([actor]) => actor === 'config');
    assert.deepEqual(back, [['config', { user_id: writer.id, username: 'writer', from: ['mcp:read'], to: ['mcp:read', 'mcp:write'], grants_revoked: 0 }]]);

    const holding = await connected('writer', 'writer-password', 'mcp:read mcp:write');
    // Just after a restart, on a loaded machine, the resource server may still answer 503 (fail
    // closed) until it has read the restarted auth-server's revocation feed or key set again.
    await waitFor('the resource server accepts the new token', async () => (await mcpStatus(holding.accessToken)) === 200, 15_000);
    entry('writer').scopes = ['mcp:read'];
    await server.restart();
    await waitFor('the resource server refuses the token carrying the removed scope', async () => (await mcpStatus(holding.accessToken)) === 401, 15_000);
    assert.equal((await refresh(server.issuer, client, holding.refreshToken)).status, 400, 'its grant is gone');
    const removed = (await eventsAbout('writer', 'user.scopes_changed')).filter(([actor]) => actor === 'config');
    assert.deepEqual(removed.filter(([, details]) => (details as { from: string[] }).from.length === 2), [['config', { user_id: writer.id, username: 'writer', from: ['mcp:read', 'mcp:write'], to: ['mcp:read'], grants_revoked: 1 }]]);
  });
});
