/**
 * A federated user listed in the upstream's admin_users gets admin_scopes at each sign-in: the
 * config decides, as it does for the users it defines. An administrator who removed mcp:admin saw
 * it come back at the person's next sign-in with nothing in the audit log, whose last word on the
 * user was the removal. The re-grant is now recorded as user.scopes_changed by `config`.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { UpstreamConfig } from '../../apps/shared/config/federated-upstreams.ts';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, CLAUDE_CALLBACK, decide, redeem, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const USERS = { 'ops@example.com': { email: 'ops@example.com', email_verified: true } };

let idp: UpstreamIdp; let server: TestAuthServer;
after(async () => { await server?.close(); await idp?.close(); });

async function signInFederated(client: RegisteredClient, scope: string) {
  const browser = new Browser(server.issuer, [idp.issuer]);
  const { verifier, challenge } = createPkce();
  const signInPage = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope, resource: RESOURCE }, challenge));
  const action = /action="(\/interaction\/[^"]+\/federated\/[a-z0-9-]+)"/.exec(signInPage.html)![1]!;
  let page: PageResult = await browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url);
  page = await browser.submit(formAction(page.html), { prompt: 'login', login: 'ops@example.com', password: 'x' }, page.url);
  if (/name="prompt" value="consent"/.test(page.html)) page = await browser.submit(formAction(page.html), { prompt: 'consent' }, page.url);
  const landed = await decide(browser, page, 'approve');
  const code = new URL(landed.url).searchParams.get('code')!;
  const tokens = await redeem(server.issuer, client, { code, verifier, redirectUri: CLAUDE_CALLBACK, callback: new URL(landed.url), browser });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return decodeJwt(tokens.body.access_token as string);
}

test('mcp:admin removed by an administrator comes back at the next federated sign-in, recorded as a scope change by the config', async () => {
  idp = await startUpstreamIdp(USERS);
  server = await startAuthServer({ configure(config) {
    config.authServer.mode = 'both';
    config.authServer.upstreams = [{
      id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
      scopes: ['openid', 'email', 'profile'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
      defaultScopes: ['mcp:read'], adminUsers: ['ops@example.com'], adminScopes: ['mcp:read', 'mcp:write', 'mcp:admin'], timeout: 5,
    } satisfies UpstreamConfig];
  } });
  await idp.allowClient(`${server.issuer}/oauth/callback/test-idp`);
  const client = await registerClient(server.issuer);

  assert.equal((await signInFederated(client, 'mcp:read mcp:admin')).scope, 'mcp:read mcp:admin');
  const ops = (await server.auth.users.findByUsername('ops@example.com'))!;

  const bootstrap = (await server.auth.users.findByUsername('admin'))!;
  const by = { actor: { name: bootstrap.username, id: bootstrap.id }, ip: '127.0.0.1' };
  await server.auth.admin.users.setScopes({ id: ops.id }, ['mcp:read'], by);
  const marker = (await server.auth.admin.audit.query({ limit: 1 }))[0]!.id;

  const second = await signInFederated(client, 'mcp:read mcp:admin');
  assert.equal(second.scope, 'mcp:read mcp:admin', 'the config gives the scope back');
  await server.auth.admin.audit.flush();
  const events = await server.auth.admin.audit.query({ afterId: marker, limit: 100 });
  const changes = events.filter((e) => e.event === 'user.scopes_changed');
  assert.equal(changes.length, 1, events.map((e) => e.event).join(', '));
  assert.equal(changes[0]!.actor, 'config');
  assert.deepEqual(changes[0]!.details, {
    user_id: ops.id, username: 'ops@example.com', from: ['mcp:read'], to: ['mcp:read', 'mcp:write', 'mcp:admin'], reason: 'admin_users', upstream: 'test-idp',
  });

  // A sign-in that changes nothing records nothing.
  const third = await signInFederated(client, 'mcp:read mcp:admin');
  assert.equal(third.scope, 'mcp:read mcp:admin');
  await server.auth.admin.audit.flush();
  const later = await server.auth.admin.audit.query({ afterId: changes[0]!.id, limit: 100 });
  assert.equal(later.filter((e) => e.event === 'user.scopes_changed').length, 0);
});
