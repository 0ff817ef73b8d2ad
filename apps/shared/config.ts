/**
 * Gatehouse configuration: defaults → optional YAML file (`GATEHOUSE_CONFIG`, with `${VAR}`
 * interpolation) → environment variables, validated once with zod.
 *
 * This is the only module that reads `process.env` (callers pass it in, so tests can too).
 * A bad value throws a ConfigError whose message is one line naming the field (and the env var
 * it came from, when it did) and what is expected.
 */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { parseDuration } from './duration.ts';
import { USERNAME } from './username.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const MCP_SCOPES = ['mcp:read', 'mcp:write', 'mcp:admin'] as const;
export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;
export const ALL_SCOPES: readonly string[] = [...MCP_SCOPES, ...OIDC_SCOPES];

// Env var → the config path it sets. Also used to name the env var in error messages.
export const ENV_FIELDS: Record<string, string[]> = {
  AUTH_PORT: ['auth_server', 'port'],
  ISSUER: ['auth_server', 'issuer'],
  RESOURCE_PORT: ['resource_server', 'port'],
  RESOURCE_URL: ['resource_server', 'resource'],
  DATA_DIR: ['data_dir'],
  KEYS_DIR: ['auth_server', 'signing', 'keys_dir'],
  BOOTSTRAP_ADMIN_USERNAME: ['auth_server', 'bootstrap_admin', 'username'],
  BOOTSTRAP_ADMIN_PASSWORD: ['auth_server', 'bootstrap_admin', 'password'],
  LOG_LEVEL: ['log_level'],
  LISTEN_HOST: ['listen_host'],
  TRUST_PROXY: ['trust_proxy'],
  GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER: ['auth_server', 'dangerously_allow_http_issuer'],
  JWKS_URI: ['resource_server', 'jwks_uri'],
  REVOCATION_FEED_URI: ['resource_server', 'revocation', 'feed_uri'],
  GATEWAY_STATUS_URI: ['auth_server', 'gateway_status_uri'],
  TLS_CERT_FILE: ['tls', 'cert_file'],
  TLS_KEY_FILE: ['tls', 'key_file'],
  METRICS_ENABLED: ['metrics', 'enabled'],
  METRICS_HOST: ['metrics', 'host'],
  AUTH_METRICS_PORT: ['metrics', 'auth_server_port'],
  RESOURCE_METRICS_PORT: ['metrics', 'resource_server_port'],
  SHUTDOWN_TIMEOUT: ['shutdown_timeout'],
};

const duration = (what: string) =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    const seconds = parseDuration(value);
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${what} such as 90s, 15m, 1h or 30d, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return seconds;
  });

const port = z.coerce
  .number({ error: 'expected a port number' })
  .int({ error: 'expected a whole port number' })
  .min(0, { error: 'expected a port from 0 to 65535' })
  .max(65535, { error: 'expected a port from 0 to 65535' });

const booleanish = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
], { error: 'expected true or false' });

/** An absolute http(s) URL with no query, fragment or trailing slash. */
const issuerUrl = z.string().transform((value, ctx) => {
  const url = URL.parse(value);
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash || value.endsWith('/') || url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: `expected an absolute http(s) URL without query, fragment or trailing slash, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return value;
});

/** The canonical resource URL: absolute, with a path (e.g. https://mcp.example.com/mcp). */
const resourceUrl = z.string().transform((value, ctx) => {
  const url = URL.parse(value);
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.pathname === '/' || value.endsWith('/')) {
    ctx.addIssue({ code: 'custom', message: `expected an absolute http(s) URL with a path and no trailing slash, query or fragment (like https://mcp.example.com/mcp), got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return value;
});

const rateLimit = (max: number, window: number) => z.strictObject({
  max: z.coerce.number().int().min(1, { error: 'expected at least 1 request' }).max(1_000_000).default(max),
  window: duration('a duration').default(window),
}).prefault({});

const scopeList = z.array(z.enum(MCP_SCOPES, { error: `expected scopes from ${MCP_SCOPES.join(', ')}` }));

const userEntry = z.strictObject({
  username: z.string().regex(USERNAME, { error: 'expected 1-64 letters, digits or . _ @ -' }),
  password_hash: z.string().regex(/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/, { error: 'expected a bcrypt hash ($2b$12$…)' }).optional(),
  password_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'expected the name of an environment variable' }).optional(),
  scopes: scopeList.default(['mcp:read']),
  disabled: booleanish.default(false),
}).refine((u) => (u.password_hash === undefined) !== (u.password_env === undefined), {
  error: 'expected exactly one of password_hash or password_env',
});

/** Host names of URLs that stay on this machine (plain http is allowed for them). */
export const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

const environmentName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'expected the name of an environment variable' });
const mcpScope = z.enum(MCP_SCOPES, { error: `expected one of the resource's scopes: ${MCP_SCOPES.join(', ')}` });

