/**
 * An authorization request's `nonce` is opaque to the server (OpenID Connect Core §3.1.2.1), and
 * any value a client sends reaches the code and refresh tokens it issues. One holding U+0000
 * (`nonce=%00` in the query) is stored as the JSON escape `\u0000`, which PostgreSQL's JSON
 * functions refuse: the consume of that code failed there, and the code exchange answered 500
 * (SQLite took it). Both backends now serve such a grant alike: the code is redeemed, the refresh
 * token rotates, and a replayed code or refresh token is still caught and ends the grant.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { connect, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';

/** Nonces whose JSON form holds `\u0000`, or text that only looks like it. */
const NONCES: Array<[string, string]> = [
  ['U+0000 inside', 'before\u0000after'],
  ['U+0000 alone', '\u0000'],
  ['U+0000 after a backslash', 'back\\\u0000slash'],
  ['a backslash, then the letters u0000 (no NUL)', 'text\\u0000only'],
];

for (const backend of TEST_BACKENDS) describe(`a nonce holding U+0000 (${backend})`, () => {
  let server: TestAuthServer;
  let client: RegisteredClient;

  before(async () => {
    server = await startAuthServer({ backend });
    client = await registerClient(server.issuer);
  });
  after(() => server?.close());

  for (const [name, nonce] of NONCES) {
    test(`${name}: the code is redeemed, the ID token carries the nonce, the refresh token rotates, and a replayed code ends the grant`, async () => {
      const result = await connect(server.issuer, {
        clientId: client.client_id, scope: 'openid mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD, extra: { nonce },
      });
      const tokens = await redeem(server.issuer, client, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal(decodeJwt(tokens.body.id_token as string).nonce, nonce, 'the nonce as sent');

      const rotated = await refresh(server.issuer, client, tokens.body.refresh_token as string);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const reused = await refresh(server.issuer, client, tokens.body.refresh_token as string);
      assert.equal(reused.status, 400, JSON.stringify(reused.body));
      assert.equal(reused.body.error, 'invalid_grant', 'the used refresh token is refused');

      const next = await connect(server.issuer, {
        clientId: client.client_id, scope: 'openid mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD, extra: { nonce }, browser: result.browser,
      });
      const nextTokens = await redeem(server.issuer, client, next);
      assert.equal(nextTokens.status, 200, JSON.stringify(nextTokens.body));
      const replayed = await redeem(server.issuer, client, next);
      assert.equal(replayed.body.error, 'invalid_grant', 'the replayed code is refused');
      const afterReplay = await refresh(server.issuer, client, nextTokens.body.refresh_token as string);
      assert.equal(afterReplay.body.error, 'invalid_grant', 'and the replay revoked the grant');
    });
  }
});
