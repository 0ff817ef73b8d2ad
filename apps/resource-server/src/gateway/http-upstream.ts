/**
 * A Streamable HTTP MCP server: one upstream session per caller session (the SDK client follows
 * the upstream: with `Mcp-Session-Id` when it issues one, stateless when not), ended with the
 * caller's session (a DELETE, MCP 2025-11-25 transports §Session Management).
 *
 * No token passthrough (MCP 2025-11-25 security best practices §Token Passthrough): every request
 * is built here, carrying only the configured `headers` (the server's own credentials) and, with
 * `forward_identity`, a short-lived token the auth-server issued for this server's URL naming the
 * caller. Nothing of the caller's request (its Authorization header, cookies) is copied.
 * A call's requests name the token that call was made with: one client session's calls may carry
 * different tokens (a client that refreshed, or holds a narrower and a wider one), and each is to
 * reach the server with its own token's scopes only. Our answer to the server's own request (a
 * client's reply to an elicitation) names the token of the call that request was relayed for,
 * even when it is sent after that call ended. What no call sends (initialize, lists, the event
 * stream, a cancellation the client sent, the answer to a request relayed for no call) names the
 * session's latest token.
 * Redirects are refused, so the configured headers cannot be sent to another host.
 *
 * Its state is the outcome of the last attempt to reach it: a probe at boot (repeated every 30 s
 * while it is down, one at a time) and every connection opened for a caller since. Each is
 * bounded by its `start_timeout`, not its `timeout`; one still opening when its session ends (or
 * the gateway stops) is closed then, not waited out, and says nothing about the server.
 *
 * A server that answers the GET for a session's event stream with an error status (not 405, which
 * says it has none), or with a 2xx that is no event stream (another status than 200, or another
 * content type; its content type is logged), does so for every session: it is warned of once an
 * hour, with how many such answers were logged at debug since the last warning, not once per
 * client session.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Dispatcher } from 'undici';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { HttpServerConfig } from '../../../shared/config/gateway-servers.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import { HttpClientTransport, type EventStreamRefusal } from './http-client-transport.ts';
import type { IdentityTokens } from './identity-tokens.ts';
import { mediaTypeOf } from './media-type-of.ts';
import { scopesServerMaySee, type CallContext, type ListChangeListener, type Upstream, type UpstreamStatus } from './upstream.ts';
import { UpstreamConnection, type CallingClient } from './upstream-connection.ts';
import { credentialsAmong } from './redact-credentials.ts';
import { causes, describeConnectionFailure, UpstreamUnavailableError } from './upstream-errors.ts';

export interface HttpUpstreamOptions {
  logger: Logger;
  onListChanged: ListChangeListener;
  /** Required when the server has forward_identity. */
  identity?: IdentityTokens;
  /** Where upstream requests go through (tests may pass an agent). Default: undici's global one. */
  dispatcher?: Dispatcher;
  /**
   * Its connections' error lines are limited on it (upstream-connection.ts), and its warnings of
   * a refused event stream. Default: systemClock.
   */
  clock?: Clock;
}

interface UpstreamSession {
  connection: Promise<UpstreamConnection>;
  /**
   * The caller's latest token, for what is sent outside any call (sendingCall): a session outlives
   * one token when the client refreshes.
   */
  caller: VerifiedAccessToken;
  transport?: HttpClientTransport;
  /** Its connection has opened, or failed to. */
  settled: boolean;
  /** The session was ended (endSession): a failure of its open since is that ending's. */
  ended: boolean;
  /**
   * The identity tokens last sent for the caller (forward_identity), newest last: a call sent with
   * one may fail after another call was sent with its successor.
   */
  identityTokens: string[];
}

/**
 * The call whose requests are being sent (sendAs), for the transport to name its caller: the SDK
 * client the session's calls share passes nothing of a request's own to the transport.
 */
const sendingCall = new AsyncLocalStorage<CallingClient>();
/**
 * Calls being sent in this process. When none is, `sendingCall` is switched off: an
 * AsyncLocalStorage, once run, keeps a hook on every promise of the process until it is disabled
 * (measured in apps/shared/storage/sqlite-database.ts). The next `run` switches it on again.
 */
