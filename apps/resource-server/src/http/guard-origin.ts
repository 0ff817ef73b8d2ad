/**
 * Origin check and CORS for the MCP endpoint, ahead of authentication.
 *
 * - MCP 2025-11-25 transports §Security Warning: servers MUST validate `Origin` and answer 403
 *   when it is present and not allowed (DNS rebinding). No `Origin` means a server-to-server
 *   client (Claude's connectors, SDKs, curl): allowed. `Origin: null` is present and refused.
 * - An allowed origin gets CORS headers on every response, the 401 included, and exposes
 *   `WWW-Authenticate` and `Mcp-Session-Id`, which a browser client must read to start the OAuth
 *   flow and to keep its session. No credentials: the token travels in a header, not a cookie.
 * - Preflights (`OPTIONS`) carry no token by design (Fetch §CORS-preflight), so they are answered
 *   here and never reach the bearer check. They allow the MCP 2026-07-28 request metadata headers
 *   a browser client sends (transports/streamable-http §Request Metadata): `Mcp-Method`,
 *   `Mcp-Name`, and the `Mcp-Param-{Name}` headers it asks for (their names depend on the tool).
 *   Their `Allow` is the listener's (mcp-request-listener.ts), which knows the path: `/` serves
 *   HEAD, `/mcp` does not.
 * - A refused origin is logged at warn, once per origin per process: the 403 itself tells a
 *   browser nothing it may show (no CORS headers: "Failed to fetch"), so the log is where the
 *   operator learns which setting to change. The origin is the client's text: cut and escaped.
 *   The set of origins already logged is capped; beyond it the oldest is forgotten (and may be
 *   logged again), so a stream of made-up origins costs bounded memory.
 * - A refused preflight carrying the `Gatehouse-Doctor` header (apps/shared/doctor-probe-header.ts:
 *   a header no browser page can put on a refused request) is `gatehouse doctor`'s CORS probe: it
 *   is logged at info, every time, naming the doctor, and does not count as the origin's one
 *   warning, so a real client from that origin (MCP Inspector's, which the doctor probes as) is
 *   still warned of.
 *
 * Done here rather than with the SDK transport's `allowedOrigins`, which runs only inside a
 * session's transport, i.e. after authentication, and sets no CORS headers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cutText } from '../../../shared/cut-text.ts';
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';
import { DOCTOR_PROBE_HEADER } from '../../../shared/doctor-probe-header.ts';
import type { Logger } from '../../../shared/logger.ts';
import { answerJson } from './answer-json.ts';

const ALLOWED_METHODS = 'GET, POST, DELETE';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name';
/** An `Mcp-Param-{Name}` header name: `{Name}` is an RFC 9110 §5.1 token. */
const MCP_PARAM_HEADER = /^mcp-param-[!#$%&'*+.^_`|~0-9a-z-]+$/i;
const EXPOSED_HEADERS = 'WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version';
/** Refused origins remembered as already logged. */
const MAX_LOGGED_ORIGINS = 100;
/** Longest origin a log line quotes, in UTF-16 code units (a real one is far shorter). */
const MAX_LOGGED_ORIGIN_LENGTH = 200;

/** Answers the request (403, or a preflight's 204) and returns false, or sets its CORS headers and returns true. */
export type OriginGuard = (req: IncomingMessage, res: ServerResponse) => boolean;

export function guardOrigin(allowedOrigins: readonly string[], logger: Logger): OriginGuard {
  const allowed = new Set(allowedOrigins);
  const logged = new Set<string>();

  function logRefused(req: IncomingMessage, origin: string): void {
    // Remembered as shown: a header can be kilobytes long.
    const shown = escapeControlCharacters(cutText(origin, MAX_LOGGED_ORIGIN_LENGTH, '…'));
    if (req.method === 'OPTIONS' && req.headers[DOCTOR_PROBE_HEADER] !== undefined) {
      logger.info({ origin: shown }, 'gatehouse doctor\'s CORS probe: its browser origin is not in resource_server.allowed_origins (a browser client from it would be refused)');
      return;
    }
    if (logged.has(shown)) return;
    if (logged.size >= MAX_LOGGED_ORIGINS) logged.delete(logged.values().next().value!);
    logged.add(shown);
    logger.warn({ origin: shown },
      'refused a browser origin not in resource_server.allowed_origins (add it there if that client should connect, e.g. http://localhost:6274 for MCP Inspector)');
  }

  return function guardOriginStep(req, res) {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (origin && !allowed.has(origin)) {
      logRefused(req, origin);
      answerJson(res, 403, { jsonrpc: '2.0', error: { code: -32000, message: 'Forbidden: origin not allowed' }, id: null });
      return false;
    }
    if (origin) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    if (req.method === 'OPTIONS') {
      if (origin) {
        res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
        res.setHeader('Access-Control-Allow-Headers', allowedHeaders(req.headers['access-control-request-headers']));
        res.setHeader('Access-Control-Max-Age', '600');
      }
      res.statusCode = 204;
      res.end();
      return false;
    }
    return true;
  };
}

/** The fixed list, plus the `Mcp-Param-*` names the preflight asks for. */
function allowedHeaders(requested: string | undefined): string {
  const params = (requested ?? '').split(',').map((name) => name.trim()).filter((name) => MCP_PARAM_HEADER.test(name));
  return params.length === 0 ? ALLOWED_HEADERS : `${ALLOWED_HEADERS}, ${params.join(', ')}`;
}
