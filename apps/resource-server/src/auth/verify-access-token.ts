/**
 * Verifies the JWT access tokens the Gatehouse auth-server issues for this resource (RFC 9068,
 * "JWT Profile for OAuth 2.0 Access Tokens"), against the issuer's published JWKS.
 *
 * What is checked, in this order:
 * - Size: at most `maxTokenLength` characters, before anything is decoded, so an oversized value
 *   costs no base64 or JSON work and never triggers a JWKS fetch.
 * - Spelling: the signature is canonical base64url without padding (RFC 7515 §2), before the
 *   cache is consulted. jose decodes leniently: an RS256 signature's last character carries 4
 *   unused bits, and `==` may follow, so one token verified as 16 and more strings, each its own
 *   cache entry here and its own identity-token exchange at the gateway (keyed by the string).
 *   The header and payload need no such check: they are signed as spelt (RFC 7515 §5.2).
 * - Header: no `jku`, `x5u`, `jwk` or `x5c`. Keys come only from the configured `jwksUri`; a key
 *   or key URL named by the token itself is never fetched and never trusted (RFC 8725 §3.10).
 * - `kid`: present (a non-empty string). The auth-server names its key in every token it signs
 *   (its provider's `jwt.sign.kid`, token exchange), and retiring a key (a `kid` entry on the
 *   revocation feed) must stop every token it signed, forged ones too; jose would verify a token
 *   without `kid` against the JWKS's only key, beyond that entry's reach.
 * - Algorithm: `RS256` only (RFC 9068 §4; RFC 8725 §3.1). `none` in any casing, `HS256` made with
 *   the public key as the secret, `PS256` and everything else fail before a key is looked up.
 * - Signature: with the key the issuer's JWKS publishes for the header's `kid`. An unknown `kid`
 *   refetches the JWKS at most once per `jwksCooldown`, each fetch bounded by `jwksTimeout`. A
 *   failed fetch stands for FAILED_FETCH_HOLD_MS: meanwhile a token whose key is not cached gets
 *   KeySetUnavailableError without a fetch (jose's cooldown counts successes only, so an
 *   auth-server that is down was asked once per made-up `kid`), while cached keys still verify.
 *   The set is fetched again once it is JWKS_MAX_AGE_MS old; while that fails, cached keys keep
 *   verifying until the set is JWKS_MAX_STALENESS_MS old (stale-if-error), then every token not
 *   verified before gets KeySetUnavailableError (one verified before stays in the token cache
 *   until its `exp`, its revocation still checked at each use). A key the set no longer lists stops verifying at the first fetch that
 *   succeeds. A spell of failures is logged once at warn, and once at info when a fetch succeeds again.
 *   A JWKS longer than MAX_JWKS_BYTES is a failed fetch, not read past that.
 * - `typ`: `at+jwt` (or `application/at+jwt`), which is what keeps an ID token or any other JWT
 *   signed by the same issuer from passing as an access token (RFC 9068 §2.1, §4).
 * - `iss`: byte-for-byte the configured issuer (RFC 9068 §4).
 * - `aud`: contains the configured resource, or its trailing-slash form that SDKs produce when they
 *   normalise a URL (RFC 8707 §2; RFC 9068 §4). Other audiences next to it are tolerated.
 * - `exp` (required), and `nbf` when present, with `clockTolerance` of leeway.
 * - Lifetime: `iat` is required, not in the future, and `exp - iat` is at most `maxTokenLifetime`
 *   (plus leeway). The issuer never mints longer-lived tokens, so a longer one was forged with a
 *   leaked key; refusing it also bounds how long a revocation entry must be kept.
 * - Presence and type: `sub`, `client_id` and `jti` are non-empty strings, `scope` is a string
 *   (this server needs them: whose data, which app, what it may do); `iat` is present (RFC 9068
 *   §2.2). An empty `scope` passes: such a token opens no tool (the scope checks answer 403).
 * - A service account's token (client credentials, RFC 6749 §4.4) carries `gatehouse_service`
 *   (apps/shared/service-claim.ts), a non-empty string, and then `sub` must equal `client_id`
 *   (RFC 9068 §2.2: no user, the client is the subject); anything else is `invalid_claims`.
 * - No `cnf` claim: a sender-constrained token (DPoP, RFC 9449 §6; mTLS, RFC 8705 §3) would need
 *   its proof checked, which this server does not do, so such a token is refused rather than
 *   accepted as a plain bearer token.
 *
 * - Revocation, when `revocations` is given (the resource server always gives it): on every call,
 *   cached or not, the token must not match the auth-server's revocation feed (its user, client,
 *   grant `gid`, signing key or the token itself revoked; follow-revocation-feed.ts), and that
 *   copy of the feed must be current, or RevocationsUnavailableError is thrown (fail closed).
 *
 * What is deliberately NOT checked:
 * - Which scope a request needs: callers compare `scopes` with what the tool asks for.
 * - `auth_time`/`acr`/`amr` (RFC 9068 §2.2.1): no tool here asks for a recent or stronger sign-in.
 *
 * Verified tokens are cached until their `exp` (bounded; see TokenCache), so a repeated token costs
 * one Map lookup and the revocation check instead of an RSA verification. `onFirstUse` is told when a
 * token verifies afresh (a cache miss): its first request, or its first after it left the cache.
 *
 * A refusal carries `claims` only when the token's signature verified (jose checks the signature
 * before any claim and hands the payload of a failed claim check with its error): what it says
 * then comes from the issuer, so it may explain the refusal (connection events). An unverified
 * token's claims are never read.
 */
