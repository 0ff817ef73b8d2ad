/**
 * The top-level fields both apps read: where data lives, logging, the listen address, proxy
 * trust, TLS, metrics and the shutdown window.
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parsePgConnectionString } from 'pg-connection-string';
import * as z from 'zod';
import { connectionsSection, toConnectionsConfig } from './connections-section.ts';
import { booleanish, port, timerDuration, type FieldNote } from './field-schemas.ts';
import type { LoadContext } from './load-context.ts';

/** A PEM file the app must be able to read at boot, as an absolute path. */
function readableFile(context: LoadContext, expected: string) {
  return z.string().min(1, { error: expected }).transform((value, ctx) => {
    const file = resolve(context.cwd, value);
    try {
      accessSync(file, fsConstants.R_OK);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      return z.NEVER;
    }
    return file;
  });
}

/**
 * Parses a PostgreSQL URL as WHATWG's URL reads it, except that credentials before an empty host
 * (`user:password@/db?host=/var/run/postgresql`, a Unix socket with password authentication),
 * which URL refuses, are read with a placeholder host, as node-postgres does. `host` is what stood
 * between `@` and the path ('' for such a socket URL).
 */
function parsePostgresUrl(value: string): { url: URL; host: string } | undefined {
  try {
    const url = new URL(value);
    return { url, host: url.hostname };
  } catch {
    if (!/^postgres(?:ql)?:\/\/[^/?#]*@\//i.test(value)) return undefined;
    try {
      return { url: new URL(value.replace('@/', '@socket/')), host: '' };
    } catch {
      return undefined;
    }
  }
}

/** `text` with its %XX escapes decoded; a `%` that starts none stays as written. */
const decoded = (text: string, decode: (text: string) => string = decodeURIComponent): string => text.replace(/(?:%[0-9a-f]{2})+/gi, (escapes) => {
  try {
    return decode(escapes);
  } catch {
    return escapes;
  }
});

/** The TLS parameters naming files, which node-postgres's parser reads from disk. */
const TLS_FILE_PARAMETER = /^ssl(?:cert|key|rootcert)=/i;

/** `value` without its TLS file parameters. */
function withoutTlsFiles(value: string): string {
  const query = value.indexOf('?');
  if (query === -1) return value;
  const end = value.indexOf('#', query) === -1 ? value.length : value.indexOf('#', query);
  const kept = value.slice(query + 1, end).split('&').filter((pair) => !TLS_FILE_PARAMETER.test(pair));
  return `${value.slice(0, query)}?${kept.join('&')}${value.slice(end)}`;
}

/**
 * Where and as whom to connect, and with which parameters, as the URL says it: node-postgres's
 * rules on WHATWG's reading (parameters override the URL's parts).
 */
function connectionFields({ url, host }: { url: URL; host: string }): Record<string, string> {
  const params = Object.fromEntries([...url.searchParams].filter(([name]) => !/^ssl(?:|cert|key|rootcert)$/i.test(name)));
  return {
    ...params,
    user: params.user || decoded(url.username), password: params.password || decoded(url.password),
    host: params.host || decoded(host.replace(/^\[(.+)\]$/, '$1')), port: params.port || url.port, database: decoded(url.pathname.slice(1), decodeURI),
  };
}

/** Whether node-postgres (pg-connection-string) reads `value` as `fields` say; false when it cannot parse it. */
function readAlikeByNodePostgres(value: string, fields: Record<string, string>): boolean {
  try {
    // Without the TLS file parameters: it would read those files, which may be elsewhere here.
    const read = parsePgConnectionString(withoutTlsFiles(value)) as Record<string, unknown>;
    return Object.entries(fields).every(([name, expected]) => String(read[name] ?? '') === expected);
  } catch {
    return false;
  }
}

/** postgres://… or postgresql://…, kept as given (node-postgres reads `sslmode` and friends). */
const postgresUrl = z.string().transform((value, ctx) => {
  const parsed = parsePostgresUrl(value);
  const url = parsed?.url;
  // A password starting with `/`, `?` or `#` ends the authority at `user:`, which then parses as
  // a host named like the user and no user at all, the real host left after an `@` in the path,
  // query or fragment: it would fail only when connecting, with ENOTFOUND. No user with an `@`
  // after the host is that; no user alone is not (a Unix socket with peer authentication, PGUSER).
  // A password of digits cut so (`12/ab`) parses as host `user`, port 12: the same `@` after it.
  // With a user, a password holding `@` and then `/`, `?` or `#` is cut the same way (`x@y/z@h`:
  // password `x`, host `y`): an `@` before a `/` in the path, in a parameter's name or in the
  // fragment (node-postgres ignores it). A database named `team@prod` and `application_name=a@b`
  // are fine.
  const cutAtPassword = url !== undefined && (url.username
    ? /@.*\//.test(url.pathname) || [...url.searchParams.keys()].some((name) => name.includes('@')) || url.hash.includes('@')
    : /@/.test(`${url.pathname}${url.search}${url.hash}`));
  // A space, or a `%` not followed by two hex digits (a password `50%off`), makes node-postgres
  // encode the whole URL again (encodeURI) and turn back only the escapes of two decimal digits:
  // a %2F, %3D, %C3… beside it is then read as written (a password otherwise encoded as the hint
  // says failed only when connecting, "password authentication failed"), and an IPv6 host does
  // not parse at all. Its own reading must be what the URL says, parameters included.
  const misread = parsed !== undefined && !readAlikeByNodePostgres(value, connectionFields(parsed));
  if (!parsed || !url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || !parsed.host && !url.searchParams.get('host') || cutAtPassword || misread) {
    // Never echo the value: it usually carries the database password.
    // A password holding `/`, `#` or `?` (`openssl rand -base64` output has `/`) ends the URL's
    // authority early, so it does not parse (or parses as above), and one holding `%` or a space
    // beside an escape is misread as above: say how to write one.
    ctx.addIssue({ code: 'custom', message: 'expected a PostgreSQL URL such as postgres://user:password@host:5432/gatehouse; '
      + 'a password holding / # ? or % must be percent-encoded in it (/ as %2F, # as %23, ? as %3F, % as %25), or use a URL-safe one (openssl rand -hex 24)' });
    return z.NEVER;
  }
  return value;
});

export function sharedFields(context: LoadContext) {
  return {
    data_dir: z.string().min(1).default('./data').transform((dir) => resolve(context.cwd, dir))
      .meta({ description: 'SQLite databases (`auth-server.db`, `resource-server.db`)', env: 'DATA_DIR' } satisfies FieldNote),
    database: z.strictObject({
      url: postgresUrl.optional()
        .meta({ description: 'PostgreSQL for both apps (`postgres://user:password@host/db?sslmode=verify-full`); unset: SQLite in `DATA_DIR`', env: 'DATABASE_URL' } satisfies FieldNote),
      max_connections: z.coerce.number().int().min(1).max(1000).default(10)
        .meta({ description: 'PostgreSQL connections each app process keeps at most', env: 'DATABASE_MAX_CONNECTIONS' } satisfies FieldNote),
      statement_timeout: timerDuration.default(5)
        .meta({ description: 'a PostgreSQL statement running longer is cancelled', env: 'DATABASE_STATEMENT_TIMEOUT' } satisfies FieldNote),
      prepared_statements: booleanish.default(true)
        .meta({ description: 'PostgreSQL plans each statement once per connection; `false` behind a transaction-mode pooler that does not keep prepared statements (PgBouncer before 1.21, or with `max_prepared_statements = 0`)', env: 'DATABASE_PREPARED_STATEMENTS' } satisfies FieldNote),
    }).prefault({})
      .meta({ description: 'where both apps keep their data: SQLite files by default, one PostgreSQL database for replicas' } satisfies FieldNote),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
      .meta({ description: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`', env: 'LOG_LEVEL' } satisfies FieldNote),
    // 127.0.0.1 keeps a zero-config start private to this machine.
    listen_host: z.string().min(1).default('127.0.0.1')
      .meta({ description: 'address both apps listen on (`0.0.0.0` in a container)', env: 'LISTEN_HOST' } satisfies FieldNote),
    trust_proxy: booleanish.default(false)
      .meta({ description: 'trust `X-Forwarded-For`/`-Proto`/`-Host`: set it behind a TLS-terminating proxy, never without one', env: 'TRUST_PROXY' } satisfies FieldNote),
    tls: z.strictObject({
      cert_file: readableFile(context, 'expected the path of a PEM certificate (chain) file')
        .meta({ description: 'PEM certificate chain: both apps serve https themselves', env: 'TLS_CERT_FILE' } satisfies FieldNote),
      key_file: readableFile(context, 'expected the path of a PEM private key file')
        .meta({ description: 'PEM private key for it', env: 'TLS_KEY_FILE' } satisfies FieldNote),
    }).transform((tls) => ({ certFile: tls.cert_file, keyFile: tls.key_file })).optional()
      .meta({ description: 'serve https directly from these PEM files (both apps), instead of plain http behind a proxy' } satisfies FieldNote),
    metrics: z.strictObject({
      enabled: booleanish.default(false)
        .meta({ description: 'serve Prometheus metrics on the ports below', env: 'METRICS_ENABLED' } satisfies FieldNote),
      host: z.string().min(1).optional()
        .meta({ description: 'address the metrics ports listen on', env: 'METRICS_HOST', default: '`LISTEN_HOST`' } satisfies FieldNote),
      auth_server_port: port.default(9464)
        .meta({ description: 'auth-server metrics port', env: 'AUTH_METRICS_PORT' } satisfies FieldNote),
      resource_server_port: port.default(9465)
        .meta({ description: 'resource-server metrics port', env: 'RESOURCE_METRICS_PORT' } satisfies FieldNote),
    }).prefault({})
      .meta({ description: 'Prometheus metrics, each app on its own port, so the public ports never serve them' } satisfies FieldNote),
    shutdown_timeout: timerDuration.default(10)
      .meta({ description: 'how long in-flight requests may finish after SIGTERM', env: 'SHUTDOWN_TIMEOUT' } satisfies FieldNote),
    connections: connectionsSection,
  };
}

type SharedFields = z.output<z.ZodObject<ReturnType<typeof sharedFields>>>;

/** The shared part of each app's configuration, in the shape the code uses. */
export function toSharedConfig(shared: SharedFields) {
  const { metrics, database } = shared;
  return {
    logLevel: shared.log_level,
    /** Set when both apps keep their data in PostgreSQL (several replicas); unset: SQLite. */
    postgres: database.url
      ? {
        url: database.url,
        maxConnections: database.max_connections,
        statementTimeoutMs: database.statement_timeout * 1000,
        preparedStatements: database.prepared_statements,
      }
      : undefined,
    /** Set when both apps serve https themselves. */
    tls: shared.tls,
    /** Set when Prometheus metrics are on. */
    metrics: metrics.enabled
      ? { host: metrics.host ?? shared.listen_host, authServerPort: metrics.auth_server_port, resourceServerPort: metrics.resource_server_port }
      : undefined,
    /** Seconds in-flight requests get to finish after SIGTERM. */
    shutdownTimeout: shared.shutdown_timeout,
    /** The connection flight recorder's bounds (seconds, a count), read by both apps. */
    connections: toConnectionsConfig(shared.connections),
  };
}

export type SharedConfig = ReturnType<typeof toSharedConfig>;
export type TlsFiles = NonNullable<SharedConfig['tls']>;
export type MetricsConfig = NonNullable<SharedConfig['metrics']>;
