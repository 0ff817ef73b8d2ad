/**
 * Set-ups that start but are unsafe, or would start and not work, found at boot so the operator
 * reads about them in the first lines of the log rather than from a user's failed sign-in.
 *
 * Warnings (`servingWarnings`, for one app):
 * - The dangerous http-issuer switch is on: sign-in pages, codes and tokens would cross the
 *   network unencrypted (STYLE: unsafe switches warn at boot).
 * - The app listens on an interface other than loopback and speaks plain http to clients (its
 *   public URL is http): anyone on that network reaches the sign-in page, or the MCP endpoint
 *   with its bearer tokens, without TLS (RFC 9700 §2.6 / OAuth 2.1 §1.5: TLS is required). In a
 *   container, where 0.0.0.0 is the norm, publish the port on loopback only or put a proxy first.
 *
 * - The per-address rate limits are switched off: password guessing is slowed only by the
 *   per-account throttle, and registration and token floods only by the pending-client cap.
 * - The resource server trusts a plain-http issuer off loopback (the dangerous http-issuer switch,
 *   read by this app too): it said nothing, only the auth-server warned, when run apart.
 * - The dangerous https-without-TLS switch is on (below): it started, but cannot sign anyone in.
 * - Upstreams are listed under `auth_server.federated` while `mode` is `builtin`: federated
 *   sign-in is off then (no button, no route), which an operator who listed them likely did not
 *   mean. A warning, not a refusal: switching to builtin to shut the upstreams out at once,
 *   leaving their settings in place, is legitimate.
 * - The gateway's shared stdio servers take every one of `resource_server.max_processes` while
 *   per_user servers are configured: shared processes run until the server stops, so no user's
 *   process can ever start, and each refusal says to retry when none can pass before a restart.
 *
 * Refusal (`assertServable`): the issuer is https but the auth-server neither serves TLS itself
 * nor trusts a proxy's `X-Forwarded-Proto`. It then sees every request as plain http, refuses to
 * set the Secure cookies sign-in needs (oidc-provider answers 500 on /oauth/authorize), while it
 * would otherwise start and say it runs. `GATEHOUSE_DANGEROUSLY_ALLOW_HTTPS_ISSUER_WITHOUT_TLS`
 * starts it anyway (metadata, keys, registration and tokens still answer), with a warning.
 */
import { ConfigError } from './config/config-error.ts';
import type { AuthServerAppConfig, GatehouseConfig, ResourceServerAppConfig } from './config/load-config.ts';
import { isLoopbackHostname, isLoopbackInterface } from './loopback-hosts.ts';

