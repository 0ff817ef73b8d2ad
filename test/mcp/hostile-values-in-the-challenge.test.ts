/**
 * The `WWW-Authenticate` challenge (apps/resource-server/src/http/bearer-challenge.ts) carries
 * names a client sent or an upstream MCP server listed, in its 403 `error_description`. Whatever
 * they hold, the header keeps exactly the parameters the server wrote: one `resource_metadata`,
 * ours, as a strict RFC 9110 reader and the MCP SDK client's own reader both see it; only the
 * characters RFC 6750 §3 allows; and a value node:http accepts (a refused one answered 500).
 */
import assert from 'node:assert/strict';
import { validateHeaderValue } from 'node:http';
import { describe, test } from 'node:test';
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { bearerChallenge, MAX_DESCRIPTION_LENGTH } from '../../apps/resource-server/src/http/bearer-challenge.ts';
import { challengeParams } from '../helpers/mcp-http.ts';

const PRM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';
// RFC 6750 §3: error, error_description and scope are 1*( %x20-21 / %x23-5B / %x5D-7E ).
const RFC_6750_VALUE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

// [what it is, a tool name or resource URI as a client or upstream may send it]
const hostile: Array<[string, string]> = [
  ['a quote closing the value and adding a parameter', 'note://x", resource_metadata="https://evil.example/prm'],
  ['an escaped backslash before the quote', 'note://x\\", resource_metadata="https://evil.example/prm'],
  ['a backslash-escaped quote', 'tool\\"x'],
  ['CR LF starting a header of its own', 'tool\r\nSet-Cookie: session=stolen'],
  ['a LF starting a second challenge', 'tool\nWWW-Authenticate: Bearer resource_metadata="https://evil.example/prm"'],
  ['a lone CR', 'tool\rx'],
  ['characters past Latin-1', 'note://ключ/日本'],
  ['Latin-1 past ASCII', 'café'],
  ['an astral character and a lone surrogate', 'tool-💥-\ud800'],
  ['NUL and TAB', 'tool\u0000\tx'],
  ['a comma and an unquoted parameter (bait for first-match readers)', 'x, resource_metadata=https://evil.example/prm'],
  ['a parameter name glued to the text', 'xresource_metadata=https://evil.example/prm'],
  ['a scope to read as the challenge scope', 'x scope=mcp:admin error=invalid_token'],
  ['a value of 10 000 characters', `note://${'a'.repeat(10_000)}", resource_metadata="https://evil.example/prm`],
];

/** What the challenge must hold whatever `what` was; returns its parameters. */
function assertSafe(header: string, scope: string | undefined): Array<[string, string]> {
  assert.doesNotThrow(() => validateHeaderValue('WWW-Authenticate', header), 'node:http would refuse it (a 500)');
  const params = challengeParams(header);
  const names = params.map(([name]) => name);
  assert.deepEqual(names.filter((name) => name === 'resource_metadata'), ['resource_metadata'], `one resource_metadata in ${header}`);
  assert.equal(new Set(names).size, names.length, `no parameter twice in ${header}`);
  assert.deepEqual(names.filter((name) => !['error', 'error_description', 'scope', 'resource_metadata'].includes(name)), []);
  for (const [name, value] of params) assert.match(value, RFC_6750_VALUE, `${name} holds only RFC 6750 §3 characters`);
  assert.equal(Object.fromEntries(params).resource_metadata, PRM);

  // What the MCP SDK client starts its sign-in with: it takes the first `name=` anywhere.
  const seen = extractWWWAuthenticateParams(new Response(null, { headers: { 'WWW-Authenticate': header } }));
  assert.equal(seen.resourceMetadataUrl?.href, PRM, 'the SDK client goes to our metadata');
  assert.equal(seen.scope, scope, 'the SDK client asks for our scopes');
  assert.equal(seen.error, 'insufficient_scope');
  return params;
}

describe('hostile values in the WWW-Authenticate challenge', () => {
  for (const [name, what] of hostile) {
    test(`${name}, in the 403 error_description, adds no parameter and only RFC 6750 characters`, () => {
      const header = bearerChallenge({ error: 'insufficient_scope', errorDescription: `${what} needs mcp:write`, scopes: ['mcp:read', 'mcp:write'], resourceMetadataUrl: PRM });
      const description = Object.fromEntries(assertSafe(header, 'mcp:read mcp:write')).error_description ?? '';
      assert.ok(description.length <= MAX_DESCRIPTION_LENGTH, `cut to ${MAX_DESCRIPTION_LENGTH} characters`);
    });

    test(`${name}, in the description of a challenge without scope, is not read as a scope`, () => {
      const header = bearerChallenge({ error: 'insufficient_scope', errorDescription: what, scopes: [], resourceMetadataUrl: PRM });
      assertSafe(header, undefined);
    });

    test(`${name}, as a scope, adds no parameter`, () => {
      const header = bearerChallenge({ error: 'insufficient_scope', errorDescription: 'the call needs more', scopes: ['mcp:read', what], resourceMetadataUrl: PRM });
      const params = assertSafe(header, Object.fromEntries(challengeParams(header)).scope);
      assert.match(Object.fromEntries(params).scope ?? '', /^mcp:read /);
    });
  }

  test('an ordinary description reads as it was written', () => {
    const header = bearerChallenge({ error: 'insufficient_scope', errorDescription: 'kb__add_entry needs mcp:write', scopes: ['mcp:read', 'mcp:write'], resourceMetadataUrl: PRM });
    assert.deepEqual(challengeParams(header), [
      ['error', 'insufficient_scope'], ['error_description', 'kb__add_entry needs mcp:write'], ['scope', 'mcp:read mcp:write'], ['resource_metadata', PRM],
    ]);
  });
});
