/**
 * Builds the resource-server from its configuration: an HTTP server (Koa) with the MCP endpoint,
 * the Protected Resource Metadata and a health check. Listening is left to the caller, so tests
 * and the benchmark can start it on port 0.
 *
 * Every absolute URL it hands out comes from `config.resource`, never from the request's Host,
 * so behind a TLS-terminating proxy it names the external scheme and host.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import type { ResourceServerConfig } from '../../shared/config.ts';
import type { Db } from '../../shared/database.ts';
import type { Logger } from '../../shared/logger.ts';
import { createAccessTokenVerifier } from './auth/verify-access-token.ts';
import { assumeAnonymousCaller } from './http/assume-anonymous-caller.ts';
import { guardOrigin } from './http/guard-origin.ts';
import { handleErrors } from './http/handle-errors.ts';
import { logRequests } from './http/log-requests.ts';
import { protectedResourceMetadata, protectedResourceMetadataUrl } from './http/protected-resource-metadata.ts';
import { readJsonRpcBody } from './http/read-json-rpc-body.ts';
import { requireBearerToken } from './http/require-bearer-token.ts';
import { requireToolScope } from './http/require-tool-scope.ts';
import { serveMcpRequest } from './http/serve-mcp-request.ts';
import { createMcpServer } from './mcp/create-mcp-server.ts';
import { McpSessions } from './mcp/mcp-sessions.ts';
import { BASELINE_SCOPES, TOOL_SCOPES } from './mcp/tool-table.ts';
import { AuditStore } from './storage/audit-store.ts';
import { NoteStore } from './storage/note-store.ts';

export interface CreateResourceServerOptions {
  config: ResourceServerConfig;
  /** An open, migrated database (migrations/resource-server). */
  db: Db;
  logger: Logger;
  /**
   * Serves every MCP request as one anonymous caller holding every scope, with no token check at
   * all. Only for measuring what authentication costs (bench/mcp-whoami.ts). Deliberately not a
   * configuration field, so no deployment can switch it on. Default is false.
   */
  dangerouslyDisableAuthentication?: boolean;
  /** Most MCP sessions one user may hold open; older ones are closed beyond it. Default is 32. */
  maxSessionsPerUser?: number;
}

export interface ResourceServer {
  /** The Node HTTP server, not yet listening. */
  readonly httpServer: Server;
  /** Starts listening; resolves to the base URL actually bound (useful with port 0). */
  listen(port: number, host: string): Promise<string>;
  /** Closes every MCP session and the HTTP server. The database stays open: its owner closes it. */
  close(): Promise<void>;
}

const AUDIT_SWEEP_INTERVAL_MS = 60 * 60 * 1000;

async function healthz(ctx: Context): Promise<void> {
  ctx.body = { status: 'ok' };
}

export function createResourceServer(options: CreateResourceServerOptions): ResourceServer {
  const { config, db, logger, dangerouslyDisableAuthentication = false, maxSessionsPerUser = 32 } = options;
  const notes = new NoteStore(db);
  const audit = new AuditStore(db);
  const resourceMetadataUrl = protectedResourceMetadataUrl(config.resource);

  if (dangerouslyDisableAuthentication) {
    logger.warn('AUTHENTICATION IS DISABLED: every MCP request is served as an anonymous caller with every scope. Never run this outside a benchmark.');
  }
  const authenticate = dangerouslyDisableAuthentication
    ? assumeAnonymousCaller
    : requireBearerToken({
      verifier: createAccessTokenVerifier({
        issuer: config.issuer,
        resource: config.resource,
        jwksUri: config.jwksUri,
        cacheSize: config.tokenCacheSize,
      }),
      resourceMetadataUrl,
      baselineScopes: BASELINE_SCOPES,
      logger,
    });

  const sessions = new McpSessions({
    createServer: () => createMcpServer({ notes, audit, logger }),
    idleTtlMs: config.sessionIdleTtl * 1000,
    maxSessions: config.maxSessions,
    maxSessionsPerSubject: maxSessionsPerUser,
    logger,
  });

  // The MCP endpoint's chain, outermost first. Each step answers on its own or passes on.
  const mcpEndpoint = [
    guardOrigin(config.allowedOrigins), // 403 unknown Origin; CORS; preflight
    authenticate, //                       401 no or bad token; 503 key set unreachable
    readJsonRpcBody(config.maxBodyBytes), // 413 too large; 400 not JSON
    requireToolScope({ toolScopes: TOOL_SCOPES, resourceMetadataUrl, audit }), // 403 insufficient_scope
    serveMcpRequest(sessions, logger), //   404 unknown session; the rest is the SDK transport's
  ];

  const mcpPath = new URL(config.resource).pathname;
  const metadataPaths = ['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${mcpPath}`];
  const metadata = protectedResourceMetadata({ resource: config.resource, issuer: config.issuer });

  const router = new Router();
  router.all(mcpPath, ...mcpEndpoint);
  router.get(metadataPaths, metadata);
  router.options(metadataPaths, metadata);
  router.get('/healthz', healthz);

  const app = new Koa();
  app.silent = true;
  app.use(handleErrors(logger));
  app.use(logRequests(logger));
  app.use(router.routes());
  app.use(router.allowedMethods());

  const sweepAudit = () => {
    try {
      audit.sweep(config.auditRetention);
    } catch (err) {
      logger.error({ err }, 'audit sweep failed');
    }
  };
  sweepAudit();
  const auditSweeper = setInterval(sweepAudit, AUDIT_SWEEP_INTERVAL_MS).unref();

  const httpServer = createServer(app.callback());

  return {
    httpServer,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const address = httpServer.address() as AddressInfo;
          const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(`http://${hostPart}:${address.port}`);
        });
      });
    },
    async close() {
      clearInterval(auditSweeper);
      await sessions.closeAll();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}