import {
  createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, jwtVerify,
  type FetchImplementation, type JWTPayload, type JWTVerifyGetKey, type ProtectedHeaderParameters,
} from 'jose';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { Logger } from '../../../shared/logger.ts';
import { readCappedResponse } from '../../../shared/read-capped-response.ts';
import { RETRY_AFTER_SECONDS } from '../../../shared/say-when-to-retry.ts';
import { SERVICE_CLAIM } from '../../../shared/service-claim.ts';
import type { RevocationFeedFollower } from './follow-revocation-feed.ts';
import { tokenMatch, type RevokedBy, type TokenMatch } from './revocation-list.ts';
import { TokenCache } from './token-cache.ts';

export interface AccessTokenVerifierOptions {
  /** The issuer the tokens must name in `iss`, compared byte for byte. */
  issuer: string;
  /** This server's canonical resource URL (RFC 8707); `aud` must contain it or `${resource}/`. */
  resource: string;
  /** Where the issuer publishes its public keys. */
  jwksUri: string;
  /** How many verified tokens to keep until their `exp`. 0 disables the cache. Default is 10000. */
  cacheSize?: number;
  /** Longest accepted token, in characters, checked before decoding. Default is 8192. */
  maxTokenLength?: number;
  /** Leeway for `exp` and `nbf`, in seconds. Default is 5. */
  clockTolerance?: number;
  /** Timeout for one JWKS fetch, in milliseconds. Default is 5000. */
  jwksTimeout?: number;
  /** Minimum time between JWKS refetches caused by an unknown `kid`, in milliseconds. Default is 30000. */
  jwksCooldown?: number;
  /** Longest accepted `exp - iat`, in seconds (the issuer's access token lifetime). Default is 3600. */
  maxTokenLifetime?: number;
  /** The revocation feed to check every token against. Default: none (no revocation check). */
  revocations?: Pick<RevocationFeedFollower, 'refuses'>;
  /** `exp`, `nbf`, `iat`, cached entries and a failed JWKS fetch's hold are judged on it. Default is systemClock. */
  clock?: Clock;
  /** Where a spell of failed JWKS fetches is reported. Default: none. */
  logger?: Logger;
}

/** An access token that passed every check, in the shape the MCP SDK passes to tool handlers. */
export interface VerifiedAccessToken extends AuthInfo {
  /** `exp`, in seconds since the epoch. */
  expiresAt: number;
  extra: {
    /** `sub`: the user this token acts for, or the service account's client id. */
    subject: string;
    /** `preferred_username`, when the issuer included it. */
    username?: string;
    /** The service account's name when the token acts for one (no user): `sub` is then its client id. */
    service?: string;
    /** `jti`. */
    tokenId: string;
    /** `gid`: the grant the token came from, when the issuer named it. */
    grantId?: string;
  };
}

