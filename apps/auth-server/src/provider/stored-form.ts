/**
 * How an oidc-provider model is kept at rest, so a copy of the database grants nothing.
 *
 * - Models whose id is a bearer credential (authorization codes, refresh tokens, opaque access
 *   tokens, the session cookie's value, …) are stored under SHA-256(model ‖ 0 ‖ id), base64url,
 *   cut to its first 22 characters (132 bits), and the raw id is removed from the payload (the
 *   provider puts it there as `jti`); a read puts back the id it was looked up with. The ids are
 *   256 random bits, so a fast unsalted hash is right (as GitHub and Ory Hydra store tokens); the
 *   model in the hash keeps one model's id from ever matching another's row. 132 bits are plenty
 *   for a row key: finding an id for a given row takes ~2^132 hashes, and two of n rows share a
 *   key with odds ~n²/2^133. The full 43 characters cost 21 bytes more in the row and again in
 *   the (model, id) index: about 100 bytes per issued-and-refreshed grant (a code, two refresh
 *   tokens). Rows stored with the full hash are cut by migration 014 (PostgreSQL 008) at start;
 *   a replica of an earlier version must not keep running beside this one (it would write and
 *   look up the long form).
 * - Interactions keep their uid as id: it is no secret on its own (it is in the page URLs, in
 *   the provider's `returnTo` inside the same payload, and in access logs), and resuming one needs
 *   the browser's `_interaction`/`_interaction_resume` cookies, signed with keys kept outside
 *   the database (KEYS_DIR). Their payload does carry the browser session's id (`session.cookie`,
 *   recorded by the provider and never read by it or by us): that field is dropped.
 * - Client secrets issued by Dynamic Client Registration are replaced by their `sha256:` hash
 *   (see hashed-client-secrets.ts); secrets already hashed pass unchanged.
 * Grants keep their id: a grant id alone obtains nothing, and the admin pages list and revoke
 * grants by it.
 * - Grants, codes and refresh tokens (the rows that grow with use) leave out of the payload what
 *   the row already holds: `kind` (the model), `jti` (the id), and `grantId`, `accountId` and
 *   `clientId` (real columns: a code's or refresh token's account and client are its grant's,
 *   see database-adapter.ts). A read puts them back. About 120 bytes less per row, and no second
 *   copy that could disagree with the columns. Rows stored in full earlier read the same.
 * - A code or refresh token keeps its browser session's id (`sessionUid`, 43 characters) only when
 *   it expires with that session. oidc-provider 9 reads it only then (checkSessionBinding in
 *   lib/models/token_helpers.js); otherwise it only copies it into the next token of the grant
 *   (lib/actions/grants/refresh_token.js, lib/helpers/grant_common.js), and a JWT access token
 *   carries no such claim. Gatehouse's tokens never expire with the session
 *   (create-provider.ts): about 57 bytes less per live refresh token. Consumed ones were already
 *   cut the same way (database-adapter.ts, their tombstone).
 * - Their fields are stored under one-letter names (stored-payload-keys.ts).
 * - Their `exp` is left out when the row's `expires_at` holds the same second, and put back from
 *   it. Both are the same instant plus the same lifetime (oidc-provider's `exp`, and our clock's
 *   now + the `expiresIn` it passes), so in production they differ only when a second ticks
 *   between the two; then, or where a test's clock is not the provider's, `exp` stays. About 15
 *   bytes in each row: 58 bytes less per grant at 1k grants (2,675 -> 2,617 B, bench/disk-per-grant.ts).
 */
import { hash } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';
import { hashClientSecret, isHashedClientSecret } from './hashed-client-secrets.ts';
import { fromStoredKeys, toStoredKeys } from './stored-payload-keys.ts';

/** Models whose id is a bearer credential. Some are off in Gatehouse; listed so turning one on stays safe. */
export const HASHED_ID_MODELS: ReadonlySet<string> = new Set([
  'AuthorizationCode', 'RefreshToken', 'AccessToken', 'ClientCredentials', 'Session',
  'RegistrationAccessToken', 'InitialAccessToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest',
]);

/** Models whose payload leaves out what the row's columns hold (see above). */
const SLIM_MODELS: ReadonlySet<string> = new Set(['Grant', 'AuthorizationCode', 'RefreshToken']);

/** The columns beside the payload that a slim payload's fields are put back from. */
export interface StoredColumns {
  grant_id: string | null;
  account_id: string | null;
  client_id: string | null;
  /** Epoch seconds, our clock. */
  expires_at: number | null;
}

/** Characters of the base64url SHA-256 kept as a hashed row's id (see above). */
const STORED_HASH_LENGTH = 22;

/** The row id a model's id is stored under. */
export function storedId(model: string, id: string): string {
  if (!HASHED_ID_MODELS.has(model)) return id;
  // The one-shot hash: about 2 µs against 6 µs for createHash().update()… (three per refresh grant).
  return hash('sha256', `${model}\0${id}`, 'base64url').slice(0, STORED_HASH_LENGTH);
}

/**
 * A copy of `payload` fit to store: no raw bearer id, no plain client secret. `expiresAt`: the
 * row's `expires_at`, where it is written with the payload.
 */
export function toStoredPayload(model: string, payload: AdapterPayload, expiresAt?: number | null): AdapterPayload {
  if (SLIM_MODELS.has(model)) {
    const { jti: _jti, kind: _kind, grantId: _grantId, accountId: _accountId, clientId: _clientId, ...rest } = payload;
    if (rest.sessionUid !== undefined && rest.expiresWithSession !== true) delete rest.sessionUid;
    if (rest.exp !== undefined && rest.exp === expiresAt) delete rest.exp;
    return toStoredKeys(rest) as AdapterPayload;
  }
  if (HASHED_ID_MODELS.has(model)) {
    const { jti: _jti, ...rest } = payload;
    return rest;
  }
  if (model === 'Interaction' && payload.session && 'cookie' in payload.session) {
    const { cookie: _cookie, ...session } = payload.session as Record<string, unknown>;
    return { ...payload, session: session as AdapterPayload['session'] };
  }
  if (model === 'Client' && typeof payload.client_secret === 'string' && !isHashedClientSecret(payload.client_secret)) {
    return { ...payload, client_secret: hashClientSecret(payload.client_secret) };
  }
  return payload;
}

/** The payload the provider stored, with the id it was looked up by put back as `jti`. */
export function fromStoredPayload(model: string, id: string, stored: AdapterPayload, columns: StoredColumns): AdapterPayload {
  const payload = SLIM_MODELS.has(model) ? fromStoredKeys(stored) as AdapterPayload : stored;
  if (SLIM_MODELS.has(model)) {
    payload.kind = model;
    if (payload.exp === undefined && columns.expires_at !== null) payload.exp = Number(columns.expires_at);
    if (columns.grant_id !== null) payload.grantId = columns.grant_id;
    if (columns.account_id !== null) payload.accountId = columns.account_id;
    if (columns.client_id !== null) payload.clientId = columns.client_id;
  }
  if (HASHED_ID_MODELS.has(model) || SLIM_MODELS.has(model)) payload.jti = id;
  return payload;
}
