/**
 * The Protected Resource Metadata (RFC 9728), read as clients read it (MCP 2025-11-25
 * authorization, Protected Resource Metadata Discovery): the challenge's `resource_metadata` URL
 * when there is one, else the path-inserted well-known URL, else the root one.
 *
 * - `prm`: the document a client reads is there, JSON, with `resource` and `authorization_servers`.
 * - `prm-paths`: both well-known forms answer (`/.well-known/oauth-protected-resource/<path>`,
 *   RFC 9728 §3.1, and the root form older clients try), with the same `resource`.
 * - `prm-resource`: `resource` is byte for byte the URL the user pastes: clients refuse metadata
 *   for another resource (RFC 9728 §3.3) and copy it into `resource=` (RFC 8707), where the token's
 *   audience must then match the server's.
 */
import { fail, ok, skip, warn, type CheckResult } from './doctor-check.ts';
import { jsonObject, ProbeError, type Probe } from './http-probe.ts';

export interface ResourceMetadata {
  resource: string;
  authorization_servers: string[];
  /** The scopes clients ask for when the challenge names none (RFC 9728 §2). */
  scopes_supported?: string[];
}

export interface ProtectedResourceMetadataCheck {
  results: CheckResult[];
  /** The document a client uses, when it found one. */
  metadata?: ResourceMetadata;
  /** Where that document was read (for the CORS check). */
  metadataUrl?: string;
}

type Fetched = { url: string; metadata?: ResourceMetadata; problem?: string };

export function wellKnownResourceMetadataUrls(mcpUrl: URL): { pathInserted: string; root: string } {
  const root = `${mcpUrl.origin}/.well-known/oauth-protected-resource`;
  return { pathInserted: mcpUrl.pathname === '/' ? root : `${root}${mcpUrl.pathname}`, root };
}

export async function checkProtectedResourceMetadata(probe: Probe, pastedUrl: string, challengeUrl: string | undefined): Promise<ProtectedResourceMetadataCheck> {
  const { pathInserted, root } = wellKnownResourceMetadataUrls(new URL(pastedUrl));
  const cache = new Map<string, Promise<Fetched>>();
  const read = (url: string) => {
    if (!cache.has(url)) cache.set(url, fetchMetadata(probe, url));
    return cache.get(url)!;
  };

  const order = challengeUrl ? [challengeUrl] : [pathInserted, root];
  const tried: Fetched[] = [];
  for (const url of order) {
    const fetched = await read(url);
    tried.push(fetched);
    if (fetched.metadata) break;
  }
  const used = tried.find((f) => f.metadata);
  const wellKnown = [await read(pathInserted), ...(root === pathInserted ? [] : [await read(root)])];

  const results: CheckResult[] = [];
  const seen = tried.map((f) => `${f.url}: ${f.problem ?? 'ok'}`).join('\n');
  if (!used?.metadata) {
    results.push(fail('prm', 'no Protected Resource Metadata where clients look', seen,
      challengeUrl
        ? `Clients read the URL the 401 challenge names. Serve the metadata there (JSON with resource and authorization_servers), or fix the challenge's resource_metadata. On Gatehouse both come from RESOURCE_URL; behind a proxy, route /.well-known/oauth-protected-resource… to the resource server.`
        : 'Serve the metadata at the well-known URL (RFC 9728 §3.1). Behind a proxy, route /.well-known/oauth-protected-resource… to the resource server, not only the MCP path.'),
    skip('prm-paths', 'not checked: no metadata found'),
    skip('prm-resource', 'not checked: no metadata found'));
    return { results };
  }
  const { metadata } = used;
  results.push(ok('prm', 'Protected Resource Metadata found', `${used.url}: resource ${metadata.resource}, authorization_servers ${metadata.authorization_servers.join(', ')}`));
  results.push(checkPaths(wellKnown, metadata.resource));
  results.push(checkResource(metadata.resource, pastedUrl, used.url));
  return { results, metadata, metadataUrl: used.url };
}

async function fetchMetadata(probe: Probe, url: string): Promise<Fetched> {
  try {
    const answer = await probe(url, { headers: { accept: 'application/json', 'mcp-protocol-version': '2025-11-25' } });
    if (answer.status !== 200) return { url, problem: `answered ${answer.status}` };
    const body = jsonObject(answer.text);
    if (!body) return { url, problem: 'answered 200 but not with a JSON object' };
    const servers = body.authorization_servers;
    if (typeof body.resource !== 'string') return { url, problem: 'no "resource" in the document' };
    if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string')) {
      return { url, problem: 'no "authorization_servers" in the document' };
    }
    const scopes = Array.isArray(body.scopes_supported) ? body.scopes_supported.filter((s): s is string => typeof s === 'string') : undefined;
    return { url, metadata: { resource: body.resource, authorization_servers: servers as string[], ...(scopes ? { scopes_supported: scopes } : {}) } };
  } catch (err) {
    if (err instanceof ProbeError) return { url, problem: err.message };
    throw err;
  }
}

function checkPaths(wellKnown: Fetched[], resource: string): CheckResult {
  const seen = wellKnown.map((f) => `${f.url}: ${f.problem ?? `ok (resource ${f.metadata!.resource})`}`).join('\n');
  const missing = wellKnown.filter((f) => !f.metadata);
  if (missing.length > 0) {
    return warn('prm-paths', `the metadata is missing at ${missing.map((f) => new URL(f.url).pathname).join(' and ')}`, seen,
      'Clients that do not use the challenge try these well-known URLs: serve the same document at both (behind a proxy, route all of /.well-known/oauth-protected-resource to the resource server).');
  }
  const other = wellKnown.find((f) => f.metadata!.resource !== resource);
  if (other) {
    return warn('prm-paths', 'the well-known URLs serve different documents', seen,
      'Serve the same document (the same resource) at both well-known URLs, so every client sees the same resource.');
  }
  return ok('prm-paths', 'the metadata is served at both well-known paths', seen);
}

function checkResource(resource: string, pasted: string, metadataUrl: string): CheckResult {
  const detail = `pasted URL: ${pasted}\nresource:   ${resource} (from ${metadataUrl})`;
  if (resource === pasted) return ok('prm-resource', 'the metadata\'s resource is exactly the pasted URL', detail);
  const slashless = (url: string) => url.replace(/\/+$/, '');
  const configure = `paste exactly ${resource} into the client, or, if ${pasted} is the URL people should use, set RESOURCE_URL (resource_server.resource) to it`;
  if (slashless(resource) === slashless(pasted)) {
    return fail('prm-resource', 'the pasted URL and the metadata\'s resource differ by a trailing slash', detail,
      `Clients compare them byte for byte (RFC 9728 §3.3) and stop: ${configure}.`);
  }
  if (URL.canParse(resource) && new URL(resource).href === new URL(pasted).href) {
    return warn('prm-resource', 'the pasted URL and the metadata\'s resource are spelled differently', detail,
      `They name the same URL, but some clients compare the strings: ${configure}.`);
  }
  return fail('prm-resource', 'the metadata is for another resource than the pasted URL', detail,
    `Clients refuse metadata for another resource (RFC 9728 §3.3), and tokens would be for the wrong audience: ${configure}.`);
}
