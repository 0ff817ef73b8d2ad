/**
 * Raw HTTP helpers for the MCP endpoint, for the checks the SDK client hides (status codes,
 * headers): a JSON-RPC POST as the Streamable HTTP transport sends it, and a parser for
 * `WWW-Authenticate: Bearer …` challenges.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'gatehouse-test', version: '1.0.0' } },
};

export interface McpPostOptions {
  token?: string;
  headers?: Record<string, string>;
  body?: unknown;
  method?: string;
}

/** Sends one request to the MCP endpoint with the headers a Streamable HTTP client sends. */
export function mcpRequest(url: string, { token, headers = {}, body, method = 'POST' }: McpPostOptions = {}): Promise<Response> {
  const init: RequestInit = {
    method,
    headers: {
      Accept: method === 'GET' ? 'text/event-stream' : 'application/json, text/event-stream',
      ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
  };
  if (method === 'POST') init.body = typeof body === 'string' ? body : JSON.stringify(body ?? INITIALIZE);
  return fetch(url, init);
}

/** Initializes an MCP session with `token`; returns its Mcp-Session-Id. */
export async function openSession(url: string, token: string): Promise<string> {
  const initialized = await mcpRequest(url, { token });
  await initialized.text();
  const sessionId = initialized.headers.get('mcp-session-id');
  if (!sessionId) throw new Error(`initialize opened no session: ${initialized.status}`);
  return sessionId;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const SCHEME = new RegExp(`^(${TOKEN})(?: +|$)`);
const AUTH_PARAM = new RegExp(`^(${TOKEN})[ \\t]*=[ \\t]*(?:(${TOKEN})|"((?:[^"\\\\]|\\\\.)*)")[ \\t]*(?:,[ \\t]*|$)`);

/**
 * Every auth-param of one challenge, in order, read strictly as RFC 9110 §11.6.1 defines them
 * (`token BWS "=" BWS ( token / quoted-string )`, comma-separated), so a `name="…"` written
 * inside a quoted value stays part of that value. Repeated names are kept, and anything that is
 * not an auth-param throws, so a broken header cannot pass.
 */
export function challengeParams(header: string | null): Array<[name: string, value: string]> {
  return readChallenge(header).params;
}

/** One `WWW-Authenticate` challenge, its parameters by name; a name given twice throws. */
export function parseChallenge(header: string | null): Challenge {
  const { scheme, params } = readChallenge(header);
  const byName: Record<string, string> = {};
  for (const [name, value] of params) {
    if (Object.hasOwn(byName, name)) throw new Error(`${name} twice in ${JSON.stringify(header)}`);
    byName[name] = value;
  }
  return { scheme, params: byName };
}

function readChallenge(header: string | null): { scheme: string; params: Array<[string, string]> } {
  if (!header) throw new Error('no WWW-Authenticate header');
  const scheme = SCHEME.exec(header);
  if (!scheme) throw new Error(`no auth-scheme in ${JSON.stringify(header)}`);
  const params: Array<[string, string]> = [];
  let rest = header.slice(scheme[0].length);
  while (rest !== '') {
    const param = AUTH_PARAM.exec(rest);
    if (!param) throw new Error(`not an auth-param at ${JSON.stringify(rest)} in ${JSON.stringify(header)}`);
    params.push([param[1]!.toLowerCase(), param[2] ?? param[3]!.replace(/\\(.)/g, '$1')]);
    rest = rest.slice(param[0].length);
  }
  return { scheme: scheme[1]!, params };
}

/** A real MCP SDK client connected with a static bearer token (no OAuth provider). */
export async function connectClient(mcpUrl: string, token: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'gatehouse-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

/**
 * The JSON-RPC message of a POST's answer, whether sent as `application/json` or as the one
 * `message` event of a `text/event-stream` (MCP 2025-11-25 transports §Sending Messages).
 */
export function jsonRpcMessageOf(body: string): { result?: Record<string, unknown>; error?: { code: number; message: string }; [field: string]: unknown } {
  if (body.trimStart().startsWith('{')) return JSON.parse(body);
  const data = body.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice('data:'.length).trim());
  if (data.length === 0) throw new Error(`no JSON-RPC message in ${JSON.stringify(body.slice(0, 200))}`);
  return JSON.parse(data.at(-1)!);
}
