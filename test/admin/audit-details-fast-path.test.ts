/**
 * Flat details (what the request path records: a token's grant, scope and resource) are scrubbed
 * and split in one pass (stored-details-of.ts). That pass must store exactly what the general
 * path (scrub, then splitDetails) stores: the same columns, the same JSON, key for key. Each case
 * is held to the general path; the shapes the provider's events build must take the fast path,
 * and anything the fast path cannot copy exactly must fall back to the general one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { scrub, splitFlatDetails, storable, storedDetailsOf } from '../../apps/auth-server/src/audit/stored-details-of.ts';
import { splitDetails } from '../../apps/auth-server/src/audit/stored-details.ts';

const GRANT = 'ZKp0uX9kQm7n2Lw4Yt6Rv8SaKq0h3d8x1Zp0uX9k';
const RESOURCE = 'http://localhost:4001/mcp';

/** The details record-provider-events.ts and record-sign-in.ts build, as they build them. */
const REQUEST_PATH_SHAPES: Array<[string, Record<string, unknown>]> = [
  ['token.issued, code exchange', { grant_type: undefined, grant_id: GRANT, scope: 'mcp:read', resource: RESOURCE, refresh_token_issued: undefined }],
  ['token.issued, no refresh token', { grant_type: undefined, grant_id: GRANT, scope: 'mcp:read offline_access', resource: RESOURCE, refresh_token_issued: false }],
  ['token.refreshed, same as its grant', { grant_type: undefined, grant_id: GRANT, scope: undefined, resource: undefined, refresh_token_issued: undefined }],
  ['token.refreshed, narrower scope', { grant_type: undefined, grant_id: GRANT, scope: 'mcp:read', resource: RESOURCE, refresh_token_issued: undefined }],
  ['token.issued, client credentials', { grant_type: 'client_credentials', grant_id: undefined, scope: 'mcp:read', resource: RESOURCE, refresh_token_issued: false }],
  ['token.exchanged', { audience: 'https://upstream.example/mcp', subject_client_id: 'Kq0h3d8x1Zp0uX9kQm7n2Lw4Yt6Rv8Sa', scope: 'mcp:read' }],
  ['token.exchange_refused', { error: 'invalid_target', error_description: 'resource indicator is missing, or unknown', resource: 'https://a.example https://b.example' }],
  ['refresh_token.reused', { grant_id: GRANT, grant_revoked: true }],
  ['grant.revoked', { grant_id: GRANT, reason: 'a used refresh token or code was presented again' }],
  ['client.registration_refused', { error: 'invalid_redirect_uri', error_description: undefined }],
  ['sign_in.failure', { method: 'password', reason: 'wrong password', upstream: undefined, subject: undefined, username: undefined }],
  ['id_jag.accepted', { idp: 'https://idp.example', scope: 'mcp:read', grant_id: GRANT, user_created: undefined }],
];

/** Flat details the fast path takes that test each rule it copies. */
const EDGE_CASES: Array<[string, Record<string, unknown>]> = [
  ['empty', {}],
  ['all undefined', { grant_id: undefined, scope: undefined }],
  ['credential-named keys in any case, and password or secret anywhere in a key', { grant_id: GRANT, Token: 'x', REFRESH_TOKEN: 'y', code: 'z', new_password: 'p', clientSecretHint: 's', scope: 'mcp:read' }],
  ['leading fields out of order', { scope: 'mcp:read', grant_id: GRANT, resource: RESOURCE }],
  ['a leading field skipped', { grant_id: GRANT, resource: RESOURCE, scope: 'mcp:read' }],
  ['a leading field that is not a string', { grant_id: 42, scope: 'mcp:read' }],
  ['a leading field after another key', { reason: 'x', grant_id: GRANT }],
  ['a leading field repeated later is not taken', { grant_id: GRANT, reason: 'x', scope: 'mcp:read' }],
  ['null, numbers, booleans, NaN and Infinity', { a: null, b: 0, c: -0, d: 1.5, e: true, f: false, g: Number.NaN, h: Number.POSITIVE_INFINITY }],
  ['a long string is cut', { grant_id: 'g'.repeat(400), reason: 'r'.repeat(301) }],
  ['a long string cut beside a surrogate pair', { reason: `${'r'.repeat(299)}😀tail` }],
  ['a lone surrogate and U+0000 in values', { grant_id: 'a\ud800b', reason: 'nul\u0000here', scope: '\udc00' }],
  ['integer-like keys, which objects put first', { reason: 'x', 2: 'two', 1: 'one' }],
  ['keys named like Object.prototype members', { constructor: 'c', toString: 't', hasOwnProperty: 'h' }],
  ['exactly MAX_DETAIL_ITEMS kept keys, credential ones beside them', Object.fromEntries([...Array.from({ length: 25 }, (_, i) => [`k${i}`, i]), ['token', 't']])],
];

/** Details the fast path must leave to the general one. */
const GENERAL_CASES: Array<[string, Record<string, unknown>]> = [
  ['a list', { redirect_uris: ['https://a.example/cb', 'https://b.example/cb'], client_name: 'A' }],
  ['an object', { client: { id: 'x', secret: 'y' } }],
  ['more than MAX_DETAIL_ITEMS keys', Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`k${i}`, i]))],
  ['a key with a lone surrogate', { ['a\ud800']: 'x', b: 'y' }],
  ['two keys that become one once storable', { ['\ud800']: 'first', ['\udc00']: undefined }],
  ['a key with U+0000', { ['a\u0000']: 'x' }],
  ['an own __proto__ key', JSON.parse('{"__proto__": "x", "reason": "y"}') as Record<string, unknown>],
  ['a date', { at: new Date(0) }],
];

const general = (details: Record<string, unknown>) => splitDetails(scrub(details) as Record<string, unknown>);

describe('audit details: the flat path stores what the general path stores', () => {
  for (const [name, details] of [...REQUEST_PATH_SHAPES, ...EDGE_CASES]) {
    test(name, () => {
      const fast = splitFlatDetails(details);
      assert.ok(fast, 'takes the flat path');
      assert.deepEqual(fast, general(details));
      assert.deepEqual(storedDetailsOf(details), general(details));
    });
  }

  for (const [name, details] of GENERAL_CASES) {
    test(`${name}: left to the general path`, () => {
      assert.equal(splitFlatDetails(details), undefined);
      assert.deepEqual(storedDetailsOf(details), general(details));
    });
  }

  test('the same key is judged the same way each time it is seen', () => {
    const details = { grant_id: GRANT, token: 'secret', reason: 'x' };
    for (let i = 0; i < 3; i += 1) assert.deepEqual(splitFlatDetails(details), general(details));
  });

  test('storable text: lone surrogates and U+0000 replaced, pairs kept, anything else returned as it is', () => {
    const cases: Array<[string, string]> = [
      ['plain', 'plain'], ['', ''], ['é', 'é'], ['😀', '😀'], ['\ud83d', '\ufffd'], ['a\udc00b', 'a\ufffdb'],
      ['nul\u0000', 'nul\ufffd'], ['\u0000\ud800\ud83d\ude00', '\ufffd\ufffd😀'],
    ];
    for (const [text, stored] of cases) assert.equal(storable(text), stored, JSON.stringify(text));
  });
});
