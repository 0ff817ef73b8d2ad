/**
 * Two calls of one client session made with two tokens of the same user (a client that refreshed,
 * or holds a narrower and a wider token) each reach a forward_identity server with an identity
 * token for their own token's scopes. The HTTP upstream kept one caller per session, the latest,
 * and read it when a request was sent: a call waiting for the upstream session to open, while a
 * call with a wider token came in, was sent with the wider token's identity. The upstream is a
 * real MCP SDK server that holds its `initialize` until both calls are in, and records the
 * Authorization each tools/call came with; the identity token source is a stand-in naming the
 * scopes it was asked for.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { jsonRpcMessageOf, openSession } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { rpc, waitForServers } from './support/gateway-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.ts';
import { httpServer } from './support/upstreams.ts';

describe('concurrent calls of one session with different tokens', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let upstream: RecordingUpstream;
  /** Resolved by the test to let the upstream answer `initialize`; none: it answers at once. */
  let initializeHeld: Promise<void> | undefined;

  before(async () => {
    issuer = await startTestIssuer();
    upstream = await startRecordingUpstream(0, { beforeInitialize: async () => initializeHeld });
    server = await startResourceServer({
      issuer: issuer.issuer,
      identity: { tokenFor: async (_caller, _audience, scopes) => `identity-for-${[...scopes].sort().join('+')}` },
      config: {
        servers: [httpServer('upstream', upstream.url, { forwardIdentity: true, scopes: { default: 'mcp:read', tools: { 'wait-for-cancel': 'mcp:write' } } })],
      },
    });
    await waitForServers(server.baseUrl, { upstream: 'ready' });
  });
  after(async () => {
    await server?.close();
    await upstream?.close();
    await issuer?.close();
  });

  test('each call is sent upstream with the identity of its own token', async () => {
    const sub = randomUUID();
    const narrow = await issuer.mint({ claims: { sub, scope: 'mcp:read' } });
    const wide = await issuer.mint({ claims: { sub, scope: 'mcp:read mcp:write' } });
    const sessionId = await openSession(server.mcpUrl, narrow);
    const echo = (token: string, text: string, id: number) => rpc(server.mcpUrl, token, sessionId, 'tools/call', { name: 'upstream__echo', arguments: { text } }, id);

    let release!: () => void;
    initializeHeld = new Promise((resolve) => release = resolve);
    const initializesBefore = upstream.requests.filter((r) => r.rpcMethods.includes('initialize')).length;
    const narrowCall = echo(narrow, 'narrow', 1);
    await waitFor('the gateway to open its upstream session', () => upstream.requests.filter((r) => r.rpcMethods.includes('initialize')).length > initializesBefore);
    // The answer's head is sent once the call is dispatched: it waits for the same upstream session.
    const wideCall = await echo(wide, 'wide', 2);
    release();
    const answers = await Promise.all([narrowCall.then((r) => r.text()), wideCall.text()]);
    assert.deepEqual(answers.map((body) => jsonRpcMessageOf(body).result?.isError), [undefined, undefined], answers.join('\n'));

    const sentWith = Object.fromEntries(upstream.requests.flatMap((r) => r.messages
      .filter((m) => m.method === 'tools/call')
      .map((m) => [(m.params as { arguments: { text: string } }).arguments.text, r.headers.authorization])));
    assert.deepEqual(sentWith, {
      narrow: 'Bearer identity-for-mcp:read',
      wide: 'Bearer identity-for-mcp:read+mcp:write',
    });
  });
});
