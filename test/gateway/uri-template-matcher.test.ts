/**
 * The gateway's URI template matcher (apps/resource-server/src/gateway/uri-template-matcher.ts)
 * decides exactly what the MCP SDK's UriTemplate.match decides (a match, or none), for templates
 * of every operator and for URIs made of the characters each treats specially, and does it in
 * time linear in the URI: a template whose SDK regex backtracks is answered at once (the SDK took
 * 84 s on the last case's 1 KB URI, where this test would not end).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import { UriTemplateMatcher } from '../../apps/resource-server/src/gateway/uri-template-matcher.ts';

const TEMPLATES = [
  'file://{+path}{?rev}', 'repo://{owner}/{repo}/contents{/path*}', 'x://{a}{b}', 'x://{a*}', 'x://{.ext}', 'x://{#frag}',
  'x{/a,b}', 'q://s{?a,b}{&c}', 'x://{;p}', 'notes://{id}', 'x://{+a}/{+b}', 'x://{a}.{b}', 'lit.*+?^$()|[]\\x', 'a{}b',
];
/** Characters each operator treats specially. */
const ALPHABET = ['a', 'b', '/', ',', '?', '&', '=', '.', '#', '\n', '\u2028', 'x', ':', 'c', '*', '+', '\\', ',,'];

/** The SDK's answer; it throws after a match for a template with an empty expression (`{}`). */
function sdkMatches(template: UriTemplate, uri: string): boolean {
  try {
    return template.match(uri) !== null;
  } catch {
    return true;
  }
}

/** A small deterministic generator (mulberry32), so a failure shows the same URIs again. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('URI template matching', () => {
  for (const template of TEMPLATES) {
    test(`${JSON.stringify(template)}: the SDK's answer for 5,000 URIs`, () => {
      const sdk = new UriTemplate(template);
      const ours = new UriTemplateMatcher(template);
      const next = random(template.length);
      const pick = () => ALPHABET[Math.floor(next() * ALPHABET.length)]!;
      const value = () => Array.from({ length: Math.floor(next() * 4) }, pick).join('');
      let matched = 0;
      for (let i = 0; i < 5000; i++) {
        // The template with each expression filled with 0 to 3 random pieces, its query
        // expressions as `?name=value&…`; now and then a literal left out or a piece added.
        const uri = template.split(/(\{[^}]*\})/).map((part) => {
          if (!part.startsWith('{')) return next() < 0.05 ? '' : part;
          const query = /^\{([?&])(.*)\}$/.exec(part);
          if (query) return query[2]!.split(',').map((name, j) => `${j === 0 ? query[1] : '&'}${name}=${value()}`).join('');
          return value();
        }).join('') + (next() < 0.1 ? pick() : '');
        const expected = sdkMatches(sdk, uri);
        assert.equal(ours.matches(uri), expected, `${JSON.stringify(uri)}`);
        if (expected) matched += 1;
      }
      assert.ok(matched > 0 && matched < 5000, `some URIs match, some do not (${matched})`);
    });
  }

  test('a template the SDK cannot parse is refused the same way', () => {
    assert.throws(() => new UriTemplateMatcher('x://{unclosed'), /Unclosed template expression/);
  });

  test('templates whose SDK regexes backtrack answer a 1 KB URI that almost matches', () => {
    assert.equal(new UriTemplateMatcher('repo://{+owner}/{+repo}/{+path}').matches(`repo://${'/'.repeat(1016)}\n`), false);
    assert.equal(new UriTemplateMatcher('x://{a}{b}{c}').matches(`x://${'a'.repeat(1019)}/`), false);
    assert.equal(new UriTemplateMatcher('x://{+a}{+b}{+c}{+d}').matches(`x://${'a'.repeat(1019)}\n`), false);
    assert.equal(new UriTemplateMatcher('x://{+a}{+b}{+c}{+d}').matches(`x://${'a'.repeat(1019)}`), true);
  });
});
