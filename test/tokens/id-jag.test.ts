/**
 * Enterprise-managed authorization (MCP extension `io.modelcontextprotocol/enterprise-managed-
 * authorization`): an Identity Assertion JWT Authorization Grant (ID-JAG) from a trusted
 * enterprise IdP, presented at /oauth/token with the jwt-bearer grant (RFC 7523 §2.1), against a
 * real auth-server and resource server, with a real signing IdP (jose keys, JWKS over HTTP).
 *
 * The requests are the ones clients send:
 * - MCP TypeScript SDK v2 `exchangeJwtAuthGrant` (packages/client/src/client/crossAppAccess.ts,
 *   used by Claude's and the Inspector's EMA flows): form body `grant_type=urn:ietf:params:oauth:
 *   grant-type:jwt-bearer&assertion=<ID-JAG>`, client_secret_basic by default
 *   (`Authorization: Basic`), `client_id` in the body for public clients (`authMethod: 'none'`).
 * - draft-ietf-oauth-identity-assertion-authz-grant-04 §4.4 example: the same body with Basic auth.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { base64url, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { FederatedAccounts } from '../../apps/auth-server/src/federation/federated-accounts.ts';
import { MAX_ENTRIES_PER_SUBJECT } from '../../apps/auth-server/src/revocation/revocation-feed.ts';
import type { RevocationFeedPage } from '../../apps/shared/revocation-entry.ts';
import { connectClient, mcpRequest } from '../helpers/mcp-http.ts';
import { freePort } from '../helpers/net.ts';
import { assertNoStackTrace, clientSecretBasic, CLAUDE_DCR_BODY, register } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { waitFor } from '../helpers/wait-for.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_JAG_PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag';

interface Caller { client_id: string; client_secret?: string }

/** The request of the MCP SDK's exchangeJwtAuthGrant: Basic auth with a secret, else client_id in the body. */
async function presentAssertion(issuer: string, caller: Caller, assertion: string, extra: Record<string, string> = {}) {
  const body = new URLSearchParams({ grant_type: JWT_BEARER, assertion, ...extra });
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (caller.client_secret) Object.assign(headers, clientSecretBasic(caller.client_id, caller.client_secret));
  else body.set('client_id', caller.client_id);
  const response = await fetch(`${issuer}/oauth/token`, { method: 'POST', headers, body: body.toString() });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as Record<string, unknown> };
}

