/**
 * What the resource server says of itself at its readiness endpoint (`GET /readyz` at the MCP
 * URL's origin). The doctor runs outside, so this is how it learns what the resource server can
 * reach from where it runs. Gatehouse answers 200, or 503 naming the checks that failed
 * (`{ "checks": { "database": "ok", "jwks": "ok", "revocations": "failed" } }`,
 * shared/health-routes.ts), and while one fails it refuses every MCP request with 503: each
 * failing entry is therefore a failure here.
 *
 * - `resource-server-jwks`: it can fetch the issuer's signing keys.
 * - `resource-server-revocations`: it can read the auth-server's revocation feed; it fails closed
 *   without it, as a token it cannot check against the list may have been revoked.
 * - `resource-server-ready`: /readyz answers 200 and no other entry fails. When only the two
 *   above fail, they already say why, and this is not checked rather than failing twice.
 *
 * A server without a readiness report there (not Gatehouse, or a proxy that does not route
 * /readyz) leaves all three not checked; a report without an entry leaves its check not checked.
 * Why a check failed is only in the resource server's log: the body never says.
 */
import { fail, ok, skip, type CheckResult } from './doctor-check.ts';
import { jsonObject, ProbeError, type Probe } from './http-probe.ts';

const READY = 'resource-server-ready';

/** The entries with a check of their own: what the resource server cannot do without them, and the fix. */
function namedEntries(issuer: string): Record<string, { id: string; can: string; fix: string }> {
  return {
    jwks: {
      id: 'resource-server-jwks',
      can: 'fetch the signing keys',
      fix: 'Every token will be refused. Check the resource server\'s JWKS_URI (resource_server.jwks_uri): it must reach the auth-server from where the resource server runs (inside a container, not localhost), and its log says why the fetch fails.',
    },
    revocations: {
      id: 'resource-server-revocations',
      can: 'read the revocation feed',
      fix: `Every MCP request is refused with 503 until it can. Point REVOCATION_FEED_URI (resource_server.revocation.feed_uri; by default beside JWKS_URI) at ${issuer}/oauth/revocations, reachable from where the resource server runs (inside a container, not localhost); behind a proxy, route /oauth/revocations to the auth-server as well as /oauth/jwks. Its log says why the fetch fails.`,
    },
  };
}

export async function checkResourceServerReadiness(probe: Probe, mcpUrl: URL, issuer: string): Promise<CheckResult[]> {
  const url = `${mcpUrl.origin}/readyz`;
  const named = namedEntries(issuer);
  const ids = [...Object.values(named).map((entry) => entry.id), READY];
  let status: number;
  let text: string;
  try {
    ({ status, text } = await probe(url, { headers: { accept: 'application/json' } }));
  } catch (err) {
    if (!(err instanceof ProbeError)) throw err;
    return ids.map((id) => skip(id, 'not checked: the resource server\'s /readyz does not answer', `${url}: ${err.message}`));
  }
  const checks = jsonObject(text)?.checks;
  // Gatehouse's own report: each check `ok` or `failed` (apps/shared/health-routes.ts). Another
  // server's (`UP`, `true`, the health+json draft's objects) means what it means there, not that.
  const gatehouseReport = checks !== null && typeof checks === 'object' && !Array.isArray(checks)
    && Object.values(checks as Record<string, unknown>).every((state) => state === 'ok' || state === 'failed');
  if (!gatehouseReport) {
    return ids.map((id) => skip(id, 'not checked: the resource server does not report its readiness at /readyz', `GET ${url} → ${status}`));
  }
  const states = Object.entries(checks as Record<string, unknown>).map(([name, state]) => ({ name, state: String(state) }));
  const seen = `GET ${url} → ${status}: ${states.map(({ name, state }) => `${name} ${state}`).join(', ') || '(no checks)'}`;
  const failing = states.filter(({ state }) => state !== 'ok').map(({ name }) => name);

  const results = Object.entries(named).map(([name, { id, can, fix }]) => {
    const state = states.find((s) => s.name === name)?.state;
    if (state === undefined) return skip(id, `not checked: the resource server does not report whether it can ${can}`, seen);
    if (state === 'ok') return ok(id, `the resource server can ${can}`, seen);
    return fail(id, `the resource server cannot ${can}`, seen, fix);
  });

  const others = failing.filter((name) => !(name in named));
  if (others.length > 0) {
    results.push(fail(READY, `the resource server is not ready: ${others.join(', ')} failed`, seen,
      `While a readiness check fails, every MCP request is refused with 503. The resource server's log says why (a "readiness check failed" line naming ${others.join(', ')}).`));
  } else if (failing.length > 0) {
    results.push(skip(READY, `not checked: ${failing.map((name) => named[name]!.id).join(' and ')} say${failing.length === 1 ? 's' : ''} why it is not ready`, seen));
  } else if (status !== 200) {
    results.push(fail(READY, `/readyz answers ${status} though no check it names failed`, seen,
      'The resource server, or a proxy in front of it, says it is not ready: see their logs, and check that the proxy forwards /readyz to the resource server.'));
  } else {
    results.push(ok(READY, 'the resource server is ready', seen));
  }
  return results;
}
