/**
 * What the resource server records of a client's connection (apps/shared/connection-events.ts),
 * told by the HTTP steps that see it:
 *
 * - `mcp_challenge` (ok): an MCP request without a token, answered 401 with the resource metadata
 *   URL: the normal first step, not a failure.
 * - `resource_metadata` (ok): the Protected Resource Metadata fetched (RFC 9728); also the
 *   `/authorize`, `/token` and `/register` a client guessed at this origin (refused when they could
 *   not be redirected).
 * - `mcp_request` (ok): the first request accepted with a token (a token cache miss that
 *   verified), with its client, user (`sub`), grant (`gid`) and scope.
 * - `mcp_request` (refused): a token refused 401 `invalid_token` (or 503 when it could not be
 *   checked), with why in plain words (explain-token-refusal.ts).
 * - `step_up` (refused): 403 `insufficient_scope`: what was asked for, the scope it needs, the
 *   scopes the token has.
 *
 * Each event names the caller's address (client-address.ts: the trusted-proxy rule) and User-Agent.
 *
 * - Bounded: a refusal or step-up repeated with one token is recorded once a minute per reason, and
 *   at most `maxPerMinute` refusals, and as many unauthenticated steps, are recorded a minute in
 *   all (flood-guard.ts), so a client hammering with one expired token, or a flood of garbage,
 *   cannot flood the store.
 * - Private: never a token or any part of one, never a query string. A refused token's client,
 *   user and grant are named only when its signature verified.
 * - Never fails a request: the recorder queues and never throws (its contract), and a mistake
 *   here is logged, not thrown.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../../../shared/clock.ts';
import type { ConnectionRecorder, NewConnectionEvent } from '../../../shared/connection-events.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import { clientAddress } from '../http/client-address.ts';
import type { GuessedEndpoint } from '../http/redirect-to-authorization-server.ts';
import type { BearerTokenSteps } from '../http/require-bearer-token.ts';
import type { RequiredScope } from '../http/require-tool-scope.ts';
import { explainTokenRefusal } from './explain-token-refusal.ts';
import { FloodGuard } from '../../../shared/connections/flood-guard.ts';
import { cutText } from '../../../shared/cut-text.ts';

export interface McpConnectionStepsOptions {
  recorder: ConnectionRecorder;
  /** This server's resource URL: what a challenge, the metadata and an accepted token are for. */
  resource: string;
  /** The issuer this server trusts (named when a token comes from another). */
  issuer: string;
  /** trust_proxy: the caller is the last X-Forwarded-For entry. */
  trustProxy: boolean;
  /** The flood guards' time. */
  clock: Clock;
  logger: Logger;
  /** Refused events, and unauthenticated steps, recorded per minute at most (each). Default is 600. */
  maxPerMinute?: number;
}

const MINUTE_MS = 60_000;
/** A requested name or URI longer than this is cut in the words (a resource URI may be long); a longer guessed client_id is left out. */
const MAX_NAME_LENGTH = 200;

export class McpConnectionSteps implements BearerTokenSteps {
  readonly #recorder: ConnectionRecorder;
  readonly #resource: string;
  readonly #issuer: string;
  readonly #trustProxy: boolean;
  readonly #logger: Logger;
  /** Refusals and step-ups: once a minute per (token, reason). */
  readonly #refusals: FloodGuard;
  /** Accepted tokens: once a minute per token, should one leave the token cache and come back. */
  readonly #firstUses: FloodGuard;
  /** Challenges, metadata fetches and guessed endpoints, which carry no token: a total cap. */
  readonly #unauthenticated: FloodGuard;

  constructor({ recorder, resource, issuer, trustProxy, clock, logger, maxPerMinute = 600 }: McpConnectionStepsOptions) {
    this.#recorder = recorder;
    this.#resource = resource;
    this.#issuer = issuer;
    this.#trustProxy = trustProxy;
    this.#logger = logger;
    this.#refusals = new FloodGuard({ clock, windowMs: MINUTE_MS, maxKeys: 1000, maxPerWindow: maxPerMinute });
    this.#firstUses = new FloodGuard({ clock, windowMs: MINUTE_MS, maxKeys: 10_000, maxPerWindow: Number.POSITIVE_INFINITY });
    this.#unauthenticated = new FloodGuard({ clock, windowMs: MINUTE_MS, maxPerWindow: maxPerMinute });
  }

