/**
 * `gatehouse doctor <MCP URL>`: checks a deployment from the outside, the way Claude and the other
 * MCP clients will meet it, in their order: the host and its certificate, the MCP URL's 401
 * challenge, the Protected Resource Metadata, the authorization server's metadata and what it
 * advertises, registration, whether it accepts the resource, CORS, clocks and keys, and what the
 * resource server's readiness report says. Each check says what it saw and, when something is
 * wrong, how to fix it (doctor-check.ts).
 *
 * It needs only the URL: no local configuration, no database, no credentials (it sends none), so
 * it checks any deployment, Gatehouse or not. It writes nothing, except the one test client a
 * registration creates and the sign-in resource-accepted starts with it and never finishes (both
 * expire; neither unless `register` is true). A check that depends on one that failed is reported
 * as not checked rather than failing twice.
 */
import { checkAddress } from './check-address.ts';
import { checkAdvertisedCapabilities } from './check-advertised-capabilities.ts';
import { checkAuthorizationServerMetadata } from './check-authorization-server-metadata.ts';
import { checkClock } from './check-clock.ts';
import { checkCors, type CorsTarget } from './check-cors.ts';
import { checkJwks } from './check-jwks.ts';
import { checkMcpEndpoint, checkMcpRoot } from './check-mcp-endpoint.ts';
import { checkMetadataEndpoints } from './check-metadata-endpoints.ts';
import { checkProtectedResourceMetadata } from './check-protected-resource-metadata.ts';
import { checkRegistration } from './check-registration.ts';
import { checkResourceAccepted } from './check-resource-accepted.ts';
import { checkResourceServerReadiness } from './check-resource-server-readiness.ts';
import { checkTransport } from './check-transport.ts';
import { skip, type CheckResult, type DoctorReport } from './doctor-check.ts';
import { createProbe } from './http-probe.ts';

export interface DoctorOptions {
  /** Register a test client as Claude would (checks DCR and Claude's callbacks). Default is true. */
  register?: boolean;
  /** Longest one request (or DNS lookup, or TLS handshake) may take, in milliseconds. Default is 10000. */
  timeoutMs?: number;
}

/** The checks that need the authorization server's metadata, skipped with one reason when it is missing. */
const AFTER_METADATA = ['as-metadata', 'issuer', 'endpoints', 'pkce', 'cimd', 'refresh', 'token-lifetime', 'registration', 'claude-callbacks', 'resource-accepted', 'cors', 'jwks'];

