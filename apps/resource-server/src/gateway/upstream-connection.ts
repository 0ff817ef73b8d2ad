/**
 * One MCP client connection from the gateway to an upstream server (a stdio process or a Streamable
 * HTTP session), and the relay of what the upstream sends back on its own.
 *
 * Requests and notifications from the upstream (MCP 2025-11-25 client features: sampling,
 * elicitation; utilities: logging) name no caller: on a connection several callers may share, the
 * only link is the call in progress. So they go to the calling client of the call in flight, and
 * only when every call in flight on this connection, as the message is read, comes from one client
 * session; otherwise (no call, or calls of several sessions at once) a request is refused with an
 * MCP error and a notification is dropped, so nothing of one caller's reaches another. A
 * connection opened for one client session alone (an HTTP server's) has no such doubt: between
 * calls, its notifications go to that session's own stream (e.g. server-everything's simulated
 * logging, every 5 s).
 *
 * "As the message is read", not when the SDK runs its handler: it runs a request's handler two
 * microtasks later, and by then the answer read right behind it (one write of a shared stdio
 * server) may have ended the call it was about, leaving another session's call alone in flight;
 * an elicitation about one user's call went to another user that way.
 *
 * A sampling or elicitation request is relayed only when the calling client declared that
 * capability at initialize (MCP 2025-11-25 client/sampling §Capabilities); otherwise the upstream
 * gets an MCP error, as a client without the capability would give.
 *
 * List results are fetched whole (every page) and cached until the upstream says the list changed.
 *
 * What the SDK's Client tells its `onerror` (a message the transport dropped as not JSON-RPC, a
 * call's stream that failed, our answer to an upstream's request that could not be sent, a
 * response to no request) is logged at warn, naming the server: at most one line a minute per
 * connection, saying how many were left out before it, so an upstream cannot flood the log. The
 * line quotes the error's message without the connection's credentials, cut before any JSON it
 * quotes (the SDK quotes a whole stray response, which may hold a caller's data), and short.
 */
import { setMaxListeners } from 'node:events';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  isJSONRPCNotification,
  isJSONRPCRequest,
  ListPromptsResultSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesResultSchema,
  ListToolsResultSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ProgressNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResultSchema,
  ToolListChangedNotificationSchema,
  type ClientCapabilities,
  type JSONRPCMessage,
  type ProgressNotification,
  type RequestId,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import { FloodGuard } from '../../../shared/connections/flood-guard.ts';
import { cutText } from '../../../shared/cut-text.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import { answerableMcpError } from './mcp-error-text.ts';
import { redactData, redactError, redactText } from './redact-credentials.ts';

export type ListKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

/** What a list of each kind holds, as the upstream sends it (fields pass through untouched). */
export interface ListItem {
  name?: string;
  uri?: string;
  uriTemplate?: string;
  [field: string]: unknown;
}

const LISTS: Record<ListKind, { method: string; field: string; schema: z.ZodType }> = {
  tools: { method: 'tools/list', field: 'tools', schema: ListToolsResultSchema },
  prompts: { method: 'prompts/list', field: 'prompts', schema: ListPromptsResultSchema },
  resources: { method: 'resources/list', field: 'resources', schema: ListResourcesResultSchema },
  resourceTemplates: { method: 'resources/templates/list', field: 'resourceTemplates', schema: ListResourceTemplatesResultSchema },
};

/** More pages than this from one list request is treated as a misbehaving upstream. */
const MAX_LIST_PAGES = 50;
/**
 * A list longer than this (all its pages together) is treated as a misbehaving upstream too: it
 * is kept in memory for as long as the connection lives, once per client session for an HTTP
 * server's (each session has its own connection), and sent whole to each client. Pages are up to
 * 16 MiB each (http-client-transport.ts): 50 of them held 110 MB of heap per session. No MCP
 * client puts a list of this size before a model (4 MiB is about a million tokens).
 */
const MAX_LIST_ITEMS = 10_000;
const MAX_LIST_BYTES = 4 * 1024 * 1024;