/**
 * An MCP server put behind the gateway: a stdio command Gatehouse starts, or a Streamable HTTP URL.
 * Fields of the other kind are refused rather than ignored, so a misplaced line is noticed.
 */
const gatewayServerEntry = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]{1,32}$/, { error: 'expected 1-32 lowercase letters, digits or - (tools appear as <name>__<tool>)' }),
  command: z.string().min(1, { error: 'expected a command' }).optional(),
  args: z.array(z.string()).optional(),
  env: z.record(environmentName, z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
  cwd: z.string().min(1).optional(),
  per_user: booleanish.optional(),
  // per_user only: a user's process is stopped after this long without a call.
  idle_timeout: duration('a duration').optional(),
  url: z.string().transform((value, ctx) => {
    const url = URL.parse(value);
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.hash || url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: `expected the server's http(s) URL without fragment or credentials, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return value;
  }).optional(),
  headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'expected an HTTP header name' }), z.string()).optional(),
  forward_identity: booleanish.optional(),
  timeout: duration('a duration').default(30),
  scopes: z.strictObject({
    default: mcpScope,
    tools: z.record(z.string().min(1), mcpScope).default({}),
  }, { error: 'expected scopes: { default: <scope>, tools: { <tool>: <scope> } }' }),
}).superRefine((entry, ctx) => {
  if ((entry.command === undefined) === (entry.url === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['command'], message: 'expected exactly one of command (a stdio server) or url (a Streamable HTTP server)' });
    return;
  }
  const foreign = entry.command === undefined
    ? (['args', 'env', 'cwd', 'per_user', 'idle_timeout'] as const).filter((key) => entry[key] !== undefined)
    : (['headers', 'forward_identity'] as const).filter((key) => entry[key] !== undefined);
  for (const key of foreign) {
    ctx.addIssue({ code: 'custom', path: [key], message: `only applies to ${entry.command === undefined ? 'a stdio server (command)' : 'an HTTP server (url)'}` });
  }
});

/** An upstream OpenID provider for federated sign-in. */
const upstreamEntry = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { error: 'expected a short lowercase id like google' }).optional(),
  display_name: z.string().min(1).max(60).optional(),
  upstream_issuer: z.string().transform((value, ctx) => {
    const url = URL.parse(value);
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash) {
      ctx.addIssue({ code: 'custom', message: `expected the upstream's issuer URL, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    if (url.protocol === 'http:' && !LOOPBACK_HOSTNAMES.has(url.hostname)) {
      ctx.addIssue({ code: 'custom', message: 'expected an https issuer (plain http only on loopback, for local testing)' });
      return z.NEVER;
    }
    return value;
  }),
  client_id: z.string().min(1),
  // The secret comes from the environment only, never from the file.
  client_secret_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'expected the name of an environment variable' }).optional(),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default(['openid', 'email', 'profile']),
  allowed_domains: z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, { error: 'expected domains like example.com' })).default([]),
  allowed_emails: z.array(z.email({ error: 'expected email addresses' })).default([]),
  new_users: z.enum(['allow', 'pending']).default('allow'),
  default_scopes: scopeList.default(['mcp:read']),
  admin_users: z.array(z.string().min(1)).default([]),
  admin_scopes: scopeList.default(['mcp:read', 'mcp:write', 'mcp:admin']),
  timeout: duration('a duration').default(10),
  // RFC 9700 §4.4.2: each upstream gets its own redirect URI (<issuer>/oauth/callback/<id>).
  // true keeps the shared <issuer>/oauth/callback earlier releases used; single upstream only.
  legacy_redirect_uri: booleanish.default(false),
});

