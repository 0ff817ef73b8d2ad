/**
 * The resource server follows its issuer's revocation feed (apps/shared/revocation-entry.ts) and
 * refuses what it lists on every request, cached tokens and open sessions included; and fails
 * closed when its copy of the feed is stale. A real resource-server against the test issuer's
 * feed (served over HTTP as the auth-server serves it) with real tokens.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, useIssuerAndServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { INITIALIZE, mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';

const now = () => Math.floor(Date.now() / 1000);

async function status(server: RunningResourceServer, token: string): Promise<number> {
  const response = await mcpRequest(server.mcpUrl, { token });
  await response.arrayBuffer();
  return response.status;
}

describe('the revocation feed at the MCP endpoint', () => {
  const suite = useIssuerAndServer();

  // [what is revoked, the entry, the token it refuses, a token it must leave alone]
  const cases: Array<[string, (ids: Ids) => void, (ids: Ids) => Record<string, unknown>, (ids: Ids) => Record<string, unknown>]> = [
    ['a user (disabled)', (ids) => suite.issuer.revoke('sub', ids.sub), (ids) => ({ sub: ids.sub }), () => ({ sub: randomUUID() })],
    ['a client (deleted)', (ids) => suite.issuer.revoke('client', ids.client), (ids) => ({ client_id: ids.client }), () => ({ client_id: randomUUID() })],
    ["a client's tokens of one user (it revoked too many)", (ids) => suite.issuer.revoke('client_sub', `${ids.client} ${ids.sub}`),
      (ids) => ({ client_id: ids.client, sub: ids.sub }), (ids) => ({ client_id: ids.client, sub: randomUUID() })],
    ['a grant (revoked)', (ids) => suite.issuer.revoke('grant', ids.grant), (ids) => ({ gid: ids.grant }), () => ({ gid: randomUUID() })],
    ['one token (revoked by its client)', (ids) => suite.issuer.revoke('token', ids.jti), (ids) => ({ jti: ids.jti }), (ids) => ({ sub: ids.sub, gid: ids.grant })],
  ];
  interface Ids { sub: string; client: string; grant: string; jti: string }

  for (const [what, revoke, affected, unaffected] of cases) {
    test(`refuses a cached token of ${what} once the feed lists it, and no other token`, async () => {
      const ids: Ids = { sub: randomUUID(), client: randomUUID(), grant: randomUUID(), jti: randomUUID() };
      const token = await suite.issuer.mint({ claims: { ...affected(ids), iat: now() - 5 } });
      const other = await suite.issuer.mint({ claims: { ...unaffected(ids), iat: now() - 5 } });
      assert.equal(await status(suite.server, token), 200, 'accepted (and cached) before the revocation');
      revoke(ids);
      await waitFor('the token is refused', async () => (await status(suite.server, token)) === 401, 5000);
      const response = await mcpRequest(suite.server.mcpUrl, { token });
      assert.match(parseChallenge(response.headers.get('www-authenticate')).params.error_description ?? '', /revoked/);
      assert.equal(await status(suite.server, other), 200, 'a token the entry does not name still works');
    });
  }

  test('entries of a kind this version does not know (a later auth-server\'s) refuse nothing, and the feed is still read past them', async () => {
    const ids = { sub: randomUUID(), jti: randomUUID() };
    const token = await suite.issuer.mint({ claims: { jti: ids.jti, iat: now() - 5 } });
    const other = await suite.issuer.mint({ claims: { sub: ids.sub, iat: now() - 5 } });
    suite.issuer.revoke('a-later-kind', ids.sub);
    suite.issuer.revoke('__proto__', ids.sub);
    suite.issuer.revoke('token', ids.jti);
    await waitFor('the token revoked after them is refused', async () => (await status(suite.server, token)) === 401, 5000);
    assert.equal(await status(suite.server, other), 200);
  });

  test('a user entry refuses tokens issued up to it, not tokens issued after it (a re-enabled user)', async () => {
    const sub = randomUUID();
    const cutOff = now() - 60;
    const old = await suite.issuer.mint({ claims: { sub, iat: cutOff - 1 } });
    const newer = await suite.issuer.mint({ claims: { sub, iat: cutOff + 30 } });
    suite.issuer.revoke('sub', sub, cutOff);
    await waitFor('the older token is refused', async () => (await status(suite.server, old)) === 401, 5000);
    assert.equal(await status(suite.server, newer), 200);
  });

  test('a retired key: every token it signed is refused, whatever its iat', async () => {
    const token = await suite.issuer.mint();
    assert.equal(await status(suite.server, token), 200);
    suite.issuer.revoke('kid', suite.issuer.kid);
    await waitFor('the token of the retired key is refused', async () => (await status(suite.server, token)) === 401, 5000);
    assert.equal(await status(suite.server, await suite.issuer.mint()), 401, 'a fresh token of that key too');
    await suite.issuer.rotateKey();
    const fresh = await suite.issuer.mint();
    await waitFor('a token of the new key is accepted: the keys entry reloaded the key set', async () => (await status(suite.server, fresh)) === 200, 5000);
  });

  test('a token without kid, signed with the only published key, is refused before and after that key is retired', async () => {
    // Its own issuer: with one key published, jose would verify a kid-less token against it.
    const issuer = await startTestIssuer();
    const server = await startResourceServer({ issuer: issuer.issuer });
    try {
      const kidless = await issuer.mint({ header: { kid: undefined } });
      const withKid = await issuer.mint();
      assert.equal(await status(server, withKid), 200, 'the same key with its kid is accepted');
      const refused = await mcpRequest(server.mcpUrl, { token: kidless });
      assert.equal(refused.status, 401, 'refused before the retirement');
      assert.equal(parseChallenge(refused.headers.get('www-authenticate')).params.error, 'invalid_token');
      issuer.revoke('kid', issuer.kid);
      await waitFor('the key is retired', async () => (await status(server, withKid)) === 401, 5000);
      assert.equal(await status(server, kidless), 401, 'refused after the retirement');
    } finally {
      await server.close();
      await issuer.close();
    }
  });

  test('an open MCP session is refused as soon as its token is revoked', async () => {
    const sub = randomUUID();
    const token = await suite.issuer.mint({ claims: { sub, iat: now() - 5 } });
    const init = await mcpRequest(suite.server.mcpUrl, { token });
    assert.equal(init.status, 200);
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.arrayBuffer();
    const inSession = () => mcpRequest(suite.server.mcpUrl, {
      token,
      headers: { 'mcp-session-id': sessionId, 'mcp-protocol-version': INITIALIZE.params.protocolVersion },
      body: { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    });
    assert.equal((await inSession()).status, 200);
    suite.issuer.revoke('sub', sub);
    await waitFor('the session request is refused', async () => (await inSession()).status === 401, 5000);
  });
});

describe('a feed that goes backwards (the auth-server database restored from a backup)', () => {
  test('is read again from the start, so revocations made after the restore are enforced', async () => {
    const issuer = await startTestIssuer();
    const server = await startResourceServer({ issuer: issuer.issuer });
    try {
      for (let i = 0; i < 5; i++) issuer.revoke('sub', randomUUID());
      const before = issuer.feedPolls;
      await waitFor('the server read the five entries', async () => issuer.feedPolls > before + 1, 5000);
      issuer.restoreFeed(1);
      const sub = randomUUID();
      const token = await issuer.mint({ claims: { sub, iat: now() - 5 } });
      assert.equal(await status(server, token), 200);
      issuer.revoke('sub', sub); // seq 2, behind the server's cursor (5)
      await waitFor('the revocation made after the restore is enforced', async () => (await status(server, token)) === 401, 5000);
    } finally {
      await server.close();
      await issuer.close();
    }
  });
});

describe('a feed reset that cannot be read again at once', () => {
  test('keeps refusing what the old feed revoked while the restored feed cannot be read from the start', async () => {
    const issuer = await startTestIssuer();
    // Staleness far off: what is checked is the list itself, not the fail-closed 503.
    const server = await startResourceServer({ issuer: issuer.issuer, config: { revocation: { feedUri: `${issuer.issuer}/oauth/revocations`, pollInterval: 0.1, maxStaleness: 60 } } });
    try {
      const sub = randomUUID();
      const token = await issuer.mint({ claims: { sub, iat: now() - 5 } });
      issuer.revoke('sub', sub); // seq 1, kept by the restore
      for (let i = 0; i < 2; i++) issuer.revoke('sub', randomUUID());
      await waitFor('the revocation is enforced', async () => (await status(server, token)) === 401, 5000);
      // The database restored from a backup holding entry 1; the restarting auth-server answers
      // the server's usual page (behind its cursor: a reset) but not yet the read from zero.
      issuer.refuseFeedPage = (after) => after === 0;
      issuer.restoreFeed(1);
      const polls = issuer.feedPolls;
      await waitFor('the server saw the reset and tried to read again from zero', () => issuer.feedPolls >= polls + 4, 5000);
      assert.equal(await status(server, token), 401, 'still refused');
      issuer.refuseFeedPage = undefined;
      const readAgain = issuer.feedPolls;
      await waitFor('the feed read again from zero', () => issuer.feedPolls >= readAgain + 2, 5000);
      assert.equal(await status(server, token), 401, 'refused by the restored feed\'s entry too');
    } finally {
      await server.close();
      await issuer.close();
    }
  });
});

describe('when the revocation feed cannot be read', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  // Staleness is counted on it; polls run on real timers.
  let clock: TestClock;

  before(async () => {
    issuer = await startTestIssuer();
    // Set now, not as the file loads: the tokens' iat is the wall clock's, and must not be ahead of it.
    clock = new TestClock();
    server = await startResourceServer({
      issuer: issuer.issuer,
      clock,
      config: { revocation: { feedUri: `${issuer.issuer}/oauth/revocations`, pollInterval: 0.1, maxStaleness: 30 } },
    });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  test('fails closed with 503 once the copy is stale, and recovers when the feed answers again', async () => {
    const token = await issuer.mint();
    assert.equal(await status(server, token), 200);
    issuer.feedAvailable = false;
    const polls = issuer.feedPolls;
    await waitFor('a poll of the feed to fail', () => issuer.feedPolls > polls, 5000);
    assert.equal(await status(server, token), 200, 'a failed poll alone leaves the copy current');
    clock.advance(31);
    assert.equal(await status(server, token), 503, 'stale past max_staleness');
    const refused = await mcpRequest(server.mcpUrl, { token });
    assert.ok(refused.headers.get('retry-after'));
    assert.equal(refused.headers.get('www-authenticate'), null, 'no challenge: signing in again would not help');
    assert.equal(((await refused.json()) as { error: string }).error, 'temporarily_unavailable');
    const ready = await fetch(`${server.baseUrl}/readyz`);
    assert.equal(ready.status, 503, 'not ready while the revocation list is stale');
    await ready.arrayBuffer();

    issuer.feedAvailable = true;
    await waitFor('tokens are accepted again', async () => (await status(server, token)) === 200, 5000);
  });

  test('a server that never read the feed refuses tokens with 503 rather than accept them unchecked', async () => {
    const closed = await startTestIssuer();
    closed.feedAvailable = false;
    const blind = await startResourceServer({
      issuer: closed.issuer,
      config: { revocation: { feedUri: `${closed.issuer}/oauth/revocations`, pollInterval: 0.1, maxStaleness: 0.5 } },
    });
    try {
      assert.equal(await status(blind, await closed.mint()), 503);
    } finally {
      await blind.close();
      await closed.close();
    }
  });
});
