/**
 * Builds the MCP server of one session (the SDK binds a server to one transport): Gatehouse's own
 * tools (when `built_in_tools` is on) and every configured server's tools, prompts and resources
 * behind one endpoint.
 *
 * - Upstream items pass through unchanged (descriptions, schemas, annotations, `_meta`); only
 *   tool and prompt names get their `<server>__` prefix. Resource URIs keep their form and are
 *   routed back to the server that listed them (gateway.ts).
 * - Every request is checked against the caller's scopes again here (the HTTP layer answers 403
 *   first, so clients can step up; this keeps a tool closed if a request reached it another way).
 * - The caller's token never leaves Gatehouse. A stdio server learns who calls from
 *   `_meta["gatehouse/user"]` (set here; a client's own value under that key is dropped); an HTTP
 *   server only from the identity token http-upstream.ts sends.
 * - A server that is down, over a limit or too slow fails only its own call, as an MCP tool error
 *   naming it (MCP 2025-11-25 server/tools §Error Handling); protocol errors the upstream answers
 *   (an unknown tool, bad params) pass through as the same JSON-RPC error. So does a call refused
 *   for want of room, answered before anything is sent: past the caller's calls in flight at that
 *   server (call-budget.ts), or needing a per-user process none can be started for now
 *   (process-budget.ts). It is audited `limited`, not `error` (a retry may pass once a call ends or
 *   a process stops; the server did not fail), naming the limit that refused it, and a
 *   prompts/get or resources/read gets `-32600 Invalid Request` with the same words. A
 *   call the caller cancelled keeps its place on a stdio server until its timeout (the server may
 *   ignore the cancellation), on an HTTP server not at all (its POST is closed).
 * - Each tool call is audited (who, server, tool, outcome and for `limited` which limit, duration)
 *   and counted.
 * - `logging/setLevel` sets the lowest level of the servers' log messages this session is sent
 *   (MCP 2025-11-25 utilities/logging); an unknown level is `-32602 Invalid params`. The SDK's own
 *   handler answered it `-32603 Internal error` with zod's issue list, and its level filtered
 *   nothing relayed.
 */
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  LoggingLevelSchema,
  McpError,
  ReadResourceRequestSchema,
  ResultSchema,
  SetLevelRequestSchema,
  type CallToolResult,
  type GetPromptResult,
  type LoggingLevel,
  type ReadResourceResult,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import { releaseAfter } from '../gateway/call-budget.ts';
import type { Gateway } from '../gateway/gateway.ts';
import { mcpErrorText } from '../gateway/mcp-error-text.ts';
import type { CallContext, Upstream } from '../gateway/upstream.ts';
import type { CallingClient, ListItem, ListKind } from '../gateway/upstream-connection.ts';
import { CallLimitError, describeConnectionFailure, LimitError, ProcessLimitError, UpstreamUnavailableError, type Limit } from '../gateway/upstream-errors.ts';
import type { RequiredScopeLookup } from '../http/require-tool-scope.ts';
import type { ToolCallOutcome } from '../storage/audit-store.ts';
import { answerErrorsOnce } from './answer-errors-once.ts';
import { BUILT_IN_SERVER, BUILT_IN_TOOL_DEFINITIONS, callBuiltInTool, isBuiltInTool, toolError, type BuiltInToolDependencies } from './built-in-tools.ts';
import { coalescePerKind } from './coalesce-per-kind.ts';
import { registerRequestHandler } from './register-request-handler.ts';
import { TOOL_SCOPES } from './tool-table.ts';

export interface ToolCallEvent {
  server: string;
  tool: string;
  outcome: ToolCallOutcome;
}

