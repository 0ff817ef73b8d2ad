/**
 * What the resource-server's Koa middleware hand each other in `ctx.state`, by the step that
 * sets it. Each middleware types its context with the part it reads or writes, so a hand-off
 * that is renamed or dropped is a type error rather than an `undefined` at run time. (The MCP
 * endpoint runs without Koa and passes these as arguments: serve-mcp-endpoint.ts.)
 *
 * - `requestId`: observeRequests, outermost, on every request.
 * - `auth`: authenticationMiddleware on the gateway server list, before every step that reads it;
 *   the order is the endpoint table in create-resource-server.ts, which Koa's types cannot check.
 */
import type { RequestIdState } from '../../../shared/observe-requests.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';

/** Every request's state. */
export type ResourceServerState = RequestIdState;

/** After authentication: whose request this is. */
export interface AuthenticatedState extends ResourceServerState {
  auth: VerifiedAccessToken;
}
