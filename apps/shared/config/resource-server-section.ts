/**
 * `resource_server`: the MCP resource server's (and gateway's) own fields, checked and turned into
 * the shape its code uses. Its defaults that follow the auth-server (issuer, key set, feed, token
 * lifetime) and the shared fields are filled in by `resourceServerConfig`.
 */
import { resolve } from 'node:path';
import * as z from 'zod';
import { booleanish, CROSS_FIELD, duration, environmentName, issuerUrl, port, resourceUrl, timerDuration, whenSet, type FieldNote } from './field-schemas.ts';
import { gatewayServers } from './gateway-servers.ts';
import type { ConnectionsConfig } from './connections-section.ts';
import type { LoadContext } from './load-context.ts';
import type { DatabaseSettings } from '../storage/open-database.ts';

/** The resource URL when none is configured, so moving the port moves it with it. */
export const defaultResource = (port: number) => `http://localhost:${port}/mcp`;

/** Fields the auth-server also reads (the token audience it issues for), with the same checks. */
export const resourceServerPeerFields = {
  port: port.default(4001)
    .meta({ description: 'resource-server port', env: 'RESOURCE_PORT' } satisfies FieldNote),
  resource: resourceUrl.optional()
    .meta({ description: 'canonical MCP URL = token audience', env: 'RESOURCE_URL', default: '`http://localhost:4001/mcp` (follows `RESOURCE_PORT`)' } satisfies FieldNote),
};

function resourceServerFields(context: LoadContext) {
  return {
    ...resourceServerPeerFields,
    issuer: issuerUrl.optional()
      .meta({ description: 'the issuer whose tokens it accepts', default: 'auth_server.issuer' } satisfies FieldNote),
    jwks_uri: z.url().optional()
      .meta({ description: 'where the resource server fetches the signing keys (e.g. over an internal network)', env: 'JWKS_URI', default: '`<issuer>/oauth/jwks`' } satisfies FieldNote),
    allowed_origins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, { error: 'expected origins like http://localhost:6274' })).default([])
      .meta({ description: 'browser MCP clients, e.g. [http://localhost:6274]' } satisfies FieldNote),
    max_body_bytes: z.coerce.number().int().min(1024, { error: 'expected at least 1024 bytes' }).max(16 * 1024 * 1024, { error: 'expected at most 16 MiB' }).default(256 * 1024)
      .meta({ description: 'largest accepted MCP request body, in bytes' } satisfies FieldNote),
    token_cache_size: z.coerce.number().int().min(0, { error: 'expected 0 or more entries' }).max(1_000_000, { error: 'expected at most 1000000 entries' }).default(10_000)
      .meta({ description: 'verified access tokens kept in memory until they expire; 0 verifies every request afresh' } satisfies FieldNote),
    session_idle_timeout: duration.default(30 * 60)
      .meta({ description: 'an MCP session is closed this long after its last request' } satisfies FieldNote),
    max_sessions: z.coerce.number().int().min(1, { error: 'expected at least 1 session' }).max(1_000_000, { error: 'expected at most 1000000 sessions' }).default(10_000)
      .meta({ description: 'open MCP sessions kept at most (across all replicas); the least recently used is closed beyond that' } satisfies FieldNote),
    audit_retention: duration.default(30 * 86400)
      .meta({ description: 'how long a tool-call record is kept' } satisfies FieldNote),
    max_token_lifetime: duration.optional()
      .meta({ description: 'longest access token lifetime accepted (exp - iat); longer-lived tokens are refused', default: 'auth_server.token_lifetime' } satisfies FieldNote),
    challenge_scopes: z.enum(['all', 'minimal'], { error: 'expected all or minimal' }).default('all')
      .meta({ description: "scopes the 401 challenge and the PRM's scopes_supported name: `all` (every scope a tool uses, so the first sign-in asks for everything and the user unticks what they refuse: for clients that cannot step up on 403), or `minimal` (mcp:read; more by 403 step-up)" } satisfies FieldNote),
    built_in_tools: booleanish.default(true)
      .meta({ description: "serve Gatehouse's own tools (whoami, notes, recent_activity) beside the servers'" } satisfies FieldNote),
    servers: gatewayServers(context)
      .meta({ description: 'MCP servers behind the gateway (README: Protect your MCP servers)' } satisfies FieldNote),
    max_processes: z.coerce.number().int().min(1, { error: 'expected at least 1 process' }).max(10_000).default(64)
      .meta({ description: 'stdio server processes at most, in all' } satisfies FieldNote),
    max_processes_per_user: z.coerce.number().int().min(1, { error: 'expected at least 1 process' }).max(1_000).default(4)
      .meta({ description: 'per_user stdio processes at most for one user' } satisfies FieldNote),
    identity_client: z.strictObject({
      client_id: z.string().min(1)
        .meta({ description: "the client's id at the auth-server" } satisfies FieldNote),
      client_secret_env: environmentName
        .meta({ description: 'the environment variable holding its secret' } satisfies FieldNote),
    }).optional()
      .meta({ description: "for forward_identity: the confidential client, registered as this resource's server, with which the gateway exchanges a caller's token for one naming an upstream" } satisfies FieldNote),
    revocation: z.strictObject({
      feed_uri: z.url().optional()
        .meta({ description: "the auth-server's revocation feed the resource server follows", env: 'REVOCATION_FEED_URI', default: 'beside `JWKS_URI` (`…/oauth/revocations`)' } satisfies FieldNote),
      poll_interval: timerDuration.default(2)
        .meta({ description: 'between reads of the feed' } satisfies FieldNote),
      max_staleness: duration.default(30)
        .meta({ description: 'no successful read for this long: tokens are refused with 503 (fail closed)' } satisfies FieldNote),
    }).prefault({}).meta({ description: "the auth-server's revocation feed, followed so revoked tokens are refused within seconds" } satisfies FieldNote),
  };
}