const schema = z.strictObject({
  data_dir: z.string().min(1).default('./data'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // The address both apps listen on. 127.0.0.1 keeps a zero-config start private to this machine.
  listen_host: z.string().min(1).default('127.0.0.1'),
  // Trust X-Forwarded-For/-Proto/-Host from a reverse proxy that terminates TLS. Only behind one.
  trust_proxy: booleanish.default(false),
  // Serve https directly from these PEM files (both apps), instead of plain http behind a proxy.
  tls: z.strictObject({
    cert_file: z.string().min(1, { error: 'expected the path of a PEM certificate (chain) file' }),
    key_file: z.string().min(1, { error: 'expected the path of a PEM private key file' }),
  }).optional(),
  // Prometheus metrics, each app on its own port, so the public ports never serve them.
  metrics: z.strictObject({
    enabled: booleanish.default(false),
    host: z.string().min(1).optional(),
    auth_server_port: port.default(9464),
    resource_server_port: port.default(9465),
  }).prefault({}),
  // How long in-flight requests may run on after SIGTERM before their connections are closed.
  shutdown_timeout: duration('a duration').default(10),
  auth_server: z.strictObject({
    port: port.default(4000),
    // Default: http://localhost:<port>, so moving the port moves the issuer with it.
    issuer: issuerUrl.optional(),
    mode: z.enum(['builtin', 'federated', 'both']).default('builtin'),
    token_lifetime: duration('a duration').default(3600),
    refresh_token_lifetime: duration('a duration').default(30 * 86400),
    // Absolute cap on a chain of rotated refresh tokens, counted from the first sign-in.
    refresh_token_absolute_lifetime: duration('a duration').default(90 * 86400),
    session_lifetime: duration('a duration').default(14 * 86400),
    default_scopes: scopeList.min(1).default(['mcp:read']),
    bcrypt_cost: z.coerce.number().int().min(10, { error: 'expected a bcrypt cost from 10 to 15' }).max(15, { error: 'expected a bcrypt cost from 10 to 15' }).default(12),
    signing: z.strictObject({
      algorithm: z.literal('RS256', { error: 'only RS256 is supported' }).default('RS256'),
      keys_dir: z.string().min(1).default('./keys'),
      // How often a running server looks for a key file changed by `gatehouse keys rotate|retire`.
      reload_interval: duration('a duration').default(5),
    }).prefault({}),
    audit: z.strictObject({
      // Audit events older than this are deleted by the sweeper.
      retention: duration('a duration').default(90 * 86400),
      // At most this many events are kept (oldest deleted first), so a flood cannot fill the disk.
      max_events: z.coerce.number().int().min(1000, { error: 'expected at least 1000 events' }).max(100_000_000, { error: 'expected at most 100000000 events' }).default(1_000_000),
    }).prefault({}),
    registration: z.strictObject({
      enabled: booleanish.default(true),
      allowed_redirect_uris: z.array(z.url({ error: 'expected absolute URIs' })).default([
        'https://claude.ai/api/mcp/auth_callback',
        'https://claude.com/api/mcp/auth_callback',
      ]),
      // Off: only https and loopback http. On: reverse-domain, known MCP client and `allowed_schemes`.
      allow_private_use_schemes: booleanish.default(true),
      allowed_schemes: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9+.-]*$/, { error: 'expected URI scheme names like myapp' })).default([]),
      unused_client_lifetime: duration('a duration').default(86400),
      max_body_bytes: z.coerce.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
      // Registrations not yet used for a token, server-wide; past it /oauth/register answers 429.
      max_pending_clients: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
    }).prefault({}),
    // Token buckets per client IP: `max` requests at once, refilled evenly over `window`.
    rate_limits: z.strictObject({
      enabled: booleanish.default(true),
      registration: rateLimit(20, 600),   // POST /oauth/register
      token: rateLimit(600, 60),          // POST /oauth/token, /oauth/revoke, /oauth/introspect
      sign_in: rateLimit(120, 60),        // POST /interaction/… (sign-in, consent, federated)
    }).prefault({}),
    builtin: z.strictObject({
      users: z.array(userEntry).default([]),
    }).prefault({}),
    bootstrap_admin: z.strictObject({
      username: z.string().regex(USERNAME).default('admin'),
      password: z.string().min(12, { error: 'expected at least 12 characters' })
        .refine((p) => Buffer.byteLength(p) <= 72, { error: 'expected at most 72 bytes (bcrypt ignores the rest)' }).optional(),
    }).prefault({}),
    client_id_metadata_documents: z.strictObject({
      enabled: booleanish.default(true),
      // Hosts whose documents are trusted; others follow `untrusted_hosts`.
      trusted_hosts: z.array(z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, { error: 'expected host names like claude.ai' })).default(['claude.ai', 'claude.com']),
      untrusted_hosts: z.enum(['allow', 'warn', 'refuse']).default('warn'),
      cache_min: duration('a duration').default(60),
      cache_max: duration('a duration').default(86400),
    }).prefault({}),
    sign_in_throttle: z.strictObject({
      // Failures counted per (username, client IP) and per client IP within `window`.
      max_failures: z.coerce.number().int().min(1).max(1000).default(5),
      max_failures_per_ip: z.coerce.number().int().min(1).max(100_000).default(50),
      slow_down_after: z.coerce.number().int().min(0).max(1000).default(2),
      window: duration('a duration').default(15 * 60),
      lock_duration: duration('a duration').default(15 * 60),
    }).prefault({}),
    // One upstream (the form of DESIGN.md) or a list of them.
    federated: z.union([upstreamEntry, z.array(upstreamEntry).min(1)]).optional(),
    dangerously_allow_http_issuer: booleanish.default(false),
    // Admin pages only (the browser session itself lives session_lifetime): admin access ends after
    // idle_timeout without an admin request, and changes that add access, credentials or trust
    // need a sign-in no older than reauthenticate_after.
    admin: z.strictObject({
      idle_timeout: duration('a duration').default(15 * 60),
      reauthenticate_after: duration('a duration').default(5 * 60),
    }).prefault({}),
    // Where the admin pages read the gateway's MCP servers (the resource server's /gateway/servers).
    // Default: beside the resource URL; set it when this server reaches the resource server by
    // another name (e.g. http://resource-server:4001/gateway/servers on a compose network).
    gateway_status_uri: z.url({ protocol: /^https?$/, error: 'expected an absolute http(s) URL' }).optional(),
  }).prefault({}),
  resource_server: z.strictObject({
    port: port.default(4001),
    // Default: http://localhost:<port>/mcp.
    resource: resourceUrl.optional(),
    issuer: issuerUrl.optional(),
    jwks_uri: z.url().optional(),
    allowed_origins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, { error: 'expected origins like http://localhost:6274' })).default([]),
    max_body_bytes: z.coerce.number().int().min(1024, { error: 'expected at least 1024 bytes' }).max(16 * 1024 * 1024, { error: 'expected at most 16 MiB' }).default(256 * 1024),
    // Verified access tokens kept in memory until they expire; 0 verifies every request afresh.
    token_cache_size: z.coerce.number().int().min(0, { error: 'expected 0 or more entries' }).max(1_000_000, { error: 'expected at most 1000000 entries' }).default(10_000),
    session_idle_timeout: duration('a duration').default(30 * 60),
    max_sessions: z.coerce.number().int().min(1, { error: 'expected at least 1 session' }).max(1_000_000, { error: 'expected at most 1000000 sessions' }).default(10_000),
    audit_retention: duration('a duration').default(30 * 86400),
    // Longest access token lifetime accepted (exp - iat). Default: auth_server.token_lifetime.
    max_token_lifetime: duration('a duration').optional(),
    // The gateway: Gatehouse's own tools and the MCP servers put behind it (README: Protect your MCP servers).
    built_in_tools: booleanish.default(true),
    servers: z.array(gatewayServerEntry).default([]).superRefine((servers, ctx) => {
      const seen = new Set<string>();
      servers.forEach((server, i) => {
        if (seen.has(server.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `the name ${server.name} is used by another server` });
        seen.add(server.name);
      });
    }),
    // stdio processes at most: in all, and per_user processes for one user.
    max_processes: z.coerce.number().int().min(1, { error: 'expected at least 1 process' }).max(10_000).default(64),
    max_processes_per_user: z.coerce.number().int().min(1, { error: 'expected at least 1 process' }).max(1_000).default(4),
    // How the resource server authenticates to the auth-server's token endpoint to exchange a
    // caller's token for a short-lived one naming an upstream (forward_identity). A confidential
    // client an administrator registered as this resource's server.
    identity_client: z.strictObject({
      client_id: z.string().min(1),
      client_secret_env: environmentName,
    }).optional(),
    // The auth-server's revocation feed, followed so revoked tokens are refused within seconds.
    revocation: z.strictObject({
      feed_uri: z.url().optional(), // default: beside jwks_uri (<issuer>/oauth/revocations)
      poll_interval: duration('a duration').default(2),
      // Past this without a successful sync, tokens are refused with 503 (fail closed).
      max_staleness: duration('a duration').default(30),
    }).prefault({}),
  }).prefault({}),
});