export interface McpServerDependencies extends BuiltInToolDependencies {
  gateway: Gateway;
  builtInTools: boolean;
  /** The user whose session this is (their per-user servers' list changes reach it). */
  subject: string;
  /** Told the outcome of each tool call, as it is recorded (metrics). */
  onToolCall?: (call: ToolCallEvent) => void;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const SERVER_INFO = { name: 'gatehouse', title: 'Gatehouse MCP', version: '0.1.0' };
const BUILT_IN_INSTRUCTIONS = 'Private notes for the signed-in user (list_notes, get_note, create_note, delete_note), '
  + 'whoami to see which account and scopes this connection has, and recent_activity for administrators.';
/**
 * What an upstream's answer is checked against: a JSON-RPC result object, passed on as it came.
 * The calling client validates it against the method's full schema, as it would from the server
 * directly; validating it here too would cost every call a second deep parse.
 */
const PASS_THROUGH = ResultSchema.loose();
/** RFC 5424 severities as MCP names them, lowest first. */
const LOG_LEVELS: readonly LoggingLevel[] = LoggingLevelSchema.options;
/** Longest a list waits for one server; a slower server's items are left out of that answer. */
const MAX_LIST_WAIT_MS = 10_000;
/**
 * A session is told of a list's change at most once in this stretch (coalesce-per-kind.ts): a
 * server sending list_changed in a loop (20,000 of them held the event loop for 19 s, each relayed
 * to every session at once) costs one notice per session and second, and the client reads the
 * list once, not once per notice.
 */
const LIST_CHANGED_EVERY_MS = 1000;
/**
 * Characters of progress and log messages relayed to the caller during one call, at most; later
 * ones are dropped (the call itself goes on). Each is queued on the caller's stream whether or
 * not it reads them: a server sending log messages in a loop to a caller that did not read grew
 * the heap by 5 MB a second until the call ended. 8 MiB is hundreds of thousands of progress
 * updates.
 */
const MAX_RELAYED_PER_CALL = 8 * 1024 * 1024;
/**
 * A server's requests to the caller (sampling, elicitation) of one call waiting for the caller's
 * answer at once, at most; more are refused with an MCP error at once. Each is queued on the
 * caller's stream too: a server sending hundreds of 1 MB elicitations without waiting, to a
 * caller that did not read, grew the heap by 600 MB. While one waits, its parameters count
 * against MAX_RELAYED_PER_CALL with the call's notifications; once answered, no longer (a tool's
 * sampling loop sends the whole conversation each round).
 */
const MAX_RELAYED_REQUESTS_AT_ONCE = 8;

export function createMcpServer(dependencies: McpServerDependencies): Server {
  const { gateway, builtInTools, audit, logger, onToolCall } = dependencies;
  const sessionKey = randomUUID();
  const servers = gateway.upstreams.map((upstream) => upstream.config.name);
  const instructions = [
    builtInTools ? BUILT_IN_INSTRUCTIONS : '',
    servers.length > 0 ? `Tools and prompts of the servers ${servers.join(', ')} are named <server>__<name>.` : '',
  ].filter(Boolean).join(' ');
  const server = answerErrorsOnce(new Server(SERVER_INFO, {
    capabilities: {
      tools: { listChanged: true },
      ...(servers.length > 0 ? { prompts: { listChanged: true }, resources: { listChanged: true }, logging: {} } : {}),
    },
    ...(instructions ? { instructions } : {}),
  }));

  const listChanged = coalescePerKind((kind: 'tools' | 'prompts' | 'resources') => {
    const send = kind === 'tools' ? server.sendToolListChanged() : kind === 'prompts' ? server.sendPromptListChanged() : server.sendResourceListChanged();
    send.catch(() => { /* the client is gone */ });
  }, LIST_CHANGED_EVERY_MS);
  gateway.attach(sessionKey, { subject: dependencies.subject, listChanged: listChanged.notify });
  server.onclose = () => {
    listChanged.stop();
    gateway.endSession(sessionKey).catch(() => { /* logged by the gateway */ });
  };

  /** The level `logging/setLevel` asked for; until then every log message is sent. */
  let logLevel: LoggingLevel | undefined;
  const unwanted = (notification: ServerNotification) => notification.method === 'notifications/message'
    && logLevel !== undefined && LOG_LEVELS.indexOf(notification.params.level) < LOG_LEVELS.indexOf(logLevel);
  if (servers.length > 0) {
    server.removeRequestHandler(SetLevelRequestSchema.shape.method.value);
    registerRequestHandler(server, SetLevelRequestSchema, (request) => {
      logLevel = request.params.level;
      return {};
    });
  }

  const contextOf = (extra: Extra): CallContext => ({ sessionKey, caller: tokenOf(extra) });
  /** One call's caller; `server` names the upstream its notifications come from. */
  const callingClient = (extra: Extra, upstream: string): CallingClient => {
    let relayed = 0;
    let waiting = 0;
    return {
      sessionKey,
      token: tokenOf(extra),
      capabilities: server.getClientCapabilities(),
      sendNotification: async (notification) => {
        if (unwanted(notification) || relayed > MAX_RELAYED_PER_CALL) return undefined;
        // Bounded per call: queued on the caller's stream whether or not it reads them.
        relayed += JSON.stringify(notification.params ?? {}).length;
        if (relayed <= MAX_RELAYED_PER_CALL) return extra.sendNotification(notification);
        logger.warn({ server: upstream }, 'an mcp server sent more progress and log messages during one call than are relayed; the rest of that call\'s are dropped');
        return undefined;
      },
      notifySession: async (notification) => unwanted(notification) ? undefined : server.notification(notification),
      sendRequest: async (request, schema, options) => {
        if (waiting >= MAX_RELAYED_REQUESTS_AT_ONCE) {
          throw new McpError(ErrorCode.InvalidRequest, `Gatehouse relays at most ${MAX_RELAYED_REQUESTS_AT_ONCE} requests of one call to the client at once`);
        }
        const size = JSON.stringify(request.params ?? {}).length;
        if (relayed + size > MAX_RELAYED_PER_CALL) {
          logger.warn({ server: upstream, method: request.method }, 'an mcp server sent more during one call than is relayed; its request was refused');
          throw new McpError(ErrorCode.InvalidRequest, `Gatehouse relays at most ${MAX_RELAYED_PER_CALL} characters of requests waiting for the client and messages during one call`);
        }
        relayed += size;
        waiting += 1;
        try {
          return await extra.sendRequest(request, schema, options);
        } finally {
          relayed -= size;
          waiting -= 1;
        }
      },
    };
  };

  /**
   * Each server's items of one kind; a server that cannot answer in time is left out. One that
   * answers later (a process or session still starting: a start may take `start_timeout`, far
   * longer than a list waits) has the session told its list changed once its items are in, so the
   * client reads it again and finds them; without that, a client that lists once per session
   * never saw that server's tools.
   */
  async function gather(kind: ListKind, extra: Extra): Promise<Array<{ upstream: Upstream; items: ListItem[] }>> {
    const answers = await Promise.all(gateway.upstreams.map(async (upstream) => {
      let timer: NodeJS.Timeout | undefined;
      let late = false;
      let listing: Promise<ListItem[]> | undefined;
      try {
        listing = gateway.connectionFor(upstream, contextOf(extra)).then((connection) => connection.list(kind));
        const wait = Math.min(MAX_LIST_WAIT_MS, upstream.config.timeout * 1000);
        const items = await Promise.race([listing, new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => {
            late = true;
            reject(new Error(`no answer within ${wait / 1000} s`));
          }, wait);
        })]);
        return { upstream, items };
      } catch (err) {
        logger.warn({ server: upstream.config.name, list: kind, reason: (err as Error).message }, 'an mcp server\'s list is left out');
        if (late) listing?.then(() => listChanged.notify(kind === 'resourceTemplates' ? 'resources' : kind), () => { /* left out for good */ });
        return { upstream, items: undefined };
      } finally {
        clearTimeout(timer);
      }
    }));
    return answers.filter((answer): answer is { upstream: Upstream; items: ListItem[] } => answer.items !== undefined);
  }

  /** A server's list as the gateway exposes it; left out, as one not answering, if that fails. */
  function exposed(upstream: Upstream, kind: 'tools' | 'prompts', items: ListItem[]): ListItem[] {
    try {
      return gateway.expose(upstream, kind, items);
    } catch (err) {
      logger.warn({ server: upstream.config.name, list: kind, reason: (err as Error).message }, 'an mcp server\'s list is left out');
      return [];
    }
  }

  function record(call: ToolCallEvent, token: VerifiedAccessToken, startedAt: number, limitedBy?: Limit): void {
    audit.record({
      subject: token.extra.subject,
      username: token.extra.username,
      service: token.extra.service,
      clientId: token.clientId,
      server: call.server,
      tool: call.tool,
      outcome: call.outcome,
      limitedBy,
      durationMs: Math.round(performance.now() - startedAt),
    });
    onToolCall?.(call);
  }

  /** Sends one request to `upstream` for the caller, relaying progress and server requests. */
  async function forward(upstream: Upstream, method: 'tools/call' | 'prompts/get' | 'resources/read', params: Record<string, unknown>, extra: Extra) {
    // Taken before the connection: a refused call must not open an HTTP server's session either.
    const release = gateway.takeCall(upstream, tokenOf(extra));
    let kept = false;
    try {
      const connection = await gateway.connectionFor(upstream, contextOf(extra));
      const progressToken = extra._meta?.progressToken;
      // Cancelled before it was sent, it never ran: its place is free at once.
      extra.signal.throwIfAborted();
      const sentAt = performance.now();
      try {
        return await connection.request(method, { ...params, _meta: upstreamMeta(upstream, extra, tokenOf(extra)) }, PASS_THROUGH, callingClient(extra, upstream.config.name), {
          signal: extra.signal,
          progressToken,
        });
      } catch (err) {
        // A stdio server may go on with a cancelled call (call-budget.ts): it keeps its place
        // until its timeout would have passed, or its process is gone.
        if (extra.signal.aborted && upstream.config.transport === 'stdio') {
          releaseAfter(release, sentAt + upstream.config.timeout * 1000 - performance.now(), connection.endedSignal);
          kept = true;
        }
        // A broken HTTP session is dropped, so the next call opens a fresh one.
        if (!(err instanceof McpError) && upstream.config.transport === 'http') await upstream.endSession(sessionKey);
        throw err;
      }
    } finally {
      // Answered, failed or timed out; a caller that merely hung up holds it until then.
      if (!kept) release();
    }
  }

  registerRequestHandler(server, ListToolsRequestSchema, async (_request, extra) => {
    const listed = await gather('tools', extra);
    const upstreamTools = listed.flatMap(({ upstream, items }) => exposed(upstream, 'tools', items));
    return { tools: [...(builtInTools ? BUILT_IN_TOOL_DEFINITIONS : []), ...upstreamTools] as never };
  });

  registerRequestHandler(server, CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const token = callerOf(extra);
    if (!token) return toolError('This server only runs tools for an authenticated caller.');
    const { name, arguments: args } = request.params;
    const startedAt = performance.now();
    if (builtInTools && isBuiltInTool(name)) {
      return callBuiltInTool(name, args, token, (outcome) => record({ server: BUILT_IN_SERVER, tool: name, outcome }, token, startedAt), dependencies);
    }
    const call = (upstream: Upstream, outcome: ToolCallOutcome, limitedBy?: Limit) => record({ server: upstream.config.name, tool: name, outcome }, token, startedAt, limitedBy);
    /** A call that did not reach its server or failed there, audited and told as a tool error. */
    const failed = (upstream: Upstream, err: unknown): CallToolResult => {
      if (err instanceof LimitError) call(upstream, 'limited', err.limit);
      else call(upstream, 'error');
      return toolError(describeFailure(err, upstream));
    };

    let route = gateway.route('tools', name);
    // A name that may be a shortened one not learned yet: its server's list says. A server that
    // cannot be listed (down, no process to spare) fails the call as it would fail it listed. Any
    // other name not routed is no tool of any server's: not found, not that server's failure.
    const named = route ? undefined : gateway.upstreamToLearnFrom(name);
    if (named) {
      try {
        route = await gateway.learn('tools', name, contextOf(extra));
      } catch (err) {
        return failed(named, err);
      }
    }
    if (!route) throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
    const { upstream } = route;

    const scope = gateway.scopeFor('tools', upstream, route.name);
    if (!token.scopes.includes(scope)) {
      call(upstream, 'denied');
      return toolError(`${name} needs the ${scope} scope, which this access token does not have.`);
    }
    try {
      const result = await forward(upstream, 'tools/call', { name: route.name, arguments: args }, extra) as CallToolResult;
      call(upstream, result.isError ? 'error' : 'ok');
      return result;
    } catch (err) {
      return failed(upstream, err);
    }
  });

  if (servers.length === 0) return server;
  // Prompts and resources come only from the servers behind the gateway.
  registerRequestHandler(server, ListPromptsRequestSchema, async (_request, extra) => {
    const listed = await gather('prompts', extra);
    return { prompts: listed.flatMap(({ upstream, items }) => exposed(upstream, 'prompts', items)) as never };
  });

  registerRequestHandler(server, GetPromptRequestSchema, async (request, extra) => {
    const { name, arguments: args } = request.params;
    // As for a tool: a server that cannot be listed fails the request as it would fail it listed.
    const named = gateway.upstreamToLearnFrom(name);
    const route = gateway.route('prompts', name) ?? (named && await protocolFailure(named, () => gateway.learn('prompts', name, contextOf(extra))));
    if (!route) throw new McpError(ErrorCode.InvalidParams, `Prompt ${name} not found`);
    requireScope(tokenOf(extra), gateway.scopeFor('prompts', route.upstream), name);
    return protocolFailure(route.upstream, () => forward(route.upstream, 'prompts/get', { name: route.name, ...(args ? { arguments: args } : {}) }, extra) as Promise<GetPromptResult>);
  });

  registerRequestHandler(server, ListResourcesRequestSchema, async (_request, extra) => {
    const listed = await gather('resources', extra);
    return { resources: gateway.claimResources(listed) as never };
  });

  registerRequestHandler(server, ListResourceTemplatesRequestSchema, async (_request, extra) => {
    const listed = await gather('resourceTemplates', extra);
    return { resourceTemplates: gateway.claimResourceTemplates(listed) as never };
  });

  registerRequestHandler(server, ReadResourceRequestSchema, async (request, extra) => {
    const { uri } = request.params;
    let upstream = gateway.resourceOwner(uri);
    if (!upstream) {
      // Nothing listed yet in this process (a client that remembered a URI): learn the lists.
      gateway.claimResources(await gather('resources', extra));
      gateway.claimResourceTemplates(await gather('resourceTemplates', extra));
      upstream = gateway.resourceOwner(uri);
    }
    // MCP 2025-11-25 server/resources §Error Handling: -32002 for a resource not found.
    if (!upstream) throw new McpError(-32002, `Resource ${uri} not found`);
    requireScope(tokenOf(extra), gateway.scopeFor('resources', upstream), uri);
    const owner = upstream;
    return protocolFailure(owner, () => forward(owner, 'resources/read', { uri }, extra) as Promise<ReadResourceResult>);
  });

  return server;
}