/** The calling side of a call in flight: where the upstream's own requests and notifications go. */
export interface CallingClient {
  /** The caller's MCP session (the gateway's own id for it). */
  sessionKey: string;
  /** The access token the call was made with: one session's calls may carry different ones. */
  token: VerifiedAccessToken;
  /** What the calling client declared at initialize. */
  capabilities: ClientCapabilities | undefined;
  sendNotification(notification: ServerNotification): Promise<void>;
  /** Sends outside any request, on the session's own stream (MCP transports §Listening for Messages). */
  notifySession(notification: ServerNotification): Promise<void>;
  sendRequest<T extends z.ZodType>(request: ServerRequest, schema: T, options?: RequestOptions): Promise<z.output<T>>;
}

export interface UpstreamConnectionOptions {
  server: string;
  transport: Transport;
  /** Milliseconds each request after initialize may take. */
  timeoutMs: number;
  /**
   * Milliseconds the start (connecting, and initialize answered) may take: its own bound, not
   * `timeoutMs`, as a server may start far slower than it answers (an npx or uvx wrapper
   * downloading it first), and bounded by the call timeout its start failed every time.
   */
  startTimeoutMs: number;
  logger: Logger;
  /** Told when the upstream says a list changed (after the cached copy is dropped). */
  onListChanged?: (kind: 'tools' | 'prompts' | 'resources') => void;
  /** Told once when the connection ends, for whatever reason. */
  onClose?: () => void;
  /** The connection serves one client session only: between calls, notifications go to it. */
  dedicated?: boolean;
  /**
   * The credentials sent to the server (credentialsAmong): taken out of every error it answers
   * (initialize, a list, a call) before anyone quotes it (redact-credentials.ts).
   */
  credentials?: () => readonly string[];
  /**
   * Sends a call (tools/call, prompts/get, resources/read) on behalf of its caller, for a
   * transport whose requests name the caller (http-upstream.ts: each one's identity token).
   * Default: `send()`.
   */
  sendAs?: <T>(caller: CallingClient, send: () => Promise<T>) => Promise<T>;
  /** The once-a-minute limit of its error lines counts on it. Default: systemClock. */
  clock?: Clock;
}

const CLIENT_INFO = { name: 'gatehouse-gateway', version: '0.1.0' };
/** A tool's failure that could not be quoted without the credentials in it (redactData). */
const UNQUOTABLE_FAILURE = { content: [{ type: 'text', text: 'The server\'s error could not be quoted without its credentials.' }], isError: true };
// Declared so upstreams offer their sampling and elicitation tools; each request is then relayed
// only to a calling client that declared the same capability.
const CLIENT_CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: { form: {}, url: {} } };
/** How often one connection may log what its `onerror` was told. */
const ERROR_LOG_WINDOW_MS = 60_000;
/** Characters of such an error's message logged at most. */
const MAX_ERROR_TEXT = 300;

export class UpstreamConnection {
  readonly client: Client;
  readonly #options: UpstreamConnectionOptions;
  readonly #inFlight = new Set<CallingClient>();
  /** The latest caller, on a dedicated connection: always the same session. */
  #owner: CallingClient | undefined;
  readonly #lists = new Map<ListKind, Promise<ListItem[]>>();
  /** Progress token sent upstream → relays that call's progress to its caller. */
  readonly #progress = new Map<string, (progress: Omit<ProgressNotification['params'], 'progressToken'>) => void>();
  #progressCount = 0;
  /**
   * The upstream's sampling and elicitation requests by id: the calling client each goes to
   * (undefined: refused), decided as it was read (#arrived), and whether its handler ran. Kept to
   * the end of the turn of the event loop it was read in or, once its handler ran, of the turn our
   * answer to it is sent in, which names that caller (relayedFor) and may go after the call ended.
   */
  readonly #relayed = new Map<RequestId, { caller: CallingClient | undefined; answering: boolean }>();
  readonly #ending = new AbortController();
  /** One error line a minute (#reported). */
  readonly #errorLines: FloodGuard;
  /** Errors told to `onerror` and not logged since the last line. */
  #errorsLeftOut = 0;