type RawConfig = z.output<typeof schema>;

export interface BuiltinUser {
  username: string;
  /** A bcrypt hash, from `password_hash` or hashed at boot from `password_env`. */
  passwordHash?: string;
  password?: string;
  scopes: string[];
  disabled: boolean;
}

export interface UpstreamConfig {
  id: string;
  displayName: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  scopes: string[];
  allowedDomains: string[];
  allowedEmails: string[];
  newUsers: 'allow' | 'pending';
  defaultScopes: string[];
  /** Emails or upstream subjects that get adminScopes. */
  adminUsers: string[];
  adminScopes: string[];
  /** Seconds for each request to the upstream. */
  timeout: number;
  /** Send the shared `<issuer>/oauth/callback` instead of `<issuer>/oauth/callback/<id>` (single upstream only). Default false. */
  legacyRedirectUri?: boolean;
}

export interface AuthServerConfig {
  port: number;
  host: string;
  issuer: string;
  mode: 'builtin' | 'federated' | 'both';
  /** Access token lifetime in seconds. */
  accessTokenTtl: number;
  /** Lifetime of each refresh token in seconds (renewed on rotation, up to the absolute cap). */
  refreshTokenTtl: number;
  refreshTokenAbsoluteTtl: number;
  sessionTtl: number;
  defaultScopes: string[];
  bcryptCost: number;
  keysDir: string;
  /** Seconds between checks of the key file for changes made by the CLI while the server runs. */
  keysReloadInterval: number;
  databaseFile: string;
  resource: string;
  registration: {
    enabled: boolean;
    allowedRedirectUris: string[];
    allowPrivateUseSchemes: boolean;
    /** Private-use schemes allowed beyond reverse-domain names and known MCP clients (lowercase). */
    allowedSchemes: string[];
    /** Seconds a registered client that never obtained a token is kept. */
    unusedClientTtl: number;
    maxBodyBytes: number;
    /** Registrations not yet used for a token, at most, server-wide. */
    maxPendingClients: number;
  };
  /** Per client IP; each allows `max` requests at once, refilled evenly over `window` seconds. */
  rateLimits: {
    enabled: boolean;
    registration: { max: number; window: number };
    token: { max: number; window: number };
    signIn: { max: number; window: number };
  };
  users: BuiltinUser[];
  bootstrapAdmin: { username: string; password?: string };
  clientIdMetadataDocuments: {
    enabled: boolean;
    trustedHosts: string[];
    /** What happens with a document on a host not in trustedHosts. */
    untrustedHosts: 'allow' | 'warn' | 'refuse';
    /** Seconds a fetched document is cached at least / at most (Cache-Control is honoured between). */
    cacheMin: number;
    cacheMax: number;
  };
  signInThrottle: {
    maxFailures: number;
    maxFailuresPerIp: number;
    slowDownAfter: number;
    /** Seconds over which failures are counted. */
    window: number;
    /** Seconds a (username, IP) pair or an IP stays locked. */
    lockDuration: number;
  };
  trustProxy: boolean;
  upstreams: UpstreamConfig[];
  dangerouslyAllowHttpIssuer: boolean;
  audit: {
    /** Seconds an audit event is kept. */
    retention: number;
    /** Most events kept; the oldest beyond this are deleted. */
    maxEvents: number;
  };
  admin: {
    /** Seconds without an admin request after which the admin pages ask for a fresh sign-in. */
    idleTimeout: number;
    /** Seconds a sign-in counts as recent enough for sensitive admin changes. */
    reauthenticateAfter: number;
  };
  /** The resource server's GET /gateway/servers, read by the admin pages with a minted mcp:admin token. */
  gatewayStatusUri: string;
}

