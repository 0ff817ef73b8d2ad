/**
 * What the gateway's tests do as an MCP client: connect the real SDK client with a bearer token
 * (and the capabilities a test declares), read tool results, send one raw JSON-RPC request in a
 * session to see the HTTP status and headers the SDK hides, read /readyz, and wait for the
 * servers' states with a bounded poll instead of a fixed sleep.
 */
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { waitFor } from '../../helpers/wait-for.ts';

export type ToolResult = Awaited<ReturnType<Client['callTool']>>;

export interface ConnectOptions {
  capabilities?: ClientCapabilities;
  /** Extra request headers (e.g. a Cookie the gateway must not pass on). */
  headers?: Record<string, string>;
}

export async function connectAs(mcpUrl: string, token: string, { capabilities = {}, headers = {} }: ConnectOptions = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'gatehouse-gateway-test', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${token}`, ...headers } },
  });
  await client.connect(transport);
  return { client, transport };
}

/** The text of a successful tool result (all its text parts, joined). */
export function resultText(result: ToolResult): string {
  const parts = result.content as Array<{ type: string; text?: string }>;
  assert.notEqual(result.isError, true, `the tool failed: ${JSON.stringify(parts)}`);
  return parts.filter((part) => part.type === 'text').map((part) => part.text).join('\n');
}

/** The text of a tool error (isError: true). */
export function errorText(result: ToolResult): string {
  const parts = result.content as Array<{ type: string; text?: string }>;
  assert.equal(result.isError, true, `expected a tool error, got ${JSON.stringify(parts)}`);
  return parts.filter((part) => part.type === 'text').map((part) => part.text).join('\n');
}

/** One JSON-RPC request (id 1 unless given) as the Streamable HTTP transport sends it, in an existing session. */
export function rpc(mcpUrl: string, token: string, sessionId: string | undefined, method: string, params: Record<string, unknown> = {}, id = 1): Promise<Response> {
  return fetch(mcpUrl, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-11-25',
      ...(sessionId ? { 'Mcp-Session-Id': sessionId } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
  });
}

export type ServerState = 'ready' | 'starting' | 'down' | 'idle';

export interface Readiness {
  status: number;
  body: { status: string; servers?: Record<string, { state: ServerState } & Record<string, unknown>> } & Record<string, unknown>;
}

export async function readiness(baseUrl: string): Promise<Readiness> {
  const response = await fetch(`${baseUrl}/readyz`);
  return { status: response.status, body: await response.json() as Readiness['body'] };
}

/** Waits until /readyz reports each named server in one of the given states; returns the last readiness. */
export async function waitForServers(baseUrl: string, expected: Record<string, ServerState | ServerState[]>, timeoutMs = 15_000): Promise<Readiness> {
  let last: Readiness | undefined;
  try {
    return await waitFor('the gateway servers\' states', async () => {
      last = await readiness(baseUrl);
      const servers = last.body.servers ?? {};
      return Object.entries(expected).every(([name, states]) => [states].flat().includes(servers[name]?.state as ServerState)) ? last : undefined;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last /readyz: ${JSON.stringify(last?.body)}`);
  }
}
