/**
 * Gatehouse configuration: defaults → optional YAML file (`GATEHOUSE_CONFIG`, with `${VAR}`
 * interpolation) → environment variables, validated once with zod.
 *
 * Each app loads its own section and the shared fields; of the other app's section it reads only
 * the few fields its defaults follow (the auth-server: the resource URL it issues tokens for; the
 * resource server: the issuer and token lifetime), so a mistake in the other app's part, such as
 * an unset `password_env`, does not stop it. `npm start` loads both (`loadConfig`).
 *
 * This is the only module that reads `process.env` (callers pass it in, so tests can too).
 * A bad value throws a ConfigError whose message is one line naming the field (and the env var
 * it came from, when it did) and what is expected.
 */
import { resolve } from 'node:path';
import * as z from 'zod';
import { authServerPeerFields, authServerSection, defaultIssuer, KEY_ENCRYPTION_KEY_REQUIRED, requireHttpsIssuer } from './auth-server-section.ts';
import { ENV_FIELDS } from './config-fields.ts';
import { ConfigError } from './config-error.ts';
import { describeIssue } from './describe-issue.ts';
import { CROSS_FIELD } from './field-schemas.ts';
import type { LoadContext } from './load-context.ts';
import { readConfigFile } from './read-config-file.ts';
import { defaultResource, resourceServerConfig, resourceServerPeerFields, resourceServerSection } from './resource-server-section.ts';
import { sharedFields, toSharedConfig } from './shared-section.ts';
import type { DatabaseSettings } from '../storage/open-database.ts';

/** With tls set the apps serve https, so their public URLs must be https too. */
function requireHttpsWithTls(tls: unknown, field: string[], url: string, ctx: z.core.$RefinementCtx): boolean {
  if (!tls || url.startsWith('https:')) return true;
  ctx.addIssue({ code: 'custom', path: field, params: CROSS_FIELD, message: `expected an https URL when tls is set (the apps serve https), got ${url}` });
  return false;
}

/** PostgreSQL when configured, else the app's SQLite file in `data_dir`. */
function databaseSettings(c: { data_dir: string } & Parameters<typeof toSharedConfig>[0], sqliteFileName: string): DatabaseSettings {
  return { postgres: toSharedConfig(c).postgres, sqliteFile: resolve(c.data_dir, sqliteFileName) };
}

/** What the CLI reads to find the files this server opens; DATABASE_URL and keys are secrets, never shown. */
const CLI_LOCATION_VARIABLES = ['GATEHOUSE_CONFIG', 'DATA_DIR'] as const;

/**
 * The environment a `gatehouse` command needs to open what this server opened, for the commands
 * its banner prints (shared/announce-ready.ts): GATEHOUSE_CONFIG and DATA_DIR when set, made
 * absolute, since the command may be run from another directory. Without them the CLI opens
 * ./data, another database than the server's.
 */
function cliEnvironment({ env, cwd }: LoadContext): Record<string, string> {
  return Object.fromEntries(CLI_LOCATION_VARIABLES.filter((name) => env[name]).map((name) => [name, resolve(cwd, env[name]!)]));
}

function authServerApp(context: LoadContext) {
  return z.strictObject({
    ...sharedFields(context),
    auth_server: authServerSection(context).prefault({}),
    resource_server: z.looseObject(resourceServerPeerFields).prefault({}),
  }).transform((c, ctx) => {
    const a = c.auth_server;
    if (!requireHttpsWithTls(c.tls, ['auth_server', 'issuer'], a.issuer, ctx)) return z.NEVER;
    const database = databaseSettings(c, 'auth-server.db');
    if (database.postgres && !a.keyEncryptionKey) {
      ctx.addIssue({ code: 'custom', path: ['auth_server', 'key_encryption_key'], params: CROSS_FIELD, message: KEY_ENCRYPTION_KEY_REQUIRED });
      return z.NEVER;
    }
    const resource = c.resource_server.resource ?? defaultResource(c.resource_server.port);
    return {
      ...toSharedConfig(c),
      authServer: {
        ...a,
        host: c.listen_host,
        trustProxy: c.trust_proxy,
        databaseFile: resolve(c.data_dir, 'auth-server.db'),
        /** Where a generated first-admin password is handed over (accounts/first-admin-password-file.ts). */
        firstAdminPasswordFile: resolve(c.data_dir, 'first-admin-password'),
        database,
        resource,
        /** The resource server's GET /gateway/servers, read by the admin pages with a minted mcp:admin token. */
        gatewayStatusUri: a.gatewayStatusUri ?? `${new URL(resource).origin}/gateway/servers`,
        /** The resource server's GET /connections/events, read by the connection log with a minted mcp:admin token. */
        connectionEventsUri: a.connectionEventsUri ?? `${new URL(resource).origin}/connections/events`,
        connections: toSharedConfig(c).connections,
        /** Prefixed to the `gatehouse` commands the banner prints (cliEnvironment). */
        cliEnvironment: cliEnvironment(context),
      },
    };
  });
}

