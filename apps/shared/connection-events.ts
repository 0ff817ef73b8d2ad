/**
 * The connection flight recorder's shared vocabulary (issue 18): the steps a client goes through
 * to connect to the MCP server, the event each app records at a step, and the timeline an admin
 * reads. Both apps import it; neither imports the other.
 *
 * How the two apps' events meet:
 * - Each app records its own steps in its own database table, written off the request path in
 *   batches: the auth-server in `connection_events`, the resource server in
 *   `mcp_connection_events` (distinct names, since replicas on PostgreSQL share one database).
 * - The resource server serves its events at `GET /connections/events` (`mcp:admin` only, like
 *   `/gateway/servers`); the auth-server reads them with a minted admin token and groups both
 *   apps' events into attempts when an admin (page or CLI) asks. Nothing is correlated on the
 *   request path.
 *
 * Privacy: an event holds only the fields below. Never a token, code, password, client secret,
 * client assertion, PKCE verifier or challenge, state, nonce, or a full query string; URLs are
 * kept as origin + path.
 */

/**
 * Where on the way to a working connection an event happened, in the order a client meets them.
 * rs = resource server, as = auth-server.
 */
export const CONNECTION_STEPS = [
  /** rs: an MCP request without a token, answered 401 with the resource metadata URL. */
  'mcp_challenge',
  /** rs: the protected resource metadata (RFC 9728) fetched. */
  'resource_metadata',
  /** as: the authorization server metadata (RFC 8414 / OpenID discovery) fetched. */
  'server_metadata',
  /** as: Dynamic Client Registration (RFC 7591). */
  'registration',
  /** as: a Client ID Metadata Document fetched for a URL client_id. */
  'client_document',
  /** as: the authorization request at /oauth/authorize. */
  'authorization',
  /** as: the user signed in (built-in or federated), or could not. */
  'sign_in',
  /** as: the user granted or denied consent. */
  'consent',
  /** as: the browser sent back to the client's redirect_uri, with a code or an error. */
  'redirect',
  /** as: the authorization code redeemed at /oauth/token. */
  'code_exchange',
  /** rs: an MCP request with a token: the first accepted one per token, or a refused one. */
  'mcp_request',
  /** as: a refresh token grant. */
  'refresh',
  /** rs: a call refused 403 insufficient_scope, asking the client to step up. */
  'step_up',
] as const;
export type ConnectionStep = (typeof CONNECTION_STEPS)[number];

export type ConnectionApp = 'auth-server' | 'resource-server';

/** One thing one app saw, as recorded. */
export interface ConnectionEvent {
  /**
   * Unique per event, given by the table that stores it: the app's letter (`a`, `r`: the two
   * apps' never collide), the time and the row's sequence number (connection-event-store.ts).
   */
  id: string;
  /** Epoch milliseconds, by the recording app's clock (apps/shared/clock.ts). */
  at: number;
  app: ConnectionApp;
  step: ConnectionStep;
  outcome: 'ok' | 'refused';
  /** When refused: the RFC error code the client got (invalid_grant, invalid_target, invalid_token, insufficient_scope, access_denied, …). */
  error?: string;
  /**
   * When refused: a stable key for why (`redirect_uri_not_allowed`, `resource_mismatch`,
   * `code_replayed`, `pkce_mismatch`, `unknown_client`, `token_expired`, `wrong_audience`,
   * `consent_denied`, `insufficient_scope`, …). Also the `reason` label of the failure counter,
   * so the set of values is fixed in code, never taken from a request.
   */
  reasonCode?: string;
  /**
   * When refused: why, in plain words an admin can act on, with the values that explain it
   * ("resource `https://x/mcp/` does not match `https://x/mcp`"). Never a secret.
   */
  reason?: string;
  clientId?: string;
  /**
   * With `clientId`: no client had that id when the auth-server looked it up (a made-up one, or a
   * registration lost in a reset), so the id is only the request's text. Anyone can send such
   * requests by the thousand: the connection log reads these events apart (connection-log.ts).
   */
  clientUnknown?: boolean;
  /** The user (the account id, a token's `sub`) once known. */
  accountId?: string;
  /**
   * Joins the browser steps of one authorization request (authorization → sign_in → consent →
   * redirect): a SHA-256 of oidc-provider's interaction `cid` (base64url, 22 characters), never the
   * value itself, a handle on the pending sign-in. The cid, not the uid: the provider gives the
   * login and the consent prompt interactions of their own (new uids) and carries the cid over.
   */
  flowId?: string;
  /** The grant (oidc-provider's grant id, a token's `gid`): joins consent, code, refreshes and MCP requests. */
  grantId?: string;
  /** The caller's address as the app sees it (after the trusted-proxy rule). */
  ip?: string;
  /** The caller's User-Agent, at most 256 characters. */
  userAgent?: string;
  /** The redirect_uri asked for or used, origin + path only. */
  redirectUri?: string;
  /** The resource (RFC 8707) asked for, or a token's audience, origin + path only. */
  resource?: string;
  /** Scopes asked for or granted, space-separated. */
  scope?: string;
}

