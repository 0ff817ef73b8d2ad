/**
 * Whether an error comes from the client's side of the connection rather than from our code: it
 * went away mid-request (`aborted`, `ECONNRESET`, `EPIPE`, a premature close), or it sent bytes
 * that are not HTTP (llhttp's `HPE_*` parse errors, e.g. a malformed chunked body).
 *
 * These are routine on the internet and nothing an operator can fix, so they are logged at info,
 * never at error, and never answered with a 5xx.
 */
const CLIENT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

export function isClientConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (CLIENT_CODES.has(code) || code.startsWith('HPE_'))) return true;
  return message === 'aborted' || message === 'Parse Error';
}
