/**
 * A person who opens the MCP URL in a browser (the URL Gatehouse prints) gets a short page saying
 * what this is, the URL to add as a connector in an MCP client, and a link to their account page
 * on the authorization server, instead of the raw JSON 401 an MCP client gets.
 *
 * - A browser visit: GET, no Authorization header, and an Accept that prefers `text/html`, i.e.
 *   lists it (q > 0) above `application/json` and `text/event-stream`, as Chrome, Firefox and
 *   Safari do on a navigation (`text/html,application/xhtml+xml,…`). The MCP SDK client
 *   (`application/json, text/event-stream`, or `text/event-stream` on its GET stream), curl (the
 *   any-type wildcard), a missing Accept and `application/json` never match: a wildcard does not
 *   prefer HTML, and every MCP client's answer stays exactly what requireBearerToken gives it.
 * - The answer is still the 401 with the very `WWW-Authenticate` challenge requireBearerToken
 *   sends a request without a token (RFC 9728 §5.1 discovery does not depend on Accept), with the
 *   CORS headers guardOrigin set before. `Cache-Control: no-store` (it is a 401, and varies by
 *   Accept), and the root page's security headers (serve-at-root.ts): nothing to load, no framing.
 * - It is not told to the connection recorder: a person reading a page is not a client's
 *   connection attempt, which would show in the Connections log as one that stalled before the
 *   authorization server metadata.
 * - The page is rendered once, here (nunjucks, autoescaped): it shows only configured values.
 * Deliberately not checked: `Sec-Fetch-Mode: navigate`; older browsers and privacy tools omit it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderPage } from './render-page.ts';

export interface BrowserVisitPage {
  /** The MCP URL to give a client (config.resource). */
  resource: string;
  /** The authorization server's account page. */
  accountUrl: string;
  /** The `WWW-Authenticate` value of a 401 to a request without a token. */
  challenge: string;
}

/** Answers a browser visit with the page and returns true, or returns false for every other request. */
export type AnswerBrowserVisit = (req: IncomingMessage, res: ServerResponse) => boolean;

export function answerBrowserVisit({ resource, accountUrl, challenge }: BrowserVisitPage): AnswerBrowserVisit {
  const html = renderPage('browser-visit', { resource, accountUrl });
  const length = Buffer.byteLength(html);

  return function answerBrowserVisitStep(req, res) {
    if (req.method !== 'GET' || req.headers.authorization !== undefined || !prefersHtml(req.headers.accept)) return false;
    res.statusCode = 401;
    res.setHeader('WWW-Authenticate', challenge);
    // default-src does not cover framing: without frame-ancestors any site could frame the page.
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Length', length);
    res.end(html);
    return true;
  };
}

/** The media types an MCP client asks for; HTML must rank above both. */
const MCP_TYPES = new Set(['application/json', 'text/event-stream']);

/** Whether `accept` lists `text/html` with a higher weight than any MCP media type (RFC 9110 §12.5.1). */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = 0;
  let mcp = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const q = weight(params);
    if (type === 'text/html') html = Math.max(html, q);
    else if (MCP_TYPES.has(type)) mcp = Math.max(mcp, q);
  }
  return html > 0 && html > mcp;
}

/** The `q` parameter's value; 1 when absent, 0 when malformed (RFC 9110 §12.4.2: qvalue). */
function weight(params: string[]): number {
  const q = params.find((param) => param.startsWith('q='));
  if (q === undefined) return 1;
  const value = q.slice(2);
  return /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? Number(value) : 0;
}
