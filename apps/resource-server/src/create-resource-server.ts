/**
 * Builds the resource-server from its configuration: an HTTP server with the MCP endpoint (plain
 * Node handlers: every tool call takes it), and a Koa app beside it for the Protected Resource
 * Metadata, the health checks and the gateway's server list (for admins).
 * Listening is left to the caller, so tests and the benchmark can start it on port 0.
 *
 * Every absolute URL it hands out comes from `config.resource`, never from the request's Host,
 * so behind a TLS-terminating proxy it names the external scheme and host.
 */
import type { Server } from 'node:http';
import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import { systemClock, type Clock } from '../../shared/clock.ts';
import type { ResourceServerConfig } from '../../shared/config/resource-server-section.ts';
import type { TlsFiles } from '../../shared/config/shared-section.ts';
import type { SqlDatabase } from '../../shared/storage/sql-database.ts';
import { healthRoutes } from '../../shared/health-routes.ts';
import { createHttpServer } from '../../shared/http-server.ts';
import type { Logger } from '../../shared/logger.ts';
import { createMetricsRegistry, type Registry } from '../../shared/metrics.ts';
import { answerMethodNotAllowed } from '../../shared/answer-method-not-allowed.ts';
import { logBackgroundFailure } from '../../shared/log-background-failure.ts';
import { logAppErrors } from '../../shared/log-app-errors.ts';
import { observeRequests } from '../../shared/observe-requests.ts';
import { rejectMalformedHost } from '../../shared/reject-malformed-host.ts';
import { sayWhenToRetry } from '../../shared/say-when-to-retry.ts';
import type { ConnectionRecorder } from '../../shared/connection-events.ts';
import { ConnectionEventStore } from '../../shared/connections/connection-event-store.ts';
import { DatabaseConnectionRecorder } from '../../shared/connections/connection-recorder.ts';
import { pruneConnectionEvents } from '../../shared/connections/prune-connection-events.ts';
import { RevocationFeedFollower } from './auth/follow-revocation-feed.ts';
import { McpConnectionSteps } from './connections/mcp-connection-steps.ts';
import { createAccessTokenVerifier } from './auth/verify-access-token.ts';
import { authenticationMiddleware, originGuardMiddleware } from './http/as-koa-middleware.ts';
import { answerBrowserVisit } from './http/answer-browser-visit.ts';
import { assumeAnonymousCaller } from './http/assume-anonymous-caller.ts';
import { literalRoute } from './http/literal-route.ts';
import { bearerChallenge } from './http/bearer-challenge.ts';
import { authorizationServerEndpoints } from './http/authorization-server-endpoints.ts';
import { checkMcpRequestMetadata } from './http/check-mcp-request-metadata.ts';
import { describeGatewayServers, GATEWAY_SERVERS_PATH } from './http/describe-gateway-servers.ts';
import { CONNECTION_EVENTS_PATH, serveConnectionEvents } from './http/serve-connection-events.ts';
import { guardOrigin } from './http/guard-origin.ts';
import { handleErrors } from './http/handle-errors.ts';
import { mcpRequestListener } from './http/mcp-request-listener.ts';
import { observeRequest } from './http/observe-request.ts';
import { protectedResourceMetadata, protectedResourceMetadataUrl } from './http/protected-resource-metadata.ts';
import { readJsonRpcBody } from './http/read-json-rpc-body.ts';
import { redirectToAuthorizationServer } from './http/redirect-to-authorization-server.ts';
import { requireBearerToken } from './http/require-bearer-token.ts';
import { requireScope } from './http/require-scope.ts';
import type { AuthenticatedState, ResourceServerState } from './http/resource-server-state.ts';
import { requireToolScope } from './http/require-tool-scope.ts';
import { rootPage } from './http/serve-at-root.ts';
import { serveMcpEndpoint } from './http/serve-mcp-endpoint.ts';
import { serveMcpRequest } from './http/serve-mcp-request.ts';
import { serveStatelessRequest } from './http/serve-stateless-request.ts';
import { watchStreamToken } from './http/watch-stream-token.ts';
import { Gateway } from './gateway/gateway.ts';
import { createIdentityTokens, type IdentityTokens } from './gateway/identity-tokens.ts';
import { statelessRequestAnswerer } from './mcp/answer-stateless-request.ts';
import { createMcpServer, requiredScopeLookup, type ToolCallEvent } from './mcp/create-mcp-server.ts';
import { McpSessions } from './mcp/mcp-sessions.ts';
import { advertisedScopes } from './mcp/advertised-scopes.ts';
import { createJwksProbe } from './ops/probe-jwks.ts';
import { createResourceServerMetrics, UNLISTED_TOOL } from './ops/resource-server-metrics.ts';
import { BUILT_IN_SERVER, isBuiltInTool } from './mcp/built-in-tools.ts';
import { AuditStore } from './storage/audit-store.ts';
import { McpSessionStore } from './storage/mcp-session-store.ts';
import { NoteStore } from './storage/note-store.ts';

