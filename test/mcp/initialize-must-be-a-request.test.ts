/**
 * An initialize that cannot open a session records none, so it ends none of the user's others.
 *
 * An `initialize` that is not a JSON-RPC request (no id: a notification; or an id that is null, a
 * fraction, an object, a boolean) is refused with 400 -32600 and opens no session. The MCP SDK's
 * initialize schema does not look at the id: a notification opened a session answered 202 without
 * its id, and the others recorded one before the JSON-RPC check refused them; either way each one
 * ended the user's least recently used session once past the per-user limit, so the user's client
 * found its working session gone (404). The same held for an initialize the transport then
 * refused (406 for its Accept, 400 for a body that is not JSON-RPC): it was recorded first.
 *
 * An `initialize` request whose params the MCP schema refuses is answered 400 -32602 Invalid
 * params under its own id (JSON-RPC 2.0 §5.1), naming the member that is wrong, and opens no
 * session. It was answered -32000 "Server not initialized" with a null id.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { INITIALIZE, mcpRequest, openSession } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';

const MAX_SESSIONS_PER_USER = 1;
const { id: _id, ...NOTIFICATION } = INITIALIZE;

const notRequests: Array<[what: string, body: Record<string, unknown>, message: string]> = [
  ['without an id (a notification)', NOTIFICATION, 'Invalid Request: initialize is a request: its id must be a string or an integer'],
  ['with a null id', { ...NOTIFICATION, id: null }, 'Invalid Request: initialize is a request: its id must be a string or an integer'],
  ['with a fractional id', { ...NOTIFICATION, id: 1.5 }, 'Invalid Request: initialize is a request: its id must be a string or an integer'],
  ['with an object id', { ...NOTIFICATION, id: {} }, 'Invalid Request: initialize is a request: its id must be a string or an integer'],
  ['with a boolean id', { ...NOTIFICATION, id: true }, 'Invalid Request: initialize is a request: its id must be a string or an integer'],
];

describe('initializes that open no session', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, maxSessionsPerUser: MAX_SESSIONS_PER_USER });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  const sessionsOf = async (subject: string) => (await server.db.get<{ n: number }>('SELECT count(*) AS n FROM mcp_sessions WHERE subject = ?', [subject]))!.n;

  for (const [what, body, message] of notRequests) {
    test(`${what}: 400 -32600, no session, and the user's open session stays`, async () => {
      const subject = randomUUID();
      const token = await issuer.mint({ claims: { sub: subject } });
      const working = await openSession(server.mcpUrl, token);
      const answers = [];
      for (let sent = 0; sent <= MAX_SESSIONS_PER_USER; sent += 1) {
        const response = await mcpRequest(server.mcpUrl, { token, body });
        answers.push({ status: response.status, sessionId: response.headers.get('mcp-session-id'), text: await response.text() });
      }
      const listed = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': working, 'MCP-Protocol-Version': '2025-11-25' }, body: { jsonrpc: '2.0', id: 2, method: 'tools/list' } });
      assert.equal(listed.status, 200, `the working session still answers: ${await listed.text()}`);
      assert.equal(await sessionsOf(subject), 1, 'only the working session is recorded');
      for (const answer of answers) {
        assert.equal(answer.status, 400, answer.text);
        assert.deepEqual(JSON.parse(answer.text), { jsonrpc: '2.0', error: { code: -32600, message }, id: null });
        assert.equal(answer.sessionId, null);
      }
    });
  }

  // [what is sent, headers, body, the status the SDK (or the JSON-RPC check) answers]
  const refusedByTheTransport: Array<[what: string, headers: Record<string, string>, body: Record<string, unknown>, status: number]> = [
    ['an Accept without the event stream', { Accept: 'application/json' }, INITIALIZE, 406],
    ['an Accept without JSON', { Accept: 'text/event-stream' }, INITIALIZE, 406],
    ['jsonrpc 1.0', {}, { ...INITIALIZE, jsonrpc: '1.0' }, 400],
    ['no jsonrpc member', {}, { id: 1, method: 'initialize', params: INITIALIZE.params }, 400],
  ];
  for (const [what, headers, body, status] of refusedByTheTransport) {
    test(`an initialize refused for ${what}: ${status}, and the user's open session stays`, async () => {
      const subject = randomUUID();
      const token = await issuer.mint({ claims: { sub: subject } });
      const working = await openSession(server.mcpUrl, token);
      const statuses = [];
      for (let sent = 0; sent <= MAX_SESSIONS_PER_USER; sent += 1) {
        const response = await mcpRequest(server.mcpUrl, { token, headers, body });
        await response.text();
        statuses.push(response.status);
      }
      const listed = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': working, 'MCP-Protocol-Version': '2025-11-25' }, body: { jsonrpc: '2.0', id: 2, method: 'tools/list' } });
      assert.equal(listed.status, 200, `the working session still answers: ${await listed.text()}`);
      assert.deepEqual(statuses, statuses.map(() => status));
    });
  }

  // [what, params, the member named in the -32602, or undefined: a session is opened]
  const paramsCases: Array<[what: string, params: Record<string, unknown>, wrong: string | undefined]> = [
    ['a protocolVersion that is a number', { ...INITIALIZE.params, protocolVersion: 5 }, 'params.protocolVersion'],
    ['no clientInfo', { protocolVersion: '2025-11-25', capabilities: {} }, 'params.clientInfo'],
    ['capabilities that are a string', { ...INITIALIZE.params, capabilities: 'x' }, 'params.capabilities'],
    ['params as the schema wants them', INITIALIZE.params, undefined],
  ];
  for (const [what, params, wrong] of paramsCases) {
    test(`an initialize with ${what}: ${wrong ? `400 -32602 naming ${wrong} under its id, no session` : 'a session'}`, async () => {
      const subject = randomUUID();
      const response = await mcpRequest(server.mcpUrl, { token: await issuer.mint({ claims: { sub: subject } }), body: { ...INITIALIZE, id: 7, params } });
      const text = await response.text();
      if (!wrong) {
        assert.equal(response.status, 200, text);
        assert.ok(response.headers.get('mcp-session-id'));
        assert.equal(await sessionsOf(subject), 1);
        return;
      }
      assert.equal(response.status, 400, text);
      const answer = JSON.parse(text) as { id: unknown; error: { code: number; message: string } };
      assert.equal(answer.id, 7);
      assert.equal(answer.error.code, -32602, text);
      assert.ok(answer.error.message.startsWith(`Invalid params: ${wrong}: `), text);
      assert.equal(response.headers.get('mcp-session-id'), null);
      assert.equal(await sessionsOf(subject), 0);
    });
  }

  test('an initialize with a string id opens a session', async () => {
    const subject = randomUUID();
    const response = await mcpRequest(server.mcpUrl, { token: await issuer.mint({ claims: { sub: subject } }), body: { ...INITIALIZE, id: 'init-1' } });
    assert.equal(response.status, 200, await response.text());
    assert.ok(response.headers.get('mcp-session-id'));
    assert.equal(await sessionsOf(subject), 1);
  });
});