export function resourceServerSection(context: LoadContext) {
  return z.strictObject(resourceServerFields(context)).transform((r, ctx) => {
    if (r.revocation.max_staleness <= r.revocation.poll_interval) {
      ctx.addIssue({ code: 'custom', path: ['revocation', 'max_staleness'], params: CROSS_FIELD, message: 'expected more than poll_interval' });
      return z.NEVER;
    }
    let identityClient: { clientId: string; clientSecret: string } | undefined;
    if (r.identity_client) {
      const clientSecret = context.env[r.identity_client.client_secret_env];
      if (!clientSecret) {
        ctx.addIssue({ code: 'custom', path: ['identity_client', 'client_secret_env'], message: `the environment variable ${r.identity_client.client_secret_env} is not set` });
        return z.NEVER;
      }
      identityClient = { clientId: r.identity_client.client_id, clientSecret };
    } else {
      const forwarding = r.servers.findIndex((server) => server.transport === 'http' && server.forwardIdentity);
      if (forwarding >= 0) {
        ctx.addIssue({ code: 'custom', path: ['servers', forwarding, 'forward_identity'], params: CROSS_FIELD, message: "needs resource_server.identity_client (the confidential client, registered as this resource's server, that the gateway uses to obtain identity tokens)" });
        return z.NEVER;
      }
    }
    return { ...r, resource: r.resource ?? defaultResource(r.port), identityClient };
  }).meta({ description: 'the MCP resource server and gateway: token checks, sessions, the servers behind it' } satisfies FieldNote);
}

type ResourceServerSection = z.output<ReturnType<typeof resourceServerSection>>;

/** What the resource server takes from the rest of the file. */
export interface ResourceServerSurroundings {
  host: string;
  dataDir: string;
  /** PostgreSQL, or the SQLite file in dataDir. */
  database: DatabaseSettings;
  /** auth_server.issuer (or its default) and auth_server.token_lifetime. */
  authIssuer: string;
  authTokenLifetime: number;
  /** trust_proxy: the client address is the proxy's last X-Forwarded-For entry. */
  trustProxy: boolean;
  /** The shared `connections` section: the recorder's bounds. */
  connections: ConnectionsConfig;
}

export function resourceServerConfig(r: ResourceServerSection, around: ResourceServerSurroundings) {
  const issuer = r.issuer ?? around.authIssuer;
  const jwksUri = r.jwks_uri ?? `${issuer}/oauth/jwks`;
  // The feed and the token endpoint are served by the same auth-server as the key set, so they
  // follow an internal JWKS_URI.
  const besideJwks = (path: string) => (jwksUri.endsWith('/oauth/jwks') ? `${jwksUri.slice(0, -'/oauth/jwks'.length)}${path}` : `${issuer}${path}`);
  return {
    port: r.port,
    host: around.host,
    resource: r.resource,
    issuer,
    jwksUri,
    /** The auth-server's RFC 8414 metadata, fetched to redirect guessed endpoints (follows JWKS_URI). */
    authorizationServerMetadataUri: besideJwks('/.well-known/oauth-authorization-server'),
    allowedOrigins: r.allowed_origins,
    /** Whose address a connection event names: the proxy's last X-Forwarded-For entry when set. */
    trustProxy: around.trustProxy,
    connections: around.connections,
    databaseFile: resolve(around.dataDir, 'resource-server.db'),
    database: around.database,
    /** Largest accepted MCP request body, in bytes. */
    maxBodyBytes: r.max_body_bytes,
    /** How many verified access tokens are cached until their `exp`; 0 disables the cache. */
    tokenCacheSize: r.token_cache_size,
    /** Seconds after its last request that an MCP session is closed. */
    sessionIdleTtl: r.session_idle_timeout,
    /** Open MCP sessions kept at most; the least recently used is closed beyond that. */
    maxSessions: r.max_sessions,
    /** Seconds a tool-call audit record is kept. */
    auditRetention: r.audit_retention,
    /** Longest accepted access token lifetime (`exp - iat`), in seconds. */
    maxTokenLifetime: r.max_token_lifetime ?? around.authTokenLifetime,
    /** What the 401 challenge and the PRM ask for: every scope a tool uses, or the baseline. */
    challengeScopes: r.challenge_scopes,
    /** Serve Gatehouse's own tools (whoami, notes, recent_activity) beside the servers'. */
    builtInTools: r.built_in_tools,
    /** MCP servers put behind the gateway, in configuration order (which settles collisions). */
    servers: r.servers,
    maxProcesses: r.max_processes,
    maxProcessesPerUser: r.max_processes_per_user,
    /** Set when a server has forward_identity: the resource server's client at the auth-server. */
    ...whenSet('identityClient', r.identityClient && { ...r.identityClient, tokenEndpoint: besideJwks('/oauth/token') }),
    revocation: {
      feedUri: r.revocation.feed_uri ?? besideJwks('/oauth/revocations'),
      /** Seconds between polls of the revocation feed. */
      pollInterval: r.revocation.poll_interval,
      /** Seconds without a successful sync after which tokens are refused with 503. */
      maxStaleness: r.revocation.max_staleness,
    },
  };
}

export type ResourceServerConfig = ReturnType<typeof resourceServerConfig>;