  private constructor(options: UpstreamConnectionOptions) {
    this.#options = options;
    setMaxListeners(0, this.#ending.signal);
    this.#errorLines = new FloodGuard({ clock: options.clock ?? systemClock, windowMs: ERROR_LOG_WINDOW_MS, maxPerWindow: 1 });
    this.client = new Client(CLIENT_INFO, { capabilities: CLIENT_CAPABILITIES });
    this.client.onerror = (err) => this.#reported(err);
    // Protocol.connect keeps a transport's own onmessage and calls it with each message read,
    // before it dispatches that message (@modelcontextprotocol/sdk shared/protocol.js, connect).
    options.transport.onmessage = (message) => this.#arrived(message);
    this.#relayUpstreamRequests();
  }

  /**
   * Connects and initializes within `startTimeoutMs`; rejects (and closes the transport) when the
   * upstream does not answer, or when the transport is closed meanwhile (a stop during the start).
   */
  static async open(options: UpstreamConnectionOptions): Promise<UpstreamConnection> {
    const connection = new UpstreamConnection(options);
    connection.client.onclose = () => connection.#ended();
    try {
      await connection.client.connect(options.transport, { timeout: options.startTimeoutMs });
    } catch (err) {
      await connection.close();
      throw connection.#redacted(err);
    }
    return connection;
  }

  /** Logs what the SDK's Client was told went wrong, at most once a minute (see the top of this file). */
  #reported(err: unknown): void {
    if (!this.#errorLines.admits()) {
      this.#errorsLeftOut += 1;
      return;
    }
    const leftOut = this.#errorsLeftOut;
    this.#errorsLeftOut = 0;
    let text = String((err as { message?: unknown } | undefined)?.message ?? err);
    if (this.#options.credentials) text = redactText(text, this.#options.credentials());
    // JSON quoted from the upstream starts at its first { or [ (a [redacted] is ours).
    const quoted = text.search(/\{|\[(?!redacted\])/);
    if (quoted >= 0) text = `${text.slice(0, quoted).trimEnd() || (err as Error).name} …`;
    const fields = { server: this.#options.server, error: cutText(text, MAX_ERROR_TEXT, '…'), ...(leftOut > 0 ? { errorsNotLogged: leftOut } : {}) };
    this.#options.logger.warn(fields, 'the connection to an mcp server reported an error (a message it dropped, a stream that failed, an answer not sent); calls go on');
  }

  /** `err` without the credentials this connection sends. */
  #redacted(err: unknown): unknown {
    return this.#options.credentials ? redactError(err, this.#options.credentials()) : err;
  }

  get closed(): boolean {
    return this.#ending.signal.aborted;
  }

  /**
   * Aborted once the connection ends (the process exited, the session closed): what it still runs
   * ends with it. Without a listener cap: each call still held against it listens (call-budget.ts).
   */
  get endedSignal(): AbortSignal {
    return this.#ending.signal;
  }

  get busy(): boolean {
    return this.#inFlight.size > 0;
  }

  /**
   * Sends `method` with `params` for `caller`, whose client receives the upstream's progress,
   * logging, sampling and elicitation while the call lasts. `signal` (the caller's cancellation)
   * makes the SDK send `notifications/cancelled` upstream.
   */
  async request<T extends z.ZodType>(
    method: 'tools/call' | 'prompts/get' | 'resources/read',
    params: Record<string, unknown>,
    schema: T,
    caller: CallingClient,
    { signal, progressToken }: { signal?: AbortSignal; progressToken?: string | number },
  ): Promise<z.output<T>> {
    this.#inFlight.add(caller);
    if (this.#options.dedicated) this.#owner = caller;
    // Our own progress token on the upstream request; progress comes back under the caller's.
    // Not the SDK's `onprogress`: the SDK runs notification handlers a microtask late but drops
    // a request's progress handler at once when its result arrives, so the last progress of a
    // call, read in the same chunk as its result (stdio), would be lost. Ours is relayed as it is
    // read (#arrived), before the result read after it ends the call.
    const upstreamToken = progressToken === undefined ? undefined : `gatehouse-${++this.#progressCount}`;
    if (upstreamToken !== undefined) {
      this.#progress.set(upstreamToken, (progress) => {
        caller.sendNotification({ method: 'notifications/progress', params: { ...progress, progressToken: progressToken! } })
          .catch(() => { /* the caller went away; the call's own result reports the rest */ });
      });
    }
    try {
      const sent = upstreamToken === undefined ? params : { ...params, _meta: { ...(params._meta as object | undefined), progressToken: upstreamToken } };
      const send = () => this.client.request({ method, params: sent } as never, schema, { signal, timeout: this.#options.timeoutMs });
      const result = await (this.#options.sendAs ? this.#options.sendAs(caller, send) : send());
      // A tool's failure as a result (what the MCP SDK's McpServer makes of any exception a tool
      // throws) is an error the server wrote back too.
      const failed = (result as { isError?: unknown }).isError === true;
      if (!failed || !this.#options.credentials) return result;
      return (redactData(result, this.#options.credentials()) ?? UNQUOTABLE_FAILURE) as z.output<T>;
    } catch (err) {
      throw this.#redacted(err);
    } finally {
      this.#inFlight.delete(caller);
      if (upstreamToken !== undefined) this.#progress.delete(upstreamToken);
    }
  }

  /** Every item of one list, fetched once and cached until the upstream reports a change. */
  list(kind: ListKind): Promise<ListItem[]> {
    let cached = this.#lists.get(kind);
    if (!cached) {
      cached = this.#fetchList(kind).catch((err: unknown) => {
        throw this.#redacted(err);
      });
      this.#lists.set(kind, cached);
      cached.catch(() => this.#lists.delete(kind));
    }
    return cached;
  }

  /**
   * The calling client the upstream's request `requestId` was relayed for, as our answer to it is
   * sent (http-upstream.ts names that call's identity on it). Undefined for a request relayed for
   * no call (refused, or one the SDK answers itself: a ping).
   */
  relayedFor(requestId: RequestId): CallingClient | undefined {
    const relayed = this.#relayed.get(requestId);
    return relayed?.answering ? relayed.caller : undefined;
  }

  /** Whether the upstream offers `kind` at all (its initialize result's capabilities). */
  offers(kind: ListKind): boolean {
    const capabilities = this.client.getServerCapabilities();
    return Boolean(kind === 'resourceTemplates' ? capabilities?.resources : capabilities?.[kind]);
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => { /* already gone */ });
    this.#ended();
  }

  async #fetchList(kind: ListKind): Promise<ListItem[]> {
    if (!this.offers(kind)) return [];
    const { method, field, schema } = LISTS[kind];
    const items: ListItem[] = [];
    let bytes = 0;
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
      const result = await this.client.request({ method, params: cursor ? { cursor } : {} } as never, schema, { timeout: this.#options.timeoutMs }) as Record<string, unknown>;
      const pageItems = result[field] as ListItem[];
      bytes += JSON.stringify(pageItems).length;
      if (items.length + pageItems.length > MAX_LIST_ITEMS || bytes > MAX_LIST_BYTES) {
        throw new Error(`its ${method} answered more than ${MAX_LIST_ITEMS} items or ${MAX_LIST_BYTES / 1024 / 1024} MiB`);
      }
      items.push(...pageItems);
      cursor = typeof result.nextCursor === 'string' ? result.nextCursor : undefined;
      if (!cursor) return items;
    }
    throw new Error(`its ${method} answered more than ${MAX_LIST_PAGES} pages`);
  }

  /** The one calling client the upstream's own messages may go to, if there is exactly one. */
  #soleCaller(): CallingClient | undefined {
    const callers = [...this.#inFlight];
    const sessions = new Set(callers.map((caller) => caller.sessionKey));
    return sessions.size === 1 ? callers.at(-1) : undefined;
  }

  /**
   * Each message the upstream sends, as it is read and before the SDK dispatches it: progress and
   * log messages are relayed now; a sampling or elicitation request has its calling client noted
   * for its handler, which the SDK runs later in this same turn of the event loop (two microtasks
   * on, shared/protocol.js `_onrequest`: the Client has no task store to wait for). The note is
   * dropped at the turn's end unless its handler ran, so a request the SDK refuses before its
   * handler (malformed params) leaves nothing behind; a handler run any later would find none
   * and refuse.
   *
   * Only what the SDK itself takes for a JSON-RPC request or notification counts: it drops
   * anything else (no `jsonrpc: "2.0"`, a notification with a `result`) as of unknown type, and
   * relayed before its check, such a message reached the caller all the same. The transports
   * hand on only JSON-RPC messages; this does not depend on it.
   */
  #arrived(message: JSONRPCMessage): void {
    const method = (message as { method?: unknown } | null)?.method;
    if ((method === 'sampling/createMessage' || method === 'elicitation/create') && isJSONRPCRequest(message)) {
      const { id } = message;
      const relayed = { caller: this.#soleCaller(), answering: false };
      this.#relayed.set(id, relayed);
      setImmediate(() => {
        if (!relayed.answering) this.#relayed.delete(id);
      });
    } else if (method === 'notifications/progress' && isJSONRPCNotification(message)) {
      const notification = ProgressNotificationSchema.safeParse(message);
      if (!notification.success) return;
      const { progressToken, ...progress } = notification.data.params;
      this.#progress.get(String(progressToken))?.(progress);
    } else if (method === 'notifications/message' && isJSONRPCNotification(message)) {
      const notification = LoggingMessageNotificationSchema.safeParse(message);
      if (!notification.success) return;
      const caller = this.#soleCaller();
      const sent = caller ? caller.sendNotification(notification.data) : this.#owner?.notifySession(notification.data);
      sent?.catch(() => { /* the caller went away */ });
    }
  }

  #relayUpstreamRequests(): void {
    const relay = (capability: 'sampling' | 'elicitation') => async (request: ServerRequest, extra: { signal: AbortSignal; requestId: RequestId }) => {
      const relayed = this.#relayed.get(extra.requestId);
      try {
        if (!relayed?.caller) {
          throw new McpError(ErrorCode.InvalidRequest, `Gatehouse relays ${request.method} only during a tool call of a single client session`);
        }
        const caller = relayed.caller;
        // Kept until the turn this handler ends in is over: the SDK sends our answer (or refusal)
        // in that turn (shared/protocol.js `_onrequest`), maybe after the call has ended.
        relayed.answering = true;
        if (!callerSupports(caller.capabilities, capability, request)) {
          throw new McpError(ErrorCode.InvalidRequest, `The calling client does not support ${capability}`);
        }
        return await caller.sendRequest(request, ResultSchema.loose(), { signal: extra.signal });
      } catch (err) {
        // Our refusals, or the caller's error as the SDK read it (its code and data kept), are
        // answered without the `MCP error <code>: ` prefixes: the upstream's SDK client adds one.
        throw err instanceof McpError ? answerableMcpError(err) : err;
      } finally {
        setImmediate(() => this.#relayed.delete(extra.requestId));
      }
    };
    this.client.setRequestHandler(CreateMessageRequestSchema, relay('sampling') as never);
    this.client.setRequestHandler(ElicitRequestSchema, relay('elicitation') as never);

    // Progress and log messages are relayed as they are read (#arrived). The SDK's own progress
    // handler is replaced all the same: it looks for its `onprogress` tokens, which we never use.
    this.client.setNotificationHandler(ProgressNotificationSchema, () => undefined);
    const changed = (kind: 'tools' | 'prompts' | 'resources') => () => {
      this.#lists.delete(kind);
      if (kind === 'resources') this.#lists.delete('resourceTemplates');
      this.#options.onListChanged?.(kind);
    };
    this.client.setNotificationHandler(ToolListChangedNotificationSchema, changed('tools'));
    this.client.setNotificationHandler(PromptListChangedNotificationSchema, changed('prompts'));
    this.client.setNotificationHandler(ResourceListChangedNotificationSchema, changed('resources'));
  }

  #ended(): void {
    if (this.#ending.signal.aborted) return;
    this.#ending.abort();
    this.#options.logger.debug({ server: this.#options.server }, 'upstream connection closed');
    this.#options.onClose?.();
  }
}

/**
 * Whether the calling client declared what `request` needs. URL-mode elicitation needs
 * `elicitation.url`; form mode is what an `elicitation` capability without modes means
 * (MCP 2025-11-25 client/elicitation §Capabilities).
 */
function callerSupports(capabilities: ClientCapabilities | undefined, capability: 'sampling' | 'elicitation', request: ServerRequest): boolean {
  const declared = capabilities?.[capability] as Record<string, unknown> | undefined;
  if (!declared) return false;
  if (capability !== 'elicitation') return true;
  const mode = String((request.params as { mode?: unknown } | undefined)?.mode ?? 'form');
  const modes = Object.keys(declared);
  return modes.length === 0 ? mode === 'form' : mode in declared;
}
