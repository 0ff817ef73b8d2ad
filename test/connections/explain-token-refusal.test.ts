/**
 * How a refused token is worded in its connection event (apps/resource-server/src/connections/
 * explain-token-refusal.ts): every reason the verifier gives has a fixed reason code (a metric
 * label), the words carry the verified values that explain it, and nothing is named when the
 * verifier set no claims (the signature did not verify). The same errors the verifier throws.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RevocationsUnavailableError } from '../../apps/resource-server/src/auth/follow-revocation-feed.ts';
import {
  InvalidAccessTokenError, KeySetUnavailableError, type InvalidAccessTokenReason, type RefusedTokenClaims,
} from '../../apps/resource-server/src/auth/verify-access-token.ts';
import { explainTokenRefusal } from '../../apps/resource-server/src/connections/explain-token-refusal.ts';

const server = { resource: 'https://mcp.example.com/mcp', issuer: 'https://auth.example.com' };
const claims: RefusedTokenClaims = {
  clientId: 'claude', subject: 'user-1', grantId: 'grant-1', scope: 'mcp:read', issuer: 'https://other-auth.example', audience: ['https://other.example/mcp'], expiresAt: 1_796_133_731,
};

describe('explainTokenRefusal', () => {
  // [the verifier's reason, the reason code, words the reason must hold]
  const table: Array<[InvalidAccessTokenReason, string, RegExp]> = [
    ['expired', 'token_expired', /^the access token expired at 2026-12-01 14:02:11 UTC; the client should refresh it$/],
    ['audience', 'wrong_audience', /^token audience is another resource: `https:\/\/other\.example\/mcp`, not `https:\/\/mcp\.example\.com\/mcp`$/],
    ['issuer', 'wrong_issuer', /`https:\/\/other-auth\.example`, not `https:\/\/auth\.example\.com`/],
    ['signature', 'bad_signature', /signature/],
    ['forbidden_header', 'bad_signature', /jku, x5u, jwk or x5c/],
    ['unknown_key', 'unknown_signing_key', /does not publish/],
    ['algorithm', 'wrong_algorithm', /RS256/],
    ['malformed', 'malformed_token', /not a JWT/],
    ['too_large', 'malformed_token', /longer/],
    ['not_access_token', 'not_an_access_token', /at\+jwt/],
    ['not_yet_valid', 'token_not_yet_valid', /clocks/],
    ['sender_constrained', 'sender_constrained', /DPoP/],
    ['missing_claim', 'invalid_claims', /^the verifier's description$/],
    ['invalid_claims', 'invalid_claims', /^the verifier's description$/],
    ['lifetime', 'invalid_claims', /^the verifier's description$/],
    ['revoked', 'token_revoked', /revoked/],
  ];

  for (const [reason, reasonCode, words] of table) {
    test(`${reason} is ${reasonCode}, worded with the values, naming the client, user and grant of a verified token`, () => {
      const explained = explainTokenRefusal(new InvalidAccessTokenError(reason, "the verifier's description", { claims }), server);
      assert.equal(explained?.error, 'invalid_token');
      assert.equal(explained?.reasonCode, reasonCode);
      assert.match(explained?.reason ?? '', words);
      assert.deepEqual([explained?.clientId, explained?.accountId, explained?.grantId, explained?.scope], ['claude', 'user-1', 'grant-1', 'mcp:read']);
      assert.equal(explained?.resource, reason === 'audience' ? 'https://other.example/mcp' : server.resource);
    });

    test(`${reason} without verified claims names nobody and still explains`, () => {
      const explained = explainTokenRefusal(new InvalidAccessTokenError(reason, "the verifier's description"), server);
      assert.equal(explained?.reasonCode, reasonCode);
      assert.ok(explained?.reason);
      assert.deepEqual([explained?.clientId, explained?.accountId, explained?.grantId], [undefined, undefined, undefined]);
    });
  }

  for (const [revokedBy, words] of [
    ['sub', /user's access was stopped \(disabled, or signed out everywhere\) after it was issued$/],
    ['client', /its client `claude` was revoked/],
    ['client_sub', /its client `claude` revoked too many of its tokens of this user .*the user's other apps are untouched/],
    ['grant', /its grant was revoked/],
    ['kid', /key that signed it was retired/],
    ['token', /^the access token was revoked$/],
  ] as const) {
    test(`a token revoked by a ${revokedBy} entry says so`, () => {
      const explained = explainTokenRefusal(new InvalidAccessTokenError('revoked', 'the access token has been revoked', { claims: { ...claims, revokedBy } }), server);
      assert.match(explained?.reason ?? '', words);
    });
  }

  test('an exp beyond what a date can hold is worded as a number, not thrown', () => {
    const explained = explainTokenRefusal(new InvalidAccessTokenError('expired', 'the access token has expired', { claims: { expiresAt: 1e20 } }), server);
    assert.equal(explained?.reason, 'the access token expired at 100000000000000000000 (epoch seconds); the client should refresh it');
  });

  test('a token that could not be checked at all is temporarily_unavailable, saying why', () => {
    assert.deepEqual(
      [new KeySetUnavailableError('x'), new RevocationsUnavailableError('y')].map((err) => explainTokenRefusal(err, server)?.reasonCode),
      ['key_set_unavailable', 'revocations_unavailable'],
    );
    assert.equal(explainTokenRefusal(new KeySetUnavailableError('x'), server)?.error, 'temporarily_unavailable');
  });

  test('anything else is not a token refusal', () => {
    assert.equal(explainTokenRefusal(new Error('boom'), server), undefined);
  });
});
