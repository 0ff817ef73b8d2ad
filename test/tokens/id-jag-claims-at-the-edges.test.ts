/**
 * Signed assertions whose claims are legal but unusual, from a trusted IdP (ID-JAG) or a service
 * account's key (private_key_jwt): each gets the answer the RFCs give it, never a 5xx, on both
 * backends. And what an IdP's claims may not do: name a user by an email it says is not verified,
 * or have a config file user take over an account that signs in at an upstream.
 *
 * - RFC 7519 §2: a NumericDate may be fractional, and nothing bounds it: `exp` of now + 300.5 or
 *   1e20 was stored as is, in an integer column, and the insert failed (a 500, after the ID-JAG's
 *   user was created). The replay record now lasts, whole seconds, until the assertion could no
 *   longer be accepted.
 * - `sub` and `jti` are parts of primary keys, where PostgreSQL refuses an entry of more than
 *   about 2.7 kB: a 6,000-character random one was a 500 there.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { MAX_JTI_BYTES, MAX_SUB_BYTES } from '../../apps/auth-server/src/id-jag/verify-id-jag.ts';
import { freePort } from '../helpers/net.ts';
import { assertNoStackTrace, clientSecretBasic, tokenRequest } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const CLIENT_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const now = () => Math.floor(Date.now() / 1000);
/** Random text that does not compress: what a btree entry's size limit sees. */
const randomText = (length: number) => randomBytes(length).toString('base64url').slice(0, length);

