/**
 * `resource-accepted`: the authorization server accepts the resource clients ask it for. Clients
 * copy the Protected Resource Metadata's `resource` into `resource=` (RFC 8707 §2; MCP 2025-11-25
 * authorization, Resource Parameter Implementation); an authorization server that knows the
 * resource by another URL (Gatehouse: RESOURCE_URL set differently on the two apps) answers
 * `invalid_target` (RFC 8707 §2) before anyone signs in, so no sign-in ever succeeds, while every
 * document the other checks read looks right.
 *
 * One authorization request is sent, as Claude sends it: the registration check's test client,
 * one of its redirect URIs, S256 PKCE, the scopes the 401 challenge names (else the metadata's
 * `scopes_supported`), and no redirect followed. A redirect to the client's redirect URI with
 * `error=invalid_target`, or an error page naming it, is the failure; a redirect to the sign-in
 * (Gatehouse: `/interaction/…`), or the sign-in page itself, is success. Nobody signs in, so the
 * only thing this leaves on the server is the started sign-in, which expires (Gatehouse: an
 * interaction, after an hour).
 *
 * Deliberately not checked: whether the scopes can be granted (that needs a user), and what
 * another error says of the resource (nothing): it is reported as a warning with the answer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { fail, ok, skip, warn, type CheckResult } from './doctor-check.ts';
import { ProbeError, type Probe, type ProbeAnswer } from './http-probe.ts';
import type { TestClient } from './check-registration.ts';

const ID = 'resource-accepted';

export interface ResourceAcceptedRequest {
  authorizationEndpoint: unknown;
  /** The Protected Resource Metadata's `resource`. */
  resource: string;
  /** Space-separated, as clients send it; omitted when undefined. */
  scope: string | undefined;
  /** The test client of the registration check; without one, nothing is sent. */
  client: TestClient | undefined;
}

export async function checkResourceAccepted(probe: Probe, { authorizationEndpoint, resource, scope, client }: ResourceAcceptedRequest): Promise<CheckResult> {
  if (!client) return skip(ID, 'not checked: it asks with the test client of the registration check, and there is none');
  if (typeof authorizationEndpoint !== 'string' || !URL.canParse(authorizationEndpoint)) {
    return skip(ID, 'not checked: the metadata names no authorization_endpoint');
  }
  const url = new URL(authorizationEndpoint);
  const verifier = randomBytes(32).toString('base64url');
  const params = {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(16).toString('base64url'),
    ...(scope ? { scope } : {}),
    resource,
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const sent = `GET ${authorizationEndpoint} (client_id ${client.clientId}, resource ${resource}${scope ? `, scope ${scope}` : ''})`;
  let answer: ProbeAnswer;
  try {
    answer = await probe(url.href, { headers: { accept: 'text/html' } });
  } catch (err) {
    if (!(err instanceof ProbeError)) throw err;
    return fail(ID, 'the authorization endpoint does not answer', `${sent}: ${err.message}`, UNREACHABLE_FIX);
  }
  const location = answer.headers.get('location');
  const seen = `${sent} → ${answer.status}${location ? ` Location: ${location}` : ''}`;
  const mismatch = fail(ID, 'the authorization server refuses the resource clients ask for (invalid_target)', seen,
    `No sign-in can succeed: the authorization server knows the resource by another URL than the resource server's metadata (${resource}). Set RESOURCE_URL (resource_server.resource) to the same value on both apps, the URL users paste, and restart them.`);
  if (answer.status >= 300 && answer.status < 400 && location) {
    const error = URL.parse(location, url)?.searchParams.get('error');
    if (error === 'invalid_target') return mismatch;
    if (!error) return ok(ID, 'the authorization server accepts the resource: the request goes on to sign-in', seen);
    return otherError(`error=${error}`, seen);
  }
  if (answer.status === 200) return ok(ID, 'the authorization server accepts the resource: it answers with a page (the sign-in)', seen);
  // Not an OAuth refusal: nothing (or a proxy) answers there, and no browser can start a sign-in.
  if (answer.status === 404 || answer.status === 405 || answer.status >= 500) {
    return fail(ID, `the authorization endpoint answers ${answer.status}`, seen, answer.status >= 500 ? `${UNREACHABLE_FIX} ${SERVER_ERROR_FIX}` : UNREACHABLE_FIX);
  }
  if (answer.text.includes('invalid_target')) return mismatch;
  return otherError(`${answer.status}`, seen);
}

const UNREACHABLE_FIX = 'Check that the auth-server runs and that a proxy in front routes the authorization endpoint to it: Claude opens it in the user\'s browser to sign in.';
// A Gatehouse behind a TLS proxy that sends no X-Forwarded-Proto answers 500 to every sign-in
// (http/refuse-pages-over-plain-http.ts).
const SERVER_ERROR_FIX = 'If the auth-server itself answers, its log says why; behind a TLS proxy, one cause is a proxy that does not send X-Forwarded-Proto: https (Apache mod_proxy and HAProxy do not by default; nginx: proxy_set_header X-Forwarded-Proto $scheme;).';

function otherError(what: string, seen: string): CheckResult {
  return warn(ID, `the authorization request was refused for another reason (${what}), so the resource could not be checked`, seen,
    'Claude\'s sign-in may stop at the same error: see the answer above and the authorization server\'s log.');
}
