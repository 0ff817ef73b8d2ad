/**
 * What the recorder does to an event before it is stored, whatever the emitter passed:
 * - `userAgent` cut to 256 characters (a header is the caller's to make as long as it likes);
 * - `redirectUri` and `resource` reduced to origin + path: a query or fragment is dropped even if
 *   an emitter forgot to (a redirect URI's query may carry state or a code);
 * - free text (`reason`, `error`, ids, scope) capped, so one event stays a small row;
 * - every text made well formed (a lone surrogate, which a JSON body can carry, as U+FFFD): the
 *   PostgreSQL driver sends any lone surrogate as U+FFFD, so two different ones in one event were
 *   one value twice in the values upsert, which PostgreSQL refuses, losing the event; and a value
 *   read back as U+FFFD matched no key, so the field was stored empty on both backends.
 * It does not judge whether a field is a secret: emitters only pass the fields
 * connection-events.ts allows.
 */
import type { ConnectionEvent, NewConnectionEvent, UnnumberedConnectionEvent } from '../connection-events.ts';
import { cutText } from '../cut-text.ts';
import { wellFormed } from '../well-formed.ts';

const MAX_USER_AGENT = 256;
const MAX_URL = 2048;
const MAX_TEXT = 1000;
const MAX_ID = 512;

export function trimConnectionEvent(event: NewConnectionEvent, stamp: Pick<ConnectionEvent, 'at' | 'app'>): UnnumberedConnectionEvent {
  return {
    at: stamp.at,
    app: stamp.app,
    step: event.step,
    outcome: event.outcome,
    error: cap(event.error, 64),
    reasonCode: cap(event.reasonCode, 64),
    reason: cap(event.reason, MAX_TEXT),
    clientId: cap(event.clientId, MAX_ID),
    ...(event.clientUnknown && event.clientId !== undefined ? { clientUnknown: true } : {}),
    accountId: cap(event.accountId, MAX_ID),
    flowId: cap(event.flowId, 64),
    grantId: cap(event.grantId, MAX_ID),
    ip: cap(event.ip, 64),
    userAgent: cap(event.userAgent, MAX_USER_AGENT),
    redirectUri: cap(originAndPath(event.redirectUri), MAX_URL),
    resource: cap(originAndPath(event.resource), MAX_URL),
    scope: cap(event.scope, MAX_TEXT),
  };
}

function cap(value: string | undefined, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  return cutText(wellFormed(String(value)), max);
}

/**
 * `https://host/path` of a URL; a value that does not parse as one (a custom scheme oidc-provider
 * refused, a relative path) keeps what comes before any `?` or `#`.
 */
export function originAndPath(value: string | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value);
  try {
    const url = new URL(text);
    // Opaque origins (custom schemes such as `cursor://`) print as "null": keep the scheme and host.
    const origin = url.origin === 'null' ? `${url.protocol}${url.host ? `//${url.host}` : ''}` : url.origin;
    return `${origin}${url.pathname}`;
  } catch {
    return text.split(/[?#]/, 1)[0];
  }
}
