/**
 * redact-credentials.ts: which configured values count as credentials, and how they are taken
 * out of an upstream's error (message, stack, JSON-RPC data, causes).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { credentialsAmong, maskCutCredential, redactError, redactText } from '../../apps/resource-server/src/gateway/redact-credentials.ts';

describe('credentials among configured values', () => {
  const cases: Array<[string, Array<string | undefined>, string[]]> = [
    ['a bearer header: the whole value and its token', ['Bearer abcdefgh12'], ['Bearer abcdefgh12', 'abcdefgh12']],
    ['a bare API key', ['sk-0123456789'], ['sk-0123456789']],
    ['values under 8 characters are no credentials', ['1', 'true', 'debug', 'short7x'], []],
    ['a scheme with a short credential keeps only the whole value', ['Basic abc'], ['Basic abc']],
    ['unset values', [undefined, ''], []],
    ['longest first, so a value holding another goes whole', ['abcdefgh', 'xxabcdefghxx'], ['xxabcdefghxx', 'abcdefgh']],
  ];
  for (const [name, values, expected] of cases) {
    test(name, () => assert.deepEqual(credentialsAmong(values), expected));
  }
});

describe('an upstream error with its credentials taken out', () => {
  const secret = 'pa"ss\\word-0123';
  const credentials = credentialsAmong([secret]);

  test('message, stack and JSON-RPC data, with characters JSON escapes', () => {
    const err = new McpError(-32001, `login failed for ${secret}`, { sent: [secret, { nested: `key=${secret}` }], kept: 42 });
    redactError(err, credentials);
    assert.equal(err.message, 'MCP error -32001: login failed for [redacted]');
    assert.ok(!err.stack!.includes(secret));
    assert.deepEqual(err.data, { sent: ['[redacted]', { nested: 'key=[redacted]' }], kept: 42 });
  });

  test('each cause too', () => {
    const err = new Error('outer', { cause: new Error(`inner ${secret}`) });
    redactError(err, credentials);
    assert.equal((err.cause as Error).message, 'inner [redacted]');
  });

  test('data that does not serialise is dropped, not quoted', () => {
    const cyclic: Record<string, unknown> = { secret };
    cyclic.self = cyclic;
    const err = new McpError(-32001, 'x', cyclic);
    redactError(err, credentials);
    assert.equal(err.data, undefined);
  });

  test('text without a credential is left as it is', () => {
    assert.equal(redactText('nothing to see', credentials), 'nothing to see');
  });
});

describe('a stderr line cut at its limit inside a credential', () => {
  const credentials = credentialsAmong(['sk-live-0123456789']);
  const cases: Array<[string, string, string]> = [
    ['cut after its first characters', 'xxxx sk-li', 'xxxx [redacted]'],
    ['cut one character short of its end', 'xxxx sk-live-012345678', 'xxxx [redacted]'],
    ['cut after its first three characters (masked although they may be anything)', 'xxxx sk-', 'xxxx [redacted]'],
    ['ending elsewhere', 'xxxx plain text', 'xxxx plain text'],
  ];
  for (const [name, line, expected] of cases) test(name, () => assert.equal(maskCutCredential(line, credentials), expected));
});
