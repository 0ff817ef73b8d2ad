/**
 * `endpoints`: the endpoints the authorization server's metadata names (RFC 8414 §2), before the
 * doctor sends anything to them. They are the server's word, unlike the MCP URL and the issuer,
 * whose hosts were checked first: without this check the doctor POSTed a registration and sent
 * preflights to whatever host the metadata named (plain http to an internal host included), from
 * the operator's machine, and reported every check passed.
 *
 * - Each must be an http(s) URL, https but on a loopback host (OAuth 2.1 §1.5: codes, tokens and
 *   secrets cross them): otherwise `fail`.
 * - One on another origin than the issuer is legal (RFC 8414 does not require one origin) but
 *   unusual, and not the doctor's to probe: `warn`, and the checks that would send it a request
 *   are not run. Gatehouse serves every endpoint at its issuer.
 * Returned with the URLs not to be sent anything.
 */
import { isLoopbackHostname } from '../../../shared/loopback-hosts.ts';
import { fail, ok, warn, type CheckResult } from './doctor-check.ts';

const ENDPOINTS = ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'jwks_uri'] as const;

export interface MetadataEndpointsCheck {
  result: CheckResult;
  /** Endpoint URLs no request is sent to. */
  notProbed: ReadonlySet<string>;
}

export function checkMetadataEndpoints(issuer: string, metadata: Record<string, unknown>): MetadataEndpointsCheck {
  const issuerOrigin = URL.parse(issuer)?.origin;
  const insecure: string[] = [];
  const elsewhere: string[] = [];
  const notProbed = new Set<string>();
  for (const name of ENDPOINTS) {
    const value = metadata[name];
    if (typeof value !== 'string') continue;
    const url = URL.parse(value);
    if (!url || !['http:', 'https:'].includes(url.protocol) || (url.protocol === 'http:' && !isLoopbackHostname(url.hostname))) {
      insecure.push(`${name}: ${value}`);
      notProbed.add(value);
    } else if (url.origin !== issuerOrigin) {
      elsewhere.push(`${name}: ${value}`);
      notProbed.add(value);
    }
  }
  if (insecure.length > 0) {
    return {
      result: fail('endpoints', 'the metadata names endpoints that are not https URLs', [...insecure, ...elsewhere].join('\n'),
        'Every endpoint a client sends codes, tokens or secrets to must be https (plain http only on loopback). Set the auth-server\'s ISSUER to its public https URL; behind a TLS-terminating proxy also TRUST_PROXY=true. The doctor sent nothing to them.'),
      notProbed,
    };
  }
  if (elsewhere.length > 0) {
    return {
      result: warn('endpoints', `the metadata names endpoints on another origin than the issuer ${issuer}`, elsewhere.join('\n'),
        'Clients will use them as named; the doctor sends nothing there, so the checks that would are not run. Gatehouse serves every endpoint at its issuer: check that ISSUER is the URL clients reach it at.'),
      notProbed,
    };
  }
  return { result: ok('endpoints', 'every endpoint the metadata names is at the issuer, over https or on loopback'), notProbed };
}