/**
 * The caller serveMcpRequest handed the transport (as `req.auth`, from `ctx.state.auth`). The SDK
 * types it as its own AuthInfo; it is always the VerifiedAccessToken that AuthInfo was made from.
 */
function callerOf(extra: Extra): VerifiedAccessToken | undefined {
  return extra.authInfo as VerifiedAccessToken | undefined;
}

function tokenOf(extra: Extra): VerifiedAccessToken {
  const token = callerOf(extra);
  if (!token) throw new McpError(ErrorCode.InvalidRequest, 'This server only answers an authenticated caller.');
  return token;
}

function requireScope(token: VerifiedAccessToken, scope: string, what: string): void {
  if (!token.scopes.includes(scope)) {
    throw new McpError(ErrorCode.InvalidRequest, `${what} needs the ${scope} scope, which this access token does not have.`);
  }
}

/**
 * The `_meta` an upstream sees: the client's own, less its progress token and any forged identity.
 * A stdio upstream also gets `gatehouse/user`, but only for a user: a service account's call
 * carries no identity (it is no user, and its client id must not pass for one).
 */
function upstreamMeta(upstream: Upstream, extra: Extra, token: VerifiedAccessToken): Record<string, unknown> | undefined {
  const { progressToken: _progressToken, 'gatehouse/user': _forged, ...meta } = (extra._meta ?? {}) as Record<string, unknown>;
  if (upstream.config.transport !== 'stdio' || token.extra.service) return Object.keys(meta).length > 0 ? meta : undefined;
  return {
    ...meta,
    'gatehouse/user': { sub: token.extra.subject, username: token.extra.username, scopes: [...token.scopes], client_id: token.clientId },
  };
}

