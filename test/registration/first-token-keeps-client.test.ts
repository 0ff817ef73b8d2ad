/**
 * A registration's first token and the removal of unused registrations, on both backends: the
 * admin's purge (ClientRegistry#purgeUnused) and the sweeper (after `unused_client_lifetime`) run
 * inside the token request, at the two moments that matter, through a one-shot hook on the
 * provider's own token models (no timing):
 * - just after the first tokens are stored, before they are sent: the registration is no longer
 *   pending, so it stays, and its tokens work;
 * - just before the first access token is built: the registration is gone, and the request is
 *   refused `invalid_client` (Claude registers again on it) instead of handing out tokens for a
 *   client that no longer exists.
 * And a registration whose token requests all fail is still purged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { ChangedBy } from '../../apps/auth-server/src/management/admin-actor.ts';
import { ModelStore } from '../../apps/auth-server/src/provider/model-store.ts';
import { connect, redeem, refresh, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const UNUSED_CLIENT_TTL = 600;
const BY: ChangedBy = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };
const admin = { username: 'admin', password: ADMIN_PASSWORD };

/**
 * Runs `step` once, inside the next token request that saves a token of `model` (an oidc-provider
 * token class of the running provider): just `before` or just `after` that save. Resolves when the
 * step has run (rejects with its error; the request then goes on as if it had not failed).
 */
function inNextSave(model: { prototype: object }, when: 'before' | 'after', step: () => Promise<unknown>): Promise<void> {
  const prototype = model.prototype as { save(...args: unknown[]): Promise<unknown> };
  const own = Object.getOwnPropertyDescriptor(prototype, 'save');
  const save = prototype.save;
  let settle!: (error?: unknown) => void;
  const ran = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error as Error));
  });
  const runStep = () => step().then(() => settle(), (error: unknown) => settle(error ?? new Error('step failed')));
  prototype.save = async function saveWithStep(this: unknown, ...args: unknown[]) {
    if (own) Object.defineProperty(prototype, 'save', own);
    else delete (prototype as Partial<typeof prototype>).save;
    if (when === 'before') await runStep();
    const value = await save.apply(this, args);
    if (when === 'after') await runStep();
    return value;
  };
  return ran;
}

for (const backend of TEST_BACKENDS) describe(`a registration's first token and the removal of unused registrations (${backend})`, () => {
  let server: TestAuthServer;
  const clock = TestClock.ahead(0);
  before(async () => {
    server = await startAuthServer({ backend, clock, configure: (c) => { c.authServer.registration.unusedClientTtl = UNUSED_CLIENT_TTL; } });
  });
  after(() => server.close());

  const clientExists = (clientId: string) => new ModelStore(server.auth.database, clock).clientExists(clientId);
  const REMOVALS = [
    { what: 'the purge of unused registrations', run: () => server.auth.admin.clients.purgeUnused(BY) },
    {
      what: 'the sweep once its unused lifetime has passed',
      run: async () => {
        clock.advance(UNUSED_CLIENT_TTL + 1);
        await server.auth.sweep();
      },
    },
  ];

  for (const removal of REMOVALS) {
    test(`${removal.what}, run just after the first tokens are stored, keeps the registration, and its tokens work`, async () => {
      const client = await registerClient(server.issuer);
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
      const removed = inNextSave(server.auth.provider.RefreshToken, 'after', removal.run);
      const tokens = await redeem(server.issuer, client, result);
      await removed;
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));

      assert.ok(await clientExists(client.client_id), 'the registration that was handed tokens still exists');
      const accessToken = decodeJwt(tokens.body.access_token as string);
      const refused = await server.auth.admin.revocations.refuses({
        sub: accessToken.sub!, clientId: accessToken.client_id as string, grantId: accessToken.gid as string,
        jti: accessToken.jti!, kid: decodeProtectedHeader(tokens.body.access_token as string).kid!, iat: accessToken.iat!,
      });
      assert.equal(refused, false, 'its access token is not on the revocation feed');
      const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    });

    test(`${removal.what}, run just before the first access token is built, leaves the token request refused invalid_client: no token for a removed client`, async () => {
      const client = await registerClient(server.issuer);
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
      const removed = inNextSave(server.auth.provider.AccessToken, 'before', removal.run);
      const tokens = await redeem(server.issuer, client, result);
      await removed;
      assert.equal(tokens.status, 401, JSON.stringify(tokens.body));
      assert.equal(tokens.body.error, 'invalid_client');
      assert.equal(tokens.body.access_token, undefined);
      assert.equal(await clientExists(client.client_id), false);
    });
  }

  test('registrations whose token requests all failed stay pending, and the purge deletes them', async () => {
    const FAILED_REQUESTS: Array<{ what: string; params: (code: string, verifier: string) => Record<string, string> }> = [
      { what: 'a wrong code_verifier', params: (code) => ({ code, code_verifier: 'x'.repeat(43), redirect_uri: 'https://claude.ai/api/mcp/auth_callback' }) },
      { what: 'another redirect_uri', params: (code, verifier) => ({ code, code_verifier: verifier, redirect_uri: 'https://claude.com/api/mcp/auth_callback' }) },
      { what: 'an unknown code', params: (_code, verifier) => ({ code: 'not-a-code', code_verifier: verifier, redirect_uri: 'https://claude.ai/api/mcp/auth_callback' }) },
      { what: 'another resource', params: (code, verifier) => ({ code, code_verifier: verifier, redirect_uri: 'https://claude.ai/api/mcp/auth_callback', resource: 'https://elsewhere.example/mcp' }) },
    ];
    const clientIds: string[] = [];
    for (const { what, params } of FAILED_REQUESTS) {
      const client = await registerClient(server.issuer);
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
      const refused = await tokenRequest(server.issuer, { grant_type: 'authorization_code', client_id: client.client_id, ...params(result.code, result.verifier) });
      assert.ok(refused.status >= 400 && refused.status < 500, `${what}: ${refused.status} ${JSON.stringify(refused.body)}`);
      const bogusRefresh = await refresh(server.issuer, client, 'not-a-refresh-token');
      assert.equal(bogusRefresh.status, 400, `${what}: ${JSON.stringify(bogusRefresh.body)}`);
      clientIds.push(client.client_id);
    }
    const pending = new Set((await server.auth.admin.clients.list()).filter((c) => c.unused).map((c) => c.clientId));
    assert.deepEqual(clientIds.filter((id) => !pending.has(id)), [], 'a failed token request does not keep a registration');

    await server.auth.admin.clients.purgeUnused(BY);
    for (const clientId of clientIds) assert.equal(await clientExists(clientId), false, `${clientId} was purged`);
  });
});