let callsSending = 0;

const PROBE_INTERVAL_MS = 30_000;
/** How often a server refusing its sessions' event streams is warned of; the rest is at debug. */
const STREAM_REFUSAL_WARNING_EVERY_MS = 60 * 60_000;
const STREAM_REFUSED = 'an mcp server refused its event stream (GET) with an HTTP status other than 405: list changes and log messages it sends outside a call do not arrive; calls go on';
const STREAM_NOT_EVENTS = 'an mcp server answered the GET for its event stream with another content type than text/event-stream: list changes and log messages it sends outside a call do not arrive; calls go on';
const STREAM_NOT_200 = 'an mcp server answered the GET for its event stream with a success status other than 200: list changes and log messages it sends outside a call do not arrive; calls go on';
/** Identity tokens a session remembers sending, to take out of the server's errors. */
const IDENTITY_TOKENS_KEPT = 8;

export class HttpUpstream implements Upstream {
  readonly config: HttpServerConfig;
  readonly #options: HttpUpstreamOptions;
  readonly #sessions = new Map<string, UpstreamSession>();
  #state: 'starting' | 'ready' | 'down' = 'starting';
  #reason: string | undefined;
  #prober: NodeJS.Timeout | undefined;
  /** The transport of the probe in progress: at most one at a time, closed by `close`. */
  #probing: HttpClientTransport | undefined;
  #closed = false;
  /** When a refused event stream (or one answered with no stream) was last warned of, and those logged at debug since. */
  #streamRefusalWarnedAt = Number.NEGATIVE_INFINITY;
  #streamRefusalsNotWarned = 0;

  constructor(config: HttpServerConfig, options: HttpUpstreamOptions) {
    if (config.forwardIdentity && !options.identity) throw new Error(`${config.name}: forward_identity needs an identity token source`);
    this.config = config;
    this.#options = options;
  }