export async function runDoctor(mcpUrl: string, { register = true, timeoutMs = 10_000 }: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  const report = (): DoctorReport => ({ url: mcpUrl, ok: checks.every((c) => c.status !== 'fail'), checks });
  const probe = createProbe(timeoutMs);
  const url = new URL(mcpUrl);

  const address = await checkAddress('mcp', url, timeoutMs);
  checks.push(address.result);
  if (!address.resolved) return skipRest(checks, 'the MCP URL\'s host does not resolve', report);
  const transport = await checkTransport('mcp', url, address.loopbackOnly, timeoutMs);
  checks.push(transport.result);
  if (!transport.usable) return skipRest(checks, 'no client can connect to the MCP URL', report);

  const endpoint = await checkMcpEndpoint(probe, mcpUrl);
  checks.push(endpoint.result);
  if (!endpoint.answer) return skipRest(checks, 'the MCP URL does not answer', report);
  const root = await checkMcpRoot(probe, url);
  if (root) checks.push(root);

  const resource = await checkProtectedResourceMetadata(probe, mcpUrl, endpoint.resourceMetadataUrl);
  checks.push(...resource.results);
  const issuer = resource.metadata?.authorization_servers[0];
  if (!issuer) return skipRest(checks, 'no resource metadata names the authorization server', report);

  const issuerUrl = URL.canParse(issuer) ? new URL(issuer) : undefined;
  // The authorization server on another host or port gets its own checks, unless they would
  // only repeat what the MCP URL's said (same host name, same finding).
  if (issuerUrl && issuerUrl.origin !== url.origin) {
    let authAddress = address;
    if (issuerUrl.hostname !== url.hostname) {
      authAddress = await checkAddress('auth', issuerUrl, timeoutMs);
      checks.push(authAddress.result);
      if (!authAddress.resolved) return skipRest(checks, 'the authorization server\'s host does not resolve', report);
    }
    const authTransport = await checkTransport('auth', issuerUrl, authAddress.loopbackOnly, timeoutMs);
    if (authTransport.result.status === 'ok' || authTransport.result.summary !== transport.result.summary) checks.push(authTransport.result);
    if (!authTransport.usable) return skipRest(checks, 'no client can connect to the authorization server', report);
  }

  const server = await checkAuthorizationServerMetadata(probe, issuer);
  checks.push(...server.results);
  const { metadata } = server;
  if (metadata) {
    // Nothing is sent to an endpoint the metadata names before it is checked (check-metadata-endpoints.ts).
    const endpoints = checkMetadataEndpoints(issuer, metadata);
    checks.push(endpoints.result);
    const probed = (url: unknown) => !(typeof url === 'string' && endpoints.notProbed.has(url));
    const notSent = (id: string, url: unknown) => skip(id, `not checked: the doctor sends nothing to ${String(url)} (see endpoints)`);
    checks.push(...checkAdvertisedCapabilities(metadata));
    const registration = probed(metadata.registration_endpoint)
      ? await checkRegistration(probe, metadata, register)
      : { results: [notSent('registration', metadata.registration_endpoint), notSent('claude-callbacks', metadata.registration_endpoint)] };
    checks.push(...registration.results);
    checks.push(probed(metadata.authorization_endpoint)
      ? await checkResourceAccepted(probe, {
        authorizationEndpoint: metadata.authorization_endpoint,
        resource: resource.metadata!.resource,
        scope: endpoint.scope ?? resource.metadata!.scopes_supported?.join(' '),
        client: registration.client,
      })
      : notSent('resource-accepted', metadata.authorization_endpoint));
    checks.push(await checkCors(probe, corsTargets(mcpUrl, resource.metadataUrl!, server.metadataUrl!, metadata).filter((target) => probed(target.url))));
    checks.push(probed(metadata.jwks_uri) ? await checkJwks(probe, metadata.jwks_uri) : notSent('jwks', metadata.jwks_uri));
  }
  checks.push(checkClock([{ server: 'resource server', answer: endpoint.answer }, { server: 'authorization server', answer: server.answer }]));
  checks.push(...await checkResourceServerReadiness(probe, url, issuer));
  return skipRest(checks, 'the authorization server\'s metadata was not found', report);
}

/** Adds a `skip` for each check not run yet, so the list always has the same checks. */
function skipRest(checks: CheckResult[], reason: string, report: () => DoctorReport): DoctorReport {
  const ran = new Set(checks.map((c) => c.id));
  const all = ['mcp-address', 'mcp-https', 'mcp-endpoint', 'prm', 'prm-paths', 'prm-resource', ...AFTER_METADATA, 'clock', 'resource-server-jwks', 'resource-server-revocations', 'resource-server-ready'];
  for (const id of all) if (!ran.has(id)) checks.push(skip(id, `not checked: ${reason}`));
  return report();
}

function corsTargets(mcpUrl: string, resourceMetadataUrl: string, serverMetadataUrl: string, metadata: Record<string, unknown>): CorsTarget[] {
  // The MCP SDK's browser client sends MCP-Protocol-Version on discovery, and JSON or form bodies;
  // to the MCP endpoint, its token and session too.
  const targets: CorsTarget[] = [
    { name: 'MCP endpoint', url: mcpUrl, method: 'POST', headers: ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-session-id'], mcp: true },
    { name: 'resource metadata', url: resourceMetadataUrl, method: 'GET', headers: ['mcp-protocol-version'] },
    { name: 'authorization server metadata', url: serverMetadataUrl, method: 'GET', headers: ['mcp-protocol-version'] },
  ];
  if (typeof metadata.registration_endpoint === 'string') targets.push({ name: 'registration', url: metadata.registration_endpoint, method: 'POST', headers: ['content-type'] });
  if (typeof metadata.token_endpoint === 'string') targets.push({ name: 'token', url: metadata.token_endpoint, method: 'POST', headers: ['content-type'] });
  return targets;
}
