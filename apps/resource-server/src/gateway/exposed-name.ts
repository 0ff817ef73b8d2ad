/**
 * How an upstream's tool or prompt is named at the gateway: `<server>__<name>`. Server names are
 * `[a-z0-9-]`, so the first `__` always ends the server's part.
 *
 * Some clients refuse tool names over 64 characters, so a longer name is shortened predictably:
 * its first 55 characters, `_`, and the first 8 hex digits of the SHA-256 of the full name
 * (64 in all). The same upstream name always gives the same exposed name.
 */
import { createHash } from 'node:crypto';

export const MAX_EXPOSED_NAME = 64;
export const SEPARATOR = '__';

export function exposedName(server: string, name: string): string {
  const full = `${server}${SEPARATOR}${name}`;
  if (full.length <= MAX_EXPOSED_NAME) return full;
  const digest = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, MAX_EXPOSED_NAME - 9)}_${digest}`;
}

/**
 * Whether `exposed` could be a shortened name: 64 characters ending in `_` and 8 hex digits.
 * An upstream name may also happen to look like this; only a list (or the config) tells which.
 */
export function mayBeShortened(exposed: string): boolean {
  return exposed.length === MAX_EXPOSED_NAME && /_[0-9a-f]{8}$/.test(exposed);
}

/** The server part and the rest of an exposed name, or undefined when it has no server part. */
export function splitExposedName(exposed: string): { server: string; rest: string } | undefined {
  const at = exposed.indexOf(SEPARATOR);
  if (at <= 0) return undefined;
  return { server: exposed.slice(0, at), rest: exposed.slice(at + SEPARATOR.length) };
}
