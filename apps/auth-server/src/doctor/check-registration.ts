/**
 * `registration` and `claude-callbacks`: Dynamic Client Registration (RFC 7591) answers an
 * anonymous registration with Claude's own body, and accepts both of Claude's callback URLs
 * (claude.ai and claude.com connectors). From outside this is the only way to see the redirect-URI
 * allow-list: register once, as Claude would.
 *
 * The registration creates a real client that is never used; on Gatehouse unused registrations
 * expire on their own. The output says so; `--no-register` skips both checks. When both callbacks
 * together are refused, each is tried alone to name the one that is missing (a refused
 * registration creates nothing). The test client is returned for resource-accepted, the one
 * check that needs a client_id.
 */
import { fail, ok, skip, warn, type CheckResult } from './doctor-check.ts';
import { jsonObject, ProbeError, type Probe } from './http-probe.ts';

export const CLAUDE_CALLBACKS = ['https://claude.ai/api/mcp/auth_callback', 'https://claude.com/api/mcp/auth_callback'] as const;

/** What claude.ai sends to the registration endpoint (public client; `claudeai` is its own scope), named so an admin recognises the test client. */
function claudeRegistration(redirectUris: readonly string[]) {
  return {
    client_name: 'Claude (gatehouse doctor check, never used)',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'claudeai',
  };
}

type Registered = { status: number; body?: Record<string, unknown> } | { error: string };

/** A client the registration created, and a redirect URI it was granted. */
export interface TestClient {
  clientId: string;
  redirectUri: string;
}

export interface RegistrationCheck {
  results: CheckResult[];
  client?: TestClient;
}

export async function checkRegistration(probe: Probe, metadata: Record<string, unknown>, register: boolean): Promise<RegistrationCheck> {
  const endpoint = metadata.registration_endpoint;
  if (typeof endpoint !== 'string') {
    const cimd = metadata.client_id_metadata_document_supported === true;
    return { results: [
      (cimd ? warn : fail)('registration', 'no registration_endpoint in the metadata', null,
        cimd
          ? 'Claude can use its Client ID Metadata Document, but clients without one (MCP Inspector, most SDK clients) need Dynamic Client Registration: enable it.'
          : 'Claude registers itself by Dynamic Client Registration (RFC 7591): enable it, anonymous (no initial access token).'),
      skip('claude-callbacks', 'not checked: there is no registration endpoint to ask'),
    ] };
  }
  if (!register) {
    return { results: [
      skip('registration', 'not checked (--no-register)'),
      skip('claude-callbacks', 'not checked (--no-register)'),
    ] };
  }
  const both = await registerWith(probe, endpoint, CLAUDE_CALLBACKS);
  const note = 'The test client is never used; unused registrations expire on Gatehouse.';
  if ('error' in both) {
    return { results: [
      fail('registration', 'the registration endpoint does not answer', `POST ${endpoint}: ${both.error}`, 'Check that the auth-server runs and that a proxy in front forwards POST to /oauth/register.'),
      skip('claude-callbacks', 'not checked: the registration endpoint does not answer'),
    ] };
  }
  const seen = `POST ${endpoint} with Claude's registration (redirect_uris ${CLAUDE_CALLBACKS.join(', ')}) → ${both.status}`;
  if (both.status === 201 && typeof both.body?.client_id === 'string') {
    const granted = Array.isArray(both.body.redirect_uris) ? both.body.redirect_uris as string[] : [];
    const missing = CLAUDE_CALLBACKS.filter((uri) => !granted.includes(uri));
    return { results: [
      ok('registration', 'Dynamic Client Registration accepts Claude\'s registration (the test client it created is never used and expires)', `${seen}: client_id ${both.body.client_id}. ${note}`),
      missing.length === 0
        ? ok('claude-callbacks', 'both Claude callback URLs are allowed', CLAUDE_CALLBACKS.join('\n'))
        : fail('claude-callbacks', `the registration dropped ${missing.join(' and ')}`, `registered redirect_uris: ${granted.join(', ')}`, allowFix(missing)),
    ], client: testClient(both) };
  }
  const error = typeof both.body?.error === 'string' ? both.body.error : undefined;
  const description = typeof both.body?.error_description === 'string' ? `: ${both.body.error_description}` : '';
  if (both.status === 400 && error === 'invalid_redirect_uri') {
    const missing: string[] = [];
    let client: TestClient | undefined;
    for (const uri of CLAUDE_CALLBACKS) {
      const alone = await registerWith(probe, endpoint, [uri]);
      if (!('error' in alone) && alone.status !== 201) missing.push(uri);
      client ??= testClient(alone);
    }
    return { results: [
      ok('registration', 'Dynamic Client Registration answers', `${seen} (${error}${description})`),
      fail('claude-callbacks', `Claude's callback URL${missing.length === 1 ? ' is' : 's are'} not allowed: ${(missing.length > 0 ? missing : CLAUDE_CALLBACKS).join(', ')}`,
        `${seen}: ${error}${description}. ${missing.length < CLAUDE_CALLBACKS.length ? note : ''}`.trim(), allowFix(missing.length > 0 ? missing : [...CLAUDE_CALLBACKS])),
    ], client };
  }
  const fix = both.status === 401 || both.status === 403
    ? 'Registration asks for credentials (an initial access token), which Claude does not have: allow anonymous registration.'
    : both.status === 404 || both.status === 405
      ? 'The metadata names a registration endpoint that is not served: check the proxy forwards POST to it.'
      : `Claude's registration must succeed as it is sent: see the error above and the auth-server's log.`;
  return { results: [
    fail('registration', `Claude's registration is refused (${both.status})`, `${seen}${error ? ` (${error}${description})` : ''}`, fix),
    skip('claude-callbacks', 'not checked: the registration was refused for another reason'),
  ] };
}

function allowFix(missing: readonly string[]): string {
  return `Claude sends users back to these URLs after sign-in: allow them (on Gatehouse: ${missing.map((uri) => `gatehouse redirects allow ${uri}`).join('; ')}, or list them in auth_server.registration.allowed_redirect_uris).`;
}

function testClient(registered: Registered): TestClient | undefined {
  if ('error' in registered || registered.status !== 201) return undefined;
  const { client_id: clientId, redirect_uris: redirectUris } = registered.body ?? {};
  const redirectUri = Array.isArray(redirectUris) ? redirectUris.find((uri) => typeof uri === 'string') : undefined;
  return typeof clientId === 'string' && typeof redirectUri === 'string' ? { clientId, redirectUri } : undefined;
}

async function registerWith(probe: Probe, endpoint: string, redirectUris: readonly string[]): Promise<Registered> {
  try {
    const answer = await probe(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(claudeRegistration(redirectUris)),
    });
    return { status: answer.status, body: jsonObject(answer.text) };
  } catch (err) {
    if (err instanceof ProbeError) return { error: err.message };
    throw err;
  }
}