export function servingWarnings(config: Pick<AuthServerAppConfig, 'authServer' | 'tls'>, app: 'auth-server'): string[];
export function servingWarnings(config: Pick<ResourceServerAppConfig, 'resourceServer'>, app: 'resource-server'): string[];
export function servingWarnings(config: GatehouseConfig, app: 'auth-server' | 'resource-server'): string[];
export function servingWarnings(config: Partial<Pick<GatehouseConfig, 'authServer' | 'resourceServer' | 'tls'>>, app: 'auth-server' | 'resource-server'): string[] {
  const warnings: string[] = [];
  if (app === 'auth-server') {
    const authServer = config.authServer!;
    const issuer = new URL(authServer.issuer);
    if (authServer.dangerouslyAllowHttpIssuer && issuer.protocol === 'http:' && !isLoopbackHostname(issuer.hostname)) {
      warnings.push(`GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER is on and the issuer ${authServer.issuer} is plain http: passwords, authorization codes and tokens cross the network unencrypted. Only for a test set-up.`);
    }
    if (authServer.dangerouslyAllowHttpsIssuerWithoutTls && servedAsPlainHttp({ tls: config.tls, authServer })) {
      warnings.push(`GATEHOUSE_DANGEROUSLY_ALLOW_HTTPS_ISSUER_WITHOUT_TLS is on: the issuer ${authServer.issuer} is https, but this server serves plain http and trusts no proxy, so browser sign-in fails (its Secure cookies cannot be set over plain http). Only for a test set-up; set TRUST_PROXY=true behind a TLS-terminating proxy, or TLS_CERT_FILE and TLS_KEY_FILE.`);
    }
    if (authServer.mode === 'builtin' && authServer.upstreams.length > 0) {
      warnings.push(`auth_server.federated lists ${authServer.upstreams.map((u) => u.id).join(', ')}, but auth_server.mode is builtin: federated sign-in is off (no sign-in button, its routes answer 404). Set auth_server.mode to both or federated to offer it, or remove the upstreams.`);
    }
    if (!authServer.rateLimits.enabled) {
      warnings.push('auth_server.rate_limits.enabled is false: sign-in, registration and token requests are not limited per client address, so password guessing is slowed only by the per-account lockout. Leave it on unless a proxy in front limits requests.');
    }
    if (issuer.protocol === 'http:' && !isLoopbackInterface(authServer.host)) {
      warnings.push(`listening on ${authServer.host} (not loopback) with the plain-http issuer ${authServer.issuer}: anyone on that network can reach sign-in, codes and tokens without TLS. Set LISTEN_HOST=127.0.0.1, or publish the port on loopback only, and put a TLS-terminating proxy in front for anything else.`);
    }
  } else {
    const resourceServer = config.resourceServer!;
    const issuer = new URL(resourceServer.issuer);
    if (issuer.protocol === 'http:' && !isLoopbackHostname(issuer.hostname)) {
      warnings.push(`the issuer ${resourceServer.issuer} this server trusts is plain http (GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER): tokens, and the sign-in they come from, cross the network unencrypted. Only for a test set-up.`);
    }
    if (new URL(resourceServer.resource).protocol === 'http:' && !isLoopbackInterface(resourceServer.host)) {
      warnings.push(`listening on ${resourceServer.host} (not loopback) with the plain-http resource ${resourceServer.resource}: anyone on that network can see bearer tokens without TLS. Set LISTEN_HOST=127.0.0.1, or publish the port on loopback only, and put a TLS-terminating proxy in front for anything else.`);
    }
    const stdio = resourceServer.servers.filter((server) => server.transport === 'stdio');
    const shared = stdio.filter((server) => !server.perUser).length;
    const perUser = stdio.filter((server) => server.perUser).map((server) => server.name);
    if (perUser.length > 0 && shared >= resourceServer.maxProcesses) {
      warnings.push(`resource_server.max_processes is ${resourceServer.maxProcesses} and the ${shared} shared stdio servers take ${shared === resourceServer.maxProcesses ? 'every one' : 'more than that'} (they run until this server stops): the per_user servers ${perUser.join(', ')} can start no process for anyone. Raise resource_server.max_processes above ${shared}.`);
    }
  }
  return warnings;
}

/** An https issuer, but neither TLS served here nor a trusted proxy to say requests came as https. */
function servedAsPlainHttp(config: Pick<AuthServerAppConfig, 'tls' | 'authServer'>): boolean {
  return config.authServer.issuer.startsWith('https:') && !config.tls && !config.authServer.trustProxy;
}

/** Throws a ConfigError naming the fields when the auth-server could start but not sign anyone in. */
export function assertServable(config: Pick<AuthServerAppConfig, 'tls' | 'authServer'>): void {
  const { issuer, dangerouslyAllowHttpsIssuerWithoutTls } = config.authServer;
  if (servedAsPlainHttp(config) && !dangerouslyAllowHttpsIssuerWithoutTls) {
    throw new ConfigError(`Invalid configuration: auth_server.issuer (${issuer}) is https, but this server serves plain http (no tls.cert_file/tls.key_file) and does not trust a proxy (trust_proxy is false), so it cannot set the Secure cookies sign-in needs. Behind a TLS-terminating proxy set TRUST_PROXY=true; to serve https here set TLS_CERT_FILE and TLS_KEY_FILE.`);
  }
}