/** Told once a token has verified afresh (not from the cache), before the verification resolves. */
export type OnFirstUse = (verified: VerifiedAccessToken) => void;

export interface AccessTokenVerifier {
  verifyAccessToken(token: string, onFirstUse?: OnFirstUse): Promise<VerifiedAccessToken>;
  /** Fetches the issuer's JWKS now (after a rotation or retirement), whatever its cooldown. */
  reloadKeys(): Promise<void>;
}

interface CachedToken {
  verified: VerifiedAccessToken;
  match: TokenMatch;
  expiresAt: number;
}

/**
 * Why a token was refused: stable, for code, logs and the metric label (as jose's `code`), where
 * the message is prose for the client. One value per check above:
 * - `too_large`: longer than `maxTokenLength`.
 * - `malformed`: not a compact JWS, its header or payload is not a JSON object, or its signature
 *   is not spelt in canonical base64url.
 * - `forbidden_header`: a `jku`, `x5u`, `jwk` or `x5c` header.
 * - `algorithm`: not RS256.
 * - `unknown_key`: no `kid`, or a `kid` the issuer's JWKS does not publish.
 * - `signature`: the signature does not verify.
 * - `not_access_token`: `typ` is not `at+jwt`.
 * - `issuer`: another `iss`.
 * - `audience`: an `aud` without this resource.
 * - `expired`: `exp` passed (beyond the leeway).
 * - `not_yet_valid`: `nbf` in the future.
 * - `missing_claim`: a required claim is absent.
 * - `invalid_claims`: `sub`, `client_id`, `scope`, `jti` or `gid` empty or not a string, or a
 *   time claim that is not a number.
 * - `lifetime`: `iat` in the future, or `exp - iat` longer than `maxTokenLifetime`.
 * - `sender_constrained`: a `cnf` claim.
 * - `revoked`: the revocation feed names the token's user, client, grant or key.
 */
export type InvalidAccessTokenReason =
  | 'too_large' | 'malformed' | 'forbidden_header' | 'algorithm' | 'unknown_key' | 'signature'
  | 'not_access_token' | 'issuer' | 'audience' | 'expired' | 'not_yet_valid' | 'missing_claim'
  | 'invalid_claims' | 'lifetime' | 'sender_constrained' | 'revoked';

/**
 * What a refused token says, for explaining the refusal to an admin, never for deciding anything.
 * Set only when its signature verified, so every value here comes from the issuer. Fields the
 * token lacks, or holds with the wrong type, are left out.
 */
export interface RefusedTokenClaims {
  clientId?: string;
  subject?: string;
  grantId?: string;
  scope?: string;
  issuer?: string;
  audience?: string[];
  /** `exp`, in seconds since the epoch. */
  expiresAt?: number;
  /** Set when the revocation feed refused it. */
  revokedBy?: RevokedBy;
}

/**
 * The token is not acceptable. `reason` says which check refused it; `message` is a fixed,
 * client-safe description (fit for the `error_description` of an RFC 6750 `invalid_token`
 * challenge); `cause` holds jose's error; `claims` what the token says, when its signature verified.
 */
export class InvalidAccessTokenError extends Error {
  override name = 'InvalidAccessTokenError';
  readonly code = 'ERR_INVALID_ACCESS_TOKEN';
  readonly claims?: RefusedTokenClaims;
  constructor(readonly reason: InvalidAccessTokenReason, message: string, options?: ErrorOptions & { claims?: RefusedTokenClaims }) {
    super(message, options);
    if (options?.claims) this.claims = options.claims;
  }
}

/** The issuer's JWKS could not be fetched or used; the token itself may be fine. */
export class KeySetUnavailableError extends Error {
  override name = 'KeySetUnavailableError';
  readonly code = 'ERR_KEY_SET_UNAVAILABLE';
}

/**
 * How long a failed JWKS fetch stands, in milliseconds: as long as the 503 it causes tells the
 * client to wait (Retry-After), so a client that waits sees a fresh attempt, while any number of
 * requests in between costs the auth-server one fetch (as the readiness probe, probe-jwks.ts).
 */
