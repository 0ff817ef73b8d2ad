/**
 * Rebuilds, on a fresh transport and MCP server, the state a client's `initialize` left on the
 * replica that opened its session: the transport takes the session id and counts as initialized,
 * and the server learns the client's capabilities, clientInfo and protocol version, exactly as if
 * the client had initialized here. It does so by replaying the stored `initialize` request and
 * `notifications/initialized` through the transport's own request handling (whose answers are
 * read and dropped), so no SDK state is written by hand.
 *
 * Why the private field: MCP SDK 1.32's Node transport (StreamableHTTPServerTransport) takes only
 * Node requests, and has no public way to adopt an existing session id (typescript-sdk#1658,
 * #1882). The Web-standard transport it wraps does take a `Request`; it is reached through the
 * wrapper's `_webStandardTransport` and checked with `instanceof`, so an SDK that moves it fails
 * here loudly (the session then answers 404 and the client starts a new one), not silently.
 */
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { McpSessionRecord } from '../storage/mcp-session-store.ts';

/** Only its path is read (for the request info handlers may see); nothing is fetched. */
const REPLAY_URL = 'http://gatehouse.invalid/mcp';
const HEADERS = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };

export async function replayInitialize(transport: StreamableHTTPServerTransport, session: McpSessionRecord): Promise<void> {
  const inner = (transport as unknown as { _webStandardTransport?: unknown })._webStandardTransport;
  if (!(inner instanceof WebStandardStreamableHTTPServerTransport)) {
    throw new Error('this MCP SDK keeps no Web-standard transport inside its Node transport: sessions cannot move between replicas');
  }
  const initialize = await inner.handleRequest(new Request(REPLAY_URL, { method: 'POST', headers: HEADERS }), {
    parsedBody: { jsonrpc: '2.0', id: 'gatehouse-replayed-initialize', method: 'initialize', params: session.initializeParams },
  });
  // The answer's event stream ends once the initialize result is in it.
  const answer = await initialize.text();
  if (initialize.status !== 200 || inner.sessionId !== session.id || !answer.includes('"result"')) {
    throw new Error(`replaying initialize failed with status ${initialize.status}`);
  }
  const initialized = await inner.handleRequest(new Request(REPLAY_URL, {
    method: 'POST',
    headers: { ...HEADERS, 'mcp-session-id': session.id, 'mcp-protocol-version': session.protocolVersion },
  }), { parsedBody: { jsonrpc: '2.0', method: 'notifications/initialized' } });
  if (initialized.status !== 202) throw new Error(`replaying notifications/initialized failed with status ${initialized.status}`);
}
