/**
 * What usually causes an attempt to stop at a step without a refusal: the explanation of a
 * `stalled` attempt, by the last step it reached. Written for the admin who reads the
 * "Connections" page: what went missing, and where to look.
 */
import type { ConnectionStep } from '../../../shared/connection-events.ts';

const NEVER_REACHED_ISSUER = 'the client never fetched the authorization server metadata or registered — check it can reach the issuer';
const NEVER_CAME_BACK = 'the client never came back after consent — its redirect_uri did not reach it (a closed local callback port, a blocked custom scheme)';

/** `authorization` when the browser was already signed in (the event names the session's user). */
export const SIGNED_IN_AUTHORIZATION_HINT = 'stopped at the authorization page — the user, already signed in, never answered it: the page was closed';

export const STALL_HINTS: Record<ConnectionStep, string> = {
  mcp_challenge: NEVER_REACHED_ISSUER,
  resource_metadata: NEVER_REACHED_ISSUER,
  server_metadata: 'the client read the authorization server metadata but never registered or opened the sign-in page',
  registration: 'the client registered but never opened the authorization page in a browser',
  client_document: 'the client\'s metadata document was read but the authorization page was never completed',
  authorization: 'the user never signed in — the sign-in page was closed or never opened',
  sign_in: 'no consent answer — the consent page was closed',
  consent: NEVER_CAME_BACK,
  redirect: NEVER_CAME_BACK,
  code_exchange: 'the client got tokens but never called the MCP server with them',
  refresh: 'the client refreshed its token but never called the MCP server with it',
  // An accepted MCP request makes the attempt connected, a refused one failed: these two rarely stall.
  mcp_request: 'the client called the MCP server and then went quiet',
  step_up: 'the client was asked for more scope and never came back with it',
};