export const FAILED_FETCH_HOLD_MS = RETRY_AFTER_SECONDS * 1000;

/**
 * Bytes of JWKS read at most. One RSA key is under 1 KB as a JWK and the issuer publishes a few
 * (next, active, retiring), so 256 KiB is hundreds of keys, while a broken or hostile answer can
 * neither hold hundreds of MB nor stall the event loop parsing them.
 */
export const MAX_JWKS_BYTES = 256 * 1024;

/** How old the cached JWKS may grow before it is fetched again, in milliseconds (jose's default). */
export const JWKS_MAX_AGE_MS = 10 * 60 * 1000;

/**
 * How long after its last successful fetch the cached JWKS still verifies while it cannot be
 * fetched again, in milliseconds: an auth-server restart or a spell of 5xx does not turn every
 * request away. Keys rotate in stages (next → active → retiring), so an hour-old set holds the key
 * signing today's tokens unless the keys were rotated twice within that hour; a retired key stays
 * refused meanwhile by its revocation feed entry. Past it, not knowing what the issuer publishes
 * is a reason to fail closed (503) for tokens not verified yet, and a key removed since then
 * could otherwise live on. Tokens already verified stay cached until their `exp`, as at any time:
 * the feed still refuses them if their key is retired on purpose.
 */
export const JWKS_MAX_STALENESS_MS = 60 * 60 * 1000;

