/**
 * Emails are compared with ASCII letters in lower case and nothing else folded. JavaScript's
 * toLowerCase() also maps letters outside ASCII onto ASCII ones (U+212A KELVIN SIGN to `k`), so an
 * upstream account whose verified email was `Kate@partner.test` written with the Kelvin sign (an
 * address of its own at the upstream) was let in by `allowed_emails: [kate@partner.test]`, made an
 * admin by `admin_users`, skipping `new_users: pending`, and named kate@partner.test, which the real
 * Kate then could not sign in as. Through a real upstream IdP; ASCII case is still ignored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { comparableEmail, plainEmail } from '../../apps/shared/email-address.ts';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const KELVIN = '\u212A';

describe('emails compared as mail systems compare them', () => {
  let idp: UpstreamIdp;
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    idp = await startUpstreamIdp({
      'kelvin': { email: `${KELVIN}ate@partner.test`, email_verified: true },
      'dotted': { email: '\u0130vy@partner.test', email_verified: true },
      'shouting': { email: 'KATE@PARTNER.TEST', email_verified: true },
      // Addresses of their own at the upstream (RFC 6531 allows such local parts) that read as Ivy's.
      'ideographic-space': { email: '\u3000ivy@partner.test', email_verified: true },
      'no-break-space': { email: 'ivy@partner.test\u00a0', email_verified: true },
      'byte-order-mark': { email: '\ufeffivy@partner.test', email_verified: true },
      'zero-width-space': { email: 'i\u200bvy@partner.test', email_verified: true },
    });
    server = await startAuthServer({
      configure(config) {
        config.authServer.mode = 'both';
        config.authServer.upstreams = [{
          id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
          scopes: ['openid', 'email'], allowedDomains: [], allowedEmails: ['kate@partner.test', 'ivy@partner.test'], newUsers: 'pending',
          defaultScopes: ['mcp:read'], adminUsers: ['kate@partner.test', 'ivy@partner.test'], adminScopes: ['mcp:read', 'mcp:admin'], timeout: 5,
        }];
      },
    });
    await idp.allowClient(`${server.issuer}/oauth/callback/test-idp`);
    client = await registerClient(server.issuer);
  });
  after(async () => {
    await server?.close();
    await idp?.close();
  });

  /** Signs `login` in at the upstream through Gatehouse's sign-in page; the page Gatehouse answers with. */
  async function signInAs(login: string): Promise<PageResult> {
    const browser = new Browser(server.issuer, [idp.issuer]);
    const signInPage = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    const action = /action="(\/interaction\/[^"]+\/federated\/test-idp)"/.exec(signInPage.html)?.[1];
    assert.ok(action, `${signInPage.status} ${signInPage.url}`);
    let page = await browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url);
    page = await browser.submit(formAction(page.html), { prompt: 'login', login, password: 'anything' }, page.url);
    if (/name="prompt" value="consent"/.test(page.html)) page = await browser.submit(formAction(page.html), { prompt: 'consent' }, page.url);
    return page;
  }

  for (const [login, email] of [['kelvin', `${KELVIN}ate@partner.test`], ['dotted', '\u0130vy@partner.test']]) {
    test(`${JSON.stringify(email)} is not the allowed admin address its lower case would fold to: refused, nobody created`, async () => {
      const page = await signInAs(login!);
      assert.equal(page.status, 403, `${page.status} ${page.url}`);
      assert.match(page.html, /not allowed|cannot/i);
      assert.deepEqual((await server.auth.users.list()).filter((user) => user.source === 'federated').map((user) => user.username), []);
    });
  }

  for (const login of ['ideographic-space', 'no-break-space', 'byte-order-mark', 'zero-width-space']) {
    test(`an email with ${login.replaceAll('-', ' ')} is no email: not the allowed admin address it reads as, refused, nobody created`, async () => {
      const page = await signInAs(login);
      assert.equal(page.status, 403, `${page.status} ${page.url}`);
      assert.deepEqual((await server.auth.users.list()).filter((user) => user.source === 'federated').map((user) => user.username), []);
    });
  }

  test('ASCII case is still ignored: KATE@PARTNER.TEST is kate@partner.test, an admin', async () => {
    const page = await signInAs('shouting');
    assert.notEqual(page.status, 403, page.html.slice(0, 300));
    const user = await server.auth.users.findByUsername('kate@partner.test');
    assert.ok(user, 'created under the lower-case address');
    assert.ok(user.scopes.includes('mcp:admin'));
  });
});

test('plainEmail takes an address as it is, or not at all when it holds whitespace or invisible characters', () => {
  const cases: Array<[unknown, string | undefined]> = [
    ['Kate@Partner.TEST', 'kate@partner.test'],
    ['\u3000kate@partner.test', undefined],
    ['kate@partner.test\u00a0', undefined],
    ['\ufeffkate@partner.test', undefined],
    [' kate@partner.test', undefined],
    ['ka\u200bte@partner.test', undefined],
    ['ka\u00adte@partner.test', undefined],
    ['kate@partner.test\u202e', undefined],
    ['kate\n@partner.test', undefined],
    ['\u0645\u06cc\u200c\u0631\u0627@example.ir', '\u0645\u06cc\u200c\u0631\u0627@example.ir'],
    [42, undefined],
  ];
  for (const [given, expected] of cases) assert.equal(plainEmail(given), expected, JSON.stringify(given));
});

test('comparableEmail folds ASCII letters only', () => {
  const cases: Array<[string, string]> = [
    ['Kate@Partner.TEST', 'kate@partner.test'],
    [`${KELVIN}ate@partner.test`, `${KELVIN}ate@partner.test`],
    ['\u0130vy@partner.test', '\u0130vy@partner.test'],
    ['ÉLODIE@example.com', 'Élodie@example.com'],
    ['\u017Fam@example.com', '\u017Fam@example.com'],
  ];
  for (const [given, expected] of cases) assert.equal(comparableEmail(given), expected, given);
});
