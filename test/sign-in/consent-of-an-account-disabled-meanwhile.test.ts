/**
 * A user signs in and is shown the consent page; before they press Allow, an administrator
 * disables the account. The Allow that follows, though it comes with the page's own CSRF value,
 * must not connect the app: the consent handler looks the account up again and refuses one that
 * is no longer active, so the app is sent back `access_denied` with no code, and no grant is left
 * stored for the account (a grant saved then would outlive the disabling, which revoked only the
 * grants that existed when it ran).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { CLAUDE_CALLBACK, decide, registerClient, signIn, startAuthorization, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

describe('a consent approved after the account was disabled', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let resource: string;

  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
    resource = server.config.authServer.resource;
  });
  after(() => server?.close());

  test('Allow with the right CSRF value sends access_denied back to the app, with no code, and stores no grant', async () => {
    await server.auth.admin.users.create({ username: 'leaving-soon', password: 'leaving soon password', scopes: ['mcp:read'] }, BY);
    const user = (await server.auth.users.findByUsername('leaving-soon'))!;

    const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource, state: 'meanwhile' }, new Browser(server.issuer));
    const consentPage = await signIn(browser, page, 'leaving-soon', 'leaving soon password');
    assert.match(consentPage.html, /name="decision"/, `expected the consent page, got ${consentPage.status}\n${consentPage.html.slice(0, 400)}`);

    // The flag alone, as the admin pages' disable commits it before it ends the user's browser
    // sessions (user-admin.ts), and as a start that applied the config file's `disabled: true`
    // and stopped before ending them leaves it: the browser's session still names the account.
    await server.auth.users.update(user.id, { disabled: true });

    const back = await decide(browser, consentPage, 'approve');
    // First, as it is what would outlive the refusal: the provider refuses the account at the
    // next step anyway, but a grant saved here stays in the store and on the connected apps pages.
    assert.deepEqual(await server.auth.admin.grants.list({ accountId: user.id }), [], 'no grant is stored for the disabled account');
    assert.equal(back.status, 303, `expected a redirect to the app, got ${back.status}\n${back.html.slice(0, 600)}`);
    const callback = new URL(back.url);
    assert.equal(`${callback.origin}${callback.pathname}`, CLAUDE_CALLBACK);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), 'meanwhile');
    assert.equal(callback.searchParams.get('code'), null, 'no code is issued');
  });
});
