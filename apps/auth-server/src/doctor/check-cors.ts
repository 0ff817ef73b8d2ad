/**
 * `cors`: browser-based clients (MCP Inspector at http://localhost:6274, web apps) can read the
 * metadata, register, redeem codes and call the MCP endpoint: a CORS preflight (Fetch
 * §CORS-preflight) from that origin to each endpoint, with the method and headers the MCP SDK's
 * browser client sends, is answered with an allowing `Access-Control-Allow-Origin`, and the method
 * and headers allowed.
 *
 * A failure here is a warning: Claude's connectors and Claude Code do not run in a browser, nor
 * does MCP Inspector through its own proxy (which sends no Origin). The MCP endpoint's origins are
 * a deliberate, per-deployment list (resource_server.allowed_origins, empty by default), so its
 * refusal gets its own advice: the setting, for those who want a browser client.
 *
 * Each preflight carries `Gatehouse-Doctor: cors` (apps/shared/doctor-probe-header.ts), so a
 * Gatehouse resource server logs the refusal of this probe at info as the doctor's, not at warn as
 * a browser client's. The origin stays MCP Inspector's: the check answers whether that client
 * may connect, which a made-up origin of the doctor's own could not tell.
 */
import { DOCTOR_PROBE_HEADER } from '../../../shared/doctor-probe-header.ts';
import { ok, warn, type CheckResult } from './doctor-check.ts';
import { ProbeError, type Probe } from './http-probe.ts';

export const BROWSER_ORIGIN = 'http://localhost:6274';

export interface CorsTarget {
  name: string;
  url: string;
  method: 'GET' | 'POST';
  headers: string[];
  /** The MCP endpoint, whose origins the resource server's allowed_origins lists, instead of an endpoint open to every origin. */
  mcp?: true;
}

const OPEN_ENDPOINTS_FIX = 'MCP Inspector and other clients running in a browser need CORS on the metadata, registration and token endpoints (Claude is not affected). Answer preflights from any origin there, or check that a proxy does not drop OPTIONS requests or the Access-Control-* headers.';
const MCP_ENDPOINT_FIX = `Only clients running in a browser need this, such as MCP Inspector connecting directly (through its proxy it sends no Origin and connects); Claude is not affected. To allow one, list its origin on the resource server:
  resource_server:
    allowed_origins: [${BROWSER_ORIGIN}]`;

export async function checkCors(probe: Probe, targets: CorsTarget[]): Promise<CheckResult> {
  const outcomes = await Promise.all(targets.map(async (target) => ({ target, problem: await preflightProblem(probe, target) })));
  const seen = outcomes.map(({ target, problem }) => `${target.name} (OPTIONS ${target.url}): ${problem ?? 'allowed'}`).join('\n');
  const refused = outcomes.filter((o) => o.problem);
  if (refused.length === 0) return ok('cors', `browser clients (origin ${BROWSER_ORIGIN}) may call ${targets.map((t) => t.name).join(', ')}`, seen);
  const fixes = [];
  if (refused.some((o) => !o.target.mcp)) fixes.push(OPEN_ENDPOINTS_FIX);
  if (refused.some((o) => o.target.mcp)) fixes.push(MCP_ENDPOINT_FIX);
  return warn('cors', `browser clients cannot call ${refused.map((o) => o.target.name).join(', ')}`, seen, fixes.join('\n'));
}

async function preflightProblem(probe: Probe, { url, method, headers }: CorsTarget): Promise<string | undefined> {
  try {
    const answer = await probe(url, {
      method: 'OPTIONS',
      headers: { origin: BROWSER_ORIGIN, 'access-control-request-method': method, 'access-control-request-headers': headers.join(','), [DOCTOR_PROBE_HEADER]: 'cors' },
    });
    if (answer.status < 200 || answer.status >= 300) return `answered ${answer.status}`;
    const origin = answer.headers.get('access-control-allow-origin');
    if (origin !== '*' && origin !== BROWSER_ORIGIN) return `no Access-Control-Allow-Origin for ${BROWSER_ORIGIN} (${origin ?? 'absent'})`;
    const methods = listHeader(answer.headers.get('access-control-allow-methods'));
    // GET and POST are CORS-safelisted methods: a preflight need not list them (Fetch §CORS-preflight fetch, step 7).
    if (methods.length > 0 && !methods.includes(method) && !methods.includes('*')) return `${method} not in Access-Control-Allow-Methods (${methods.join(', ')})`;
    const allowed = listHeader(answer.headers.get('access-control-allow-headers'));
    const missing = headers.filter((h) => !allowed.includes(h.toUpperCase()) && !allowed.includes('*'));
    if (missing.length > 0) return `headers not allowed: ${missing.join(', ')}`;
    return undefined;
  } catch (err) {
    if (err instanceof ProbeError) return err.message;
    throw err;
  }
}

const listHeader = (value: string | null) => (value ?? '').split(',').map((v) => v.trim().toUpperCase()).filter(Boolean);