for (const backend of TEST_BACKENDS) {
  describe(`signed assertions with claims at the edges (${backend})`, () => {
    let acme: EnterpriseIdp;
    let server: TestAuthServer;
    let dir: string;
    let databaseUrl: string | undefined;
    let resource: string;
    let agent: { client_id: string; client_secret: string };
    let serviceAccount: string;
    let serviceKey: CryptoKey;

    before(async () => {
      acme = await startEnterpriseIdp('acme');
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-assertion-edges-'));
      resource = `http://127.0.0.1:${await freePort()}/mcp`;
      writeFileSync(join(dir, 'gatehouse.yaml'), `
auth_server:
  id_jag:
    trusted_idps:
      - id: acme
        issuer: ${acme.issuer}
        jwks_uri: ${acme.jwksUri}
        new_users: allow
        default_scopes: [mcp:read]
`);
      databaseUrl = backend === 'postgres' ? await createTestPostgresDatabase() : undefined;
      server = await startAuthServer({ databaseUrl, env: { GATEHOUSE_CONFIG: join(dir, 'gatehouse.yaml'), RESOURCE_URL: resource }, metadataFetch: { dangerouslyAllowLoopback: true } });
      const created = await server.auth.admin.clients.createStatic({ name: 'enterprise-agent', clientId: 'enterprise-agent', redirectUris: ['https://agent.example/cb'], authMethod: 'client_secret_basic', idJag: true }, CLI);
      agent = { client_id: created.clientId, client_secret: created.clientSecret! };
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      serviceKey = privateKey;
      const jwk = { ...await exportJWK(publicKey), kid: 'k1', alg: 'RS256', use: 'sig' };
      ({ clientId: serviceAccount } = await server.auth.admin.serviceAccounts.create({ name: 'nightly-job', authMethod: 'private_key_jwt', scopes: ['mcp:read'], jwks: JSON.stringify({ keys: [jwk] }) }, CLI));
    });
    after(async () => {
      await server?.close();
      await acme?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function present(assertion: string) {
      const body = new URLSearchParams({ grant_type: JWT_BEARER, assertion });
      const response = await fetch(`${server.issuer}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...clientSecretBasic(agent.client_id, agent.client_secret) }, body });
      const text = await response.text();
      assertNoStackTrace(text, 'the answer');
      return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
    }
    const forAgent = (sub: string) => ({ aud: server.issuer, client_id: agent.client_id, sub, resource, scope: 'mcp:read' });

    const accepted: Array<[string, Record<string, unknown>]> = [
      ['a fractional exp', { exp: now() + 300.5 }],
      ['an exp of 1e20', { exp: 1e20 }],
      ['a fractional iat', { iat: now() - 0.25 }],
      [`a sub of ${MAX_SUB_BYTES} bytes`, { sub: randomText(MAX_SUB_BYTES) }],
      [`a jti of ${MAX_JTI_BYTES} bytes`, { jti: randomText(MAX_JTI_BYTES) }],
    ];
    for (const [what, claims] of accepted) {
      test(`an ID-JAG with ${what} is accepted once, then refused as a replay`, async () => {
        const assertion = await acme.mint(forAgent(`edge-${randomText(8)}`), { claims });
        const first = await present(assertion);
        assert.equal(first.status, 200, JSON.stringify(first.body));
        const again = await present(assertion);
        assert.equal(again.status, 400);
        assert.equal(again.body.error, 'invalid_grant');
        assert.match(String(again.body.error_description), /already used/);
      });
    }

    const refused: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a random sub one byte too long', { sub: randomText(MAX_SUB_BYTES + 1) }, /sub is longer than 255 bytes/],
      ['a random sub of 6,000 characters', { sub: randomText(6000) }, /sub is longer/],
      ['a random jti of 6,000 characters', { jti: randomText(6000) }, /jti is longer than 512 bytes/],
    ];
    for (const [what, claims, description] of refused) {
      test(`an ID-JAG with ${what} is refused with invalid_grant, and creates nobody`, async () => {
        const users = (await server.auth.users.list()).length;
        const answer = await present(await acme.mint(forAgent('edge-refused'), { claims: { email: 'edge-refused@acme.example', ...claims } }));
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error, 'invalid_grant');
        assert.match(String(answer.body.error_description), description);
        assert.equal((await server.auth.users.list()).length, users);
      });
    }

    test('an email the IdP says is not verified does not name the user, nor reach the tokens', async () => {
      const answer = await present(await acme.mint(forAgent('mallory-7'), { claims: { email: 'OPS@corp.example', email_verified: false } }));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const claims = decodeJwt(answer.body.access_token as string);
      assert.equal(await server.auth.users.findByUsername('ops@corp.example'), undefined, 'nobody is named by the unverified email');
      const user = await server.auth.users.findById(claims.sub!);
      assert.equal(user?.username, 'acme-mallory-7');
      assert.equal(user?.email, null);
      const verified = await present(await acme.mint(forAgent('trent-8'), { claims: { email: 'Trent@corp.example', email_verified: true } }));
      assert.equal((await server.auth.users.findById(decodeJwt(verified.body.access_token as string).sub!))?.username, 'trent@corp.example', 'a verified email names its user');
      const unstated = await present(await acme.mint(forAgent('uma-9'), { claims: { email: 'uma@corp.example' } }));
      assert.equal((await server.auth.users.findById(decodeJwt(unstated.body.access_token as string).sub!))?.username, 'uma@corp.example', 'so does one the IdP states without saying (the IdP is trusted)');
    });

    test('an email with whitespace or an invisible character names nobody: not the address it reads as', async () => {
      const answer = await present(await acme.mint(forAgent('pad-11'), { claims: { email: '\u3000trent@corp.example', email_verified: true } }));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const user = await server.auth.users.findById(decodeJwt(answer.body.access_token as string).sub!);
      assert.equal(user?.username, 'acme-pad-11', 'named by the IdP and subject, not as trent@corp.example');
      assert.equal(user?.email, null);
      const hidden = await present(await acme.mint(forAgent('zw-12'), { claims: { email: 'ops\u200b@corp.example' } }));
      assert.equal((await server.auth.users.findById(decodeJwt(hidden.body.access_token as string).sub!))?.username, 'acme-zw-12');
    });

    test('a config file user never takes over a user who signs in at an upstream: the start fails, naming the entry', async () => {
      const answer = await present(await acme.mint(forAgent('ops-10'), { claims: { email: 'ops-team@corp.example' } }));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const federated = (await server.auth.users.findByUsername('ops-team@corp.example'))!;
      // A second server on the same database (a replica, or this one restarted) whose file names that user.
      await assert.rejects(startAuthServer({
        dir: server.dir, databaseUrl,
        env: { GATEHOUSE_CONFIG: join(dir, 'gatehouse.yaml'), RESOURCE_URL: resource },
        configure(config) {
          config.authServer.users = [{ username: 'ops-team@corp.example', password: 'a config password 123', scopes: ['mcp:read', 'mcp:write', 'mcp:admin'], disabled: false } as never];
        },
      }), /auth_server\.builtin\.users\.0\.username: ops-team@corp\.example is already the name of a user who signs in at an upstream identity provider/);
      const after = (await server.auth.users.findById(federated.id))!;
      assert.deepEqual([after.scopes, after.passwordHash], [federated.scopes, null], 'the account is as it was: no admin scope, no password');
      const next = await present(await acme.mint({ ...forAgent('ops-10'), scope: 'mcp:read mcp:admin' }));
      assert.equal(next.status, 200, JSON.stringify(next.body));
      assert.equal(next.body.scope, 'mcp:read', 'the IdP subject still gets only its own scopes');
    });

    // A service account's client assertion (RFC 7523 §2.2): its replay marker had the same problem.
    const assertion = (claims: Record<string, unknown>) => new SignJWT({ iss: serviceAccount, sub: serviceAccount, aud: server.issuer, iat: now(), exp: now() + 60, jti: randomText(16), ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(serviceKey);
    for (const [what, claims] of [['a fractional exp', { exp: now() + 60.5 }], ['an exp of 1e20', { exp: 1e20 }]] as Array<[string, Record<string, unknown>]>) {
      test(`a client assertion with ${what} is accepted once, then refused as a replay`, async () => {
        const signed = await assertion(claims);
        const request = () => tokenRequest(server.issuer, { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION, client_assertion: signed, resource });
        const first = await request();
        assert.equal(first.status, 200, JSON.stringify(first.body));
        const again = await request();
        assert.equal(again.status, 401, JSON.stringify(again.body));
        assert.equal(again.body.error, 'invalid_client');
      });
    }
  });
}