  start(): void {
    this.#probe();
    this.#prober = setInterval(() => {
      if (this.#state === 'down') this.#probe();
    }, PROBE_INTERVAL_MS).unref();
  }

  async connectionFor({ sessionKey, caller }: CallContext): Promise<UpstreamConnection> {
    // A service account has no user to name: no identity token is asked for it (the auth-server's
    // token exchange would refuse its token too: it has no grant).
    if (this.config.forwardIdentity && caller.extra.service) {
      throw new UpstreamUnavailableError(this.config.name, 'it needs a user\'s identity, and a service account has none');
    }
    if (this.config.forwardIdentity && scopesServerMaySee(this.config, caller.scopes).length === 0) {
      throw new UpstreamUnavailableError(this.config.name, 'this access token carries none of the scopes it accepts');
    }
    const existing = this.#sessions.get(sessionKey);
    if (existing) {
      existing.caller = caller;
      // A request that came while another one opened the connection shares that open's outcome,
      // its failure included. It never drops a session it did not open: it dropped one that
      // another waiting request had just opened, which then stayed open, ended by nothing.
      const connection = await existing.connection;
      if (!connection.closed) return connection;
      // Closed since (the upstream ended it): open anew, or take the one another request opened.
      if (this.#sessions.get(sessionKey) !== existing) return this.connectionFor({ sessionKey, caller });
      this.#sessions.delete(sessionKey);
    }
    const session: UpstreamSession = { caller, connection: Promise.resolve(undefined as never), identityTokens: [], settled: false, ended: false };
    let opened: UpstreamConnection | undefined;
    session.transport = this.#transport((message) => {
      // An answer is named by the request it answers, never by the context it is sent in: the
      // call it came during may have ended, and the context then depended on other users' calls.
      if (message && isAnswer(message)) return opened?.relayedFor(message.id)?.token ?? session.caller;
      // The call's context reaches all that its sending starts: only its own session's requests take it.
      const call = sendingCall.getStore();
      return call?.sessionKey === sessionKey ? call.token : session.caller;
    }, (token) => {
      if (!session.identityTokens.includes(token)) session.identityTokens = [...session.identityTokens, token].slice(-IDENTITY_TOKENS_KEPT);
    });
    const forget = () => {
      if (this.#sessions.get(sessionKey) === session) this.#sessions.delete(sessionKey);
    };
    session.connection = UpstreamConnection.open({
      server: this.config.name,
      transport: session.transport,
      timeoutMs: this.config.timeout * 1000,
      startTimeoutMs: this.config.startTimeout * 1000,
      logger: this.#options.logger,
      onListChanged: (kind) => this.#options.onListChanged(kind, { sessionKey }),
      dedicated: true,
      onClose: forget,
      credentials: () => this.#credentials(session.identityTokens),
      clock: this.#options.clock,
      ...(this.config.forwardIdentity ? { sendAs } : {}),
    }).then((connection) => {
      session.settled = true;
      opened = connection;
      this.#reachable();
      return connection;
    }, (err: unknown) => {
      session.settled = true;
      forget();
      if (session.ended) throw new UpstreamUnavailableError(this.config.name, 'the session ended while it was being opened');
      // The auth-server refusing or failing the exchange says nothing about the upstream.
      const identityFailure = causes(err).find((cause) => cause instanceof IdentityTokenError);
      if (identityFailure) throw new UpstreamUnavailableError(this.config.name, (identityFailure as Error).message);
      throw this.#unreachable(err);
    });
    this.#sessions.set(sessionKey, session);
    return session.connection;
  }

  async endSession(sessionKey: string): Promise<void> {
    const session = this.#sessions.get(sessionKey);
    if (!session) return;
    this.#sessions.delete(sessionKey);
    session.ended = true;
    // An open in progress may take up to `start_timeout`: closing its transport ends it now.
    if (!session.settled) await session.transport?.close();
    const connection = await session.connection.catch(() => undefined);
    if (!connection) return;
    await session.transport?.terminateSession().catch(() => { /* the upstream may have ended it already */ });
    await connection.close();
  }

  status(): UpstreamStatus {
    return { name: this.config.name, transport: 'http', perUser: false, state: this.#state, ...(this.#reason ? { reason: this.#reason } : {}) };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#prober);
    await this.#probing?.close();
    await Promise.all([...this.#sessions.keys()].map((key) => this.endSession(key)));
  }

  /** What this server is sent that it must not get to show anyone: its headers, the identity token. */
  #credentials(identityTokens: readonly string[] = []): string[] {
    return credentialsAmong([...Object.values(this.config.headers), ...identityTokens]);
  }

  /**
   * A transport whose every request carries only what this server should see; `sentIdentity` is
   * told each identity token it sends.
   */
  #transport(callerOf?: (message?: JSONRPCMessage) => VerifiedAccessToken, sentIdentity?: (token: string) => void): HttpClientTransport {
    const { forwardIdentity, url } = this.config;
    // Lower case, so the transport's own headers (content-type, accept) and the identity replace
    // a configured one of the same name instead of being sent beside it.
    const configured = Object.fromEntries(Object.entries(this.config.headers).map(([name, value]) => [name.toLowerCase(), value]));
    const identity = this.#options.identity;
    const headersFor = async (signal: AbortSignal, message?: JSONRPCMessage): Promise<Record<string, string>> => {
      if (!forwardIdentity || !callerOf || !identity) return { ...configured };
      const caller = callerOf(message);
      try {
        const token = await identity.tokenFor(caller, url, scopesServerMaySee(this.config, caller.scopes), signal);
        sentIdentity?.(token);
        return { ...configured, authorization: `Bearer ${token}` };
      } catch (err) {
        throw new IdentityTokenError(`Gatehouse could not obtain an identity token for it (${(err as Error).message})`, { cause: err });
      }
    };
    return new HttpClientTransport({
      url: new URL(url),
      headersFor,
      timeoutMs: this.config.timeout * 1000,
      dispatcher: this.#options.dispatcher,
      onEventStreamRefused: (refusal) => this.#eventStreamRefused(refusal),
    });
  }

  /**
   * Warns of a refused event stream at most once an hour (see the top of this file), saying what
   * it was answered: an error status, a 2xx other than 200 (with text/event-stream), or the
   * content type of a 2xx that is no stream.
   */
  #eventStreamRefused({ status, contentType }: EventStreamRefusal): void {
    const fields = { server: this.config.name, status, ...(contentType === undefined ? {} : { contentType }) };
    let message = STREAM_NOT_EVENTS;
    if (contentType === undefined) message = STREAM_REFUSED;
    else if (mediaTypeOf(contentType) === 'text/event-stream') message = STREAM_NOT_200;
    const now = (this.#options.clock ?? systemClock).now();
    if (now - this.#streamRefusalWarnedAt < STREAM_REFUSAL_WARNING_EVERY_MS) {
      this.#streamRefusalsNotWarned += 1;
      this.#options.logger.debug(fields, message);
      return;
    }
    const notWarned = this.#streamRefusalsNotWarned;
    this.#streamRefusalWarnedAt = now;
    this.#streamRefusalsNotWarned = 0;
    this.#options.logger.warn({ ...fields, ...(notWarned > 0 ? { refusalsNotWarned: notWarned } : {}) }, message);
  }

  /** Connects once with no caller and disconnects: can the server be reached and initialized? */
  #probe(): void {
    if (this.#probing || this.#closed) return;
    const transport = this.#probing = this.#transport();
    UpstreamConnection.open({ server: this.config.name, transport, timeoutMs: this.config.timeout * 1000, startTimeoutMs: this.config.startTimeout * 1000, logger: this.#options.logger, credentials: () => this.#credentials(), clock: this.#options.clock })
      .then(async (connection) => {
        this.#reachable();
        await transport.terminateSession().catch(() => { /* stateless servers have no session to end */ });
        await connection.close();
      })
      .catch((err: unknown) => {
        if (this.#closed) return;
        // A server that wants the forwarded identity answers an anonymous probe with 401: it is up.
        if (this.config.forwardIdentity && /\b401\b/.test(String((err as Error).message))) this.#reachable();
        else this.#unreachable(err);
      })
      .finally(() => {
        this.#probing = undefined;
      });
  }

  #reachable(): void {
    if (this.#state !== 'ready') this.#options.logger.info({ server: this.config.name }, 'mcp server reachable');
    const wasDown = this.#state === 'down';
    this.#state = 'ready';
    this.#reason = undefined;
    // Lists answered while it was down left it out: every session is told they changed, so a
    // client that lists once per session finds its tools (as a stdio server back up tells them).
    if (wasDown) for (const kind of ['tools', 'prompts', 'resources'] as const) this.#options.onListChanged(kind, { all: true });
  }

  #unreachable(err: unknown): UpstreamUnavailableError {
    const reason = describeConnectionFailure(err);
    if (this.#state !== 'down' || this.#reason !== reason) this.#options.logger.warn({ server: this.config.name, reason }, 'mcp server unreachable');
    this.#state = 'down';
    this.#reason = reason;
    return new UpstreamUnavailableError(this.config.name, reason);
  }
}

/**
 * Sends `caller`'s call with `sendingCall` naming it for every request that sending makes: the
 * call's own, its cancellation when it times out. Not our answers to the server's requests made
 * during it: one sent after the call ended found `sendingCall` switched off or not, as other
 * users' calls came and went, so those are named by the request they answer (connectionFor).
 */
async function sendAs<T>(caller: CallingClient, send: () => Promise<T>): Promise<T> {
  callsSending += 1;
  try {
    return await sendingCall.run(caller, send);
  } finally {
    callsSending -= 1;
    if (callsSending === 0) sendingCall.disable();
  }
}

/** A JSON-RPC response: ours, to the server's own request. */
function isAnswer(message: JSONRPCMessage): message is JSONRPCMessage & { id: string | number } {
  return !('method' in message) && 'id' in message && message.id !== undefined;
}

/** The exchange for the caller's identity token failed (see identity-tokens.ts). */
class IdentityTokenError extends Error {
  override name = 'IdentityTokenError';
}