function writeConfig(dir: string, yaml: string): string {
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('ID-JAG at the jwt-bearer grant', () => {
  let acme: EnterpriseIdp;
  let strict: EnterpriseIdp;
  let stranger: EnterpriseIdp;
  let server: TestAuthServer;
  let mcp: { mcpUrl: string; close(): Promise<void> };
  let configDir: string;
  let resource: string;
  let agent: Caller;
  let desktop: Caller;
  let plain: Caller;

  const forAgent = (extra: { sub?: string; scope?: string; resource?: string } = {}) => ({
    aud: server.issuer, client_id: agent.client_id, sub: 'U019488227', resource, scope: 'mcp:read', ...extra,
  });

  before(async () => {
    [acme, strict, stranger] = await Promise.all([startEnterpriseIdp('acme'), startEnterpriseIdp('strict'), startEnterpriseIdp('stranger')]);
    configDir = mkdtempSync(join(tmpdir(), 'gatehouse-idjag-'));
    resource = `http://127.0.0.1:${await freePort()}/mcp`;
    // `strict` has its keys inline, ES256 only, refuses unknown subjects and names one client.
    const config = writeConfig(configDir, `
auth_server:
  id_jag:
    trusted_idps:
      - id: acme
        issuer: ${acme.issuer}
        jwks_uri: ${acme.jwksUri}
        new_users: allow
        default_scopes: [mcp:read, mcp:write]
      - id: strict
        issuer: ${strict.issuer}
        jwks: ${JSON.stringify(strict.jwks)}
        algorithms: [ES256]
        new_users: refuse
        allowed_client_ids: [enterprise-agent]
`);
    server = await startAuthServer({
      env: { GATEHOUSE_CONFIG: config, RESOURCE_URL: resource },
      // The IdP's JWKS is on 127.0.0.1, which the SSRF guard refuses outside tests.
      metadataFetch: { dangerouslyAllowLoopback: true },
    });
    mcp = await startResourceServerBeside(server);
    const make = async (clientId: string, authMethod: 'client_secret_basic' | 'none', idJag: boolean): Promise<Caller> => {
      const created = await server.auth.admin.clients.createStatic({ name: clientId, clientId, redirectUris: ['https://agent.example/cb'], authMethod, idJag }, CLI);
      return { client_id: created.clientId, client_secret: created.clientSecret };
    };
    agent = await make('enterprise-agent', 'client_secret_basic', true);
    desktop = await make('desktop-agent', 'none', true);
    plain = await make('plain-agent', 'client_secret_basic', false);
  });

  after(async () => {
    await mcp?.close();
    await server?.close();
    await Promise.all([acme?.close(), strict?.close(), stranger?.close()]);
    rmSync(configDir, { recursive: true, force: true });
  });

  test('advertises the grant and the ID-JAG profile in both metadata documents (draft §7), never which IdPs', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const metadata = await (await fetch(`${server.issuer}${path}`)).json() as Record<string, unknown>;
      assert.ok((metadata.grant_types_supported as string[]).includes(JWT_BEARER), path);
      assert.deepEqual(metadata.authorization_grant_profiles_supported, [ID_JAG_PROFILE], path);
      assert.doesNotMatch(JSON.stringify(metadata), /acme|strict/, `${path} discloses no trusted issuer (draft §8.4)`);
    }
  });

  test('a confidential client trades an ID-JAG for an at+jwt for the MCP resource that whoami accepts, without a refresh token', async () => {
    const assertion = await acme.mint(forAgent({ sub: 'whoami-user', scope: 'mcp:read mcp:write' }), { claims: { email: 'Dana@Acme.example' } });
    const answer = await presentAssertion(server.issuer, agent, assertion);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.token_type, 'Bearer');
    assert.equal(answer.body.scope, 'mcp:read mcp:write');
    // Draft §4.4.3: the Resource Authorization Server SHOULD NOT return a refresh token.
    assert.equal(answer.body.refresh_token, undefined);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    const token = answer.body.access_token as string;
    assert.equal(decodeProtectedHeader(token).typ, 'at+jwt');
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${server.issuer}/oauth/jwks`)), { issuer: server.issuer, audience: resource, algorithms: ['RS256'] });
    const user = await server.auth.admin.users.get('dana@acme.example');
    assert.equal(payload.sub, user.id);
    assert.equal(payload.client_id, agent.client_id);
    assert.equal(typeof payload.gid, 'string', 'a grant names it, so revoking the grant stops it');

    const { client } = await connectClient(mcp.mcpUrl, token);
    try {
      const whoami = await client.callTool({ name: 'whoami', arguments: {} });
      const shown = whoami.structuredContent as Record<string, unknown>;
      assert.equal(shown.subject, user.id);
      assert.equal(shown.username, 'dana@acme.example');
      assert.equal(shown.client_id, agent.client_id);
      assert.deepEqual(shown.scopes, ['mcp:read', 'mcp:write']);
    } finally {
      await client.close();
    }
  });

  test('the same IdP subject maps to the same user every time (linked by issuer and subject, not email)', async () => {
    const first = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub: 'stable-sub' }), { claims: { email: 'erin@acme.example' } }));
    const second = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub: 'stable-sub' }), { claims: { email: 'someone-else@acme.example' } }));
    assert.equal(first.status, 200, first.text);
    assert.equal(second.status, 200, second.text);
    assert.equal(decodeJwt(first.body.access_token as string).sub, decodeJwt(second.body.access_token as string).sub);
  });

  test('a public client authenticates with its client_id in the body, as the SDK does with authMethod none', async () => {
    const answer = await presentAssertion(server.issuer, desktop, await acme.mint(forAgent({ sub: 'public-user' }), { claims: { client_id: desktop.client_id } }));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(decodeJwt(answer.body.access_token as string).client_id, desktop.client_id);
  });

  test('scopes: the assertion\'s ∩ the user\'s, MCP scopes only; a narrower request narrows, a wider one is invalid_scope', async () => {
    const wide = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub: 'scoped-user', scope: 'openid mcp:read mcp:write mcp:admin' })));
    assert.equal(wide.status, 200, wide.text);
    assert.equal(wide.body.scope, 'mcp:read mcp:write', 'the user was created with mcp:read mcp:write (default_scopes), never mcp:admin');
    const narrow = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub: 'scoped-user', scope: 'mcp:read mcp:write' })), { scope: 'mcp:read' });
    assert.equal(narrow.status, 200, narrow.text);
    assert.equal(narrow.body.scope, 'mcp:read');
    assert.equal(decodeJwt(narrow.body.access_token as string).scope, 'mcp:read');
  });

  test('a resource naming our resource in the spellings clients send (trailing slash, tracking query) is accepted', async () => {
    for (const value of [resource, `${resource}/`, `${resource}?utm_source=chatgpt.com`]) {
      const answer = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ resource: value })), { resource: value });
      assert.equal(answer.status, 200, `${value}: ${answer.text}`);
      assert.equal(decodeJwt(answer.body.access_token as string).aud, resource);
    }
  });

  test('an ES256 assertion verifies against an inline JWKS, for a subject linked by federated sign-in at that issuer', async () => {
    const unknown = await presentAssertion(server.issuer, agent, await strict.mint(forAgent({ sub: 'S-42' }), { key: 'es256' }));
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error, 'invalid_grant', 'new_users: refuse');
    // What a federated sign-in at the same issuer records (federation/federated-accounts.ts).
    const linked = await new FederatedAccounts(server.auth.database, server.auth.users)
      .link({ id: 'strict', issuer: strict.issuer, newUsers: 'allow', defaultScopes: ['mcp:read'], adminUsers: [], adminScopes: [] }, { sub: 'S-42' }, 'sam@strict.example');
    assert.equal(linked.kind, 'user');
    const answer = await presentAssertion(server.issuer, agent, await strict.mint(forAgent({ sub: 'S-42' }), { key: 'es256' }));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(decodeJwt(answer.body.access_token as string).preferred_username, 'sam@strict.example');
  });

  describe('refusals: the right status and RFC error code, never a 5xx or a stack trace', () => {
    const unsecured = (claims: Record<string, unknown>) =>
      `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'oauth-id-jag+jwt' }))}.${base64url.encode(JSON.stringify(claims))}.`;
    const now = () => Math.floor(Date.now() / 1000);

    // `description`: the refusal's own reason, where another check further on would refuse the same
    // request with the same error code (it must be this check that refuses it).
    const cases: Array<{ name: string; caller?: () => Caller; assertion: () => Promise<string>; extra?: Record<string, string>; status: number; error: string; description?: RegExp }> = [
      { name: 'wrong audience', assertion: () => acme.mint({ ...forAgent(), aud: 'https://other-as.example' }), status: 400, error: 'invalid_grant' },
      { name: 'an audience array with another server beside ours', assertion: () => acme.mint(forAgent(), { claims: { aud: [server.issuer, 'https://other-as.example'] } }), status: 400, error: 'invalid_grant' },
      { name: 'wrong resource claim', assertion: () => acme.mint(forAgent({ resource: 'https://other.example/mcp' })), status: 400, error: 'invalid_grant' },
      { name: 'a resource parameter for another resource', assertion: () => acme.mint(forAgent()), extra: { resource: 'https://other.example/mcp' }, status: 400, error: 'invalid_target' },
      { name: 'an untrusted issuer', assertion: () => stranger.mint(forAgent()), status: 400, error: 'invalid_grant' },
      { name: 'an issuer claiming to be a trusted IdP, signed with another key', assertion: () => acme.mint(forAgent(), { key: 'stranger' }), status: 400, error: 'invalid_grant' },
      { name: 'typ JWT instead of oauth-id-jag+jwt', assertion: () => acme.mint(forAgent(), { header: { typ: 'JWT' } }), status: 400, error: 'invalid_grant' },
      { name: 'an ID token (no typ)', assertion: () => acme.mint(forAgent(), { header: { typ: undefined } }), status: 400, error: 'invalid_grant' },
      { name: 'alg none', assertion: async () => unsecured({ ...forAgent(), iss: acme.issuer, jti: 'none-1', iat: now(), exp: now() + 300 }), status: 400, error: 'invalid_grant' },
      {
        name: 'HS256 keyed with the IdP\'s public JWKS',
        assertion: () => new SignJWT({ ...forAgent(), jti: 'hs-1' }).setProtectedHeader({ alg: 'HS256', typ: 'oauth-id-jag+jwt' })
          .setIssuer(acme.issuer).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(JSON.stringify(acme.jwks))),
        status: 400, error: 'invalid_grant',
      },
      { name: 'RS256 at an IdP allowed ES256 only', assertion: () => strict.mint(forAgent(), { key: 'rs256' }), status: 400, error: 'invalid_grant' },
      { name: 'expired', assertion: () => acme.mint(forAgent(), { claims: { iat: now() - 400, exp: now() - 100 } }), status: 400, error: 'invalid_grant' },
      { name: 'iat in the future', assertion: () => acme.mint(forAgent(), { claims: { iat: now() + 600, exp: now() + 900 } }), status: 400, error: 'invalid_grant' },
      { name: 'iat older than max_assertion_age, exp still ahead', assertion: () => acme.mint(forAgent(), { claims: { iat: now() - 3600, exp: now() + 300 } }), status: 400, error: 'invalid_grant' },
      { name: 'no jti', assertion: () => acme.mint(forAgent(), { claims: { jti: undefined } }), status: 400, error: 'invalid_grant' },
      { name: 'client_id of another client', assertion: () => acme.mint({ ...forAgent(), client_id: desktop.client_id }), status: 400, error: 'invalid_grant', description: /not the authenticated client/ },
      // (strict also refuses unknown subjects: without the list's own check this was refused for that.)
      { name: 'a client the IdP does not list (allowed_client_ids)', caller: () => desktop, assertion: () => strict.mint({ ...forAgent(), client_id: desktop.client_id }, { key: 'es256' }), status: 400, error: 'invalid_grant', description: /may not name this client/ },
      { name: 'a scope this server does not know', assertion: () => acme.mint(forAgent({ scope: 'mcp:read chat.history' })), status: 400, error: 'invalid_grant' },
      { name: 'scope escalation in the request', assertion: () => acme.mint(forAgent({ scope: 'mcp:read' })), extra: { scope: 'mcp:read mcp:admin' }, status: 400, error: 'invalid_scope' },
      { name: 'only scopes the user may not have', assertion: () => acme.mint(forAgent({ sub: 'admin-wannabe', scope: 'mcp:admin' })), status: 400, error: 'invalid_scope' },
      { name: 'a key-bound (cnf) assertion', assertion: () => acme.mint(forAgent(), { claims: { cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } } }), status: 400, error: 'invalid_grant' },
      { name: 'an unknown subject at an IdP with new_users: refuse', assertion: () => strict.mint(forAgent({ sub: 'nobody' }), { key: 'es256' }), status: 400, error: 'invalid_grant' },
      { name: 'a client not registered for the grant', caller: () => plain, assertion: () => acme.mint({ ...forAgent(), client_id: plain.client_id }), status: 400, error: 'unauthorized_client' },
      { name: 'a wrong client secret', caller: () => ({ client_id: agent.client_id, client_secret: 'not-the-secret' }), assertion: () => acme.mint(forAgent()), status: 401, error: 'invalid_client' },
      { name: 'no assertion', assertion: async () => '', status: 400, error: 'invalid_request' },
      { name: 'not a JWT', assertion: async () => 'eyJhbGciOi.not-a-jwt', status: 400, error: 'invalid_grant' },
    ];

    for (const { name, caller, assertion, extra, status, error, description } of cases) {
      test(`refuses ${name} with ${status} ${error}`, async () => {
        const answer = await presentAssertion(server.issuer, caller?.() ?? agent, await assertion(), extra);
        assert.equal(answer.status, status, answer.text);
        assert.equal(answer.body.error, error, answer.text);
        if (description) assert.match(String(answer.body.error_description), description);
        assertNoStackTrace(answer.text, name);
      });
    }

    test('refuses a replayed assertion (same jti) with invalid_grant, and a refused one is not used up', async () => {
      const assertion = await acme.mint(forAgent({ scope: 'mcp:read' }));
      const escalated = await presentAssertion(server.issuer, agent, assertion, { scope: 'mcp:admin' });
      assert.equal(escalated.body.error, 'invalid_scope');
      const first = await presentAssertion(server.issuer, agent, assertion);
      assert.equal(first.status, 200, first.text);
      const replay = await presentAssertion(server.issuer, agent, assertion);
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'invalid_grant');
      assert.match(String(replay.body.error_description), /already used/);
    });

    test('refuses a new subject whose assertion asks only for scopes a new user would not get, and creates nobody', async () => {
      const answer = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub: 'ghost', scope: 'mcp:admin' }), { claims: { email: 'ghost@acme.example' } }));
      assert.equal(answer.body.error, 'invalid_scope', answer.text);
      assert.equal(await server.auth.users.findByUsername('ghost@acme.example'), undefined, 'no local user is created');
    });

    test('a refused or replayed assertion leaves the linked identity\'s email and last use as they were', async () => {
      const identity = async () => server.auth.database.get<{ email: string | null; last_login_at: number | string }>(
        'SELECT email, last_login_at FROM federated_identities WHERE issuer = ? AND subject = ?', [acme.issuer, 'returning']);
      const first = await acme.mint(forAgent({ sub: 'returning' }), { claims: { email: 'returning@acme.example' } });
      assert.equal((await presentAssertion(server.issuer, agent, first)).status, 200);
      // Set far back, so an update within the same millisecond still shows.
      await server.auth.database.run('UPDATE federated_identities SET last_login_at = 1 WHERE issuer = ? AND subject = ?', [acme.issuer, 'returning']);
      assert.match(String((await presentAssertion(server.issuer, agent, first)).body.error_description), /already used/);
      const widened = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub: 'returning' }), { claims: { email: 'moved@acme.example' } }), { scope: 'mcp:admin' });
      assert.equal(widened.body.error, 'invalid_scope', widened.text);
      const kept = await identity();
      assert.deepEqual({ email: kept?.email, last_login_at: Number(kept?.last_login_at) }, { email: 'returning@acme.example', last_login_at: 1 });
      assert.equal((await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub: 'returning' }), { claims: { email: 'moved@acme.example' } }))).status, 200);
      const used = await identity();
      assert.equal(used?.email, 'moved@acme.example', 'an accepted assertion records its email');
      assert.ok(Number(used?.last_login_at) > 1, 'and its use');
    });

    // A JSON escape can put half a surrogate pair alone in a jti. PostgreSQL stores it as U+FFFD, so
    // distinct jtis shared one replay row (id-jag-replicas.test.ts); SQLite kept bytes that are not UTF-8.
    const LONE_SURROGATE_JTIS: Array<[string, string]> = [
      ['a lone high surrogate at the end', 'lone-\ud800'],
      ['another lone high surrogate at the same place', 'lone-\ud801'],
      ['a lone low surrogate at the start', '\udc00lone'],
      ['an emoji\'s first half alone', 'lone-\ud83d-x'],
    ];
    for (const [what, jti] of LONE_SURROGATE_JTIS) {
      test(`refuses a jti holding ${what} with invalid_grant naming the jti`, async () => {
        const answer = await presentAssertion(server.issuer, agent, await acme.mint(forAgent(), { claims: { jti } }));
        assert.equal(answer.status, 400, answer.text);
        assert.equal(answer.body.error, 'invalid_grant');
        assert.match(String(answer.body.error_description), /jti/);
        assert.doesNotMatch(String(answer.body.error_description), /already used/);
      });
    }

    // A subject that is not text: on PostgreSQL both high ones became `lone-sub-\ufffd`, one user's link.
    const NOT_TEXT_SUBJECTS: Array<[string, string, string]> = [
      ['a lone high surrogate', 'lone-sub-\ud800', 'lone-sub-a@acme.example'],
      ['another lone high surrogate at the same place', 'lone-sub-\ud801', 'lone-sub-b@acme.example'],
      ['a NUL character', 'nul\u0000sub', 'nul-sub@acme.example'],
    ];
    for (const [what, sub, email] of NOT_TEXT_SUBJECTS) {
      test(`refuses a sub holding ${what} with invalid_grant naming the sub, and creates nobody`, async () => {
        const answer = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub }), { claims: { email } }));
        assert.equal(answer.status, 400, answer.text);
        assert.equal(answer.body.error, 'invalid_grant');
        assert.match(String(answer.body.error_description), /sub .*not text/);
        assert.equal(await server.auth.users.findByUsername(email), undefined, 'no local user is created');
      });
    }

    test('refuses a disabled user and a user waiting for approval with invalid_grant', async () => {
      const created = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub: 'to-disable' }), { claims: { email: 'gone@acme.example' } }));
      assert.equal(created.status, 200, created.text);
      await server.auth.admin.users.disable('gone@acme.example', CLI);
      const disabled = await presentAssertion(server.issuer, agent, await acme.mint(forAgent({ sub: 'to-disable' })));
      assert.equal(disabled.status, 400);
      assert.equal(disabled.body.error, 'invalid_grant');
      assert.match(String(disabled.body.error_description), /disabled/);

      const pendingIdp = await startEnterpriseIdp('pending');
      try {
        await server.auth.admin.trustedIdpAdmin.add({ id: 'pending', issuer: pendingIdp.issuer, jwks_uri: pendingIdp.jwksUri, new_users: 'pending' }, CLI);
        const pending = await presentAssertion(server.issuer, agent, await pendingIdp.mint(forAgent({ sub: 'newcomer' })));
        assert.equal(pending.status, 400);
        assert.equal(pending.body.error, 'invalid_grant');
        assert.match(String(pending.body.error_description), /approval/);
        // The refusal created the user who waits: its record names them, or nothing would.
        const newcomer = await server.auth.users.findByUsername('pending-newcomer');
        assert.ok(newcomer?.pending);
        await server.auth.admin.audit.flush();
        const [refused] = await server.auth.admin.audit.query({ event: 'id_jag.refused', actor: 'pending-newcomer' });
        assert.equal(refused?.actorId, newcomer.id);
        assert.deepEqual(refused.details, { error: 'invalid_grant', reason: pending.body.error_description, idp: 'pending', subject: 'newcomer', user_created: true });
      } finally {
        await server.auth.admin.trustedIdpAdmin.remove('pending', CLI);
        await pendingIdp.close();
      }
    });

    // Behind an IdP whose id is 8 hex digits, `<id>-<sub>` (no email) can have the form of a user
    // id, which could be taken for another user's where administrators name users by id or username.
    const ID_FORM_SUBJECTS: Array<[string, boolean]> = [
      ['d9cb-469f-a165-70867728950e', true],
      ['D9CB-469F-A165-70867728950E', true],
      ['d9cb-469f-a165-70867728950', false],
    ];
    for (const [sub, refused] of ID_FORM_SUBJECTS) {
      test(refused
        ? `refuses a new sub that would name the user 0f8fad5b-${sub}, a user id's form, with invalid_grant, and creates nobody`
        : `names a new user 0f8fad5b-${sub}, which only resembles a user id`, async () => {
        const idp = await startEnterpriseIdp('0f8fad5b');
        try {
          await server.auth.admin.trustedIdpAdmin.add({ id: '0f8fad5b', issuer: idp.issuer, jwks_uri: idp.jwksUri, new_users: 'allow' }, CLI);
          const answer = await presentAssertion(server.issuer, agent, await idp.mint(forAgent({ sub })));
          const user = await server.auth.users.findByUsername(`0f8fad5b-${sub}`);
          if (refused) {
            assert.equal(answer.status, 400, answer.text);
            assert.equal(answer.body.error, 'invalid_grant');
            assert.match(String(answer.body.error_description), /has the form of a user id/);
            assert.equal(user, undefined, 'no local user is created');
          } else {
            assert.equal(answer.status, 200, answer.text);
            assert.equal(decodeJwt(answer.body.access_token as string).sub, user?.id);
          }
        } finally {
          await server.auth.admin.trustedIdpAdmin.remove('0f8fad5b', CLI);
          await idp.close();
        }
      });
    }

    test('a Dynamic Client Registration client may not use the grant, even registered for it', async () => {
      const registered = await register(server.issuer, { ...CLAUDE_DCR_BODY, grant_types: ['authorization_code', 'refresh_token', JWT_BEARER], token_endpoint_auth_method: 'client_secret_basic' });
      assert.equal(registered.status, 201);
      const dcr = await registered.json() as Caller;
      const answer = await presentAssertion(server.issuer, dcr, await acme.mint({ ...forAgent(), client_id: dcr.client_id }));
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.body.error, 'unauthorized_client');
    });
  });

  test(`a client revoking its tokens in a loop passes the user's ${MAX_ENTRIES_PER_SUBJECT} feed entries with no sign-in (a grant each), then cuts off only its own tokens of the user: the user's other app keeps working`, async () => {
    const accepted = async (token: string) => (await mcpRequest(mcp.mcpUrl, { token })).status === 200;
    const tokenOf = async (caller: Caller) => {
      const answer = await presentAssertion(server.issuer, caller, await acme.mint({ ...forAgent({ sub: 'looped-user' }), client_id: caller.client_id }));
      assert.equal(answer.status, 200, answer.text);
      return answer.body.access_token as string;
    };
    const other = await tokenOf(desktop);
    assert.ok(await accepted(other), 'the other app works before');
    const feed = async (after = 0) => await (await fetch(`${server.issuer}/oauth/revocations?after=${after}`)).json() as RevocationFeedPage;
    const { next } = await feed();
    const revoked: string[] = [];
    for (let i = 0; i <= MAX_ENTRIES_PER_SUBJECT; i++) {
      const token = await tokenOf(agent);
      const response = await fetch(`${server.issuer}/oauth/revoke`, {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...clientSecretBasic(agent.client_id, agent.client_secret!) }, body: new URLSearchParams({ token }),
      });
      assert.equal(response.status, 200);
      revoked.push(token);
    }
    const { entries } = await feed(next);
    const cutOffs = entries.filter((e) => e.kind === 'sub' || e.kind === 'client_sub').map((e) => e.kind);
    // The last revocation is the cut-off: it has reached the MCP server once that token is refused.
    await waitFor('the last revoked token is refused at the MCP endpoint', async () => !(await accepted(revoked.at(-1)!)));
    assert.ok(await accepted(other), `the other app's token, issued before the cut-off, still works (cut-offs on the feed: ${cutOffs.join(', ')})`);
    assert.deepEqual(cutOffs, ['client_sub'], "one cut-off, of the looping client's tokens of the user");
  });

  test('each exchange is audited with the IdP, the client, the outcome and the reason, never the assertion', async () => {
    const assertion = await acme.mint(forAgent({ sub: 'audited-user' }), { claims: { email: 'audited@acme.example' } });
    assert.equal((await presentAssertion(server.issuer, agent, assertion)).status, 200);
    assert.equal((await presentAssertion(server.issuer, agent, assertion)).status, 400);
    await server.auth.admin.audit.flush();
    const [accepted] = await server.auth.admin.audit.query({ event: 'id_jag.accepted', actor: 'audited@acme.example' });
    assert.ok(accepted, 'an id_jag.accepted event');
    assert.equal(accepted.clientId, agent.client_id);
    assert.equal(accepted.details.idp, 'acme');
    assert.equal(accepted.details.user_created, true);
    const refused = (await server.auth.admin.audit.query({ event: 'id_jag.refused', clientId: agent.client_id }))
      .find((event) => String(event.details.reason).includes('already used'));
    assert.ok(refused, 'an id_jag.refused event for the replay');
    assert.equal(refused.details.idp, 'acme');
    assert.equal(refused.details.subject, 'audited-user');
    assert.equal(refused.details.error, 'invalid_grant');
    const everything = JSON.stringify(await server.auth.admin.audit.query({}));
    assert.ok(!everything.includes(assertion.split('.')[2]!), 'no assertion in the audit log');
  });

  test('a refusal names the client only when it authenticated: a wrong secret writes no row in its name', async () => {
    await server.auth.admin.audit.flush();
    const [last] = await server.auth.admin.audit.query({ limit: 1 });
    const wrongSecret = await presentAssertion(server.issuer, { ...agent, client_secret: 'not-its-secret' }, await acme.mint(forAgent()));
    assert.equal(wrongSecret.status, 401, wrongSecret.text);
    assert.equal(wrongSecret.body.error, 'invalid_client');
    const untrusted = await presentAssertion(server.issuer, agent, await stranger.mint(forAgent()));
    assert.equal(untrusted.status, 400, untrusted.text);
    await server.auth.admin.audit.flush();
    // Following the log (afterId): oldest first.
    const recorded = await server.auth.admin.audit.query({ event: 'id_jag.refused', afterId: last?.id ?? 0 });
    assert.deepEqual(recorded.map((e) => [e.clientId, e.details.error]), [[null, 'invalid_client'], [agent.client_id, 'invalid_grant']]);
  });

  test('a refusal after the provider looked the client up but before it authenticated names no client (OAuth-Client-Attestation beside a client_id)', async () => {
    await server.auth.admin.audit.flush();
    const [last] = await server.auth.admin.audit.query({ limit: 1 });
    // Unsigned: its sub is all the provider reads before it finds the client and refuses the mix.
    const attestation = `${base64url.encode(JSON.stringify({ alg: 'ES256', typ: 'oauth-client-attestation+jwt' }))}.${base64url.encode(JSON.stringify({ sub: agent.client_id }))}.AAAA`;
    const bodies: Array<Record<string, string>> = [
      { grant_type: JWT_BEARER, assertion: 'x.y.z', client_id: agent.client_id },
      { grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', client_id: agent.client_id },
    ];
    for (const body of bodies) {
      const response = await fetch(`${server.issuer}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'OAuth-Client-Attestation': attestation },
        body: new URLSearchParams(body).toString(),
      });
      const answer = await response.json() as { error?: string; error_description?: string };
      assert.equal(response.status, 400);
      assert.deepEqual(answer, { error: 'invalid_request', error_description: 'client authentication must only be provided using one mechanism' });
    }
    await server.auth.admin.audit.flush();
    const recorded = await server.auth.admin.audit.query({ afterId: last?.id ?? 0 });
    assert.deepEqual(recorded.map((e) => [e.event, e.clientId, e.details.error]), [['id_jag.refused', null, 'invalid_request'], ['token.exchange_refused', null, 'invalid_request']]);
  });
});

describe('ID-JAG without a trusted IdP', () => {
  let server: TestAuthServer;
  let agent: Caller;

  before(async () => {
    server = await startAuthServer({ metadataFetch: { dangerouslyAllowLoopback: true } });
    const created = await server.auth.admin.clients.createStatic({ name: 'agent', redirectUris: ['https://agent.example/cb'], authMethod: 'client_secret_basic', idJag: true }, CLI);
    agent = { client_id: created.clientId, client_secret: created.clientSecret };
  });
  after(() => server?.close());

  test('is neither advertised nor offered (unsupported_grant_type), until an admin trusts an IdP, and again after it is removed', async () => {
    const metadata = async () => await (await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
    const before = await metadata();
    assert.ok(!(before.grant_types_supported as string[]).includes(JWT_BEARER));
    assert.equal(before.authorization_grant_profiles_supported, undefined);

    const idp = await startEnterpriseIdp('later');
    try {
      const assertion = () => idp.mint({ aud: server.issuer, client_id: agent.client_id, sub: 'u1', scope: 'mcp:read' });
      const refused = await presentAssertion(server.issuer, agent, await assertion());
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error, 'unsupported_grant_type');
      const notRegistered = await register(server.issuer, CLAUDE_DCR_BODY).then((r) => r.json()) as Caller;
      const unregistered = await presentAssertion(server.issuer, notRegistered, await assertion());
      assert.equal(unregistered.body.error, 'unsupported_grant_type', 'a client without the grant is told the same');

      await server.auth.admin.trustedIdpAdmin.add({ issuer: idp.issuer, jwks_uri: idp.jwksUri, new_users: 'allow' }, CLI);
      const during = await metadata();
      assert.ok((during.grant_types_supported as string[]).includes(JWT_BEARER));
      assert.deepEqual(during.authorization_grant_profiles_supported, [ID_JAG_PROFILE]);
      const accepted = await presentAssertion(server.issuer, agent, await assertion());
      assert.equal(accepted.status, 200, accepted.text);

      await server.auth.admin.trustedIdpAdmin.remove(idp.issuer, CLI);
      assert.equal((await metadata()).authorization_grant_profiles_supported, undefined);
      assert.equal((await presentAssertion(server.issuer, agent, await assertion())).body.error, 'unsupported_grant_type');
    } finally {
      await idp.close();
    }
  });
});
