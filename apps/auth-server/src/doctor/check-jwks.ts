/**
 * `jwks`: the metadata's `jwks_uri` answers with at least one RSA key usable for RS256 signatures
 * (the algorithm Gatehouse signs access tokens with), reachable from here. Whether the resource
 * server can fetch them too is `resource-server-jwks` (check-resource-server-readiness.ts).
 */
import { fail, ok, type CheckResult } from './doctor-check.ts';
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
