/**
 * The value kinds configuration fields are made of, each with the one-line "expected …" its
 * refusal prints. Values from the environment arrive as strings, so numbers and booleans coerce.
 */
import * as z from 'zod';
import { parseDuration } from '../duration.ts';
import { MCP_SCOPES } from '../mcp-scopes.ts';

/**
 * What each field says about itself (zod `.meta()`), read by `listConfigFields` for the README
 * check and the env var table. `default` is prose for a default that is derived, not a constant.
 */
export interface FieldNote {
  description: string;
  /** The environment variable that sets this field. */
  env?: string;
  default?: string;
}

/** Whole seconds, written `90s`, `15m`, `1h`, `30d` or as a number of seconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const seconds = parseDuration(value);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 90s, 15m, 1h or 30d, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return seconds;
});

/**
 * The longest wait a Node.js timer holds, in whole seconds (2^31 − 1 ms, 24 days 20 hours). A
 * longer `setTimeout`, `setInterval` or `AbortSignal.timeout` fires after 1 ms instead.
 */
export const MAX_TIMER_SECONDS = Math.floor(0x7fffffff / 1000);

/**
 * A duration the server waits out with a timer (a timeout, a poll or reload interval): at most
 * `MAX_TIMER_SECONDS`, so `30d` is refused rather than read as "at once" (an interval of 30 days
 * would run every millisecond).
 */
export const timerDuration = duration.pipe(z.number().max(MAX_TIMER_SECONDS, {
  error: `expected at most 24d (${MAX_TIMER_SECONDS}s), the longest a timer can wait`,
}));

export const port = z.coerce
  .number({ error: 'expected a port number' })
  .int({ error: 'expected a whole port number' })
  .min(0, { error: 'expected a port from 0 to 65535' })
  .max(65535, { error: 'expected a port from 0 to 65535' });

export const booleanish = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
], { error: 'expected true or false' });

export const environmentName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'expected the name of an environment variable' });

/**
 * A URL as a refusal quotes it, with what may be a credential shown as `***`: everything between
 * `://` and the last `@` (the user info), and each query value (`?api_key=***`), written in the
 * file or interpolated from a secret. The refusal is the start-up log's line, read wherever that
 * log goes; the parameter names stay, to say which URL it was.
 */
export function quoteUrl(value: string): string {
  return JSON.stringify(value
    .replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/).*@/s, '$1***@')
    .replace(/([?&][^=&#]*=)[^&#]*/g, '$1***'));
}

/** An absolute http(s) URL with no query, fragment, credentials or trailing slash. */
export const issuerUrl = z.string().transform((value, ctx) => {
  const url = URL.parse(value);
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash || value.endsWith('/') || url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: `expected an absolute http(s) URL without query, fragment, credentials or trailing slash, got ${quoteUrl(value)}` });
    return z.NEVER;
  }
  return value;
});

/**
 * The auth-server's own issuer: an issuer URL that is an origin, with no path. Gatehouse serves its
 * metadata and endpoints at the root of its host, so with an issuer such as
 * https://example.com/auth no client could find it (RFC 8414 §3.1 puts the well-known segment
 * before the issuer's path) and every endpoint it advertised (https://example.com/auth/oauth/token)
 * would answer 404.
 */
export const originIssuerUrl = issuerUrl.pipe(z.string().refine((value) => new URL(value).pathname === '/', {
  error: (issue) => `expected an origin such as https://auth.example.com, with no path (Gatehouse serves its endpoints at the root of its host), got ${quoteUrl(String(issue.input))}`,
}));

/**
 * The canonical resource URL (RFC 8707 §2): absolute, with a path (e.g. https://mcp.example.com/mcp).
 * No credentials: it is published (the resource metadata, every token's `aud`).
 */
export const resourceUrl = z.string().transform((value, ctx) => {
  const url = URL.parse(value);
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.pathname === '/' || value.endsWith('/') || url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: `expected an absolute http(s) URL with a path and no trailing slash, query, fragment or credentials (like https://mcp.example.com/mcp), got ${quoteUrl(value)}` });
    return z.NEVER;
  }
  return value;
});

export const scopeList = z.array(z.enum(MCP_SCOPES, { error: `expected scopes from ${MCP_SCOPES.join(', ')}` }));

/**
 * A refusal that involves more than the one field it is reported on: the message names the other
 * field itself, so no env var is named as "the" source.
 */
export const CROSS_FIELD = { crossField: true } as const;

/** `{ [key]: value }` when the value is set, else `{}`: spread into a result, an optional property of its inferred type. */
export function whenSet<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
