/**
 * The doctor's only way to reach a deployment: one plain HTTP(S) request, as a client would send
 * it, bounded by a timeout so a hung server gives a failed check instead of a hung doctor.
 *
 * - It never sends credentials: no Authorization header, no cookies (Node's fetch keeps none).
 * - Redirects are not followed: a client POSTing to the MCP URL does not follow them either, and
 *   a redirect is itself something to report.
 * - Certificates are verified the way Node verifies them by default (the system's CAs plus
 *   NODE_EXTRA_CA_CERTS), which is what a client without special configuration does.
 */
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';

export interface ProbeAnswer {
  url: string;
  status: number;
  headers: Headers;
  text: string;
  /** Local clock (ms) when the request was sent and when its answer had arrived. */
  sentAt: number;
  receivedAt: number;
}

/** The request got no HTTP answer; `message` says why in plain words. */
export class ProbeError extends Error {
  override name = 'ProbeError';
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

export type Probe = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<ProbeAnswer>;

/** A probe whose every request (answer and body) must finish within `timeoutMs`. */
export function createProbe(timeoutMs: number, now: () => number = Date.now): Probe {
  return async function probe(url, init = {}) {
    const sentAt = now();
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetch(url, { ...init, redirect: 'manual', signal });
      // An event stream may stay open for as long as the server likes: its status and headers are the answer.
      const streaming = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
      if (streaming) await response.body?.cancel();
      const text = streaming ? '' : await response.text();
      return { url, status: response.status, headers: response.headers, text, sentAt, receivedAt: now() };
    } catch (err) {
      throw describeFetchError(err, url, timeoutMs);
    }
  };
}

function describeFetchError(err: unknown, url: string, timeoutMs: number): ProbeError {
  const { host } = new URL(url);
  if (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new ProbeError(`no answer from ${host} within ${timeoutMs / 1000} s`, 'TIMEOUT');
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  switch (code) {
    case 'ECONNREFUSED': return new ProbeError(`connection refused: nothing listens at ${host}`, code);
    case 'ENOTFOUND': case 'EAI_AGAIN': return new ProbeError(`the host name ${new URL(url).hostname} does not resolve`, code);
    case 'ECONNRESET': case 'UND_ERR_SOCKET': return new ProbeError(`${host} closed the connection without answering`, code);
    case 'UND_ERR_CONNECT_TIMEOUT': return new ProbeError(`could not connect to ${host} in time`, code);
    default: return new ProbeError(`no answer from ${host}: ${cause?.message ?? (err as Error).message}`, code);
  }
}

/**
 * The body as a JSON object, or undefined when it is not one. Every string in it has its control
 * characters escaped (line breaks too): checks quote what the server says in their findings, and
 * a value holding `\n` printed its own line in the report, indented like the doctor's, such as a
 * "Fix:" telling the operator to run a script. An honest value (a URL, an issuer, an error
 * description) has none, so nothing a check compares changes.
 */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text, (_key, member: unknown) => (typeof member === 'string' ? escapeControlCharacters(member) : member));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