/** How the gateway needs a scope for one server's tools, prompts and resources. */
export interface GatewayScopes {
  /** Needed by every tool not in `tools`, and by the server's prompts and resources. */
  default: McpScope;
  /** Upstream tool name (as the server names it) → the scope it needs. */
  tools: Record<string, McpScope>;
}

interface GatewayServerCommon {
  name: string;
  /** Seconds each request to the server may take. */
  timeout: number;
  scopes: GatewayScopes;
}

/** A stdio MCP server Gatehouse starts. */
export interface StdioServerConfig extends GatewayServerCommon {
  transport: 'stdio';
  command: string;
  args: string[];
  /** The child's environment beyond the MCP SDK's minimal default (PATH, HOME, USER, …). */
  env: Record<string, string>;
  cwd?: string;
  /** One process per signed-in user instead of one shared by everyone. */
  perUser: boolean;
  /** Seconds a per-user process may sit without a call before it is stopped. */
  idleTimeout: number;
}

/** A Streamable HTTP MCP server Gatehouse calls. */
export interface HttpServerConfig extends GatewayServerCommon {
  transport: 'http';
  url: string;
  /** The server's own credentials, sent on every request. */
  headers: Record<string, string>;
  /** Send a short-lived token naming the caller, issued for this server's URL. */
  forwardIdentity: boolean;
}

export type GatewayServerConfig = StdioServerConfig | HttpServerConfig;

export type McpScope = (typeof MCP_SCOPES)[number];

export interface ResourceServerConfig {
  port: number;
  host: string;
  resource: string;
  issuer: string;
  jwksUri: string;
  allowedOrigins: string[];
  databaseFile: string;
  /** Largest accepted MCP request body, in bytes. */
  maxBodyBytes: number;
  /** How many verified access tokens are cached until their `exp`; 0 disables the cache. */
  tokenCacheSize: number;
  /** Seconds after its last request that an MCP session is closed. */
  sessionIdleTtl: number;
  /** Open MCP sessions kept at most; the least recently used is closed beyond that. */
  maxSessions: number;
  /** Seconds a tool-call audit record is kept. */
  auditRetention: number;
  /** Longest accepted access token lifetime (`exp - iat`), in seconds. */
  maxTokenLifetime: number;
  /** Serve Gatehouse's own tools (whoami, notes, recent_activity) beside the servers'. */
  builtInTools: boolean;
  /** MCP servers put behind the gateway, in configuration order (which settles collisions). */
  servers: GatewayServerConfig[];
  /** stdio processes at most, in all. */
  maxProcesses: number;
  /** per_user stdio processes at most for one user. */
  maxProcessesPerUser: number;
  /** Set when a server has forward_identity: the resource server's client at the auth-server. */
  identityClient?: { clientId: string; clientSecret: string; tokenEndpoint: string };
  revocation: {
    feedUri: string;
    /** Seconds between polls of the revocation feed. */
    pollInterval: number;
    /** Seconds without a successful sync after which tokens are refused with 503. */
    maxStaleness: number;
  };
}

