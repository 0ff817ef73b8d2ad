/**
 * What travels between the calling client and a server during a call (issue 12, behaviour 5):
 * progress notifications reach the caller; cancelling the call reaches the server; a server's
 * sampling request is relayed to a caller that declared `sampling` and answered by it, and
 * refused with an error for a caller that did not; logging notifications reach the caller, from
 * the level it set with logging/setLevel up, and an unknown level is -32602 Invalid params.
 * Over stdio (server-everything, the scripted server) and Streamable HTTP (server-everything in
 * its HTTP mode).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, EmptyResultSchema, ErrorCode, LoggingMessageNotificationSchema, McpError, type CreateMessageRequest, type ElicitRequest, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, resultText, waitForServers, type ConnectOptions } from './support/gateway-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startEverythingHttp, type RunningHttpUpstream } from './support/start-everything-http.ts';
import { EVERYTHING, httpServer, SCRIPTED, stdioServer } from './support/upstreams.ts';

/** What a refused call says: a tool error's content, or the JSON-RPC error's message. */
function refusalOf(call: ReturnType<Client['callTool']>): Promise<string> {
  return call.then(
    (result) => {
      assert.equal(result.isError, true, `expected an error, got ${JSON.stringify(result.content)}`);
      return JSON.stringify(result.content);
    },
    (err: unknown) => {
      assert.ok(err instanceof McpError, String(err));
      return err.message;
    },
  );
}

