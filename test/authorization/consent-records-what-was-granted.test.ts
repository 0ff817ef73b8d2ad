/**
 * A grant records what the user granted on the consent page, within their own scopes: an unticked
 * scope, or one the user does not have, is not granted, in the grant, its refresh token, the admin
 * pages' grant lists, or the scope changes that revoke grants holding a removed scope.
 *
 * The provider knows the MCP scopes as scopes too, so a request's mcp:* came back to the consent
 * handler as missing OpenID scopes as well, and were all added there: every requested scope was
 * recorded as granted. Access tokens still carried only the granted ones (they are cut to the
 * resource's scopes), but the records were wrong, and adding a scope to a user revoked every grant
 * of theirs whose client had asked for a scope they lacked (Claude asks for all of them).
 *
 * A scope the grant records as refused is asked again once the user holds it, when the client
 * steps up for it: on a 403 insufficient_scope it authorizes again, in the same browser, with the
 * scope the challenge names (MCP 2025-11-25 authorization §Scope Challenge Handling, §Step-Up
 * Authorization Flow). The provider asks only for scopes its grant never met, granted or refused,
 * so the step-up went straight back to the client with the old scopes, and the client asked
 * again, in a loop. With prompt=consent the page listed the refused scope as already allowed, and
 * allowing it granted nothing: the grant subtracts its refused scopes from its granted ones.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, PageResult } from '../helpers/browser.ts';
import { authorizeUrl, CLAUDE_CALLBACK, connect, decide, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };
const BOTH = 'mcp:read mcp:write';

/** The scopes the consent page offers as checkboxes, and the ones it lists as already allowed. */
function consentPage(page: PageResult) {
  const offered = [...page.html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1]);
  const allowedNote = /Already allowed:(.*?)<\/p>/s.exec(page.html)?.[1] ?? '';
  const alreadyAllowed = [...allowedNote.matchAll(/<code>([^<]+)<\/code>/g)].map((m) => m[1]);
  return { offered, alreadyAllowed };
}