export interface TlsFiles {
  /** PEM certificate, with its intermediate chain. */
  certFile: string;
  /** PEM private key. */
  keyFile: string;
}

export interface MetricsConfig {
  host: string;
  authServerPort: number;
  resourceServerPort: number;
}

export interface GatehouseConfig {
  logLevel: string;
  /** Set when both apps serve https themselves. */
  tls?: TlsFiles;
  /** Set when Prometheus metrics are on. */
  metrics?: MetricsConfig;
  /** Seconds in-flight requests get to finish after SIGTERM. */
  shutdownTimeout: number;
  authServer: AuthServerConfig;
  resourceServer: ResourceServerConfig;
}

/** Replaces `${VAR}` in every string scalar of the parsed YAML (not in the raw text, so a value can never inject YAML). */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const replacement = env[name];
      if (replacement === undefined) {
        throw new ConfigError(`Invalid configuration: ${path.join('.')}: \${${name}} is used but the environment variable ${name} is not set`);
      }
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, [...path, String(i)]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k])]));
  }
  return value;
}

function readConfigFile(file: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Invalid configuration: GATEHOUSE_CONFIG: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`Invalid configuration: ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`Invalid configuration: ${file} must contain a YAML mapping at the top level`);
  }
  return interpolate(parsed, env, []) as Record<string, unknown>;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (!child || typeof child !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

/**
 * For a union (e.g. one upstream or a list of them), the branch that got furthest says best what
 * is wrong: its issue, with the union's path in front.
 */
function mostSpecific(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const candidates = issue.errors.map((branch) => branch[0]).filter((i): i is z.core.$ZodIssue => i !== undefined);
  const rank = (i: z.core.$ZodIssue) => i.path.length * 2 + (i.code === 'invalid_type' ? 0 : 1);
  const best = candidates.sort((a, b) => rank(b) - rank(a))[0];
  if (!best) return issue;
  const inner = mostSpecific(best);
  return { ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue;
}

function describeIssue(reported: z.core.$ZodIssue, envSources: Map<string, string>): string {
  const issue = mostSpecific(reported);
  const path = issue.path.map(String);
  const field = path.join('.') || '(top level)';
  // Name the env var when the bad value came from one (or from a parent of the path).
  const source = [...envSources.entries()].find(([p]) => field === p || field.startsWith(`${p}.`))?.[1];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    message = `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return `Invalid configuration: ${field}${source ? ` (from ${source})` : ''}: ${message}`;
}