describe('progress, cancellation, sampling and logging through the gateway', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let everythingHttp: RunningHttpUpstream;
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    everythingHttp = await startEverythingHttp();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          stdioServer('everything', EVERYTHING, ['stdio'], { scopes: { default: 'mcp:read', tools: {} } }),
          httpServer('remote', everythingHttp.url),
          stdioServer('scripted', SCRIPTED),
        ],
      },
    });
    await waitForServers(server.baseUrl, { everything: 'ready', remote: 'ready', scripted: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await everythingHttp?.close();
    await issuer?.close();
  });

  async function connect(options: ConnectOptions = {}): Promise<Client> {
    const { client } = await connectAs(server.mcpUrl, await issuer.mint(), options);
    clients.push(client);
    return client;
  }

  for (const name of ['everything', 'remote']) {
    test(`progress notifications of a long-running call on ${name} reach the caller`, { timeout: 15_000 }, async () => {
      const client = await connect();
      const progress: Progress[] = [];
      const result = await client.callTool(
        { name: `${name}__trigger-long-running-operation`, arguments: { duration: 1, steps: 4 } },
        undefined,
        { onprogress: (update) => void progress.push(update) },
      );
      assert.match(resultText(result), /Long running operation completed/);
      assert.deepEqual(progress.map((p) => [p.progress, p.total]), [[1, 4], [2, 4], [3, 4], [4, 4]]);
    });
  }

  test('cancelling a call reaches the server, and the gateway carries on', { timeout: 15_000 }, async () => {
    const client = await connect();
    const count = async () => ((await client.callTool({ name: 'scripted__cancellations', arguments: {} })).structuredContent as { cancelled: number }).cancelled;
    const before = await count();
    const controller = new AbortController();
    const call = client.callTool({ name: 'scripted__wait-for-cancel', arguments: {} }, undefined, {
      signal: controller.signal,
      // The server says it has started: cancel now, while it runs.
      onprogress: () => controller.abort('the user pressed stop'),
    });
    await assert.rejects(call);
    await waitFor('the server to see the cancellation', async () => (await count()) === before + 1, 5000);
    assert.equal(resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'next' } })), 'Echo: next');
  });

  test('a call still running when its user is disabled ends with an error at once, cancelled at the server; another user carries on', { timeout: 15_000 }, async () => {
    const sub = randomUUID();
    const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub } }));
    clients.push(client);
    const other = await connect();
    const count = async () => ((await other.callTool({ name: 'scripted__cancellations', arguments: {} })).structuredContent as { cancelled: number }).cancelled;
    const before = await count();
    // The server says it has started: the user is disabled while it runs.
    const call = client.callTool({ name: 'scripted__wait-for-cancel', arguments: {} }, undefined, { onprogress: () => issuer.revoke('sub', sub) });
    const startedAt = performance.now();
    await assert.rejects(call, (err: unknown) => {
      assert.ok(err instanceof McpError, String(err));
      assert.equal(err.code, ErrorCode.ConnectionClosed);
      assert.match(err.message, /no longer accepted/);
      return true;
    });
    // Ended by the server at its next check of the token (every 0.2 s here), not by the client's own 60 s timeout.
    assert.ok(performance.now() - startedAt < 10_000);
    await waitFor('the server to see the cancellation', async () => (await count()) === before + 1, 5000);
    await assert.rejects(client.callTool({ name: 'everything__echo', arguments: { message: 'again' } }), /invalid_token.*has been revoked/);
    assert.equal(resultText(await other.callTool({ name: 'everything__echo', arguments: { message: 'next' } })), 'Echo: next');
  });

  test('a request without a session (2026-07-28) still running when its user is disabled ends with an error at once, cancelled at the server', { timeout: 15_000 }, async () => {
    const sub = randomUUID();
    const token = await issuer.mint({ claims: { sub } });
    const other = await connect();
    const count = async () => ((await other.callTool({ name: 'scripted__cancellations', arguments: {} })).structuredContent as { cancelled: number }).cancelled;
    const before = await count();
    const response = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${token}`,
        'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': 'scripted__wait-for-cancel',
      },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 7, method: 'tools/call',
        params: {
          name: 'scripted__wait-for-cancel', arguments: {},
          _meta: {
            progressToken: 'p1',
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'stateless-client', version: '1.0.0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    // The server says it has started (a progress event): the user is disabled while it runs.
    let text = '';
    const decoder = new TextDecoder();
    const reader = response.body!.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      text += decoder.decode(read.value, { stream: true });
      if (text.includes('notifications/progress') && !text.includes('"revoked"')) {
        issuer.revoke('sub', sub);
        text += '"revoked"';
      }
    }
    const last = JSON.parse(text.trim().split('\n').filter((line) => line.startsWith('data: ')).at(-1)!.slice(6)) as { id: number; error?: { code: number; message: string } };
    assert.equal(last.id, 7);
    assert.equal(last.error?.code, ErrorCode.ConnectionClosed);
    assert.match(last.error?.message ?? '', /no longer accepted/);
    await waitFor('the server to see the cancellation', async () => (await count()) === before + 1, 5000);
  });

  test('a server flooding one call with log messages has at most 8 MiB of them relayed, and the call still answers', { timeout: 30_000 }, async () => {
    const client = await connect();
    let relayed = 0;
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      relayed += String(notification.params.data).length;
    });
    // 6,000 messages of 2,000 characters: 12 MB.
    assert.equal(resultText(await client.callTool({ name: 'scripted__log-flood', arguments: { count: 6000, size: 2000 } })), 'sent 6000');
    assert.ok(relayed > 7 * 1024 * 1024 && relayed <= 8 * 1024 * 1024, `${relayed} characters relayed`);
    // The next call's messages are relayed again: the bound is per call.
    let next = 0;
    client.setNotificationHandler(LoggingMessageNotificationSchema, () => void (next += 1));
    await client.callTool({ name: 'scripted__log-flood', arguments: { count: 10, size: 10 } });
    await waitFor('the next call\'s messages', () => next === 10, 5000);
  });

  test('a sampling request from a server reaches a caller that declared sampling, and its answer goes back', { timeout: 15_000 }, async () => {
    const client = await connect({ capabilities: { sampling: {} } });
    const asked: CreateMessageRequest['params'][] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      asked.push(request.params);
      return { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'a sampled answer' } };
    });
    const result = await client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'say something', maxTokens: 20 } });
    assert.match(resultText(result), /a sampled answer/);
    assert.match(resultText(result), /test-model/);
    assert.equal(asked.length, 1);
    assert.match(JSON.stringify(asked[0]!.messages), /say something/);
    assert.equal(asked[0]!.maxTokens, 20);
  });

  test('an elicitation request from a server reaches a caller that declared elicitation, and its answer goes back', { timeout: 15_000 }, async () => {
    const client = await connect({ capabilities: { elicitation: {} } });
    const asked: ElicitRequest['params'][] = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params);
      return { action: 'decline' };
    });
    const result = await client.callTool({ name: 'everything__trigger-elicitation-request', arguments: {} });
    assert.match(resultText(result), /declined to provide/);
    assert.equal(asked.length, 1);
    assert.match(String(asked[0]!.message), /provide inputs/);
  });

  test('an elicitation request for a caller that did not declare elicitation is refused with an error', { timeout: 15_000 }, async () => {
    const client = await connect();
    const outcome = await refusalOf(client.callTool({ name: 'everything__trigger-elicitation-request', arguments: {} }));
    assert.match(outcome, /does not support elicitation/);
  });

  test('a sampling request for a caller that did not declare sampling is refused with an error', { timeout: 15_000 }, async () => {
    const client = await connect();
    const started = Date.now();
    const outcome = await refusalOf(client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'say something' } }));
    assert.match(outcome, /does not support sampling/);
    assert.ok(Date.now() - started < 10_000, 'refused, not left to time out');
  });

  // The upstream's SDK client adds `MCP error <code>: ` to the message of the error it is answered
  // with, and server-everything's tools report that message as their result. A review read the
  // prefix twice for the gateway's own refusal and three times for a caller's refusal, relayed.
  const refusals: Array<[what: string, tool: string, capabilities: ConnectOptions['capabilities'], text: string]> = [
    ['a sampling request for a caller that did not declare sampling', 'trigger-sampling-request', {}, 'MCP error -32600: The calling client does not support sampling'],
    ['a sampling request the caller refuses', 'trigger-sampling-request', { sampling: {} }, 'MCP error -1: User rejected it'],
    ['an elicitation request for a caller that did not declare elicitation', 'trigger-elicitation-request', {}, 'MCP error -32600: The calling client does not support elicitation'],
    ['an elicitation request the caller refuses', 'trigger-elicitation-request', { elicitation: {} }, 'MCP error -1: User rejected it'],
  ];
  for (const [what, tool, capabilities, text] of refusals) {
    test(`${what}: the server reads the error's code once`, { timeout: 15_000 }, async () => {
      const client = await connect({ capabilities });
      const refuse = async (): Promise<never> => {
        throw new McpError(-1, 'User rejected it');
      };
      if (capabilities?.sampling) client.setRequestHandler(CreateMessageRequestSchema, refuse);
      if (capabilities?.elicitation) client.setRequestHandler(ElicitRequestSchema, refuse);
      const args = tool === 'trigger-sampling-request' ? { prompt: 'say something' } : {};
      const outcome = await refusalOf(client.callTool({ name: `everything__${tool}`, arguments: args }));
      assert.equal(outcome, JSON.stringify([{ type: 'text', text }]));
    });
  }

  test('a server\'s log messages reach the caller from the level it set up, and no lower', { timeout: 15_000 }, async () => {
    const client = await connect();
    const levels: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => void levels.push(notification.params.level));
    assert.equal(resultText(await client.callTool({ name: 'scripted__log-levels', arguments: {} })), 'sent');
    assert.deepEqual(levels, ['debug', 'info', 'warning', 'error'], 'every level before any setLevel');
    levels.length = 0;
    await client.setLoggingLevel('warning');
    await client.callTool({ name: 'scripted__log-levels', arguments: {} });
    assert.deepEqual(levels, ['warning', 'error']);
  });

  test('logging/setLevel with a level MCP does not name is -32602 Invalid params, not an internal error', async () => {
    const client = await connect();
    await assert.rejects(client.request({ method: 'logging/setLevel', params: { level: 'loud' as never } }, EmptyResultSchema), (err: unknown) => {
      assert.ok(err instanceof McpError, String(err));
      assert.equal(err.code, ErrorCode.InvalidParams, err.message);
      assert.match(err.message, /params\.level/);
      return true;
    });
  });

  test('logging notifications from a server reach the caller', { timeout: 15_000 }, async () => {
    const client = await connect();
    const messages: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => void messages.push(notification.params.data));
    resultText(await client.callTool({ name: 'remote__toggle-simulated-logging', arguments: {} }));
    try {
      // server-everything sends the first one at once, then one every 5 s.
      await waitFor('a logging notification', () => messages.length > 0, 7000);
      assert.match(String(messages[0]), /message/i);
      await waitFor('a second logging notification, sent between calls', () => messages.length > 1, 7000);
    } finally {
      await client.callTool({ name: 'remote__toggle-simulated-logging', arguments: {} });
    }
  });
});
