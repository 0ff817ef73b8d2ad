/**
 * The resource server's connection steps reach its own table (`mcp_connection_events`) through
 * its default recorder, on SQLite and PostgreSQL: the challenge Claude's first POST meets (no
 * User-Agent, anthropics/claude-ai-mcp#923), a token that expired, and the first accepted request;
 * with the words and values an admin reads, and no part of any token in any column; read back as
 * the auth-server reads them, through `GET /connections/events`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ConnectionEvent } from '../../apps/shared/connection-events.ts';
import { STEP_NUMBERS } from '../../apps/shared/connections/connection-event-store.ts';
import { INITIALIZE, mcpRequest } from '../helpers/mcp-http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { startTestIssuer, TEST_RESOURCE, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';

interface EventRow {
  step: string;
  outcome: string;
  error: string | null;
  reason_code: string | null;
  reason: string | null;
  client_id: string | null;
  account_id: string | null;
  grant_id: string | null;
  ip: string | null;
  user_agent: string | null;
  resource: string | null;
  scope: string | null;
}

for (const backend of TEST_BACKENDS) {
  describe(`the resource server's connection steps in its database (${backend})`, () => {
    let issuer: TestIssuer;
    let server: RunningResourceServer;

    before(async () => {
      issuer = await startTestIssuer();
      server = await startResourceServer({ issuer: issuer.issuer, backend });
    });
    after(async () => {
      await server?.close();
      await issuer?.close();
    });

    test('a challenge, an expired token and a first accepted request are stored with their words, and no token', async () => {
      const challenged = await rawRequest(server.baseUrl, {
        method: 'POST', path: '/mcp', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(INITIALIZE),
      });
      assert.equal(challenged.status, 401);
      const now = Math.floor(Date.now() / 1000);
      const expired = await issuer.mint({ claims: { iat: now - 700, exp: now - 100, client_id: 'claude-desktop', gid: 'grant-1', sub: 'user-1' } });
      assert.equal((await mcpRequest(server.mcpUrl, { token: expired })).status, 401);
      const good = await issuer.mint({ claims: { client_id: 'claude-desktop', gid: 'grant-2', sub: 'user-1', scope: 'mcp:read' } });
      assert.equal((await mcpRequest(server.mcpUrl, { token: good })).status, 200);

      const rows = await waitFor('three events in mcp_connection_events', async () => {
        // Repeated values are stored once, in mcp_connection_values, and a step as its number
        // (connection-event-store.ts).
        const value = (ref: string, as: string) => `(SELECT value FROM mcp_connection_values v WHERE v.id = e.${ref}) AS ${as}`;
        const found = await server.db.all<Omit<EventRow, 'step'> & { step_number: number }>(`SELECT step_number, outcome, error, reason_code, reason, ${value('client_ref', 'client_id')},
            ${value('account_ref', 'account_id')}, ${value('grant_ref', 'grant_id')}, ${value('ip_ref', 'ip')}, ${value('user_agent_ref', 'user_agent')}, ${value('resource_ref', 'resource')},
            ${value('scope_ref', 'scope')}
          FROM mcp_connection_events e ORDER BY seq`);
        const stepOf = new Map<number, string>(Object.entries(STEP_NUMBERS).map(([step, number]) => [number, step]));
        return found.length >= 3 ? found.map(({ step_number: number, ...row }) => ({ step: stepOf.get(Number(number))!, ...row })) : undefined;
      });
      const when = new Date((now - 100) * 1000).toISOString().slice(0, 19).replace('T', ' ');
      assert.deepEqual(rows, [
        { step: 'mcp_challenge', outcome: 'ok', error: null, reason_code: null, reason: null, client_id: null, account_id: null, grant_id: null, ip: '127.0.0.1', user_agent: null, resource: TEST_RESOURCE, scope: null },
        {
          step: 'mcp_request', outcome: 'refused', error: 'invalid_token', reason_code: 'token_expired', reason: `the access token expired at ${when} UTC; the client should refresh it`,
          client_id: 'claude-desktop', account_id: 'user-1', grant_id: 'grant-1', ip: '127.0.0.1', user_agent: 'node', resource: TEST_RESOURCE, scope: 'mcp:read mcp:write',
        },
        { step: 'mcp_request', outcome: 'ok', error: null, reason_code: null, reason: null, client_id: 'claude-desktop', account_id: 'user-1', grant_id: 'grant-2', ip: '127.0.0.1', user_agent: 'node', resource: TEST_RESOURCE, scope: 'mcp:read' },
      ]);
      const stored = JSON.stringify([...await server.db.all('SELECT * FROM mcp_connection_events'), ...await server.db.all('SELECT * FROM mcp_connection_values')]);
      for (const token of [expired, good]) {
        for (const part of token.split('.')) assert.ok(!stored.includes(part), 'no part of a token is stored');
      }
    });

    test("read back through GET /connections/events (mcp:admin), where the auth-server's reads leave no event of their own", async () => {
      const admin = await issuer.mint({ claims: { client_id: 'gatehouse-admin-reader', scope: 'mcp:admin' } });
      const read = async (query: string) => {
        const response = await fetch(`${server.baseUrl}/connections/events${query}`, { headers: { authorization: `Bearer ${admin}` } });
        assert.equal(response.status, 200);
        return ((await response.json()) as { events: ConnectionEvent[] }).events;
      };
      const ours = await read('?client_id=claude-desktop');
      assert.deepEqual(ours.map(({ app, step, outcome, reasonCode }) => [app, step, outcome, reasonCode]), [
        ['resource-server', 'mcp_request', 'refused', 'token_expired'],
        ['resource-server', 'mcp_request', 'ok', undefined],
      ]);
      assert.match(ours[0]!.reason!, /^the access token expired at .* UTC; the client should refresh it$/);
      assert.ok((await read('')).every((event) => event.clientId !== 'gatehouse-admin-reader'), 'reading the events is not a connection');
    });
  });
}
