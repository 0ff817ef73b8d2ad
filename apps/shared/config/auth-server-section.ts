/**
 * `auth_server`: the authorization server's own fields, checked and turned into the shape its code
 * uses. The fields it takes from elsewhere (listen host, proxy trust, data dir, the resource URL)
 * are added by `loadAuthServerConfig`.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import * as z from 'zod';
import {
  caseFoldHost, caseFoldScheme, caseFoldUri, checkAllowedRedirectUri, checkAllowedScheme, checkTrustedHost, MAX_HOST_NAME_LENGTH, MAX_SCHEME_LENGTH,
} from '../check-allow-list-entry.ts';
import { cutText } from '../cut-text.ts';
import { MAX_REDIRECT_URI_LENGTH } from '../find-uri-defect.ts';
import { isLoopbackHostname } from '../loopback-hosts.ts';
import { ACTOR_NAME_REFUSAL, isActorName, looksLikeUserId, USER_ID_FORM_REFUSAL, USERNAME } from '../username.ts';
import { builtinUser } from './builtin-users.ts';
import { federatedUpstreams } from './federated-upstreams.ts';
import { idJagSection } from './id-jag-section.ts';
import { booleanish, CROSS_FIELD, duration, originIssuerUrl, port, scopeList, timerDuration, type FieldNote } from './field-schemas.ts';
import type { LoadContext } from './load-context.ts';

/** Claude's connector callbacks: allowed unless the config file lists its own redirect URIs. */
export const DEFAULT_ALLOWED_REDIRECT_URIS = ['https://claude.ai/api/mcp/auth_callback', 'https://claude.com/api/mcp/auth_callback'] as const;
/** Claude's client metadata document hosts: trusted unless the config file lists its own. */
export const DEFAULT_TRUSTED_HOSTS = ['claude.ai', 'claude.com'] as const;

/** An entry as a refusal quotes it: on one line (JSON escapes controls and line breaks), cut. */
const quoted = (entry: string) => JSON.stringify(cutText(entry, 200, '…'));

/**
 * An allowed redirect URI, held to what the admin pages and CLI take (shared/check-allow-list-entry.ts):
 * an entry no registration can match would otherwise sit on the list unnoticed.
 */
const allowedRedirectUri = z.string().transform((entry, ctx) => {
  const uri = caseFoldUri(entry);
  const found = checkAllowedRedirectUri(uri);
  if (!found) return uri;
  const why = {
    too_long: `expected at most ${MAX_REDIRECT_URI_LENGTH} characters`,
    loopback_http: `${quoted(entry)}: loopback http redirect URIs are always allowed, on any port; leave it out`,
    other_scheme: `${quoted(entry)}: only https URIs go here; list a private-use scheme under allowed_schemes`,
    not_https: `${quoted(entry)}: expected an absolute https URI`,
    fragment: `${quoted(entry)}: a redirect URI must not contain a fragment (#…)`,
    user_info: `${quoted(entry)}: a redirect URI must not contain a user name or password`,
    wildcard: `${quoted(entry)}: redirect URIs are matched exactly; wildcards are not supported, list each URI`,
    defect: found.problem === 'defect' ? `${quoted(entry)}: registration would refuse it: ${found.defect}` : '',
  }[found.problem];
  ctx.addIssue({ code: 'custom', message: why });
  return z.NEVER;
});

/** A trusted host, held to what the admin pages and CLI take: a host no document URL can have never matches. */
const trustedHost = z.string().transform((entry, ctx) => {
  const host = caseFoldHost(entry);
  const found = checkTrustedHost(host);
  if (!found) return host;
  const why = {
    too_long: `expected a host name of at most ${MAX_HOST_NAME_LENGTH} characters`,
    not_a_host: `${quoted(entry)} is not a host name (like claude.ai, or example.com:8443; an international name in its xn-- form)`,
    written_otherwise: found.problem === 'written_otherwise' ? `an https URL writes ${quoted(host)} as ${quoted(found.written)}; list ${quoted(found.written)} instead` : '',
  }[found.problem];
  ctx.addIssue({ code: 'custom', message: why });
  return z.NEVER;
});