export interface CreateResourceServerOptions {
  config: ResourceServerConfig;
  /** An open, migrated database (migrations/<dialect>/resource-server). */
  db: SqlDatabase;
  logger: Logger;
  /**
   * Serves every MCP request as one anonymous caller holding every scope, with no token check at
   * all. Only for measuring what authentication costs (bench/mcp-whoami.ts). Deliberately not a
   * configuration field, so no deployment can switch it on. Default is false.
   */
  dangerouslyDisableAuthentication?: boolean;
  /** Most MCP sessions one user may hold open; older ones are closed beyond it. Default is 32. */
  maxSessionsPerUser?: number;
  /** Serve https from these files. Default is plain http. */
  tls?: TlsFiles;
  /** Where the metrics go (served by the caller). Default is a registry nobody reads. */
  registry?: Registry;
  /** Issues identity tokens for forward_identity servers. Default: from config.identityClient. */
  identity?: IdentityTokens;
  /**
   * "Now" for token checks (exp, nbf, iat), the revocation list's staleness, MCP session and
   * per-user process idle timeouts, process restart backoff, identity token reuse and the audit
   * records. Tests pass a clock they move; timers stay real (apps/shared/clock.ts). Default: systemClock.
   */
  clock?: Clock;
  /** Where connection events go (apps/shared/connection-events.ts). Default: this server's database. */
  connectionRecorder?: ConnectionRecorder;
}

export interface ResourceServer {
  /** The Node HTTP server, not yet listening. */
  readonly httpServer: Server;
  /** Starts listening; resolves to the base URL actually bound (useful with port 0). */
  listen(port: number, host: string): Promise<string>;
  /** Closes every MCP session and the HTTP server. The database stays open: its owner closes it. */
  close(): Promise<void>;
  /**
   * Stops accepting connections, lets in-flight requests finish (up to `timeoutMs`), then closes
   * every MCP session and connection. Resolves to false when some request was cut off.
   */
  shutdown(timeoutMs: number): Promise<boolean>;
  /** Where this server's connection events go (the database recorder unless one was passed). */
  readonly connectionRecorder: ConnectionRecorder;
  /** The tool-call record (`flush()` writes the batch still gathering). */
  readonly audit: AuditStore;
  /** Runs the sweep now (it also runs at start and every hour): old tool calls and events, free pages. */
  sweep(): Promise<void>;
}

const AUDIT_SWEEP_INTERVAL_MS = 60 * 60 * 1000;
/** Longest a start waits for the first read of the revocation feed. */
const FIRST_SYNC_WAIT_MS = 5000;

