/**
 * `mcp-endpoint`: the MCP URL answers a client's first request, an unauthenticated `initialize`
 * POST exactly as clients send it, with `401` and a `WWW-Authenticate: Bearer` challenge whose
 * `resource_metadata` names the Protected Resource Metadata (MCP 2025-11-25 authorization,
 * RFC 9728 §5.1). Any other answer has a likely cause, and the fix says which.
 *
 * A challenge without `resource_metadata` is a warning: clients then fall back to the well-known
 * URLs, which prm-paths checks.
 */
import { fail, ok, warn, type CheckResult } from './doctor-check.ts';
import { ProbeError, type Probe, type ProbeAnswer } from './http-probe.ts';
import { parseBearerChallenge } from './parse-bearer-challenge.ts';

export interface McpEndpointCheck {
  result: CheckResult;
  /** The absolute `resource_metadata` URL of the challenge, when it has one. */
  resourceMetadataUrl?: string;
  /** The challenge's `scope`: what clients ask for first (MCP 2025-11-25 authorization, Scope Selection Strategy). */
  scope?: string;
  /** The answer, when there was one (its Date header tells the server's clock). */
  answer?: ProbeAnswer;
}

const ID = 'mcp-endpoint';

/** The `initialize` request an MCP client sends first (MCP 2025-11-25 lifecycle). */
export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'gatehouse-doctor', version: '1.0.0' } },
};

/**
 * `mcp-root`: the origin root answers an MCP POST with the same 401 challenge. After sign-in,
 * Claude (web and Desktop) has been seen to send its MCP requests to the connector's origin root
 * instead of the published path (anthropics/claude-ai-mcp#62), and gives up on a 404. A warning:
 * other clients are unaffected. Not run when the MCP URL is the root itself.
 */
export async function checkMcpRoot(probe: Probe, mcpUrl: URL): Promise<CheckResult | undefined> {
  if (mcpUrl.pathname === '/') return undefined;
  const root = `${mcpUrl.origin}/`;
  const { result } = await checkMcpEndpoint(probe, root);
  if (result.status === 'ok') return ok('mcp-root', 'the origin root answers MCP requests too, as Claude sometimes sends them there', result.detail);
  return warn('mcp-root', `the origin root does not answer MCP requests (${result.summary})`, result.detail,
    `After sign-in, claude.ai and Claude Desktop have been seen to send MCP requests to ${root} instead of the MCP path (anthropics/claude-ai-mcp#62) and to give up there. Serve the MCP endpoint at the root too (Gatehouse's resource server does), or route POST / on this host to it.`);
}

export async function checkMcpEndpoint(probe: Probe, mcpUrl: string): Promise<McpEndpointCheck> {
  let answer: ProbeAnswer;
  try {
    answer = await probe(mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(INITIALIZE),
    });
  } catch (err) {
    if (!(err instanceof ProbeError)) throw err;
    const fix = err.code === 'TIMEOUT'
      ? 'The server accepted the connection but did not answer: check that the resource server is running and not stuck, and that a proxy in front forwards to the right port.'
      : 'Check that the resource server is running (npm start, or its container) and that the URL\'s host and port are where it, or its proxy, listens.';
    return { result: fail(ID, 'the MCP URL does not answer', err.message, fix) };
  }
  const seen = `POST ${mcpUrl} (initialize, no token) → ${answer.status}`;
  if (answer.status === 401) return { ...readChallenge(answer, seen), answer };
  return { result: unexpectedStatus(answer, seen), answer };
}

function readChallenge(answer: ProbeAnswer, seen: string): McpEndpointCheck {
  const header = answer.headers.get('www-authenticate');
  const challenge = header ? parseBearerChallenge(header) : undefined;
  if (!header || !challenge) {
    return {
      result: fail(ID, '401 without a Bearer challenge', `${seen}; WWW-Authenticate: ${header ?? '(missing)'}`,
        'The server must answer 401 with "WWW-Authenticate: Bearer resource_metadata=…" (RFC 6750 §3, RFC 9728 §5.1) so clients find where to sign in. If a proxy answers this 401 (its own authentication), let requests to the MCP path through to the resource server.'),
    };
  }
  const metadataUrl = challenge.resource_metadata;
  if (metadataUrl === undefined) {
    return {
      result: warn(ID, '401 Bearer challenge without resource_metadata', `${seen}; WWW-Authenticate: ${header}`,
        'Add resource_metadata="<Protected Resource Metadata URL>" to the challenge (RFC 9728 §5.1); until then clients must guess the well-known URL.'),
      scope: challenge.scope,
    };
  }
  if (!URL.canParse(metadataUrl) || !/^https?:$/.test(new URL(metadataUrl).protocol)) {
    return {
      result: fail(ID, 'the challenge\'s resource_metadata is not an absolute URL', `${seen}; resource_metadata="${metadataUrl}"`,
        'resource_metadata must be the absolute https URL of the Protected Resource Metadata (RFC 9728 §5.1). On Gatehouse it comes from RESOURCE_URL: set it to the URL users paste.'),
    };
  }
  return {
    result: ok(ID, 'the MCP URL asks for sign-in: 401 with a Bearer challenge naming its metadata', `${seen}; resource_metadata="${metadataUrl}"${challenge.scope ? `, scope="${challenge.scope}"` : ''}`),
    resourceMetadataUrl: metadataUrl,
    scope: challenge.scope,
  };
}

function unexpectedStatus(answer: ProbeAnswer, seen: string): CheckResult {
  const { status } = answer;
  if (status >= 200 && status < 300) {
    return fail(ID, `the MCP URL answers ${status} without any token`, seen,
      'This endpoint does not ask for sign-in, so clients never start OAuth. Paste the URL of the protected MCP endpoint (Gatehouse\'s resource server), not the MCP server behind it.');
  }
  if (status >= 300 && status < 400) {
    const location = answer.headers.get('location') ?? '(no Location)';
    return fail(ID, `the MCP URL redirects (${status})`, `${seen} → ${location}`,
      `Clients do not follow redirects when they POST: paste the final URL (${location}) instead, or serve the MCP endpoint at this URL.`);
  }
  if (status === 404) {
    return fail(ID, 'nothing at this path (404)', seen,
      'Wrong path: check the URL\'s path against the resource server\'s (Gatehouse serves the path of RESOURCE_URL, /mcp by default), and that a proxy routes this path to it.');
  }
  if (status === 405) {
    return fail(ID, 'POST is not allowed here (405)', `${seen}; Allow: ${answer.headers.get('allow') ?? '(none)'}`,
      'Streamable HTTP needs POST (and GET, DELETE) on the MCP URL: check that the proxy forwards POST to the resource server, and that this is the MCP endpoint, not a static site.');
  }
  if (status === 403) {
    return fail(ID, 'refused before sign-in (403)', seen,
      'Something refuses the request before any token is asked for: a firewall or WAF rule, or an Origin check. Let POST requests without a token through to the resource server.');
  }
  if (status === 502 || status === 503 || status === 504) {
    return fail(ID, `the server or a proxy in front says the MCP server is unavailable (${status})`, seen,
      'The resource server is down or the proxy cannot reach it: start it, and check the proxy\'s upstream address and port.');
  }
  if (status >= 500) {
    return fail(ID, `server error (${status})`, seen, 'The resource server failed on a plain initialize request: see its log for the error.');
  }
  return fail(ID, `unexpected answer ${status} instead of 401`, seen,
    'An MCP client expects 401 with a WWW-Authenticate: Bearer challenge here. Check that the URL is the MCP endpoint of the resource server.');
}
