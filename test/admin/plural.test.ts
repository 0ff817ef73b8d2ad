/** The one helper every template uses for a count's noun (the `plural` filter). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRenderer } from '../../apps/auth-server/src/views/create-renderer.ts';
import { plural } from '../../apps/auth-server/src/views/plural.ts';

const cases: Array<[number, string, string | undefined, string]> = [
  [0, 'user', undefined, 'users'],
  [1, 'user', undefined, 'user'],
  [2, 'user', undefined, 'users'],
  [1, 'key', undefined, 'key'],
  [11, 'key', undefined, 'keys'],
  [1, 'entry', 'entries', 'entry'],
  [3, 'entry', 'entries', 'entries'],
];
for (const [count, one, many, expected] of cases) {
  test(`plural(${count}, '${one}'${many ? `, '${many}'` : ''}) is '${expected}'`, () => {
    assert.equal(plural(count, one, many), expected);
  });
}

test('the overview says "1 user" and "1 signing key", and "2 signing keys"', () => {
  const render = createRenderer('http://localhost:4000');
  const page = (keys: number) => render('admin/overview.njk', { isAdmin: true, section: 'overview', counts: { users: 1, pending: 0, disabled: 0, clients: 1, unused: 1, grants: 1, keys }, recent: [] }).replace(/<[^>]+>/g, '').replace(/\s+/g, ' ');
  const one = page(1);
  for (const text of ['1 user ', '1 client ', '1 unused registration ', '1 connected app ', '1 signing key ']) assert.ok(one.includes(text), text);
  assert.ok(page(2).includes('2 signing keys'));
});
