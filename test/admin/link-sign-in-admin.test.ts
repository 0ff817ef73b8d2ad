/**
 * An administrator links an upstream identity to an existing user on the user's admin page
 * (`gatehouse users link` from a terminal: test/federation/federated-sign-in.test.ts and
 * test/cli/idps-command.test.ts): a trusted ID-JAG IdP with `new_users: refuse` then reaches them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { trustedIdpEntry } from '../../apps/shared/config/id-jag-section.ts';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { clientSecretBasic, tokenRequest } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';
import type { Browser } from '../helpers/browser.ts';
import { auditEvents, createUser, csrfOf, post, signInAt } from './support/admin-browser.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

describe('linking a sign-in on the admin pages', () => {
  let server: TestAuthServer;
  let corp: EnterpriseIdp;
  let agent: { client_id: string; client_secret: string };
  let admin: Browser;

  before(async () => {
    corp = await startEnterpriseIdp('corp');
    server = await startAuthServer({
      configure: (config) => {
        config.authServer.idJag.trustedIdps = [trustedIdpEntry.parse({ id: 'corp', issuer: corp.issuer, jwks_uri: corp.jwksUri, new_users: 'refuse' })];
      },
      metadataFetch: { dangerouslyAllowLoopback: true },
    });
    const created = await server.auth.admin.clients.createStatic({ name: 'agent', redirectUris: ['https://agent.example/cb'], authMethod: 'client_secret_basic', idJag: true }, CLI);
    agent = { client_id: created.clientId, client_secret: created.clientSecret! };
    admin = (await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users')).browser;
  });
  after(async () => {
    await server?.close();
    await corp?.close();
  });

  /** Presents corp's assertion for `sub` at the token endpoint. */
  async function present(sub: string) {
    const assertion = await corp.mint({ aud: server.issuer, client_id: agent.client_id, sub, scope: 'mcp:read' });
    return tokenRequest(server.issuer, { grant_type: JWT_BEARER, assertion }, clientSecretBasic(agent.client_id, agent.client_secret));
  }

  test("the user's page links corp's subject to them, and corp's assertions for it then reach them", async () => {
    const id = await createUser(server, 'dana', 'dana password 123', ['mcp:read']);
    assert.equal((await present('emp-4711')).body.error, 'invalid_grant', 'no user is linked to the subject yet');

    const page = await admin.navigate(`/admin/users/${id}`);
    assert.match(page.html, /<option value="idp:corp" selected>corp \(ID-JAG, /);
    const linked = await post(admin, page, `/admin/users/${id}/link`, { source: 'idp:corp', subject: 'emp-4711' });
    assert.equal(linked.status, 200);
    assert.match(linked.html, /The sign-in was linked: it reaches this user from now on\./);

    const accepted = await present('emp-4711');
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(decodeJwt(accepted.body.access_token as string).sub, id);
    const [event] = await auditEvents(server, 'user.linked');
    assert.deepEqual(event?.details, { user_id: id, username: 'dana', upstream: 'corp', issuer: corp.issuer, subject: 'emp-4711' });

    const again = await post(admin, await admin.navigate(`/admin/users/${id}`), `/admin/users/${id}/link`, { source: 'idp:corp', subject: 'emp-4711' });
    assert.match(again.html, /That sign-in was already linked to this user; nothing changed\./);
    assert.match(again.html, /<td><code>emp-4711<\/code><\/td>/, 'the page lists the link');
  });

  test('unlinking a sign-in stops it, revokes what the user was given and ends their sessions', async () => {
    const id = await createUser(server, 'frank', 'frank password 123', ['mcp:read']);
    await post(admin, await admin.navigate(`/admin/users/${id}`), `/admin/users/${id}/link`, { source: 'idp:corp', subject: 'emp-9' });
    const given = await present('emp-9');
    assert.equal(given.status, 200, JSON.stringify(given.body));
    const grantId = decodeJwt(given.body.access_token as string).gid as string;
    assert.ok(await server.auth.admin.grants.find(grantId), 'the assertion made a grant');
    const frank = await signInAt(server, 'frank', 'frank password 123', '/account');

    const page = await admin.navigate(`/admin/users/${id}`);
    const unlinked = await post(admin, page, `/admin/users/${id}/unlink`, { issuer: corp.issuer, subject_json: '"emp-9"' });
    assert.match(unlinked.html, /The sign-in was unlinked\./);
    assert.match(unlinked.html, /No linked sign-ins\./);
    assert.equal((await present('emp-9')).body.error, 'invalid_grant', 'the assertion no longer reaches frank');
    assert.equal(await server.auth.admin.grants.find(grantId), undefined, 'the grant it made is revoked');
    assert.match((await frank.browser.navigate('/account')).url, /\/interaction\//, "frank's session ended");
    const [event] = (await auditEvents(server, 'user.unlinked')).filter((e) => e.details.user_id === id);
    assert.deepEqual(event?.details, { user_id: id, username: 'frank', upstream: 'corp', issuer: corp.issuer, subject: 'emp-9' });

    const none = await post(admin, await admin.navigate(`/admin/users/${id}`), `/admin/users/${id}/unlink`, { issuer: corp.issuer, subject_json: '"emp-9"' }).catch(() => undefined);
    assert.equal(none, undefined, 'no unlink form is left for a removed link');
  });

  test('an unlink whose revocation failed is finished by sending the form again: the grant goes, the link with it', async () => {
    const id = await createUser(server, 'gail', 'gail password 123', ['mcp:read']);
    await post(admin, await admin.navigate(`/admin/users/${id}`), `/admin/users/${id}/link`, { source: 'idp:corp', subject: 'emp-77' });
    const given = await present('emp-77');
    assert.equal(given.status, 200, JSON.stringify(given.body));
    const grantId = decodeJwt(given.body.access_token as string).gid as string;
    const page = await admin.navigate(`/admin/users/${id}`);

    // The revocation feed refuses its entries (a full disk, a lost connection would fail the same insert).
    await server.auth.database.run("CREATE TRIGGER refuse_entries BEFORE INSERT ON revocations BEGIN SELECT RAISE(ABORT, 'the feed is unavailable'); END");
    const failed = await post(admin, page, `/admin/users/${id}/unlink`, { issuer: corp.issuer, subject_json: '"emp-77"' });
    await server.auth.database.run('DROP TRIGGER refuse_entries');
    assert.equal(failed.status, 500);
    assert.ok(await server.auth.admin.grants.find(grantId), 'the grant could not be revoked');

    // The same form sent again (the admin's answer to the error page).
    const again = await post(admin, page, `/admin/users/${id}/unlink`, { issuer: corp.issuer, subject_json: '"emp-77"' });
    assert.match(again.html, /The sign-in was unlinked\./);
    assert.match(again.html, /No linked sign-ins\./);
    assert.equal(await server.auth.admin.grants.find(grantId), undefined, 'the grant the link made is revoked');
    assert.equal((await present('emp-77')).body.error, 'invalid_grant', 'the assertion no longer reaches gail');
  });

  // The Unlink form sends the subject as a JSON string (a subject may hold what a form would not send back as it is).
  const unlinkRefusals: Array<[string, Record<string, string>]> = [
    ['no subject', {}],
    ['the subject as it is', { subject: 'emp-55' }],
    ['a subject_json that is not JSON', { subject_json: 'emp-55' }],
    ['a subject_json that is a number', { subject_json: '55' }],
    ['a subject_json that is a list', { subject_json: '["emp-55"]' }],
  ];
  unlinkRefusals.forEach(([what, fields], i) => {
    test(`an Unlink form with ${what} is refused and the link stays`, async () => {
      const id = await createUser(server, `hank-${i}`, 'hank password 123', ['mcp:read']);
      await server.auth.admin.federatedLinks.link(id, { idp: 'corp' }, 'emp-55', CLI);
      const refused = await post(admin, await admin.navigate(`/admin/users/${id}`), `/admin/users/${id}/unlink`, { issuer: corp.issuer, ...fields });
      assert.equal(refused.status, 400, what);
      assert.match(refused.html, /Not saved: The form did not say which sign-in to unlink; open the user&#39;s page and use its Unlink button\./, what);
      assert.deepEqual((await server.auth.admin.federatedLinks.linksOf(id)).map((link) => link.subject), ['emp-55']);
      await server.auth.admin.federatedLinks.unlink(id, corp.issuer, 'emp-55', CLI);
    });
  });

  test('an administrator cannot unlink their own sign-in: refused, the link and their session stay', async () => {
    const { browser, page: ownPage } = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users');
    const adminId = (await server.auth.users.findByUsername('admin'))!.id;
    await server.auth.admin.federatedLinks.link(adminId, { idp: 'corp' }, 'emp-admin', CLI);
    const page = await browser.navigate(`/admin/users/${adminId}`);
    assert.match(page.html, /<td><code>emp-admin<\/code><\/td>/, 'the page lists the link');
    assert.ok(!page.html.includes(`action="/admin/users/${adminId}/unlink"`), 'no unlink button on their own page');

    // The form another administrator's page holds, sent from their own browser.
    const refused = await browser.submit(`/admin/users/${adminId}/unlink`, { csrf: csrfOf(ownPage, '/admin/users'), issuer: corp.issuer, subject_json: '"emp-admin"' }, page.url);
    assert.equal(refused.status, 409);
    assert.match(refused.html, /Not saved: You cannot unlink your own sign-in: it ends your sessions, and it may be your only way in; ask another administrator\./);
    assert.deepEqual((await server.auth.admin.federatedLinks.linksOf(adminId)).map((link) => link.subject), ['emp-admin']);
    assert.equal((await browser.request('/admin')).status, 200, 'still signed in');
    assert.equal((await present('emp-admin')).status, 200, "corp's assertion still reaches them");
  });

  // The last case needs emp-4711 linked to dana (the test above).
  const refusals: Array<[string, Record<string, string>, number, string, RegExp]> = [
    ['a subject with a space', { source: 'idp:corp', subject: 'emp 1' }, 400, 'subject', /The subject is the upstream&#39;s sub claim/],
    ['no subject', { source: 'idp:corp', subject: '' }, 400, 'subject', /The subject is the upstream&#39;s sub claim/],
    ['an IdP that is not trusted', { source: 'idp:acme', subject: 'emp-1' }, 404, 'source', /There is no trusted IdP acme; the trusted ones are corp\./],
    ['no federated upstream', { source: 'upstream:google', subject: 'emp-1' }, 404, 'source', /No federated upstream is configured/],
    ['a source that is neither', { source: 'ldap', subject: 'emp-1' }, 400, 'source', /Choose where the sign-in comes from\./],
    ['a subject linked to another user', { source: 'idp:corp', subject: 'emp-4711' }, 409, 'subject', /already linked to another user .*nothing changed/],
  ];
  refusals.forEach(([what, fields, status, field, message], i) => {
    test(`${what} is refused next to its field, and nothing is linked`, async () => {
      const id = await createUser(server, `erin-${i}`, 'erin password 123', ['mcp:read']);
      const linkedBefore = (await auditEvents(server, 'user.linked')).length;
      const refused = await post(admin, await admin.navigate(`/admin/users/${id}`), `/admin/users/${id}/link`, fields);
      assert.equal(refused.status, status, what);
      assert.match(refused.html, new RegExp(`id="linkUser-${field}-error">[^<]*${message.source}`), what);
      assert.equal((await auditEvents(server, 'user.linked')).length, linkedBefore, 'nothing was linked');
    });
  });
});
