/**
 * The resource server's request listener: requests for the MCP endpoint go to its plain handler
 * (serve-mcp-endpoint.ts), every other request to the Koa app (metadata, health, the gateway's
 * server list, 404s).
 *
 * For the MCP path it does what the Koa app's outer middleware did, with the same answers:
 * - observeRequest: request id, one log line, latency (observe-request.ts).
 * - A malformed `Host`, or more than one: 400 `invalid_request` with `Connection: close` (RFC 9112
 *   §3.2, as rejectMalformedHost without a trusted proxy).
 * - A method the endpoint does not serve: 405 with `Allow` (RFC 9110 §15.5.6: the methods the
 *   resource supports), before authentication as the router answered it. An OPTIONS, plain or a
 *   preflight (answered by guard-origin.ts), gets the same `Allow` (RFC 9110 §9.3.7). HEAD is not
 *   among them: a GET here opens the session's event stream (MCP transports §Listening for
 *   Messages), which a HEAD cannot answer without content, and the SDK's transport answers
 *   anything but GET, POST and DELETE 405 anyway. So GET does not imply HEAD here, unlike
 *   answerMethodNotAllowed's routes. At the origin root it does: HEAD and a browser's GET there
 *   are the page's, so an OPTIONS at `/` names HEAD too, as the Koa app's 405 there does.
 * - Errors, as handleErrors: a client that went away or sent malformed HTTP is logged at info and
 *   answered 400 if anyone is still listening; the database unreachable is 503
 *   `temporarily_unavailable` (answer-database-unavailable.ts); anything else is logged at error
 *   and answered `500 server_error`, never with its message.
 *
 * The path is matched as the router matched its route: case-insensitively, one trailing slash
 * allowed, query ignored.
 *
 * The origin root (`/`) is the MCP endpoint too, for MCP requests only (serve-at-root.ts says
 * which, and which client reports it answers): Claude sends them there after authorization. Same
 * chain, so the same token check and audience (the configured resource) and the same 401
 * challenge. It is tested after the MCP path, so `/mcp` pays nothing for it. A browser opening
 * `/` gets a short page naming the MCP URL instead (the Koa app's).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { isClientConnectionError } from '../../../shared/is-client-connection-error.ts';
import type { Logger } from '../../../shared/logger.ts';
import { HOST_REFUSALS, isValidHost, repeatsHost } from '../../../shared/reject-malformed-host.ts';
import { DatabaseUnavailableError } from '../../../shared/storage/database-unavailable-error.ts';
import { answerDatabaseUnavailable } from './answer-database-unavailable.ts';
import { answerJson } from './answer-json.ts';
import type { ObserveRequest } from './observe-request.ts';
import type { McpEndpoint } from './serve-mcp-endpoint.ts';
import { isMcpRequestAtRoot } from './serve-at-root.ts';

export interface McpRequestListenerOptions {
  /** The MCP endpoint's path, e.g. `/mcp`. */
  mcpPath: string;
  endpoint: McpEndpoint;
  /** Every other request (the Koa app's callback). */
  otherwise: RequestListener;
  observe: ObserveRequest;
  logger: Logger;
}

/** The Streamable HTTP transport's methods (MCP transports §Streamable HTTP), OPTIONS for CORS preflights. */
const SERVED_METHODS = new Set(['GET', 'POST', 'DELETE', 'OPTIONS']);
const ALLOW = [...SERVED_METHODS].join(', ');
/** What `/` serves: the endpoint's methods and the page's HEAD (serve-at-root.ts). */
const ALLOW_AT_ROOT = `HEAD, ${ALLOW}`;

export function mcpRequestListener({ mcpPath, endpoint, otherwise, observe, logger }: McpRequestListenerOptions): RequestListener {
  const path = mcpPath.toLowerCase();
  const isMcpPath = (pathname: string) => {
    const lower = pathname.toLowerCase();
    return lower === path || lower === `${path}/`;
  };

  // The last Host found valid: clients send the same one on every request, and the check (a
  // pattern and a URL parse) was about 1 % of a tool call's CPU. Only a valid value is remembered.
  let validHost = '';

  async function serve(req: IncomingMessage, res: ServerResponse, pathname: string, route: string, allow: string): Promise<void> {
    const method = req.method ?? '';
    const served = SERVED_METHODS.has(method);
    // The router counted a method it had no route for under no template.
    const requestId = observe(req, res, pathname, served ? route : '(other)');
    const host = req.headers.host;
    if (repeatsHost(req.rawHeaders)) {
      res.setHeader('Connection', 'close');
      return answerJson(res, 400, { error: 'invalid_request', error_description: HOST_REFUSALS.repeated });
    }
    if (host && host !== validHost) {
      if (!isValidHost(host)) {
        res.setHeader('Connection', 'close');
        return answerJson(res, 400, { error: 'invalid_request', error_description: HOST_REFUSALS.malformed });
      }
      validHost = host;
    }
    if (!served) {
      res.setHeader('Allow', allow);
      return answerJson(res, 405, { error: 'invalid_request', error_description: `${method} is not allowed here` });
    }
    if (method === 'OPTIONS') res.setHeader('Allow', allow);
    try {
      await endpoint(req, res);
    } catch (err) {
      if (isClientConnectionError(err)) {
        const reason = (err as { code?: string }).code ?? (err as Error).message;
        logger.info({ requestId, method, path: pathname.slice(0, 512), reason }, 'request aborted by the client');
        if (!res.headersSent) answerJson(res, 400, { error: 'invalid_request' });
        return;
      }
      if (err instanceof DatabaseUnavailableError && !res.headersSent) return answerDatabaseUnavailable(res, err, logger);
      logger.error({ err, method, path: pathname }, 'request failed');
      if (res.headersSent) res.destroy();
      else answerJson(res, 500, { error: 'server_error' });
    }
  }

  return function resourceServerRequest(req, res) {
    const pathname = pathOf(req.url ?? '/');
    if (pathname !== undefined && isMcpPath(pathname)) void serve(req, res, pathname, mcpPath, ALLOW);
    else if (pathname === '/' && isMcpRequestAtRoot(req)) void serve(req, res, pathname, '/', ALLOW_AT_ROOT);
    else otherwise(req, res);
  };
}

/** The path of a request target: origin-form (`/mcp?…`) or absolute-form (`http://host/mcp`). */
function pathOf(target: string): string | undefined {
  if (target.startsWith('/')) {
    const query = target.indexOf('?');
    return query === -1 ? target : target.slice(0, query);
  }
  return URL.canParse(target) ? new URL(target).pathname : undefined;
}
