/**
 * What the resource-server's middleware hand each other in Koa's `ctx.state`, by the step that
 * sets it. Each middleware types its context with the part it reads or writes, so a hand-off
 * that is renamed or dropped is a type error rather than an `undefined` at run time.
 *
 * - `requestId`: observeRequests, outermost, on every request.
 * - `auth`: requireBearerToken (or assumeAnonymousCaller) on the MCP endpoint and the gateway
 *   server list, before every step that reads it; the order is the endpoint tables in
 *   create-resource-server.ts, which Koa's types cannot check.
 * - `rpcBody`: readJsonRpcBody, the parsed JSON of a POST to the MCP endpoint; undefined for any
 *   other request. The scope check reads it, then the SDK transport as its `parsedBody`.
 */
import type { RequestIdState } from '../../../shared/observe-requests.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';

/** Every request's state. */
export type ResourceServerState = RequestIdState;

/** After authentication: whose request this is. */
export interface AuthenticatedState extends ResourceServerState {
  auth: VerifiedAccessToken;
}

/** After readJsonRpcBody. */
export interface JsonRpcBodyState {
  rpcBody?: unknown;
}

/** A request on the MCP endpoint, past authentication and the body read. */
export type McpRequestState = AuthenticatedState & JsonRpcBodyState;
