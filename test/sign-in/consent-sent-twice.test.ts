/**
 * Allow clicked twice sends the consent form twice at once; the browser follows only the second
 * answer. Each submission made a grant of its own: the user got one token, from the second, and
 * two "connected apps" for one consent (the first, held by no token, listed on /account and the
 * admin's user page until it expired). Reproduced by a review on both backends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser, formAction, inputValue } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, signIn, tokenRequest, CLAUDE_CALLBACK } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };
const PASSWORD = 'carol password 123';

for (const backend of TEST_BACKENDS) describe(`consent Allow sent twice at once (${backend})`, () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer({ backend, env: { RESOURCE_URL: RESOURCE } });
  });
  after(() => server?.close());

  test('makes one grant, the one the token names', async () => {
    const user = await server.auth.admin.users.create({ username: 'carol', password: PASSWORD, scopes: ['mcp:read', 'mcp:write'] }, BY);
    const client = await registerClient(server.issuer);
    const browser = new Browser(server.issuer);
    const { challenge, verifier } = createPkce();
    let page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE }, challenge));
    page = await signIn(browser, page, 'carol', PASSWORD);
    assert.match(page.html, /name="decision"/);
    const body = new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, decision: 'approve' });
    const action = new URL(formAction(page.html), page.url);
    const answers = await Promise.all([0, 1].map(() => browser.request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })));
    assert.deepEqual(answers.map((answer) => answer.status), [303, 303]);

    const landed = await browser.navigate(answers[1]!.headers.get('location')!);
    const code = new URL(landed.url).searchParams.get('code');
    assert.ok(code, landed.url);
    const tokens = await tokenRequest(server.issuer, { grant_type: 'authorization_code', client_id: client.client_id, code, code_verifier: verifier, redirect_uri: CLAUDE_CALLBACK });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));

    const grants = await server.auth.admin.grants.list({ accountId: user.id });
    assert.deepEqual(grants.map((grant) => grant.grantId), [decodeJwt(tokens.body.access_token as string).gid], 'one connected app, the one the token names');
    assert.deepEqual(grants[0]!.scopes.sort(), ['mcp:read', 'mcp:write']);
  });
});