export function createResourceServer(options: CreateResourceServerOptions): ResourceServer {
  const { config, db, logger, dangerouslyDisableAuthentication = false, maxSessionsPerUser = 32, clock = systemClock } = options;
  const notes = new NoteStore(db);
  const audit = new AuditStore(db, (err) => logger.error({ err }, 'writing tool-call audit records failed'), clock);
  const resourceMetadataUrl = protectedResourceMetadataUrl(config.resource);
  const scopes = advertisedScopes(config.challengeScopes, config.builtInTools, config.servers);
  const metrics = createResourceServerMetrics(options.registry ?? createMetricsRegistry('resource-server'));
  const connectionEvents = new ConnectionEventStore(db, 'mcp_connection_events');
  const connectionRecorder = options.connectionRecorder
    ?? new DatabaseConnectionRecorder({ store: connectionEvents, app: 'resource-server', clock, logger, metrics: metrics.connections });
  // The tool's name only where this server knows it (a built-in tool, one a server listed or the
  // config names): any name a caller sends is counted, and each name would be a series for good.
  const onToolCall = ({ server, tool, outcome }: ToolCallEvent) => metrics.toolCalls.inc({
    server, tool: (server === BUILT_IN_SERVER && isBuiltInTool(tool)) || gateway.knowsTool(server, tool) ? tool : UNLISTED_TOOL, outcome,
  });
  const gateway = new Gateway({
    servers: config.servers,
    maxProcesses: config.maxProcesses,
    maxProcessesPerUser: config.maxProcessesPerUser,
    identity: options.identity ?? (config.identityClient && createIdentityTokens({ ...config.identityClient, clock })),
    logger,
    clock,
  });

  if (dangerouslyDisableAuthentication) {
    logger.warn('AUTHENTICATION IS DISABLED: every MCP request is served as an anonymous caller with every scope. Never run this outside a benchmark.');
  }
  const revocations = new RevocationFeedFollower({
    feedUri: config.revocation.feedUri,
    pollInterval: config.revocation.pollInterval * 1000,
    maxStaleness: config.revocation.maxStaleness * 1000,
    logger,
    clock,
    onKeysChanged: () => {
      verifier.reloadKeys().catch((err: unknown) => logger.warn({ err }, 'could not reload the issuer key set after a key change'));
    },
  });
  const verifier = createAccessTokenVerifier({
    issuer: config.issuer,
    resource: config.resource,
    jwksUri: config.jwksUri,
    cacheSize: config.tokenCacheSize,
    maxTokenLifetime: config.maxTokenLifetime,
    revocations,
    clock,
    logger,
  });
  const connectionSteps = new McpConnectionSteps({
    recorder: connectionRecorder, resource: config.resource, issuer: config.issuer, trustProxy: config.trustProxy, clock, logger,
  });
  const bearerCheck = (steps?: McpConnectionSteps) => (dangerouslyDisableAuthentication
    ? assumeAnonymousCaller
    : requireBearerToken({
      verifier,
      resourceMetadataUrl,
      challengeScopes: scopes.challenge,
      logger,
      onTokenRefused: (reason) => metrics.tokenVerificationFailures.inc({ reason }),
      steps,
    }));
  // Only the MCP endpoint's requests are steps of a client's connection; the auth-server's admin
  // reads (gateway servers, connection events: a fresh minted token each) are not.
  const authenticate = bearerCheck(connectionSteps);
  const authenticateAdmin = bearerCheck();

  const createServer = (subject: string) => createMcpServer({ notes, audit, logger, onToolCall, gateway, builtInTools: config.builtInTools, subject });
  const sessions = new McpSessions({
    createServer,
    // SQLite: this process owns the file, so the store answers a held session without a read.
    store: new McpSessionStore(db, { soleWriter: db.dialect === 'sqlite' }),
    idleTtlMs: config.sessionIdleTtl * 1000,
    maxSessions: config.maxSessions,
    maxSessionsPerSubject: maxSessionsPerUser,
    logger,
    clock,
  });

  // The MCP endpoint's chain, run in this order (serve-mcp-endpoint.ts). Each step answers on its
  // own or passes on.
  const originGuard = guardOrigin(config.allowedOrigins, logger);
  const watchStream = dangerouslyDisableAuthentication ? undefined : watchStreamToken({
    verify: (token) => verifier.verifyAccessToken(token),
    // As often as the feed is read, so a revocation ends a stream about as soon as it refuses a request.
    intervalMs: config.revocation.pollInterval * 1000,
    logger,
  });
  const mcpEndpoint = serveMcpEndpoint({
    guardOrigin: originGuard, // 403 unknown Origin; CORS; preflight
    // A browser's GET without a token: the 401 with the same challenge, as a page; no connection step.
    answerBrowserVisit: dangerouslyDisableAuthentication ? () => false : answerBrowserVisit({
      resource: config.resource,
      accountUrl: `${config.issuer}/account`,
      challenge: bearerChallenge({ scopes: scopes.challenge, resourceMetadataUrl }),
    }),
    authenticate, // 401 no or bad token; 503 key set unreachable
    readJsonRpcBody: readJsonRpcBody(config.maxBodyBytes), // 413 too large; 400 not JSON
    checkMcpRequestMetadata: checkMcpRequestMetadata(), // 400 headers disagree with the body; 2026-07-28 or a session
    requireToolScope: requireToolScope({
      requiredScope: requiredScopeLookup(gateway, config.builtInTools),
      resourceMetadataUrl,
      audit,
      onToolCall,
      onStepUp: (req, auth, refused) => connectionSteps.steppedUp(req, auth, refused),
    }), // 403 insufficient_scope
    // 2026-07-28: no session; a request still running ends once its token is refused.
    serveStatelessRequest: serveStatelessRequest(statelessRequestAnswerer(createServer), logger, watchStream),
    // 404 unknown session; a GET or POST stream ends once its token is refused; the rest is the SDK transport's.
    serveMcpRequest: serveMcpRequest(sessions, logger, watchStream),
  });

  // What the admin pages show of the gateway: the same guard and token check, and mcp:admin.
  const gatewayServersEndpoint: Array<Middleware<AuthenticatedState>> = [
    originGuardMiddleware(originGuard),
    authenticationMiddleware(authenticateAdmin),
    requireScope({ scope: 'mcp:admin', resourceMetadataUrl }), // 403 insufficient_scope
    describeGatewayServers(gateway),
  ];
  // The connection events the auth-server's connection log reads: the same guard, token and scope.
  const connectionEventsEndpoint: Array<Middleware<AuthenticatedState>> = [
    originGuardMiddleware(originGuard),
    authenticationMiddleware(authenticateAdmin),
    requireScope({ scope: 'mcp:admin', resourceMetadataUrl }), // 403 insufficient_scope
    serveConnectionEvents({ store: connectionEvents, recorder: connectionRecorder }),
  ];

  const mcpPath = new URL(config.resource).pathname;
  // As routes matching these paths only, whatever the resource's path holds (literal-route.ts).
  const metadataPaths = ['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${mcpPath}`].map(literalRoute);
  const metadata = protectedResourceMetadata({
    resource: config.resource, issuer: config.issuer, scopesSupported: scopes.supported, onServed: (req) => connectionSteps.metadataServed(req),
  });

  const router = new Router<ResourceServerState>();
  router.get(metadataPaths, metadata);
  router.get(GATEWAY_SERVERS_PATH, ...gatewayServersEndpoint);
  router.get(CONNECTION_EVENTS_PATH, ...connectionEventsEndpoint);
  router.options(metadataPaths, metadata);
  // A browser at the origin root; MCP requests there never reach Koa (serve-at-root.ts).
  router.get('/', rootPage(config.resource));

  // Ready when the database answers a real query, the issuer's key set can be fetched and the
  // revocation list is current. Each MCP server's state is reported beside, but a server that is
  // down does not make the gateway unready: only its own tools fail.
  const readiness = {
    database: () => db.get('SELECT count(*) AS n FROM schema_migrations'),
    jwks: createJwksProbe({ jwksUri: config.jwksUri, clock }),
    revocations: () => revocations.assertCurrent(),
  };

  const app = new Koa<ResourceServerState>();
  logAppErrors(app, logger);
  app.use(observeRequests({ logger, requestDuration: metrics.requestDuration }));
  app.use(rejectMalformedHost({ trustProxy: false }));
  app.use(sayWhenToRetry);
  app.use(handleErrors(logger));
  // POST and DELETE at `/` are the MCP endpoint's (serve-at-root.ts), which never reach Koa; a 405 there still lists them.
  app.use(answerMethodNotAllowed([{ path: /^\/(healthz|readyz)$/, methods: ['GET'] }, { path: /^\/$/, methods: ['POST', 'DELETE'] }]));
  app.use(healthRoutes({ checks: readiness, logger, details: () => (config.servers.length > 0 ? { servers: serverStates(gateway) } : {}) }));
  app.use(redirectToAuthorizationServer(
    authorizationServerEndpoints({ metadataUri: config.authorizationServerMetadataUri, issuer: config.issuer, clock }),
    logger,
    (req, guessed) => connectionSteps.endpointGuessed(req, guessed),
  ));
  app.use(router.routes());

  const pruneConnections = pruneConnectionEvents(connectionEvents, config.connections, clock);
  // Then the pages the deletes left free go back to the file system (SQLite, sql-database.ts).
  const sweep = async () => {
    await Promise.all([
      audit.sweep(config.auditRetention).catch((err: unknown) => logBackgroundFailure(logger, err, 'audit sweep failed')),
      pruneConnections().catch((err: unknown) => logBackgroundFailure(logger, err, 'connection events sweep failed')),
    ]);
    await db.releaseFreePages().catch((err: unknown) => logBackgroundFailure(logger, err, 'releasing free pages failed'));
  };
  void sweep();
  const auditSweeper = setInterval(() => void sweep(), AUDIT_SWEEP_INTERVAL_MS).unref();

  // The MCP path goes to the endpoint above without Koa; every other path to the Koa app.
  const listener = mcpRequestListener({
    mcpPath,
    endpoint: mcpEndpoint,
    otherwise: app.callback(),
    observe: observeRequest({ logger, requestDuration: metrics.requestDuration }),
    logger,
  });
  const http = createHttpServer(listener, options.tls);
  const httpServer = http.server;

  return {
    httpServer,
    connectionRecorder,
    audit,
    sweep,
    async listen(port, host) {
      const url = await http.listen(port, host);
      gateway.start();
      // Serve only once the revocation list is current (until then tokens get 503), waiting a
      // little for an auth-server that starts at the same moment; /readyz tells the rest.
      if (!dangerouslyDisableAuthentication) await revocations.start(Math.min(FIRST_SYNC_WAIT_MS, config.revocation.maxStaleness * 1000));
      return url;
    },
    async shutdown(timeoutMs) {
      clearInterval(auditSweeper);
      revocations.stop();
      return http.shutdown(timeoutMs, async () => {
        await sessions.closeAll();
        await gateway.close();
        await audit.flush();
        await connectionRecorder.flush();
      });
    },
    async close() {
      clearInterval(auditSweeper);
      revocations.stop();
      await sessions.closeAll();
      await gateway.close();
      await audit.flush();
      await connectionRecorder.flush();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}

/** Each MCP server's state for /readyz: no tool names, no URLs (the endpoint is public). */
function serverStates(gateway: Gateway): Record<string, Record<string, unknown>> {
  return Object.fromEntries(gateway.status().map(({ name, transport, perUser, state, processes }) => [
    name,
    { transport, ...(transport === 'stdio' ? { per_user: perUser, processes } : {}), state },
  ]));
}