/**
 * Loads the configuration. `env` is the process environment; file paths are resolved against `cwd`.
 * Throws ConfigError on the first problem found.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): GatehouseConfig {
  const raw: Record<string, unknown> = env.GATEHOUSE_CONFIG ? readConfigFile(resolve(cwd, env.GATEHOUSE_CONFIG), env) : {};
  const envSources = new Map<string, string>();
  for (const [name, path] of Object.entries(ENV_FIELDS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(raw, path, value);
    envSources.set(path.join('.'), name);
  }
  // ISSUER is also what the resource server trusts, unless the file says otherwise.
  if (env.ISSUER) {
    const rs = (raw.resource_server ??= {}) as Record<string, unknown>;
    rs.issuer ??= env.ISSUER;
  }

  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(describeIssue(result.error.issues[0]!, envSources));
  }
  return toConfig(result.data, env, cwd, envSources);
}

function toConfig(raw: RawConfig, env: NodeJS.ProcessEnv, cwd: string, envSources: Map<string, string>): GatehouseConfig {
  const a = { ...raw.auth_server, issuer: raw.auth_server.issuer ?? `http://localhost:${raw.auth_server.port}` };
  const r = { ...raw.resource_server, resource: raw.resource_server.resource ?? `http://localhost:${raw.resource_server.port}/mcp` };
  const dataDir = resolve(cwd, raw.data_dir);

  const issuerUrl = new URL(a.issuer);
  const loopback = LOOPBACK_HOSTNAMES.has(issuerUrl.hostname);
  if (issuerUrl.protocol === 'http:' && !loopback && !a.dangerously_allow_http_issuer) {
    throw new ConfigError(
      `Invalid configuration: auth_server.issuer: an http issuer is only allowed on a loopback host (got ${a.issuer}); use https, or set GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER=true for a test setup`,
    );
  }
  if (r.revocation.max_staleness <= r.revocation.poll_interval) {
    throw new ConfigError('Invalid configuration: resource_server.revocation.max_staleness: expected more than poll_interval');
  }
  if (a.refresh_token_absolute_lifetime < a.refresh_token_lifetime) {
    throw new ConfigError('Invalid configuration: auth_server.refresh_token_absolute_lifetime: expected at least refresh_token_lifetime');
  }

  const users: BuiltinUser[] = a.builtin.users.map((user, i) => {
    if (user.password_hash) {
      return { username: user.username, passwordHash: user.password_hash, scopes: user.scopes, disabled: user.disabled };
    }
    const password = env[user.password_env!];
    if (!password) {
      throw new ConfigError(
        `Invalid configuration: auth_server.builtin.users.${i}.password_env: the environment variable ${user.password_env} is not set`,
      );
    }
    if (Buffer.byteLength(password) > 72) {
      throw new ConfigError(
        `Invalid configuration: auth_server.builtin.users.${i}.password_env: the password in ${user.password_env} is longer than 72 bytes, which bcrypt cannot use; choose a shorter one`,
      );
    }
    return { username: user.username, password, scopes: user.scopes, disabled: user.disabled };
  });

  const entries = a.federated === undefined ? [] : Array.isArray(a.federated) ? a.federated : [a.federated];
  const upstreams: UpstreamConfig[] = entries.map((entry, i) => {
    const field = Array.isArray(a.federated) ? `auth_server.federated.${i}` : 'auth_server.federated';
    const clientSecret = entry.client_secret_env ? env[entry.client_secret_env] : undefined;
    if (entry.client_secret_env && !clientSecret) {
      throw new ConfigError(`Invalid configuration: ${field}.client_secret_env: the environment variable ${entry.client_secret_env} is not set`);
    }
    const host = new URL(entry.upstream_issuer).host;
    return {
      id: entry.id ?? (entries.length === 1 ? 'upstream' : host.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 32)),
      displayName: entry.display_name ?? host,
      issuer: entry.upstream_issuer,
      clientId: entry.client_id,
      clientSecret,
      scopes: entry.scopes.includes('openid') ? entry.scopes : ['openid', ...entry.scopes],
      allowedDomains: entry.allowed_domains.map((d) => d.toLowerCase()),
      allowedEmails: entry.allowed_emails.map((e) => e.toLowerCase()),
      newUsers: entry.new_users,
      defaultScopes: entry.default_scopes,
      adminUsers: entry.admin_users.map((u) => u.toLowerCase()),
      adminScopes: entry.admin_scopes,
      timeout: entry.timeout,
      legacyRedirectUri: entry.legacy_redirect_uri,
    };
  });
  if (new Set(upstreams.map((u) => u.id)).size !== upstreams.length) {
    throw new ConfigError('Invalid configuration: auth_server.federated: upstream ids must be unique (set `id` on each)');
  }
  if (upstreams.length > 1 && upstreams.some((u) => u.legacyRedirectUri)) {
    throw new ConfigError('Invalid configuration: auth_server.federated: legacy_redirect_uri is only allowed with a single upstream (several upstreams sharing one redirect URI allow a mix-up attack, RFC 9700 §4.4); register <issuer>/oauth/callback/<id> at each upstream instead');
  }
  if (a.mode !== 'builtin' && upstreams.length === 0) {
    throw new ConfigError(`Invalid configuration: auth_server.mode: "${a.mode}" needs at least one upstream under auth_server.federated`);
  }

  const tls = raw.tls && { certFile: resolve(cwd, raw.tls.cert_file), keyFile: resolve(cwd, raw.tls.key_file) };
  if (tls) {
    for (const [field, file] of [['cert_file', tls.certFile], ['key_file', tls.keyFile]] as const) {
      try {
        accessSync(file, fsConstants.R_OK);
      } catch (err) {
        const source = envSources.get(`tls.${field}`);
        throw new ConfigError(`Invalid configuration: tls.${field}${source ? ` (from ${source})` : ''}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    for (const [field, url] of [['auth_server.issuer', a.issuer], ['resource_server.resource', r.resource]] as const) {
      if (!url.startsWith('https:')) {
        throw new ConfigError(`Invalid configuration: ${field}: expected an https URL when tls is set (the apps serve https), got ${url}`);
      }
    }
  }

  const issuer = r.issuer ?? a.issuer;
  const jwksUri = r.jwks_uri ?? `${issuer}/oauth/jwks`;
  // The feed and the token endpoint are served by the same auth-server as the key set, so they
  // follow an internal JWKS_URI.
  const besideJwks = (path: string) => (jwksUri.endsWith('/oauth/jwks') ? `${jwksUri.slice(0, -'/oauth/jwks'.length)}${path}` : `${issuer}${path}`);
  const feedUri = r.revocation.feed_uri ?? besideJwks('/oauth/revocations');

  const servers: GatewayServerConfig[] = r.servers.map((server): GatewayServerConfig => {
    const common = { name: server.name, timeout: server.timeout, scopes: server.scopes };
    if (server.command !== undefined) {
      return {
        ...common,
        transport: 'stdio',
        command: server.command,
        args: server.args ?? [],
        env: server.env ?? {},
        cwd: server.cwd === undefined ? undefined : resolve(cwd, server.cwd),
        perUser: server.per_user ?? false,
        idleTimeout: server.idle_timeout ?? 10 * 60,
      };
    }
    return { ...common, transport: 'http', url: server.url!, headers: server.headers ?? {}, forwardIdentity: server.forward_identity ?? false };
  });
  const forwarding = r.servers.findIndex((server) => server.forward_identity);
  let identityClient: ResourceServerConfig['identityClient'];
  if (r.identity_client) {
    const clientSecret = env[r.identity_client.client_secret_env];
    if (!clientSecret) {
      throw new ConfigError(`Invalid configuration: resource_server.identity_client.client_secret_env: the environment variable ${r.identity_client.client_secret_env} is not set`);
    }
    identityClient = { clientId: r.identity_client.client_id, clientSecret, tokenEndpoint: besideJwks('/oauth/token') };
  } else if (forwarding >= 0) {
    throw new ConfigError(`Invalid configuration: resource_server.servers.${forwarding}.forward_identity: needs resource_server.identity_client (the confidential client, registered as this resource's server, that the gateway uses to obtain identity tokens)`);
  }
  return {
    logLevel: raw.log_level,
    tls,
    metrics: raw.metrics.enabled
      ? { host: raw.metrics.host ?? raw.listen_host, authServerPort: raw.metrics.auth_server_port, resourceServerPort: raw.metrics.resource_server_port }
      : undefined,
    shutdownTimeout: raw.shutdown_timeout,
    authServer: {
      port: a.port,
      host: raw.listen_host,
      issuer: a.issuer,
      mode: a.mode,
      accessTokenTtl: a.token_lifetime,
      refreshTokenTtl: a.refresh_token_lifetime,
      refreshTokenAbsoluteTtl: a.refresh_token_absolute_lifetime,
      sessionTtl: a.session_lifetime,
      defaultScopes: a.default_scopes,
      bcryptCost: a.bcrypt_cost,
      keysDir: resolve(cwd, a.signing.keys_dir),
      keysReloadInterval: a.signing.reload_interval,
      databaseFile: resolve(dataDir, 'auth-server.db'),
      resource: r.resource,
      registration: {
        enabled: a.registration.enabled,
        allowedRedirectUris: a.registration.allowed_redirect_uris,
        allowPrivateUseSchemes: a.registration.allow_private_use_schemes,
        allowedSchemes: a.registration.allowed_schemes.map((s) => s.toLowerCase()),
        unusedClientTtl: a.registration.unused_client_lifetime,
        maxBodyBytes: a.registration.max_body_bytes,
        maxPendingClients: a.registration.max_pending_clients,
      },
      rateLimits: {
        enabled: a.rate_limits.enabled,
        registration: a.rate_limits.registration,
        token: a.rate_limits.token,
        signIn: a.rate_limits.sign_in,
      },
      users,
      bootstrapAdmin: { username: a.bootstrap_admin.username, password: a.bootstrap_admin.password },
      clientIdMetadataDocuments: {
        enabled: a.client_id_metadata_documents.enabled,
        trustedHosts: a.client_id_metadata_documents.trusted_hosts.map((h) => h.toLowerCase()),
        untrustedHosts: a.client_id_metadata_documents.untrusted_hosts,
        cacheMin: a.client_id_metadata_documents.cache_min,
        cacheMax: a.client_id_metadata_documents.cache_max,
      },
      signInThrottle: {
        maxFailures: a.sign_in_throttle.max_failures,
        maxFailuresPerIp: a.sign_in_throttle.max_failures_per_ip,
        slowDownAfter: a.sign_in_throttle.slow_down_after,
        window: a.sign_in_throttle.window,
        lockDuration: a.sign_in_throttle.lock_duration,
      },
      trustProxy: raw.trust_proxy,
      upstreams,
      dangerouslyAllowHttpIssuer: a.dangerously_allow_http_issuer,
      audit: { retention: a.audit.retention, maxEvents: a.audit.max_events },
      admin: { idleTimeout: a.admin.idle_timeout, reauthenticateAfter: a.admin.reauthenticate_after },
      gatewayStatusUri: a.gateway_status_uri ?? `${new URL(r.resource).origin}/gateway/servers`,
    },
    resourceServer: {
      port: r.port,
      host: raw.listen_host,
      resource: r.resource,
      issuer,
      jwksUri,
      allowedOrigins: r.allowed_origins,
      databaseFile: resolve(dataDir, 'resource-server.db'),
      maxBodyBytes: r.max_body_bytes,
      tokenCacheSize: r.token_cache_size,
      sessionIdleTtl: r.session_idle_timeout,
      maxSessions: r.max_sessions,
      auditRetention: r.audit_retention,
      maxTokenLifetime: r.max_token_lifetime ?? a.token_lifetime,
      builtInTools: r.built_in_tools,
      servers,
      maxProcesses: r.max_processes,
      maxProcessesPerUser: r.max_processes_per_user,
      identityClient,
      revocation: {
        feedUri,
        pollInterval: r.revocation.poll_interval,
        maxStaleness: r.revocation.max_staleness,
      },
    },
  };
}
