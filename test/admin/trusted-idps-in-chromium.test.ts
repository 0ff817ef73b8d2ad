/**
 * The "Enterprise IdPs" admin page in Debian's Chromium: an administrator trusts an IdP by its
 * JWKS URL, its assertions are accepted at once, and removing it stops them; an IdP from the
 * config file is shown as such and has no Remove button; a refused entry is explained; a form
 * posted without the CSRF token changes nothing. No CSP violation on the way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { trustedIdpEntry } from '../../apps/shared/config/id-jag-section.ts';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { collectCspViolations, launchChromium, screenshot } from '../helpers/chromium.ts';
import { clientSecretBasic } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

describe('trusted IdPs in the admin pages, in Chromium', () => {
  let server: TestAuthServer;
  let configured: EnterpriseIdp;
  let added: EnterpriseIdp;
  let chromium: Chromium;
  let context: BrowserContext;
  let page: Page;
  let agent: { client_id: string; client_secret: string };
  let violations: string[] = [];

  before(async () => {
    [configured, added] = await Promise.all([startEnterpriseIdp('from-file'), startEnterpriseIdp('from-page')]);
    server = await startAuthServer({
      configure: (config) => {
        config.authServer.idJag.trustedIdps = [trustedIdpEntry.parse({ id: 'from-file', issuer: configured.issuer, jwks_uri: configured.jwksUri })];
      },
      metadataFetch: { dangerouslyAllowLoopback: true },
    });
    const created = await server.auth.admin.clients.createStatic({ name: 'agent', redirectUris: ['https://agent.example/cb'], authMethod: 'client_secret_basic', idJag: true }, CLI);
    agent = { client_id: created.clientId, client_secret: created.clientSecret! };
    chromium = await launchChromium();
    context = await chromium.newContext();
    page = await context.newPage();
    violations = collectCspViolations(page);
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.close();
    await Promise.all([configured?.close(), added?.close()]);
  });

  async function present(idp: EnterpriseIdp) {
    const assertion = await idp.mint({ aud: server.issuer, client_id: agent.client_id, sub: 'browser-user', scope: 'mcp:read' });
    const response = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...clientSecretBasic(agent.client_id, agent.client_secret) },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
    });
    return { status: response.status, body: await response.json() as Record<string, unknown> };
  }

  test('sign in and open the page: the config file\'s IdP is listed as such, without a Remove button', async () => {
    await page.goto(`${server.issuer}/admin`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    await page.getByRole('link', { name: 'Enterprise IdPs' }).click();
    await page.getByRole('heading', { name: 'Enterprise IdPs' }).waitFor();
    const row = page.getByRole('row', { name: /from-file/ });
    assert.match(await row.innerText(), /config file/);
    assert.equal(await row.getByRole('button', { name: /Remove|Stop trusting/ }).count(), 0);
  });

  test('a refused entry is explained by its field on the same form, input kept, not a 5xx', async () => {
    await page.getByLabel(/^Issuer/).fill('http://idp.example.com');
    await page.getByLabel('Its JWKS URL').fill('http://idp.example.com/jwks');
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Trust' }).click()]);
    assert.equal(response.status(), 400);
    await page.locator('#addTrustedIdp-issuer-error').waitFor();
    assert.match(await page.locator('#addTrustedIdp-issuer-error').innerText(), /https/);
    assert.equal(await page.getByLabel(/^Issuer/).inputValue(), 'http://idp.example.com');
    assert.equal(await page.getByLabel('Its JWKS URL').inputValue(), 'http://idp.example.com/jwks');
  });

  test('trust an IdP by its JWKS URL: its assertions are accepted at once; remove it: refused again', async () => {
    assert.equal((await present(added)).body.error, 'invalid_grant', 'not trusted yet');
    await page.goto(`${server.issuer}/admin/trusted-idps`);
    await page.getByLabel(/^Issuer/).fill(added.issuer);
    await page.getByLabel(/^Short id/).fill('from-page');
    await page.getByLabel('Its JWKS URL').fill(added.jwksUri);
    await page.getByLabel('A subject no user is linked to').selectOption('allow');
    await page.getByRole('button', { name: 'Trust' }).click();
    assert.match(await page.getByRole('status').innerText(), /The IdP is trusted/);
    await screenshot(page, 'admin-trusted-idps');
    const row = page.getByRole('row', { name: /from-page/ });
    assert.match(await row.innerText(), /admin/);
    const accepted = await present(added);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));

    await row.getByRole('button', { name: `Stop trusting ${added.issuer}` }).click();
    assert.match(await page.getByRole('status').innerText(), /no longer trusted/);
    assert.equal((await present(added)).body.error, 'invalid_grant');
    const [event] = await server.auth.admin.audit.query({ event: 'trusted_idp.removed' });
    assert.equal(event?.actor, 'admin');
  });

  test('the client registered for the grant shows it on the clients page', async () => {
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    const row = page.getByRole('row', { name: new RegExp(agent.client_id) });
    assert.match(await row.innerText(), /enterprise sign-in/);
  });

  test('a form posted without its CSRF token changes nothing', async () => {
    const response = await page.request.post(`${server.issuer}/admin/trusted-idps`, {
      form: { issuer: added.issuer, jwks_uri: added.jwksUri, new_users: 'allow' },
    });
    assert.equal(response.status(), 403);
    assert.equal((await server.auth.admin.trustedIdps.list()).some((idp) => idp.issuer === added.issuer), false);
    assert.deepEqual(violations, []);
  });
});
