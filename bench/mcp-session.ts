/**
 * What the MCP benchmarks share on the client side: a session opened by the real MCP SDK client,
 * then calls sent as its transport sends them (POST, session id, protocol version, bearer token)
 * by plain fetch, so one client process is not the bottleneck that hides what the servers cost;
 * and the statistics they print.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** What a benchmark's server process prints when it is ready. */
export interface Started {
  mcpUrl: string;
  token?: string;
}

/**
 * The SDK client passes one AbortSignal to every fetch; undici adds a listener to it per request
 * and drops it only when the request is garbage-collected, so many back-to-back calls pile up
 * listeners on the client side. The benchmarks measure the servers, so they fetch without it.
 */
const fetchWithoutSharedSignal: typeof fetch = (input, init) => fetch(input, { ...init, signal: undefined });

export interface McpSession {
  client: Client;
  /** POSTs one JSON-RPC message in the session, with the headers the SDK transport sends. */
  post(message: unknown): Promise<Response>;
}

export async function openMcpSession({ mcpUrl, token }: Started, clientName: string): Promise<McpSession> {
  const client = new Client({ name: clientName, version: '1.0.0' });
  const auth: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: auth }, fetch: fetchWithoutSharedSignal });
  await client.connect(transport);
  const headers = {
    ...auth,
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'Mcp-Session-Id': transport.sessionId!,
    'Mcp-Protocol-Version': transport.protocolVersion!,
  };
  return {
    client,
    post: (message) => fetch(mcpUrl, { method: 'POST', headers, body: JSON.stringify(message) }),
  };
}

/** The value below which `fraction` of `values` lie (nearest rank). */
export function quantile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

export const median = (values: number[]) => quantile(values, 0.5);
