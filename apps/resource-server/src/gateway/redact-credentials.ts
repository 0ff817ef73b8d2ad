/**
 * An MCP server's own credentials taken out of what it writes back, before the gateway quotes it.
 * The gateway quotes an upstream's errors to callers (a tool error naming the server), in its log
 * and on the admin's MCP servers page; a server that echoes what it was sent ("invalid API key
 * sk-…", "you sent authorization=Bearer …") would otherwise hand the gateway's credential for it
 * to every caller, who could then call that server directly, past every scope check. A review
 * reproduced both an HTTP server's configured `Authorization` header and a stdio server's `env`
 * value reaching a caller that way.
 *
 * What counts as a credential: each configured header value and stdio `env` value, the credential
 * of a `<scheme> <credential>` value (a bare bearer token), and the identity token forwarded to the
 * server; each only from 8 characters on (a shorter value, such as `1` or `true`, is no secret
 * and would garble every message it appears in). A call's failure answered as a result
 * (`isError: true`, what the MCP SDK's McpServer makes of an exception a tool throws) counts as
 * an error. What a server returns as a successful result, progress or log message is its own
 * output and is relayed as it is.
 *
 * A stderr line is cut at its length limit before it is redacted; the end of a cut line that
 * begins a credential is masked too (maskCutCredential).
 */
import { causes } from './upstream-errors.ts';

const MIN_CREDENTIAL_LENGTH = 8;
const REDACTED = '[redacted]';

/** The credentials among `values` worth taking out, longest first (a value holding another goes whole). */
export function credentialsAmong(values: Iterable<string | undefined>): string[] {
  const found = new Set<string>();
  for (const value of values) {
    if (!value) continue;
    for (const part of [value, /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ +(\S+)$/.exec(value)?.[1]]) {
      if (part && part.length >= MIN_CREDENTIAL_LENGTH) found.add(part);
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/** `text` with every one of `credentials` replaced by [redacted]. */
export function redactText(text: string, credentials: readonly string[]): string {
  let redacted = text;
  for (const credential of credentials) if (redacted.includes(credential)) redacted = redacted.replaceAll(credential, REDACTED);
  return redacted;
}

/**
 * `err` with `credentials` taken out, in place, of its message, its stack and a JSON-RPC error's
 * `data`, and of each of its causes'; returns `err`.
 */
export function redactError<E>(err: E, credentials: readonly string[]): E {
  if (credentials.length === 0) return err;
  for (const cause of causes(err)) {
    if (!(cause instanceof Error)) continue;
    cause.message = redactText(cause.message, credentials);
    if (cause.stack) cause.stack = redactText(cause.stack, credentials);
    const holder = cause as { data?: unknown };
    if (holder.data !== undefined) holder.data = redactData(holder.data, credentials);
  }
  return err;
}

/**
 * JSON `data` with `credentials` taken out of its strings (and keys), as JSON text: each
 * credential is matched as JSON writes it inside a string. Data that then no longer parses (a
 * credential matched across an escape) is dropped whole.
 */
export function redactData(data: unknown, credentials: readonly string[]): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch {
    return undefined;
  }
  if (json === undefined) return data;
  const redacted = redactText(json, credentials.map((credential) => JSON.stringify(credential).slice(1, -1)));
  if (redacted === json) return data;
  try {
    return JSON.parse(redacted);
  } catch {
    return undefined;
  }
}

/** A line cut at its limit, with any end of it that begins one of `credentials` masked too. */
export function maskCutCredential(line: string, credentials: readonly string[]): string {
  for (const credential of credentials) {
    for (let length = Math.min(credential.length - 1, line.length); length > 0; length -= 1) {
      if (line.endsWith(credential.slice(0, length))) return `${line.slice(0, line.length - length)}${REDACTED}`;
    }
  }
  return line;
}
