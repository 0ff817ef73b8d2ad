/**
 * Two calls of one client session made with two tokens of the same user (a client that refreshed,
 * or holds a narrower and a wider token) each reach a forward_identity server with an identity
 * token for their own token's scopes. The HTTP upstream kept one caller per session, the latest,
 * and read it when a request was sent: a call waiting for the upstream session to open, while a
 * call with a wider token came in, was sent with the wider token's identity. The upstream is a
 * real MCP SDK server that holds its `initialize` until both calls are in, and records the
 * Authorization each tools/call came with; the identity token source is a stand-in naming the
 * scopes it was asked for.
 *
 * Our answer to the server's own request (a client's reply to an elicitation) carries the identity
 * of the call the request was relayed for, also when it is sent after that call ended: it was
 * sent with whatever the call's context gave then, which is switched off while no call is being
 * sent, so it carried the session's latest token, or the call's when another user's call happened
 * to be in flight. The upstream there is a scripted one (a server that elicits and answers its call
 * without waiting for the reply); the identity token source names the caller token's jti.
 *
 * An answer given once that call's token has expired is not sent at all, not even in the name of
 * the session's newer token: no identity token can be had for an expired one (the auth-server
 * refuses the exchange; the stand-in there refuses it the same way), and the answer belongs to
 * that call. The failure is logged at warn.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { jsonRpcMessageOf, openSession } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, resultText, rpc, waitForServers } from './support/gateway-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';
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

describe('an answer to a server\'s request, sent after the call it came during ended', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  /** The Authorization of each answer the upstream got to its own requests. */
  const answers: string[] = [];
  /** The `hold` calls, unanswered until the test ends them. */
  const held: Array<{ res: ServerResponse; id: unknown }> = [];
  const upstream = scriptedHttpUpstream(({ what, message, res, answer }) => {
    const params = message.params as { protocolVersion?: string; name?: string } | undefined;
    switch (what) {
      case 'initialize':
        return answer({ result: { protocolVersion: params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'asking', version: '1' } } }, { 'mcp-session-id': randomUUID() });
      case 'tools/list':
        return answer({ result: { tools: [{ name: 'ask', inputSchema: { type: 'object' } }, { name: 'hold', inputSchema: { type: 'object' } }] } });
      case 'tools/call':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        if (params?.name === 'hold') return void held.push({ res, id: message.id });
        // An elicitation, and the call's answer right behind it: a server that does not wait for the reply.
        return void res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: `elicit-${message.id}`, method: 'elicitation/create', params: { message: 'Go on?', requestedSchema: { type: 'object', properties: {} } } })}\n\n`
          + `data: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'asked' }] } })}\n\n`);
      case 'a response':
        answers.push(String(res.req.headers.authorization));
        return void res.writeHead(202).end();
      case 'GET':
        return void res.writeHead(405).end();
      default:
        return void res.writeHead(202).end();
    }
  });

  before(async () => {
    issuer = await startTestIssuer();
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    server = await startResourceServer({
      issuer: issuer.issuer,
      identity: { tokenFor: async (caller) => `identity-for-${caller.extra.tokenId}` },
      config: { servers: [httpServer('asking', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`, { forwardIdentity: true })] },
    });
    await waitForServers(server.baseUrl, { asking: 'ready' });
  });
  after(async () => {
    await server?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await issuer?.close();
  });

  for (const otherCallInFlight of [false, true]) {
    test(`carries the identity of that call${otherCallInFlight ? ', while another user\'s call is in flight' : ''}`, async () => {
      const sub = randomUUID();
      const [first, later] = [`first-${randomUUID()}`, `later-${randomUUID()}`];
      const { client, transport } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub, jti: first } }), { capabilities: { elicitation: {} } });
      const laterToken = await issuer.mint({ claims: { sub, jti: later } });
      let callAnswered!: () => void;
      const answered = new Promise<void>((resolve) => callAnswered = resolve);
      client.setRequestHandler(ElicitRequestSchema, async () => {
        await answered;
        // The session's latest token is now another one: a request made with it, answered.
        await (await rpc(server.mcpUrl, laterToken, transport.sessionId, 'tools/list', {}, 99)).text();
        return { action: 'decline' };
      });
      const other = otherCallInFlight ? await connectAs(server.mcpUrl, await issuer.mint()) : undefined;
      try {
        if (other) {
          void other.client.callTool({ name: 'asking__hold', arguments: {} }).catch(() => { /* ended with the test */ });
          await waitFor('the other user\'s call at the server', () => held.length > 0);
        }
        assert.equal(resultText(await client.callTool({ name: 'asking__ask', arguments: {} })), 'asked');
        callAnswered();
        await waitFor('the answer to the elicitation at the server', () => answers.length > 0);
        assert.deepEqual(answers.splice(0), [`Bearer identity-for-${first}`]);
      } finally {
        for (const { res, id } of held.splice(0)) res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id, result: { content: [] } })}\n\n`);
        await client.close();
        await other?.client.close();
      }
    });
  }
});

describe('an answer to a server\'s request given after the token of its call expired', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  // Tokens expire on it: the test moves it past one's exp instead of waiting.
  const clock = new TestClock();
  const answers: string[] = [];
  const warnings: string[] = [];
  const logs = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { level: number; error?: string };
        if (entry.level === 40 && entry.error) warnings.push(entry.error);
      }
      done();
    },
  });
  const upstream = scriptedHttpUpstream(({ what, message, res, answer }) => {
    const params = message.params as { protocolVersion?: string } | undefined;
    switch (what) {
      case 'initialize':
        return answer({ result: { protocolVersion: params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'asking', version: '1' } } }, { 'mcp-session-id': randomUUID() });
      case 'tools/list':
        return answer({ result: { tools: [{ name: 'ask', inputSchema: { type: 'object' } }] } });
      case 'tools/call':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return void res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: `elicit-${message.id}`, method: 'elicitation/create', params: { message: 'Go on?', requestedSchema: { type: 'object', properties: {} } } })}\n\n`
          + `data: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'asked' }] } })}\n\n`);
      case 'a response':
        answers.push(String(res.req.headers.authorization));
        return void res.writeHead(202).end();
      case 'GET':
        return void res.writeHead(405).end();
      default:
        return void res.writeHead(202).end();
    }
  });

  before(async () => {
    issuer = await startTestIssuer();
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    server = await startResourceServer({
      issuer: issuer.issuer,
      clock,
      logger: createLogger('resource-server', 'warn', logs),
      identity: {
        // As the auth-server's exchange: an expired subject token is invalid_grant.
        tokenFor: async (caller) => {
          if (caller.expiresAt <= clock.epochSeconds()) throw new Error('the auth-server refused: invalid_grant: subject_token has expired');
          return `identity-for-${caller.extra.tokenId}`;
        },
      },
      config: { servers: [httpServer('asking', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`, { forwardIdentity: true })] },
    });
    await waitForServers(server.baseUrl, { asking: 'ready' });
  });
  after(async () => {
    await server?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await issuer?.close();
  });

  test('is not sent, not even in the name of the session\'s newer token, and the failure is logged', async () => {
    const sub = randomUUID();
    const issued = clock.epochSeconds();
    const first = await issuer.mint({ claims: { sub, iat: issued, exp: issued + 120 } });
    // The client's transport reads it for each request: the answer goes with the newer token.
    const headers: Record<string, string> = { Authorization: `Bearer ${first}` };
    const client = new Client({ name: 'gatehouse-gateway-test', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers } });
    await client.connect(transport);
    let callAnswered!: () => void;
    const answered = new Promise<void>((resolve) => callAnswered = resolve);
    client.setRequestHandler(ElicitRequestSchema, async () => {
      await answered;
      clock.advance(130);
      const newer = await issuer.mint({ claims: { sub, jti: `newer-${randomUUID()}`, iat: clock.epochSeconds(), exp: clock.epochSeconds() + 600 } });
      headers.Authorization = `Bearer ${newer}`;
      // The session's latest token is now the newer one, which the server could be sent. (Until
      // the revocation feed is read again after the clock moved, every token is refused.)
      await waitFor('a tools/list with the newer token', async () => (await rpc(server.mcpUrl, newer, transport.sessionId, 'tools/list', {}, 99)).status === 200);
      return { action: 'decline' };
    });
    try {
      assert.equal(resultText(await client.callTool({ name: 'asking__ask', arguments: {} })), 'asked');
      callAnswered();
      const notSent = () => warnings.some((error) => /Failed to send response: .*subject_token has expired/.test(error));
      await waitFor('the answer at the server, or the warn line saying it was not sent', () => answers.length > 0 || notSent());
      assert.deepEqual(answers, [], 'the Authorization of an answer the server got');
    } finally {
      await client.close();
    }
  });
});