/**
 * For requests without a tool-error form: the upstream's protocol error, or ours naming it. A
 * request refused for want of room (LimitError: the caller's calls in flight at the server, or a
 * per-user process none can be started for now) is the caller's to retry, with the words a tool
 * call gets, as Invalid Request (the code of Gatehouse's other refusals of a caller's request),
 * never Internal error: nothing failed, and nothing was sent.
 */
async function protocolFailure<T>(upstream: Upstream, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    if (err instanceof LimitError) throw new McpError(ErrorCode.InvalidRequest, describeFailure(err, upstream));
    if (err instanceof McpError && !isTransportFailure(err)) throw err;
    throw new McpError(ErrorCode.InternalError, describeFailure(err, upstream));
  }
}

function isTransportFailure(err: McpError): boolean {
  return err.code === ErrorCode.RequestTimeout || err.code === ErrorCode.ConnectionClosed;
}

/** Why a call to `upstream` failed, in words naming the server, never with a stack or a secret. */
function describeFailure(err: unknown, upstream: Upstream): string {
  const { name, timeout } = upstream.config;
  if (err instanceof UpstreamUnavailableError || err instanceof CallLimitError) return err.message;
  // Only a per-user process is refused at a call: a shared one refused at boot is unavailable.
  if (err instanceof ProcessLimitError) return `No process of the ${name} server can be started for you now: ${err.message}; retry once one has stopped (a per-user process stops after a while without calls).`;
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout) return `The ${name} server did not answer within ${timeout} s.`;
    if (err.code === ErrorCode.ConnectionClosed) {
      return upstream.config.transport === 'stdio'
        ? `The ${name} server stopped while handling the call; it is being restarted.`
        : `The connection to the ${name} server closed during the call.`;
    }
    return `The ${name} server refused the call: ${mcpErrorText(err)}`;
  }
  return `The ${name} server could not be reached: ${describeConnectionFailure(err)}.`;
}

/**
 * The scope a JSON-RPC request needs, when it names something this gateway knows: a built-in tool,
 * an upstream tool or prompt, or a resource URI seen in a list. For the HTTP layer's 403.
 */
export function requiredScopeLookup(gateway: Gateway, builtInTools: boolean): RequiredScopeLookup {
  return (method, params) => {
    const name = typeof params.name === 'string' ? params.name : undefined;
    if (method === 'tools/call' && name !== undefined) {
      const builtIn = builtInTools ? TOOL_SCOPES.get(name) : undefined;
      if (builtIn) return { what: name, scope: builtIn, tool: { server: BUILT_IN_SERVER, name } };
      const route = gateway.route('tools', name);
      return route && { what: name, scope: gateway.scopeFor('tools', route.upstream, route.name), tool: { server: route.upstream.config.name, name } };
    }
    if (method === 'prompts/get' && name !== undefined) {
      const route = gateway.route('prompts', name);
      return route && { what: name, scope: gateway.scopeFor('prompts', route.upstream) };
    }
    if (method === 'resources/read' && typeof params.uri === 'string') {
      const owner = gateway.resourceOwner(params.uri);
      return owner && { what: params.uri, scope: gateway.scopeFor('resources', owner) };
    }
    return undefined;
  };
}