  challenged(req: IncomingMessage): void {
    if (!this.#unauthenticated.admits()) return;
    this.#record(req, () => ({ step: 'mcp_challenge', outcome: 'ok', resource: this.#resource }));
  }

  metadataServed(req: IncomingMessage): void {
    if (!this.#unauthenticated.admits()) return;
    this.#record(req, () => ({ step: 'resource_metadata', outcome: 'ok', resource: this.#resource }));
  }

  /** A client that skipped discovery and guessed an auth-server endpoint at this origin. */
  endpointGuessed(req: IncomingMessage, { path, answer, to, clientId }: GuessedEndpoint): void {
    if (!this.#unauthenticated.admits()) return;
    this.#record(req, () => {
      const guessed = `the client guessed \`${path}\` at the MCP server's origin (the MCP 2025-03-26 fallback) instead of reading the authorization server metadata`;
      if (answer === 'redirected') {
        return { step: 'resource_metadata', outcome: 'ok', reason: `${guessed}; sent on to \`${originAndPath(to!)}\``, ...(clientId && clientId.length <= MAX_NAME_LENGTH ? { clientId } : {}) };
      }
      if (answer === 'unreachable') {
        return { step: 'resource_metadata', outcome: 'refused', error: 'temporarily_unavailable', reasonCode: 'authorization_server_unreachable', reason: `${guessed}; the authorization server metadata could not be read to send it on` };
      }
      return { step: 'resource_metadata', outcome: 'refused', error: 'invalid_request', reasonCode: 'registration_not_offered', reason: `${guessed}; the auth-server offers no dynamic client registration` };
    });
  }

  accepted(req: IncomingMessage, verified: VerifiedAccessToken): void {
    if (!this.#firstUses.admits(verified.extra.tokenId)) return;
    this.#record(req, () => ({ step: 'mcp_request', outcome: 'ok', ...this.#whose(verified), resource: this.#resource }));
  }

  refused(req: IncomingMessage, credentials: string, err: unknown): void {
    this.#record(req, () => {
      const refusal = explainTokenRefusal(err, { resource: this.#resource, issuer: this.#issuer });
      // A token differs from another in its hash; one token keeps its hash whatever it says.
      if (!refusal || !this.#refusals.admits(`${refusal.reasonCode} ${sha256(credentials)}`)) return undefined;
      return { step: 'mcp_request', outcome: 'refused', ...refusal };
    });
  }

  /** A request answered 403 insufficient_scope (require-tool-scope.ts). */
  steppedUp(req: IncomingMessage, verified: VerifiedAccessToken, refused: readonly RequiredScope[]): void {
    if (!this.#refusals.admits(`insufficient_scope ${verified.extra.tokenId}`)) return;
    this.#record(req, () => {
      const has = verified.scopes.length > 0 ? `the token has ${verified.scopes.map((scope) => `\`${scope}\``).join(' ')}` : 'the token has no scope';
      const needs = refused.map(({ what, scope }) => `\`${cut(what)}\` needs \`${scope}\``).join(', ');
      return {
        step: 'step_up', outcome: 'refused', error: 'insufficient_scope', reasonCode: 'insufficient_scope',
        reason: `${needs}; ${has}`,
        ...this.#whose(verified),
        resource: this.#resource,
      };
    });
  }

  #whose(verified: VerifiedAccessToken): Pick<NewConnectionEvent, 'clientId' | 'accountId' | 'grantId' | 'scope'> {
    return {
      clientId: verified.clientId,
      accountId: verified.extra.subject,
      ...(verified.extra.grantId ? { grantId: verified.extra.grantId } : {}),
      scope: verified.scopes.join(' '),
    };
  }

  /** Records what `describe` returns (nothing when undefined), with the caller's address and agent. */
  #record(req: IncomingMessage, describe: () => NewConnectionEvent | undefined): void {
    try {
      const event = describe();
      if (!event) return;
      const ip = clientAddress(req, this.#trustProxy);
      const userAgent = req.headers['user-agent'];
      this.#recorder.record({ ...event, ...(ip ? { ip } : {}), ...(userAgent ? { userAgent } : {}) });
    } catch (err) {
      this.#logger.warn({ err }, 'could not record a connection event');
    }
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

function cut(name: string): string {
  return cutText(name, MAX_NAME_LENGTH, '…');
}

/** A URL as origin + path: never its query or fragment. */
function originAndPath(url: string): string {
  if (!URL.canParse(url)) return '';
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}