const FORBIDDEN_HEADER_PARAMETERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;
const REQUIRED_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'jti', 'sub', 'client_id', 'scope'];

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const {
    issuer, resource, jwksUri,
    cacheSize = 10_000, maxTokenLength = 8192, clockTolerance = 5, jwksTimeout = 5000, jwksCooldown = 30_000,
    maxTokenLifetime = 3600, revocations, clock = systemClock, logger,
  } = options;
  if (!URL.canParse(jwksUri)) throw new TypeError('jwksUri must be an absolute URL');
  if (!Number.isInteger(maxTokenLength) || maxTokenLength < 1) throw new TypeError('maxTokenLength must be a positive integer');

  let failure: { error: KeySetUnavailableError; until: number } | undefined;
  let failing = false;
  let fetchedAt = -Infinity;
  // jose fetches only when a key is not cached (refreshKeySet when the set is due), so refusing
  // here leaves cached keys verifying while a failure stands.
  const fetchKeySet: FetchImplementation = async (url, init) => {
    if (failure && clock.now() < failure.until) throw failure.error;
    const response = await fetch(url, init);
    if (response.status !== 200) return response;
    const text = await readCappedResponse(response, MAX_JWKS_BYTES);
    if (text === undefined) throw new Error(`the issuer key set answer is longer than ${MAX_JWKS_BYTES} bytes`);
    // A 200 that is no key set (a proxy's maintenance page) is a failure like a 503, not a recovery.
    if (!isKeySetText(text)) throw new Error('the issuer key set answer is not a JSON Web Key Set');
    fetchedAt = clock.now();
    if (failing) {
      failing = false;
      logger?.info({ jwksUri }, 'issuer key set fetched again');
    }
    return new Response(text, { status: 200 });
  };
  const keySetFailed = (err: unknown): KeySetUnavailableError => {
    if (err instanceof KeySetUnavailableError) return err;
    const error = new KeySetUnavailableError('the issuer key set could not be fetched', { cause: err });
    failure = { error, until: clock.now() + FAILED_FETCH_HOLD_MS };
    if (!failing) logger?.warn({ err, jwksUri }, 'cannot fetch the issuer key set: tokens signed with a key not cached here are answered 503 until it can, and every new token once the cached set is an hour old');
    failing = true;
    return error;
  };
  // The set's age is judged by refreshKeySet on `clock` (jose's cacheMaxAge reads Date.now), and
  // jose keeps its copy when a reload fails, which is what lets cached keys outlive a failed refetch.
  const keySet = createRemoteJWKSet(new URL(jwksUri), {
    timeoutDuration: jwksTimeout, cooldownDuration: jwksCooldown, cacheMaxAge: Infinity, [customFetch]: fetchKeySet,
  });
  async function refreshKeySet(): Promise<void> {
    if (clock.now() - fetchedAt < JWKS_MAX_AGE_MS) return;
    try {
      await keySet.reload();
    } catch (err) {
      const error = keySetFailed(err);
      if (clock.now() - fetchedAt >= JWKS_MAX_STALENESS_MS) throw error;
    }
  }
  // A key that is not in the set is the token's problem; failing to get the set at all is ours.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    // The revocation feed retires a key by its kid (RFC 7515 §4.1.4): a token naming none would
    // outlive the retirement of the key that signed it. Refused here, where jose asks for the key
    // once the header's algorithm passed (an alg:none token is refused for its algorithm first).
    if (!isText(header.kid)) throw new InvalidAccessTokenError('unknown_key', 'the access token header names no signing key (kid)');
    try {
      await refreshKeySet();
      return await keySet(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw keySetFailed(err);
    }
  };
  const cache = new TokenCache<CachedToken>(cacheSize);
  const audience = [resource, `${resource}/`];

  function notRevoked(entry: CachedToken): VerifiedAccessToken {
    const revokedBy = revocations?.refuses(entry.match);
    if (revokedBy) throw new InvalidAccessTokenError('revoked', 'the access token has been revoked', { claims: claimsOfVerified(entry, revokedBy) });
    return entry.verified;
  }

  async function verifyAccessToken(token: string, onFirstUse?: OnFirstUse): Promise<VerifiedAccessToken> {
    if (token.length > maxTokenLength) throw new InvalidAccessTokenError('too_large', 'the access token is too large');
    if (!isCanonicalBase64url(token.slice(token.lastIndexOf('.') + 1))) throw new InvalidAccessTokenError('malformed', 'the access token is malformed');
    const nowMs = clock.now();
    const now = Math.floor(nowMs / 1000);
    const cached = cache.get(token, now);
    if (cached) return notRevoked(cached);

    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch (err) {
      throw new InvalidAccessTokenError('malformed', 'the access token is malformed', { cause: err });
    }
    const forbidden = FORBIDDEN_HEADER_PARAMETERS.find((name) => name in header);
    if (forbidden) throw new InvalidAccessTokenError('forbidden_header', `the access token header must not carry ${forbidden}`);

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms: ['RS256'],
        typ: 'at+jwt',
        issuer,
        audience,
        clockTolerance,
        currentDate: new Date(nowMs),
        requiredClaims: REQUIRED_CLAIMS,
      }));
    } catch (err) {
      if (err instanceof KeySetUnavailableError) throw err;
      if (err instanceof errors.JOSEError) throw refusal(err);
      throw err;
    }

    const { sub, client_id: clientId, scope, jti, exp, iat, cnf, gid, preferred_username: username } = payload;
    // The signature verified: the payload may explain a refusal below.
    const refuse = (reason: InvalidAccessTokenReason, description: string) => new InvalidAccessTokenError(reason, description, { claims: claimsOfPayload(payload) });
    if (!isText(sub) || !isText(clientId) || typeof scope !== 'string' || !isText(jti) || (gid !== undefined && !isText(gid))) {
      throw refuse('invalid_claims', 'the access token sub, client_id, jti or gid is empty or not a string, or its scope is not a string');
    }
    const service = payload[SERVICE_CLAIM];
    if (service !== undefined && (!isText(service) || sub !== clientId)) {
      throw refuse('invalid_claims', 'the access token names a service account but its sub is not its client_id');
    }
    if (cnf !== undefined) throw refuse('sender_constrained', 'sender-constrained access tokens are not supported');
    // jose checked that iat and exp are numbers; RFC 9068 §4 leaves their bounds to the resource server.
    if (iat! > now + clockTolerance) throw refuse('lifetime', 'the access token iat is in the future');
    if (exp! - iat! > maxTokenLifetime + clockTolerance) throw refuse('lifetime', 'the access token lifetime is longer than the issuer ever grants');

    const verified: VerifiedAccessToken = {
      token,
      clientId,
      scopes: scope.split(' ').filter(Boolean),
      expiresAt: exp!,
      resource: new URL(resource),
      extra: {
        subject: sub, tokenId: jti,
        ...(isText(gid) ? { grantId: gid } : {}), ...(isText(username) ? { username } : {}), ...(isText(service) ? { service } : {}),
      },
    };
    // getKey refused a token whose header names no kid.
    const entry: CachedToken = { verified, expiresAt: exp!, match: tokenMatch({ sub, clientId, grantId: gid, jti, kid: header.kid!, issuedAt: iat! }) };
    const result = notRevoked(entry);
    cache.set(token, entry);
    onFirstUse?.(result);
    return result;
  }

  async function reloadKeys(): Promise<void> {
    // Called when the feed says the keys changed: the auth-server answered just now.
    failure = undefined;
    await keySet.reload().catch((err: unknown) => {
      throw keySetFailed(err);
    });
  }

  return { verifyAccessToken, reloadKeys };
}

