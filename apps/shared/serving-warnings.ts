/**
 * Set-ups that start but are unsafe or will not work, found at boot so the operator reads about
 * them in the first lines of the log rather than from a user's failed sign-in.
 *
 * - The dangerous http-issuer switch is on: sign-in pages, codes and tokens would cross the
 *   network unencrypted (STYLE: unsafe switches warn at boot).
 * - The issuer is https but the auth-server neither serves TLS itself nor trusts a proxy's
 *   `X-Forwarded-Proto`: it then sees every request as plain http and refuses to set the Secure
 *   cookies sign-in needs (oidc-provider answers 500 on /oauth/authorize).
 */
import type { GatehouseConfig } from './config.ts';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export function servingWarnings(config: GatehouseConfig): string[] {
  const { authServer } = config;
  const issuer = new URL(authServer.issuer);
  const warnings: string[] = [];
  if (authServer.dangerouslyAllowHttpIssuer && issuer.protocol === 'http:' && !LOOPBACK.has(issuer.hostname)) {
    warnings.push(`GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER is on and the issuer ${authServer.issuer} is plain http: passwords, authorization codes and tokens cross the network unencrypted. Only for a test set-up.`);
  }
  if (issuer.protocol === 'https:' && !config.tls && !authServer.trustProxy) {
    warnings.push(`the issuer ${authServer.issuer} is https, but this server serves plain http and does not trust X-Forwarded-Proto: sign-in will fail. Behind a TLS-terminating proxy set TRUST_PROXY=true; to serve https here set TLS_CERT_FILE and TLS_KEY_FILE.`);
  }
  return warnings;
}
