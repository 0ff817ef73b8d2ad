/**
 * The signing keys, as the resource server needs them:
 *
 * - `jwks`: the metadata's `jwks_uri` answers with at least one RSA key usable for RS256
 *   signatures (the algorithm Gatehouse signs access tokens with), reachable from here.
 * - `resource-server-jwks`: the resource server says it can fetch them too. The doctor runs
 *   outside, so it asks the resource server's readiness endpoint (`GET /readyz` at the MCP URL's
 *   origin; Gatehouse reports `checks.jwks` there). A server without one (not Gatehouse, or a proxy
 *   that does not route it) leaves this not checked.
 */
import { fail, ok, skip, type CheckResult } from './doctor-check.ts';
import { jsonObject, ProbeError, type Probe } from './http-probe.ts';

export async function checkJwks(probe: Probe, jwksUri: unknown): Promise<CheckResult> {
  if (typeof jwksUri !== 'string') {
    return fail('jwks', 'no jwks_uri in the metadata', null, 'The resource server cannot verify access tokens without the issuer\'s public keys: publish jwks_uri in the metadata.');
  }
  let status: number;
  let text: string;
  try {
    ({ status, text } = await probe(jwksUri, { headers: { accept: 'application/json' } }));
  } catch (err) {
    if (!(err instanceof ProbeError)) throw err;
    return fail('jwks', 'the JWKS does not answer', `${jwksUri}: ${err.message}`, 'Check that the auth-server runs and that a proxy routes jwks_uri to it.');
  }
  const keys = jsonObject(text)?.keys;
  const seen = `GET ${jwksUri} → ${status}`;
  if (status !== 200 || !Array.isArray(keys)) {
    return fail('jwks', 'the JWKS is not a key set', seen, 'jwks_uri must answer 200 with {"keys": […]}: check that it names the auth-server\'s key set (Gatehouse: <issuer>/oauth/jwks).');
  }
  const rs256 = keys.filter((key: { kty?: unknown; alg?: unknown; use?: unknown }) => key?.kty === 'RSA' && (key.alg === undefined || key.alg === 'RS256') && key.use !== 'enc');
  if (rs256.length === 0) {
    return fail('jwks', 'the JWKS holds no RS256 signing key', `${seen}: ${keys.length} keys, none RSA for RS256`, 'Publish the RSA key that signs access tokens (on Gatehouse: gatehouse keys list, gatehouse keys rotate).');
  }
  return ok('jwks', `the JWKS answers with ${rs256.length} RS256 key${rs256.length === 1 ? '' : 's'}`, seen);
}

export async function checkResourceServerJwks(probe: Probe, mcpUrl: URL): Promise<CheckResult> {
  const url = `${mcpUrl.origin}/readyz`;
  let status: number;
  let text: string;
  try {
    ({ status, text } = await probe(url, { headers: { accept: 'application/json' } }));
  } catch (err) {
    if (!(err instanceof ProbeError)) throw err;
    return skip('resource-server-jwks', 'not checked: the resource server\'s /readyz does not answer', `${url}: ${err.message}`);
  }
  const checks = jsonObject(text)?.checks as Record<string, unknown> | undefined;
  const jwks = checks?.jwks;
  if (typeof jwks !== 'string') {
    return skip('resource-server-jwks', 'not checked: the resource server does not report on its key set', `GET ${url} → ${status}`);
  }
  if (jwks === 'ok') return ok('resource-server-jwks', 'the resource server can fetch the signing keys', `GET ${url} → ${status}: jwks ${jwks}`);
  return fail('resource-server-jwks', 'the resource server cannot fetch the signing keys', `GET ${url} → ${status}: jwks ${jwks}`,
    'Every token will be refused. Check the resource server\'s JWKS_URI (resource_server.jwks_uri): it must reach the auth-server from where the resource server runs (inside a container, not localhost), and its log says why the fetch fails.');
}