/** An allowed private-use scheme, held to what the admin pages and CLI take: a dangerous scheme is refused at registration anyway. */
const allowedScheme = z.string().transform((entry, ctx) => {
  const scheme = caseFoldScheme(entry.trim());
  const found = checkAllowedScheme(scheme);
  if (!found) return scheme;
  const why = {
    too_long: `expected a scheme name of at most ${MAX_SCHEME_LENGTH} characters`,
    not_a_scheme: `${quoted(entry)} is not a URI scheme name (like myapp)`,
    http: `${quoted(entry)}: https redirect URIs go under allowed_redirect_uris, one by one, and loopback http is always allowed`,
    dangerous: `${quoted(entry)}: the scheme opens a browser, runs content or starts a system handler; it is never allowed as a redirect URI`,
  }[found.problem];
  ctx.addIssue({ code: 'custom', message: why });
  return z.NEVER;
});

/** The issuer when none is configured, so moving the port moves the issuer with it. */
export const defaultIssuer = (port: number) => `http://localhost:${port}`;

/** Token buckets per client IP: `max` requests at once, refilled evenly over `window` (seconds). */
const rateLimit = (max: number, window: number, description: string) => z.strictObject({
  max: z.coerce.number().int().min(1, { error: 'expected at least 1 request' }).max(1_000_000).default(max)
    .meta({ description: 'requests at once' } satisfies FieldNote),
  window: duration.default(window)
    .meta({ description: 'over which `max` refills' } satisfies FieldNote),
}).prefault({}).meta({ description } satisfies FieldNote);

/** Why `key_encryption_key` is refused when missing; also said by the auth-server when it opens PostgreSQL without one. */
export const KEY_ENCRYPTION_KEY_REQUIRED = 'required when database.url (DATABASE_URL) is set: the signing and cookie keys are then kept in PostgreSQL, encrypted with it; generate one with `openssl rand -base64 32` and give every replica the same';

/**
 * 32 random bytes, as base64 (what `openssl rand -base64 32` prints) or 64 hex digits, turned
 * into a KeyObject at once: it prints as `SecretKeyObject` and serialises to `{}`, so logging the
 * configuration never shows it. A refusal never echoes the value.
 */
const keyEncryptionKey = z.string().transform((value, ctx): KeyObject => {
  const text = value.trim();
  const bytes = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (bytes?.length !== 32) {
    ctx.addIssue({ code: 'custom', message: 'expected 32 random bytes as base64 (`openssl rand -base64 32`) or as 64 hex digits' });
    return z.NEVER;
  }
  return createSecretKey(bytes);
});

/** Fields the resource server also reads (for its defaults), with the same checks. */
export const authServerPeerFields = {
  port: port.default(4000)
    .meta({ description: 'auth-server port', env: 'AUTH_PORT' } satisfies FieldNote),
  issuer: originIssuerUrl.optional()
    .meta({ description: 'issuer URL: an origin, no path or trailing slash (plain http only on loopback); also what the resource server trusts', env: 'ISSUER', default: '`http://localhost:4000` (follows `AUTH_PORT`)' } satisfies FieldNote),
  token_lifetime: duration.default(3600)
    .meta({ description: 'access tokens (JWT; revoked through the revocation feed, keep short); set the same on both apps', env: 'TOKEN_LIFETIME' } satisfies FieldNote),
  dangerously_allow_http_issuer: booleanish.default(false)
    .meta({ description: 'allow a plain-http issuer off loopback (test set-ups only; warns at boot)', env: 'GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER' } satisfies FieldNote),
};

/**
 * Refuses a plain-http issuer off loopback unless the dangerous switch is on: the issuer names
 * where tokens come from, for the auth-server that issues them and the resource server that trusts
 * them alike (its keys may still be fetched over an internal http `jwks_uri`).
 */
