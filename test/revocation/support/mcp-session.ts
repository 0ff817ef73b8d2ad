/**
 * An MCP session as a client app holds one: the official SDK client over Streamable HTTP, sending
 * one bearer token on every request, with no auth provider (so the SDK never refreshes behind the
 * test's back and a refusal surfaces as it is). It remembers what the resource server answered to
 * its last POST — status, the RFC 6750 §3 challenge, Retry-After — so a test can tell a
 * revocation's 401 from any other failure.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface Answer {
  status: number;
  /** `error` of the challenge (401, 403) or of the JSON body (503). */
  error?: string;
  /** `error_description`, likewise. */
  description?: string;
  retryAfter?: string;
  /** The tool's structured result when the call succeeded. */
  result?: Record<string, unknown>;
}

function challengeParam(challenge: string, name: string): string | undefined {
  return new RegExp(`${name}="([^"]*)"`).exec(challenge)?.[1];
}

async function describeRefusal(response: Response): Promise<Answer> {
  const challenge = response.headers.get('www-authenticate') ?? '';
  let body: { error?: string; error_description?: string } = {};
  try {
    body = await response.clone().json() as typeof body;
  } catch {
    // Not JSON: the challenge alone says why.
  }
  return {
    status: response.status,
    error: challengeParam(challenge, 'error') ?? body.error,
    description: challengeParam(challenge, 'error_description') ?? body.error_description,
    ...(response.headers.has('retry-after') ? { retryAfter: response.headers.get('retry-after')! } : {}),
  };
}

export class McpSession {
  readonly client = new Client({ name: 'gatehouse-revocation-test', version: '1.0.0' });
  readonly transport: StreamableHTTPClientTransport;
  #last?: Answer;

  private constructor(mcpUrl: string, readonly token: string) {
    const recordingFetch = async (url: string | URL, init?: RequestInit): Promise<Response> => {
      const response = await fetch(url, init);
      if (init?.method === 'POST') this.#last = response.ok ? { status: response.status } : await describeRefusal(response);
      return response;
    };
    this.transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: recordingFetch,
    });
  }

  /** Initializes a session with `token`; resolves with it, or with the refusal of `initialize`. */
  static async open(mcpUrl: string, token: string): Promise<McpSession | Answer> {
    const session = new McpSession(mcpUrl, token);
    try {
      await session.client.connect(session.transport);
      return session;
    } catch (err) {
      const refusal = session.#refusal(err);
      await session.client.close();
      return refusal;
    }
  }

  /** Like `open`, for a session the test needs: a refusal fails the test. */
  static async require(mcpUrl: string, token: string): Promise<McpSession> {
    const opened = await McpSession.open(mcpUrl, token);
    if (!(opened instanceof McpSession)) throw new Error(`could not open an MCP session: ${JSON.stringify(opened)}`);
    return opened;
  }

  /** Opens a new session with `token` and ends it at once: 200 when it opened, else the refusal. */
  static async probe(mcpUrl: string, token: string): Promise<Answer> {
    const opened = await McpSession.open(mcpUrl, token);
    if (!(opened instanceof McpSession)) return opened;
    await opened.close();
    return { status: 200 };
  }

  /** tools/call on this session; 200 with the structured result, or the HTTP refusal. */
  async call(name = 'whoami', args: Record<string, unknown> = {}): Promise<Answer> {
    try {
      const result = await this.client.callTool({ name, arguments: args });
      if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
      return { status: 200, result: result.structuredContent as Record<string, unknown> };
    } catch (err) {
      return this.#refusal(err);
    }
  }

  /** Ends the session at the server (DELETE), so it does not count against the user's sessions. */
  async close(): Promise<void> {
    await this.transport.terminateSession().catch(() => {});
    await this.client.close();
  }

  #refusal(err: unknown): Answer {
    if (err instanceof StreamableHTTPError && this.#last && this.#last.status === err.code) return this.#last;
    throw err;
  }
}