describe('what a consent grants', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let resource: string;
  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
    resource = server.config.authServer.resource;
    await server.auth.admin.users.create({ username: 'rita', password: 'rita password 12', scopes: ['mcp:read'] }, BY);
  });
  after(() => server?.close());

  async function grantOf(username: string, password: string, scope: string, approveScopes?: string[]) {
    const flow = await connect(server.issuer, { clientId: client.client_id, scope, resource, username, password, approveScopes });
    const tokens = await redeem(server.issuer, client, flow);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const refreshToken = tokens.body.refresh_token as string;
    const stored = await server.auth.provider.RefreshToken.find(refreshToken);
    const user = (await server.auth.users.findByUsername(username))!;
    const [listed] = (await server.auth.admin.grants.list({ accountId: user.id })).filter((g) => g.grantId === stored!.grantId);
    return { refreshToken, tokenScope: stored!.scope!.split(' ').sort(), listed: listed!.scopes.filter((s) => s.startsWith('mcp:')).sort() };
  }

  test('a scope unticked on the consent page is granted nowhere, and asking for it at refresh is invalid_scope', async () => {
    const granted = await grantOf('admin', ADMIN_PASSWORD, 'mcp:read mcp:write', ['mcp:read']);
    assert.deepEqual(granted.tokenScope, ['mcp:read'], 'the refresh token');
    assert.deepEqual(granted.listed, ['mcp:read'], 'the admin pages\' grant list');
    const asked = await refresh(server.issuer, client, granted.refreshToken, { scope: 'mcp:write' });
    assert.equal(asked.status, 400, JSON.stringify(asked.body));
    assert.equal(asked.body.error, 'invalid_scope');
    const again = await refresh(server.issuer, client, granted.refreshToken);
    assert.equal(again.status, 200, 'refused before anything was used up');
  });

  test('a scope the user does not have is granted nowhere; adding one to the user leaves their apps connected', async () => {
    const granted = await grantOf('rita', 'rita password 12', 'mcp:read mcp:write mcp:admin');
    assert.deepEqual(granted.tokenScope, ['mcp:read']);
    assert.deepEqual(granted.listed, ['mcp:read']);
    const { grantsRevoked } = await server.auth.admin.users.setScopes('rita', ['mcp:read', 'mcp:write'], BY);
    assert.equal(grantsRevoked, 0, 'adding mcp:write revokes nothing');
    const removed = await server.auth.admin.users.setScopes('rita', ['mcp:read'], BY);
    assert.equal(removed.grantsRevoked, 0, 'nor does taking back a scope the grant never held');
    const refreshed = await refresh(server.issuer, client, granted.refreshToken);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });

  test('a refresh that would hand out no scope (the user\'s were cut since) is invalid_scope, and the refresh token is kept', async () => {
    await server.auth.admin.users.create({ username: 'cleo', password: 'cleo password 12', scopes: ['mcp:read', 'mcp:write'] }, BY);
    const granted = await grantOf('cleo', 'cleo password 12', 'mcp:read mcp:write');
    const cleo = (await server.auth.users.findByUsername('cleo'))!;
    // Cut as a config file's change does at the next start: in the store, no grant revoked.
    await server.auth.users.update(cleo.id, { scopes: ['mcp:admin'] });
    const refused = await refresh(server.issuer, client, granted.refreshToken);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'invalid_scope');
    await server.auth.users.update(cleo.id, { scopes: ['mcp:write'] });
    const narrowed = await refresh(server.issuer, client, granted.refreshToken, { scope: 'mcp:read' });
    assert.equal(narrowed.body.error, 'invalid_scope', 'asking only for the scope cut is refused too');
    const kept = await refresh(server.issuer, client, granted.refreshToken);
    assert.equal(kept.status, 200, `the refresh token was not used up by the refusals: ${JSON.stringify(kept.body)}`);
    assert.equal(kept.body.scope, 'mcp:write', 'what the user may still grant');
  });

  test('a grant recorded before (MCP scopes in its OpenID part) is listed by what its resource holds', async () => {
    const user = (await server.auth.users.findByUsername('rita'))!;
    const grant = new server.auth.provider.Grant({ accountId: user.id, clientId: client.client_id });
    grant.addOIDCScope('openid mcp:read mcp:write mcp:admin');
    grant.addResourceScope(resource, 'mcp:read');
    const grantId = await grant.save();
    const [listed] = (await server.auth.admin.grants.list({ accountId: user.id })).filter((g) => g.grantId === grantId);
    assert.deepEqual(listed!.scopes.filter((s) => s.startsWith('mcp:')), ['mcp:read']);
  });

  /** The first authorization, asking for both scopes; the token carries only mcp:read. */
  async function connectWithRead(username: string, password: string, approveScopes?: string[]) {
    const first = await connect(server.issuer, { clientId: client.client_id, scope: BOTH, resource, username, password, approveScopes });
    assert.equal((await redeem(server.issuer, client, first)).body.scope, 'mcp:read');
    return first.browser;
  }

  /** The step-up: the same browser opens /authorize again for both scopes; lands on the consent page or at the client. */
  async function stepUp(browser: Browser, extra: Record<string, string> = {}) {
    const { verifier, challenge } = createPkce();
    const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: BOTH, resource, extra }, challenge));
    return { page, consent: page.html.includes('name="decision"') ? consentPage(page) : undefined, verifier };
  }

  /** The scope of the token for the code the browser brought back to the client. */
  async function tokenScope(browser: Browser, page: PageResult, verifier: string) {
    const callback = new URL(page.url);
    assert.equal(`${callback.origin}${callback.pathname}`, CLAUDE_CALLBACK, `expected the client's callback, got ${page.status} ${page.url}\n${page.html.slice(0, 400)}`);
    const code = callback.searchParams.get('code');
    assert.ok(code, `no code in ${callback.href}`);
    const tokens = await redeem(server.issuer, client, { code, verifier, redirectUri: CLAUDE_CALLBACK, callback, browser });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    return tokens.body.scope;
  }

  for (const [how, extra] of [['', {}], [' with prompt=consent', { prompt: 'consent' }]] as const) {
    test(`a scope unticked at the first consent is offered again at the step-up${how}, not as already allowed, and allowing it grants it`, async () => {
      const browser = await connectWithRead('admin', ADMIN_PASSWORD, ['mcp:read']);
      const { page, consent, verifier } = await stepUp(browser, extra);
      assert.ok(consent, `no consent page: went straight to ${page.url}`);
      assert.deepEqual(consent, { offered: ['mcp:write'], alreadyAllowed: ['mcp:read'] });
      const allowed = await decide(browser, page, 'approve', ['mcp:write']);
      assert.equal(await tokenScope(browser, allowed, verifier), BOTH);
    });
  }

  test('a scope the user lacked at the first consent, added since by an admin, is offered at the step-up', async () => {
    await server.auth.admin.users.create({ username: 'wren', password: 'wren password 12', scopes: ['mcp:read'] }, BY);
    const browser = await connectWithRead('wren', 'wren password 12');
    await server.auth.admin.users.setScopes('wren', ['mcp:read', 'mcp:write'], BY);
    const { page, consent, verifier } = await stepUp(browser);
    assert.ok(consent, `no consent page: went straight to ${page.url}`);
    assert.deepEqual(consent.offered, ['mcp:write']);
    const allowed = await decide(browser, page, 'approve');
    assert.equal(await tokenScope(browser, allowed, verifier), BOTH);
  });

  test('refusing it again at the step-up keeps the refusal: mcp:read only, no second page, asked again at the next step-up', async () => {
    const browser = await connectWithRead('admin', ADMIN_PASSWORD, ['mcp:read']);
    const { page, consent, verifier } = await stepUp(browser);
    assert.deepEqual(consent?.offered, ['mcp:write']);
    const refused = await decide(browser, page, 'approve', []);
    assert.equal(await tokenScope(browser, refused, verifier), 'mcp:read', 'straight back to the client, without the scope');
    const next = await stepUp(browser);
    assert.deepEqual(next.consent?.offered, ['mcp:write'], 'the next step-up asks again');
    const code = new URL((await decide(browser, next.page, 'approve', [])).url).searchParams.get('code')!;
    const grant = await server.auth.provider.Grant.find((await server.auth.provider.AuthorizationCode.find(code))!.grantId!);
    assert.equal(grant!.getResourceScope(resource), 'mcp:read');
    assert.equal(grant!.getRejectedResourceScope(resource), 'mcp:write', 'the refusal is recorded in the grant');
  });

  test('a silent renewal (prompt=none) after a scope was unticked gets a code for what the grant holds, not consent_required', async () => {
    const browser = await connectWithRead('admin', ADMIN_PASSWORD, ['mcp:read']);
    const { page, verifier } = await stepUp(browser, { prompt: 'none' });
    assert.equal(new URL(page.url).searchParams.get('error'), null);
    assert.equal(await tokenScope(browser, page, verifier), 'mcp:read');
  });

  test('a user who still lacks the scope gets no consent page at the step-up, and mcp:read', async () => {
    const browser = await connectWithRead('rita', 'rita password 12');
    const { page, consent, verifier } = await stepUp(browser);
    assert.equal(consent, undefined, 'nothing the page could grant');
    assert.equal(await tokenScope(browser, page, verifier), 'mcp:read');
  });
});
