/**
 * The MCP endpoint (every method on the resource path) as one Node request handler: the steps of
 * its chain in order, each answering on its own or passing on. Outermost first:
 *
 * 1. guardOrigin: 403 unknown Origin; CORS headers; preflights answered.
 * 1b. answerBrowserVisit: a browser's GET without a token gets the 401 as a page saying what to
 *    do with this URL, not recorded as a connection step (answer-browser-visit.ts).
 * 2. authenticate (requireBearerToken): 401 no or bad token; 503 key set or revocations unavailable.
 * 3. readJsonRpcBody: 413 too large; 400 not JSON. A request's task augmentation is dropped
 *    (ignore-task-augmentation.ts): this server does not run tasks.
 * 4. checkMcpRequestMetadata: 400 when `Mcp-Method` / `Mcp-Name` / `MCP-Protocol-Version`
 *    disagree with the body or a 2026-07-28 request's version is not served; which era it is.
 * 5. requireToolScope: 403 insufficient_scope for a tool, prompt or resource (either era).
 * 6. serveStatelessRequest for a 2026-07-28 request (no session); otherwise serveMcpRequest:
 *    404 unknown session, a GET stream ended once its token is refused, the rest is the SDK
 *    transport's.
 *
 * Plain functions rather than Koa middleware, because this is every tool call's path: Koa's
 * context, koa-compose and the router cost about a tenth of a `tools/call` (bench/mcp-whoami.ts).
 * What Koa's outer middleware did for this path (request id and log line, Host check, 405, errors)
 * is mcp-request-listener.ts's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnswerBrowserVisit } from './answer-browser-visit.ts';
import type { OriginGuard } from './guard-origin.ts';
import type { CheckMcpRequestMetadata } from './check-mcp-request-metadata.ts';
import { ignoreTaskAugmentation } from './ignore-task-augmentation.ts';
import type { ReadJsonRpcBody } from './read-json-rpc-body.ts';
import type { Authenticate } from './require-bearer-token.ts';
import type { RequireToolScope } from './require-tool-scope.ts';
import type { ServeMcpRequest } from './serve-mcp-request.ts';
import type { ServeStatelessRequest } from './serve-stateless-request.ts';

export interface McpEndpointSteps {
  guardOrigin: OriginGuard;
  answerBrowserVisit: AnswerBrowserVisit;
  authenticate: Authenticate;
  readJsonRpcBody: ReadJsonRpcBody;
  checkMcpRequestMetadata: CheckMcpRequestMetadata;
  requireToolScope: RequireToolScope;
  serveStatelessRequest: ServeStatelessRequest;
  serveMcpRequest: ServeMcpRequest;
}

export type McpEndpoint = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function serveMcpEndpoint(steps: McpEndpointSteps): McpEndpoint {
  return async function mcpEndpoint(req, res) {
    if (!steps.guardOrigin(req, res)) return;
    if (steps.answerBrowserVisit(req, res)) return;
    const auth = await steps.authenticate(req, res);
    if (!auth) return;
    const body = await steps.readJsonRpcBody(req, res);
    if (!body) return;
    ignoreTaskAugmentation(body.rpcBody);
    const route = steps.checkMcpRequestMetadata(req, res, body.rpcBody);
    if (!route) return;
    if (!steps.requireToolScope(res, auth, body.rpcBody)) return;
    if (route.stateless) await steps.serveStatelessRequest(req, res, auth, route.stateless);
    else await steps.serveMcpRequest(req, res, auth, body.rpcBody);
  };
}
