/**
 * `GET /oauth/revocations` on the real auth-server, as the resource server and anyone else can
 * read it: cursor paging, hashed values (the public feed names no user, client or grant), no
 * caching, and hostile query strings answered with 400 `invalid_request`, never a 5xx.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { revocationValue, type RevocationFeedPage } from '../../apps/shared/revocation-entry.ts';
import { assertNoStackTrace } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

describe('the revocation feed endpoint', () => {
  let server: TestAuthServer;
  const grants = [randomUUID(), randomUUID(), randomUUID()];

  async function read(query: string): Promise<{ status: number; body: string; headers: Headers }> {
    const response = await fetch(`${server.issuer}/oauth/revocations${query}`);
    return { status: response.status, body: await response.text(), headers: response.headers };
  }

  before(async () => {
    server = await startAuthServer();
    const admin = (await server.auth.users.findByUsername('admin'))!;
    for (const grantId of grants) await server.auth.admin.revocations.revokeGrant(grantId);
    await server.auth.admin.revocations.revokeSubject(admin.id);
  });
  after(async () => {
    await server?.close();
  });

  test('pages through the entries with the cursor, names nothing in clear, and is never cached', async () => {
    const first = await read('?after=0&limit=2');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    const page = JSON.parse(first.body) as RevocationFeedPage;
    assert.deepEqual(page.entries.map((e) => e.value), grants.slice(0, 2).map((g) => revocationValue('grant', g)));
    assert.equal(page.complete, false);

    const rest = JSON.parse((await read(`?after=${page.next}&limit=2`)).body) as RevocationFeedPage;
    assert.equal(rest.feed, page.feed);
    assert.deepEqual(rest.entries.map((e) => e.kind), ['grant', 'sub']);
    assert.equal(rest.complete, true);
    const empty = JSON.parse((await read(`?after=${rest.next}`)).body) as RevocationFeedPage;
    assert.deepEqual([empty.entries, empty.next, empty.complete], [[], rest.next, true], 'nothing new: same cursor');

    const whole = (await read('')).body;
    for (const id of [...grants, (await server.auth.users.findByUsername('admin'))!.id]) assert.ok(!whole.includes(id), 'ids are hashed');
  });

  const hostile: Array<[string, string]> = [
    ['a negative cursor', '?after=-1'],
    ['a cursor that is not a number', '?after=abc'],
    ['an exponent', '?after=1e3'],
    ['a fraction', '?after=1.5'],
    ['a leading zero', '?after=01'],
    ['a cursor beyond a safe integer', `?after=${'9'.repeat(16)}`],
    ['a huge cursor', `?after=${'9'.repeat(5000)}`],
    ['a repeated cursor', '?after=1&after=2'],
    ['an empty cursor', '?after='],
    ['a zero limit', '?limit=0'],
    ['a negative limit', '?limit=-5'],
    ['a percent-encoded NUL', '?after=%00'],
  ];
  for (const [what, query] of hostile) {
    test(`refuses ${what} with 400 invalid_request`, async () => {
      const { status, body } = await read(query);
      assert.equal(status, 400, body);
      assert.equal((JSON.parse(body) as { error: string }).error, 'invalid_request');
      assertNoStackTrace(body, what);
    });
  }

  test('answers another method with 405 and Allow', async () => {
    const response = await fetch(`${server.issuer}/oauth/revocations`, { method: 'POST', body: 'after=0' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD');
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
  });

  test('accepts a limit above the page size (the server caps it)', async () => {
    const { status, body } = await read('?limit=100000');
    assert.equal(status, 200);
    assert.equal((JSON.parse(body) as RevocationFeedPage).entries.length, grants.length + 1);
  });
});