/** Whether `text` is the one unpadded base64url spelling of the bytes it decodes to. */
function isCanonicalBase64url(text: string): boolean {
  return /^[A-Za-z0-9_-]*$/.test(text) && Buffer.from(text, 'base64url').toString('base64url') === text;
}

/** Whether `text` is JSON of the shape jose accepts as a key set (RFC 7517 §5: a `keys` array of objects). */
function isKeySetText(text: string): boolean {
  try {
    const keys: unknown = (JSON.parse(text) as { keys?: unknown } | null)?.keys;
    return Array.isArray(keys) && keys.every((key) => typeof key === 'object' && key !== null && !Array.isArray(key));
  } catch {
    return false;
  }
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** A verified payload's claims that explain a refusal, each only when it has the type it should. */
function claimsOfPayload(payload: JWTPayload): RefusedTokenClaims {
  const { client_id: clientId, sub, gid, scope, iss, aud, exp } = payload;
  const audience = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter(isText) : [];
  return {
    ...(isText(clientId) ? { clientId } : {}),
    ...(isText(sub) ? { subject: sub } : {}),
    ...(isText(gid) ? { grantId: gid } : {}),
    ...(typeof scope === 'string' ? { scope } : {}),
    ...(isText(iss) ? { issuer: iss } : {}),
    ...(audience.length > 0 ? { audience } : {}),
    ...(typeof exp === 'number' && Number.isFinite(exp) ? { expiresAt: exp } : {}),
  };
}

function claimsOfVerified({ verified }: CachedToken, revokedBy: RevokedBy): RefusedTokenClaims {
  return {
    clientId: verified.clientId,
    subject: verified.extra.subject,
    ...(verified.extra.grantId ? { grantId: verified.extra.grantId } : {}),
    scope: verified.scopes.join(' '),
    expiresAt: verified.expiresAt,
    revokedBy,
  };
}

/**
 * jose's failure as ours: a reason and a fixed description, never the token's own values, never a
 * quote (RFC 6750 §3).
 */
function refusal(err: InstanceType<typeof errors.JOSEError>): InvalidAccessTokenError {
  // jose fails a claim only after the signature verified, and hands that payload with the error.
  const claims = err instanceof errors.JWTExpired || err instanceof errors.JWTClaimValidationFailed ? claimsOfPayload(err.payload) : undefined;
  const refuse = (reason: InvalidAccessTokenReason, description: string) => new InvalidAccessTokenError(reason, description, { cause: err, ...(claims ? { claims } : {}) });
  if (err instanceof errors.JWTExpired) return refuse('expired', 'the access token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return refuse('missing_claim', `the access token has no ${err.claim} claim`);
    if (err.reason === 'check_failed') {
      switch (err.claim) {
        case 'typ': return refuse('not_access_token', 'the token is not an access token (typ must be at+jwt)');
        case 'aud': return refuse('audience', 'the access token was issued for another resource');
        case 'iss': return refuse('issuer', 'the access token was issued by another issuer');
        case 'nbf': return refuse('not_yet_valid', 'the access token is not valid yet');
      }
    }
    return refuse('invalid_claims', `the access token ${err.claim} claim is not valid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return refuse('algorithm', 'the access token must be signed with RS256');
  if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('signature', 'the access token signature is not valid');
  if (err instanceof errors.JWKSNoMatchingKey) return refuse('unknown_key', 'the access token is signed with a key the issuer does not publish');
  return refuse('malformed', 'the access token is malformed');
}