function resourceServerApp(context: LoadContext) {
  return z.strictObject({
    ...sharedFields(context),
    auth_server: z.looseObject(authServerPeerFields).prefault({}),
    resource_server: resourceServerSection(context).prefault({}),
  }).transform((c, ctx) => {
    if (!requireHttpsWithTls(c.tls, ['resource_server', 'resource'], c.resource_server.resource, ctx)) return z.NEVER;
    const authServer = c.auth_server;
    const authIssuer = authServer.issuer ?? defaultIssuer(authServer.port);
    const trusted = c.resource_server.issuer ?? authIssuer;
    // ISSUER sets both; name the resource server's own field only when it says something else.
    const trustedField = trusted === authIssuer ? ['auth_server', 'issuer'] : ['resource_server', 'issuer'];
    if (!requireHttpsIssuer(trusted, authServer.dangerously_allow_http_issuer, trustedField, ctx)) return z.NEVER;
    return {
      ...toSharedConfig(c),
      resourceServer: resourceServerConfig(c.resource_server, {
        host: c.listen_host,
        dataDir: c.data_dir,
        database: databaseSettings(c, 'resource-server.db'),
        authIssuer,
        authTokenLifetime: authServer.token_lifetime,
        trustProxy: c.trust_proxy,
        connections: toSharedConfig(c).connections,
      }),
    };
  });
}

export type AuthServerAppConfig = z.output<ReturnType<typeof authServerApp>>;
export type ResourceServerAppConfig = z.output<ReturnType<typeof resourceServerApp>>;
export type AuthServerConfig = AuthServerAppConfig['authServer'];
/** Both apps' configuration, as `npm start` and the tests load it. */
export type GatehouseConfig = AuthServerAppConfig & ResourceServerAppConfig;

interface RawConfig {
  raw: Record<string, unknown>;
  /** Config path (dotted) → the env var that set it. */
  envSources: Map<string, string>;
}

function readRawConfig({ env, cwd }: LoadContext): RawConfig {
  const raw: Record<string, unknown> = env.GATEHOUSE_CONFIG ? readConfigFile(resolve(cwd, env.GATEHOUSE_CONFIG), env) : {};
  const envSources = new Map<string, string>();
  for (const [name, path] of Object.entries(ENV_FIELDS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let node = raw;
    for (const key of path.slice(0, -1)) {
      if (!node[key] || typeof node[key] !== 'object') node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = value;
    envSources.set(path.join('.'), name);
  }
  // ISSUER is also what the resource server trusts, unless the file says otherwise.
  if (env.ISSUER) {
    const rs = (raw.resource_server ??= {}) as Record<string, unknown>;
    rs.issuer ??= env.ISSUER;
  }
  return { raw, envSources };
}

function parse<T>(schema: z.ZodType<T>, { raw, envSources }: RawConfig): T {
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(describeIssue(result.error.issues[0]!, envSources));
  return result.data;
}

/** The auth-server's configuration (also the CLI's). Throws ConfigError on the first problem found. */
export function loadAuthServerConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AuthServerAppConfig {
  return parse(authServerApp({ env, cwd }), readRawConfig({ env, cwd }));
}

/** The resource server's configuration. Throws ConfigError on the first problem found. */
export function loadResourceServerConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ResourceServerAppConfig {
  return parse(resourceServerApp({ env, cwd }), readRawConfig({ env, cwd }));
}

/** Both apps' configuration, the auth-server's checked first. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): GatehouseConfig {
  const raw = readRawConfig({ env, cwd });
  const authServerConfig = parse(authServerApp({ env, cwd }), raw);
  return { ...authServerConfig, resourceServer: parse(resourceServerApp({ env, cwd }), raw).resourceServer };
}
