/**
 * The resource server's `GET /connections/events` (http/serve-connection-events.ts), what the
 * auth-server's connection log reads: protected like /gateway/servers (401 challenge without a
 * token, 403 insufficient_scope without mcp:admin), `Cache-Control: no-store`, filters by time,
 * client and user, bounded, and every bad parameter a 400 `invalid_request`, never a 5xx.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ConnectionEvent } from '../../apps/shared/connection-events.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';


for (const backend of TEST_BACKENDS) {
  describe(`GET /connections/events (${backend})`, () => {
    let issuer: TestIssuer;
    let server: RunningResourceServer;
    // Stands still at the wall clock's now. Tokens are minted at its time (mintAt): minted by the
    // wall clock, a slow run (the PostgreSQL half runs later) made them look issued in the future.
    const clock = new TestClock();
    const T0 = clock.now();
    const mintAt = (scope: string) => {
      const iat = Math.floor(clock.now() / 1000);
      return issuer.mint({ claims: { scope, iat, exp: iat + 600 } });
    };

    before(async () => {
      issuer = await startTestIssuer();
      server = await startResourceServer({ issuer: issuer.issuer, backend, clock });
      const recorder = server.connectionRecorder;
      recorder.record({ step: 'mcp_challenge', outcome: 'ok', ip: '198.51.100.1', userAgent: 'claude-code/2.0' });
      clock.advance(1);
      recorder.record({ step: 'mcp_request', outcome: 'ok', clientId: 'client-a', accountId: 'alice', grantId: 'g-a' });
      clock.advance(1);
      recorder.record({
        step: 'mcp_request', outcome: 'refused', error: 'invalid_token', reasonCode: 'wrong_audience', clientId: 'client-b', accountId: 'bob',
        reason: 'token audience is another resource: `https://other/mcp`, not `http://localhost:4001/mcp`',
      });
      // Not flushed: the route writes what is queued before reading.
    });
    after(async () => {
      await server?.close();
      await issuer?.close();
    });

    const url = (query = '') => `${server.baseUrl}/connections/events${query}`;
    const asAdmin = async (query = '') => fetch(url(query), { headers: { authorization: `Bearer ${await mintAt('mcp:admin')}` } });
    const events = async (query = '') => {
      const response = await asAdmin(query);
      assert.equal(response.status, 200);
      return ((await response.json()) as { events: ConnectionEvent[] }).events;
    };

    test('without a token answers 401 with the challenge /mcp gives', async () => {
      const response = await fetch(url());
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer .*resource_metadata="/);
      assert.doesNotMatch(await response.text(), /client-a/);
    });

    test('a token without mcp:admin is refused 403 insufficient_scope', async () => {
      const token = await mintAt('mcp:read mcp:write');
      const response = await fetch(url(), { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 403);
      assert.match(response.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
      assert.doesNotMatch(await response.text(), /client-a/);
    });

    test('an admin gets every event, oldest first, with no-store and the fields as recorded', async () => {
      const response = await asAdmin();
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      const { events: all } = (await response.json()) as { events: ConnectionEvent[] };
      assert.deepEqual(all.map((e) => [e.app, e.step, e.outcome, e.at - T0]), [
        ['resource-server', 'mcp_challenge', 'ok', 0],
        ['resource-server', 'mcp_request', 'ok', 1000],
        ['resource-server', 'mcp_request', 'refused', 2000],
      ]);
      assert.equal(all[2]!.reasonCode, 'wrong_audience');
      assert.equal(all[0]!.userAgent, 'claude-code/2.0');
    });

    test('filters by time window, client and user, and limit keeps the newest', async () => {
      assert.deepEqual((await events(`?since=${T0 + 1000}`)).map((e) => e.at - T0), [1000, 2000]);
      assert.deepEqual((await events(`?until=${T0 + 1000}`)).map((e) => e.at - T0), [0]);
      assert.deepEqual((await events('?client_id=client-b')).map((e) => e.accountId), ['bob']);
      assert.deepEqual((await events('?account_id=alice')).map((e) => e.clientId), ['client-a']);
      assert.deepEqual((await events('?limit=2')).map((e) => e.at - T0), [1000, 2000]);
      assert.deepEqual(await events('?client_id=nobody'), []);
      // The challenge names no client and no user; the other two do.
      assert.deepEqual((await events('?identified=false')).map((e) => e.step), ['mcp_challenge']);
      assert.deepEqual((await events('?identified=true')).map((e) => e.at - T0), [1000, 2000]);
    });

    const BAD: Array<[string, string, RegExp]> = [
      ['since not a number', '?since=yesterday', /^since: /],
      ['since negative', '?since=-1', /^since: /],
      ['until beyond a safe integer', `?until=${'9'.repeat(16)}`, /^until: /],
      ['limit zero', '?limit=0', /^limit: /],
      ['limit too large', '?limit=5001', /^limit: /],
      ['limit not a number', '?limit=ten', /^limit: /],
      ['empty client_id', '?client_id=', /^client_id: /],
      ['client_id too long', `?client_id=${'c'.repeat(513)}`, /^client_id: /],
      ['repeated since', '?since=1&since=2', /^since: given more than once/],
      ['identified neither true nor false', '?identified=yes', /^identified: expected true or false/],
    ];
    for (const [what, query, description] of BAD) {
      test(`${what}: 400 invalid_request naming the parameter`, async () => {
        const response = await asAdmin(query);
        assert.equal(response.status, 400);
        const body = (await response.json()) as { error: string; error_description: string };
        assert.equal(body.error, 'invalid_request');
        assert.match(body.error_description, description);
      });
    }
  });
}