/** An event as a recorder takes it: the recorder stamps `at` and `app`. */
export type NewConnectionEvent = Omit<ConnectionEvent, 'id' | 'at' | 'app'>;

/** An event as stored, before its table gives it its id. */
export type UnnumberedConnectionEvent = Omit<ConnectionEvent, 'id'>;

/**
 * Records events. `record` never blocks and never throws: the event is queued and written in
 * the next batch; a failed write is logged, never turned into a failed request.
 */
export interface ConnectionRecorder {
  /**
   * `at`: when it happened (epoch ms, by the app's clock), for an event recorded after an
   * asynchronous step of its own, so it does not land after a later request's. Default is now.
   */
  record(event: NewConnectionEvent, at?: number): void;
  /** Writes everything queued (on shutdown, and in tests before reading). */
  flush(): Promise<void>;
}

/**
 * How an attempt ended (so far):
 * - `connected`: an MCP request was accepted with a token from it.
 * - `failed`: its last event is a refusal, except one that refused a connected attempt only more
 *   scope (a 403 step-up, the authorization it led to): that stays `connected`, with a `note`.
 * - `stalled`: no event for a while (the recorder's stall time) after a step that is not the end:
 *   the client or the user went away.
 * - `in_progress`: recent, and not ended yet.
 */
export const ATTEMPT_OUTCOMES = ['connected', 'failed', 'stalled', 'in_progress'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** One connection attempt: a client (and, once signed in, a user) trying to reach the MCP server. */
export interface ConnectionAttemptSummary {
  /** Stable: the id of the attempt's first event. */
  id: string;
  startedAt: number;
  lastAt: number;
  clientId?: string;
  /** The client's registered name, when it has one. */
  clientName?: string;
  accountId?: string;
  /**
   * With `accountId`: whether an event shows the user took part (signed in, consented, used a
   * token). False when only a refused sign-in names them (whoever typed their username) or the
   * browser's session at /authorize (any link they opened while signed in).
   */
  accountProven?: boolean;
  username?: string;
  /** Where the attempt started from (its first event's). */
  ip?: string;
  userAgent?: string;
  outcome: AttemptOutcome;
  /**
   * The last step reached. A discovery step read again after the attempt went past discovery
   * (a metadata read after its registration) reaches nothing: the step before it stays the last.
   */
  lastStep: ConnectionStep;
  /**
   * Why it failed or stalled, in plain words (absent when connected or in progress):
   * for `failed` the refusal's step, error and reason; for `stalled` `lastStep` and what
   * usually causes a stall there ("the client never came back after consent").
   */
  explanation?: { step: ConnectionStep; error?: string; reasonCode: string; reason: string };
  /**
   * A connected attempt's refusal of more scope since its last accepted MCP request (a 403
   * step-up, or a refusal in the authorization it led to), in the shape of `explanation`: the
   * connection works with the scope it has, and this says what it was refused.
   */
  note?: { step: ConnectionStep; error?: string; reasonCode: string; reason: string };
}

export interface ConnectionAttempt extends ConnectionAttemptSummary {
  /** Every event of the attempt from both apps, oldest first. */
  events: ConnectionEvent[];
}

export interface ConnectionFilter {
  clientId?: string;
  accountId?: string;
  outcome?: AttemptOutcome;
  /** At most this many attempts (newest first). Default 50, at most 500. */
  limit?: number;
}

/** The attempts, newest first, and what could not be read (the resource server down, …). */
export interface ConnectionList {
  attempts: ConnectionAttemptSummary[];
  /** Set when the resource server's events could not be read: the timelines lack its steps. */
  problem?: string;
}

/** The read side, on the auth-server: admin pages, "My apps" and the CLI use this and nothing else. */
export interface ConnectionLog {
  list(filter?: ConnectionFilter): Promise<ConnectionList>;
  /** One attempt with its timeline; undefined when there is no such attempt (or it was pruned). */
  show(id: string): Promise<{ attempt: ConnectionAttempt; problem?: string } | undefined>;
}
