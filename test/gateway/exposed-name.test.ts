/**
 * How upstream tools and prompts are named at the gateway: `<server>__<name>`, and within the 64
 * characters some clients accept, shortened predictably when longer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { exposedName, mayBeShortened, splitExposedName } from '../../apps/resource-server/src/gateway/exposed-name.ts';

test('prefixes the server name with two underscores', () => {
  assert.equal(exposedName('files', 'read_file'), 'files__read_file');
  assert.deepEqual(splitExposedName('files__read_file'), { server: 'files', rest: 'read_file' });
});

test('keeps a name of exactly 64 characters as it is', () => {
  const name = 'x'.repeat(64 - 'files__'.length);
  assert.equal(exposedName('files', name), `files__${name}`);
  assert.equal(exposedName('files', name).length, 64);
});

test('shortens a longer name to its first 55 characters, _ and 8 hex digits of its SHA-256, the same every time', () => {
  const name = 'a_tool_name_that_an_upstream_server_chose_without_thinking_of_clients';
  const full = `files__${name}`;
  const shortened = exposedName('files', name);
  assert.equal(shortened.length, 64);
  assert.equal(shortened, `${full.slice(0, 55)}_${createHash('sha256').update(full).digest('hex').slice(0, 8)}`);
  assert.equal(exposedName('files', name), shortened);
  assert.notEqual(exposedName('files', `${name}2`), shortened, 'two long names sharing a prefix stay apart');
});

test('the server part ends at the first __ (server names have no underscore)', () => {
  assert.deepEqual(splitExposedName('db__run__query'), { server: 'db', rest: 'run__query' });
  for (const name of ['whoami', '__x', 'list_notes']) assert.equal(splitExposedName(name), undefined, name);
});

test('a shortened name is recognisable as one that may be shortened; an unshortened name of 64 characters is not', () => {
  assert.equal(mayBeShortened(exposedName('files', 'a_tool_name_that_an_upstream_server_chose_without_thinking_of_clients')), true);
  assert.equal(mayBeShortened(`files__${'x'.repeat(64 - 'files__'.length)}`), false);
  assert.equal(mayBeShortened('files__read_file_0123abcd'), false, 'shorter than 64 characters');
});