export function requireHttpsIssuer(issuer: string, allowed: boolean, path: string[], ctx: z.core.$RefinementCtx): boolean {
  const url = new URL(issuer);
  if (url.protocol !== 'http:' || isLoopbackHostname(url.hostname) || allowed) return true;
  ctx.addIssue({ code: 'custom', path, params: CROSS_FIELD, message: `an http issuer is only allowed on a loopback host (got ${issuer}); use https, or set GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER=true for a test setup` });
  return false;
}

function authServerFields(context: LoadContext) {
  return {
    ...authServerPeerFields,
    mode: z.enum(['builtin', 'federated', 'both']).default('builtin')
      .meta({ description: 'builtin | federated | both: what sign-in offers (builtin: federated sign-in is off, its routes too, whatever upstreams are listed)' } satisfies FieldNote),
    refresh_token_lifetime: duration.default(30 * 86400)
      .meta({ description: 'each refresh token; renewed on rotation, up to refresh_token_absolute_lifetime' } satisfies FieldNote),
    refresh_token_absolute_lifetime: duration.default(90 * 86400)
      .meta({ description: 'cap on a chain of rotated refresh tokens, counted from the first sign-in' } satisfies FieldNote),
    session_lifetime: duration.default(14 * 86400)
      .meta({ description: 'browser sign-in session' } satisfies FieldNote),
    default_scopes: scopeList.min(1).default(['mcp:read'])
      .meta({ description: 'for requests without `scope`' } satisfies FieldNote),
    bcrypt_cost: z.coerce.number().int().min(10, { error: 'expected a bcrypt cost from 10 to 15' }).max(15, { error: 'expected a bcrypt cost from 10 to 15' }).default(12)
      .meta({ description: 'bcrypt work factor of stored passwords' } satisfies FieldNote),
    password_hash_threads: z.coerce.number().int().min(1, { error: 'expected from 1 to 256 threads' }).max(256, { error: 'expected from 1 to 256 threads' }).default(() => availableParallelism())
      .meta({ description: 'bcrypt worker threads, at the lowest OS priority so token requests come first', default: 'one per core' } satisfies FieldNote),
    key_encryption_key: keyEncryptionKey.optional()
      .meta({ description: 'encrypts the signing and cookie keys kept in PostgreSQL (32 bytes, base64 or hex: `openssl rand -base64 32`); required with `database.url`, the same on every replica', env: 'GATEHOUSE_KEY_ENCRYPTION_KEY' } satisfies FieldNote),
    signing: z.strictObject({
      algorithm: z.literal('RS256', { error: 'only RS256 is supported' }).default('RS256')
        .meta({ description: 'of access and ID tokens' } satisfies FieldNote),
      keys_dir: z.string().min(1).default('./keys').transform((dir) => resolve(context.cwd, dir))
        .meta({ description: 'signing and cookie keys without `database.url` (private, mode 0600; back them up, never commit them); with it they are in PostgreSQL', env: 'KEYS_DIR' } satisfies FieldNote),
      reload_interval: timerDuration.default(5)
        .meta({ description: 'how often a running server looks for keys changed by `gatehouse keys rotate|retire` or another replica' } satisfies FieldNote),
    }).prefault({}).meta({ description: 'token signing keys' } satisfies FieldNote),
    audit: z.strictObject({
      retention: duration.default(90 * 86400)
        .meta({ description: 'older audit events are deleted by the sweeper' } satisfies FieldNote),
      // So a flood of events cannot fill the disk.
      max_events: z.coerce.number().int().min(1000, { error: 'expected at least 1000 events' }).max(100_000_000, { error: 'expected at most 100000000 events' }).default(1_000_000)
        .meta({ description: 'and the oldest beyond this many' } satisfies FieldNote),
    }).prefault({}).meta({ description: 'the audit log' } satisfies FieldNote),
    registration: z.strictObject({
      enabled: booleanish.default(true)
        .meta({ description: 'anonymous Dynamic Client Registration (RFC 7591), as Claude needs' } satisfies FieldNote),
      allowed_redirect_uris: z.array(allowedRedirectUri).default([...DEFAULT_ALLOWED_REDIRECT_URIS]).meta({ description: 'exact https URIs; loopback http is allowed on any port' } satisfies FieldNote),
      allow_private_use_schemes: booleanish.default(true)
        .meta({ description: 'false: only https and loopback http; true: also reverse-domain, known MCP client and allowed_schemes' } satisfies FieldNote),
      allowed_schemes: z.array(allowedScheme).default([])
        .meta({ description: 'extra private-use schemes, e.g. [myapp]' } satisfies FieldNote),
      unused_client_lifetime: duration.default(86400)
        .meta({ description: 'registrations that never get a token are removed after this' } satisfies FieldNote),
      max_body_bytes: z.coerce.number().int().min(1024).max(1024 * 1024).default(16 * 1024)
        .meta({ description: 'largest registration request' } satisfies FieldNote),
      max_pending_clients: z.coerce.number().int().min(1).max(10_000_000).default(10_000)
        .meta({ description: 'registrations not yet used for a token, server-wide; past it /oauth/register answers 429' } satisfies FieldNote),
    }).prefault({}).meta({ description: 'Dynamic Client Registration' } satisfies FieldNote),
    rate_limits: z.strictObject({
      enabled: booleanish.default(true)
        .meta({ description: 'false: no per-IP limits (max_pending_clients still applies; warns at boot)' } satisfies FieldNote),
      registration: rateLimit(20, 600, 'POST /oauth/register'),
      token: rateLimit(600, 60, 'POST /oauth/token, /oauth/revoke, /oauth/introspect'),
      sign_in: rateLimit(120, 60, 'POST /interaction/… (sign-in, consent, federated)'),
    }).prefault({}).meta({ description: 'token buckets per client IP (IPv6: per /64)' } satisfies FieldNote),
    builtin: z.strictObject({
      users: z.array(builtinUser(context)).default([])
        .meta({ description: 'users created or updated at every start' } satisfies FieldNote),
    }).prefault({}).meta({ description: 'password sign-in' } satisfies FieldNote),
    bootstrap_admin: z.strictObject({
      username: z.string().regex(USERNAME).refine((name) => !looksLikeUserId(name), { error: USER_ID_FORM_REFUSAL })
        .refine((name) => !isActorName(name), { error: ACTOR_NAME_REFUSAL }).default('admin')
        .meta({ description: 'first admin, created when no user exists', env: 'BOOTSTRAP_ADMIN_USERNAME' } satisfies FieldNote),
      password: z.string().min(12, { error: 'expected at least 12 characters' })
        .refine((p) => Buffer.byteLength(p) <= 72, { error: 'expected at most 72 bytes (bcrypt ignores the rest)' }).optional()
        .meta({ description: 'its password (12+ characters)', env: 'BOOTSTRAP_ADMIN_PASSWORD', default: 'random, in `DATA_DIR/first-admin-password` until its first sign-in' } satisfies FieldNote),
    }).prefault({}).meta({ description: 'the first admin' } satisfies FieldNote),
    client_id_metadata_documents: z.strictObject({
      enabled: booleanish.default(true)
        .meta({ description: 'accept URLs as client_id (OAuth Client ID Metadata Documents)' } satisfies FieldNote),
      trusted_hosts: z.array(trustedHost).default([...DEFAULT_TRUSTED_HOSTS])
        .meta({ description: 'hosts whose documents are trusted' } satisfies FieldNote),
      untrusted_hosts: z.enum(['allow', 'warn', 'refuse']).default('warn')
        .meta({ description: 'allow | warn (on the consent page) | refuse a document on another host' } satisfies FieldNote),
      cache_min: duration.default(60)
        .meta({ description: 'a fetched document is cached at least this long' } satisfies FieldNote),
      cache_max: duration.default(86400)
        .meta({ description: 'and at most this long (Cache-Control is honoured between)' } satisfies FieldNote),
      max_stale: duration.default(86400)
        .meta({ description: 'when a refetch fails, the last good document is served this long past its freshness' } satisfies FieldNote),
    }).prefault({}).meta({ description: 'client metadata documents' } satisfies FieldNote),
    sign_in_throttle: z.strictObject({
      max_failures: z.coerce.number().int().min(1).max(1000).default(5)
        .meta({ description: 'failures per (username, client IP; IPv6: per /64) within window before a lock' } satisfies FieldNote),
      max_failures_per_ip: z.coerce.number().int().min(1).max(100_000).default(50)
        .meta({ description: 'failures per client IP (IPv6: per /64) within window before a lock' } satisfies FieldNote),
      slow_down_after: z.coerce.number().int().min(0).max(1000).default(2)
        .meta({ description: 'failures after which each answer is delayed' } satisfies FieldNote),
      window: duration.default(15 * 60)
        .meta({ description: 'over which failures are counted' } satisfies FieldNote),
      lock_duration: duration.default(15 * 60)
        .meta({ description: 'how long a (username, IP) pair or an IP (IPv6: a /64) stays locked' } satisfies FieldNote),
    }).prefault({}).meta({ description: 'password guessing' } satisfies FieldNote),
    federated: federatedUpstreams(context)
      .meta({ description: 'upstream OpenID providers (one, or a list)' } satisfies FieldNote),
    id_jag: idJagSection,
    admin: z.strictObject({
      idle_timeout: duration.default(15 * 60)
        .meta({ description: 'unused this long, admin pages ask for a fresh sign-in' } satisfies FieldNote),
      reauthenticate_after: duration.default(5 * 60)
        .meta({ description: 'changes that add access, credentials or trust need a sign-in younger than this' } satisfies FieldNote),
    }).prefault({}).meta({ description: 'the admin pages only (the browser session itself lives session_lifetime)' } satisfies FieldNote),
    dangerously_allow_https_issuer_without_tls: booleanish.default(false)
      .meta({ description: 'start with an https issuer although this server serves plain http and trusts no proxy (browser sign-in then fails; test set-ups only; warns at boot)', env: 'GATEHOUSE_DANGEROUSLY_ALLOW_HTTPS_ISSUER_WITHOUT_TLS' } satisfies FieldNote),
    gateway_status_uri: z.url({ protocol: /^https?$/, error: 'expected an absolute http(s) URL' }).optional()
      .meta({ description: 'where the auth-server\'s admin page "MCP servers" reads the gateway\'s servers (e.g. over an internal network)', env: 'GATEWAY_STATUS_URI', default: '`<origin of RESOURCE_URL>/gateway/servers`' } satisfies FieldNote),
    connection_events_uri: z.url({ protocol: /^https?$/, error: 'expected an absolute http(s) URL' }).optional()
      .meta({ description: 'where the auth-server reads the resource server\'s connection events for the "Connections" timelines (e.g. over an internal network)', env: 'CONNECTION_EVENTS_URI', default: '`<origin of RESOURCE_URL>/connections/events`' } satisfies FieldNote),
  };
}

