/**
 * The Authorization Server Metadata of the issuer the Protected Resource Metadata names, at every
 * URL MCP clients try (MCP 2025-11-25 authorization, Authorization Server Metadata Discovery):
 * RFC 8414 §3.1 path-inserted `/.well-known/oauth-authorization-server`, and OpenID Connect
 * Discovery (path-inserted, and appended to an issuer with a path).
 *
 * - `as-metadata`: the documents answer as JSON (a missing variant is a warning: clients try the
 *   next one; none at all is a failure).
 * - `issuer`: each document's `issuer` is byte for byte the issuer it was fetched for (RFC 8414
 *   §3.3, OpenID Connect Discovery §4.3): clients refuse a mismatch, which is what a proxy that
 *   rewrites the host or scheme, or two apps configured with different issuers, produce.
 */
import { fail, ok, warn, type CheckResult } from './doctor-check.ts';
import { jsonObject, ProbeError, type Probe, type ProbeAnswer } from './http-probe.ts';

export interface AuthorizationServerMetadataCheck {
  results: CheckResult[];
  /** The document clients use (RFC 8414's when it answers), when one answered. */
  metadata?: Record<string, unknown>;
  metadataUrl?: string;
  /** An answer of the auth-server, for its clock. */
  answer?: ProbeAnswer;
}

export function metadataUrls(issuer: URL): Array<{ kind: string; url: string }> {
  const path = issuer.pathname.replace(/\/$/, '');
  const urls = [
    { kind: 'RFC 8414', url: `${issuer.origin}/.well-known/oauth-authorization-server${path}` },
    { kind: 'OpenID Connect discovery', url: `${issuer.origin}/.well-known/openid-configuration${path}` },
  ];
  if (path) urls.push({ kind: 'OpenID Connect discovery (appended)', url: `${issuer.origin}${path}/.well-known/openid-configuration` });
  return urls;
}

export async function checkAuthorizationServerMetadata(probe: Probe, issuer: string): Promise<AuthorizationServerMetadataCheck> {
  if (!URL.canParse(issuer) || !/^https?:$/.test(new URL(issuer).protocol)) {
    return {
      results: [fail('as-metadata', 'the Protected Resource Metadata names an issuer that is not an http(s) URL', `authorization_servers[0]: ${issuer}`,
        'Set the resource server\'s issuer (resource_server.issuer, or ISSUER) to the auth-server\'s issuer URL.')],
    };
  }
  const fetched = await Promise.all(metadataUrls(new URL(issuer)).map(async ({ kind, url }) => ({ kind, url, ...await fetchMetadata(probe, url) })));
  const answered = fetched.filter((f) => f.document);
  const seen = fetched.map((f) => `${f.kind}: ${f.url}: ${f.problem ?? 'ok'}`).join('\n');
  const results: CheckResult[] = [];
  if (answered.length === 0) {
    results.push(fail('as-metadata', `no authorization server metadata for ${issuer}`, seen,
      `Check that the auth-server runs and that ${issuer} is its issuer (ISSUER). Behind a proxy, route /.well-known/oauth-authorization-server and /.well-known/openid-configuration to the auth-server.`));
    return { results, answer: fetched.find((f) => f.answer)?.answer };
  }
  results.push(answered.length === fetched.length
    ? ok('as-metadata', `authorization server metadata found (${answered.map((f) => f.kind).join(', ')})`, seen)
    : warn('as-metadata', `authorization server metadata is missing at ${fetched.length - answered.length} of the URLs clients try`, seen,
      'Clients try these URLs in turn; serve the metadata at each (behind a proxy, route /.well-known/… to the auth-server).'));

  const wrong = answered.filter((f) => f.document!.issuer !== issuer);
  if (wrong.length === 0) {
    results.push(ok('issuer', 'the metadata\'s issuer is exactly the URL it was fetched for', `issuer: ${issuer}`));
  } else {
    const said = String(wrong[0]!.document!.issuer);
    results.push(fail('issuer', 'the metadata names another issuer than the one clients fetched it for', [
      `the resource metadata names: ${issuer}`,
      ...wrong.map((f) => `${f.url} says issuer: ${String(f.document!.issuer)}`),
    ].join('\n'), issuerFix(issuer, said)));
  }
  const used = answered[0]!;
  return { results, metadata: used.document, metadataUrl: used.url, answer: used.answer };
}

function issuerFix(expected: string, said: string): string {
  const both = 'Clients refuse metadata whose issuer differs (RFC 8414 §3.3).';
  if (expected.replace(/\/$/, '') === said.replace(/\/$/, '')) {
    return `${both} They differ by a trailing slash: set ISSUER and the resource server's issuer (resource_server.issuer) to the same string, without a trailing slash.`;
  }
  if (expected.startsWith('https:') && said.startsWith('http:')) {
    return `${both} The auth-server believes it is served over plain http: set ISSUER=${expected} on it, and behind a TLS-terminating proxy also TRUST_PROXY=true.`;
  }
  return `${both} Set the auth-server's ISSUER and the resource server's issuer (resource_server.issuer) to the same public URL: ${said} if that is where clients reach the auth-server, and check a proxy in front does not rewrite the host.`;
}

async function fetchMetadata(probe: Probe, url: string): Promise<{ document?: Record<string, unknown>; problem?: string; answer?: ProbeAnswer }> {
  try {
    const answer = await probe(url, { headers: { accept: 'application/json', 'mcp-protocol-version': '2025-11-25' } });
    if (answer.status !== 200) return { problem: `answered ${answer.status}`, answer };
    const document = jsonObject(answer.text);
    if (!document) return { problem: 'answered 200 but not with a JSON object', answer };
    if (typeof document.issuer !== 'string') return { problem: 'no "issuer" in the document', answer };
    return { document, answer };
  } catch (err) {
    if (err instanceof ProbeError) return { problem: err.message };
    throw err;
  }
}