export function authServerSection(context: LoadContext) {
  return z.strictObject(authServerFields(context)).transform((a, ctx) => {
    const issuer = a.issuer ?? defaultIssuer(a.port);
    if (!requireHttpsIssuer(issuer, a.dangerously_allow_http_issuer, ['issuer'], ctx)) return z.NEVER;
    if (a.refresh_token_absolute_lifetime < a.refresh_token_lifetime) {
      ctx.addIssue({ code: 'custom', path: ['refresh_token_absolute_lifetime'], params: CROSS_FIELD, message: 'expected at least refresh_token_lifetime' });
      return z.NEVER;
    }
    if (a.mode !== 'builtin' && a.federated.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['mode'], params: CROSS_FIELD, message: `"${a.mode}" needs at least one upstream under auth_server.federated` });
      return z.NEVER;
    }
    const defaultScopes: string[] = a.default_scopes;
    return {
      port: a.port,
      issuer,
      mode: a.mode,
      /** Access token lifetime in seconds. */
      accessTokenTtl: a.token_lifetime,
      /** Lifetime of each refresh token in seconds (renewed on rotation, up to the absolute cap). */
      refreshTokenTtl: a.refresh_token_lifetime,
      refreshTokenAbsoluteTtl: a.refresh_token_absolute_lifetime,
      sessionTtl: a.session_lifetime,
      defaultScopes,
      bcryptCost: a.bcrypt_cost,
      /** Worker threads that hash passwords (accounts/hash-worker-pool.ts). */
      passwordHashThreads: a.password_hash_threads,
      keysDir: a.signing.keys_dir,
      /** Seconds between checks for key changes made by the CLI or another replica while the server runs. */
      keysReloadInterval: a.signing.reload_interval,
      /** AES-256-GCM key for the private parts of keys kept in PostgreSQL; unset on SQLite, where keys are files. */
      keyEncryptionKey: a.key_encryption_key,
      registration: {
        enabled: a.registration.enabled,
        allowedRedirectUris: a.registration.allowed_redirect_uris,
        allowPrivateUseSchemes: a.registration.allow_private_use_schemes,
        /** Private-use schemes allowed beyond reverse-domain names and known MCP clients (lowercase). */
        allowedSchemes: a.registration.allowed_schemes,
        /** Seconds a registered client that never obtained a token is kept. */
        unusedClientTtl: a.registration.unused_client_lifetime,
        maxBodyBytes: a.registration.max_body_bytes,
        /** Registrations not yet used for a token, at most, server-wide. */
        maxPendingClients: a.registration.max_pending_clients,
      },
      /** Per client IP; each allows `max` requests at once, refilled evenly over `window` seconds. */
      rateLimits: {
        enabled: a.rate_limits.enabled,
        registration: a.rate_limits.registration,
        token: a.rate_limits.token,
        signIn: a.rate_limits.sign_in,
      },
      users: a.builtin.users,
      bootstrapAdmin: { username: a.bootstrap_admin.username, password: a.bootstrap_admin.password },
      clientIdMetadataDocuments: {
        enabled: a.client_id_metadata_documents.enabled,
        trustedHosts: a.client_id_metadata_documents.trusted_hosts,
        /** What happens with a document on a host not in trustedHosts. */
        untrustedHosts: a.client_id_metadata_documents.untrusted_hosts,
        /** Seconds a fetched document is cached at least / at most (Cache-Control is honoured between). */
        cacheMin: a.client_id_metadata_documents.cache_min,
        cacheMax: a.client_id_metadata_documents.cache_max,
        /** Seconds past its freshness the last good document is served while refetches fail. */
        maxStale: a.client_id_metadata_documents.max_stale,
      },
      signInThrottle: {
        maxFailures: a.sign_in_throttle.max_failures,
        maxFailuresPerIp: a.sign_in_throttle.max_failures_per_ip,
        slowDownAfter: a.sign_in_throttle.slow_down_after,
        /** Seconds over which failures are counted. */
        window: a.sign_in_throttle.window,
        /** Seconds a (username, IP) pair or an IP stays locked. */
        lockDuration: a.sign_in_throttle.lock_duration,
      },
      upstreams: a.federated,
      /** Enterprise IdPs whose ID-JAGs the jwt-bearer grant accepts (id-jag/), and its time bounds. */
      idJag: a.id_jag,
      dangerouslyAllowHttpIssuer: a.dangerously_allow_http_issuer,
      dangerouslyAllowHttpsIssuerWithoutTls: a.dangerously_allow_https_issuer_without_tls,
      /** Seconds an audit event is kept, and the most events kept (the oldest beyond are deleted). */
      audit: { retention: a.audit.retention, maxEvents: a.audit.max_events },
      /** Seconds: admin access ends after idleTimeout without an admin request; sensitive changes need a sign-in younger than reauthenticateAfter. */
      admin: { idleTimeout: a.admin.idle_timeout, reauthenticateAfter: a.admin.reauthenticate_after },
      gatewayStatusUri: a.gateway_status_uri,
      connectionEventsUri: a.connection_events_uri,
    };
  }).meta({ description: 'the authorization server: sign-in, tokens, registration, admin pages' } satisfies FieldNote);
}

export type AuthServerSection = z.output<ReturnType<typeof authServerSection>>;
