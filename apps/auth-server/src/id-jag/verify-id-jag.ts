/**
 * Checks an Identity Assertion JWT Authorization Grant presented as `assertion`
 * (draft-ietf-oauth-identity-assertion-authz-grant-04 §4.4.1, RFC 7521 §5.2, RFC 7523 §3). Every
 * failure is `invalid_grant` (RFC 6749 §5.2; draft §4.4.1 and MCP enterprise-managed authorization
 * §7.6.2 name it for aud, client_id, resource and scope), with a description saying which check.
 *
 * - `iss`: exactly the issuer of a trusted IdP (config file or admin-added).
 * - Signature: by a key of that IdP (its JWKS), with an algorithm on its allow-list (never `none`
 *   or HS*: MCP EMA §7.4.1). `typ` header `oauth-id-jag+jwt` (draft §3, RFC 8725 §3.11).
 * - `aud`: our issuer, as a string or an array of exactly one element (draft §4.4.1).
 * - `exp` in the future and `iat` not in the future, each with `clockSkew` seconds of tolerance;
 *   `iat` no older than `maxAssertionAge` (MCP EMA §7.4.2: short-lived, refused outside its window).
 * - `sub`, `jti`, `client_id` present (draft §3: REQUIRED), `sub` at most 255 bytes and `jti`
 *   512 (each is a primary key's part); `client_id` is the authenticated
 *   client (draft §4.4.1), and on the IdP's `allowed_client_ids` when it has that list.
 * - `jti` well-formed Unicode: a JSON escape can carry half a surrogate pair alone, and stored as
 *   text for the replay check it became U+FFFD on PostgreSQL, so jtis differing only there shared
 *   one replay row (the second refused as a replay of the first), and on SQLite bytes that are
 *   not UTF-8.
 * - `resource` (draft §3: OPTIONAL, a string or an array): when present it must name our MCP
 *   resource (RFC 8707 §2, MCP EMA §7.6.2), in the spellings the token and authorization
 *   endpoints accept for it (http/own-resource.ts: one trailing slash, a query or fragment).
 * - `scope` (OPTIONAL): a string of scopes this server knows (MCP EMA §7.6.2: an unknown scope
 *   is rejected, not ignored).
 *
 * Deliberately not checked here: replay (id-jag-replays.ts, only once everything else passed),
 * who the subject is (the grant maps it to a user), `nbf` beyond what jose checks, `cnf`/DPoP
 * binding (Gatehouse issues bearer tokens only; an ID-JAG with `cnf` is refused, draft §8.6.1.2.2),
 * `tenant` (each trusted issuer is one tenant here), and `authorization_details` (not offered).
 */
import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { errors } from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';
import { ALL_SCOPES } from '../../../shared/mcp-scopes.ts';
import { wellFormed } from '../../../shared/well-formed.ts';
import { MAX_SUBJECT_BYTES } from '../federation/federated-accounts.ts';
import { isOwnResource } from '../http/own-resource.ts';
import { ID_JAG_TYP } from './id-jag-grant-type.ts';
import { plainEmail } from '../../../shared/email-address.ts';
import type { TrustedIdp, TrustedIdps } from './trusted-idps.ts';

export interface VerifiedIdJag {
  idp: TrustedIdp;
  sub: string;
  jti: string;
  /** Epoch seconds. */
  exp: number;
  /**
   * Epoch seconds, whole: until when this assertion could still be accepted (its `exp`, or `iat`
   * plus the longest age, whichever comes first, plus the clock skew), so how long its replay
   * record must be kept. RFC 7519 allows a fractional `exp`, and any size.
   */
  acceptableUntil: number;
  /** The scopes the IdP granted; undefined when the assertion carries no `scope`. */
  scopes?: string[];
  /**
   * An `email` claim, if any, unless the assertion says it is not verified (`email_verified:
   * false`): names a user created for the subject, never links one.
   */
  email?: string;
}

export interface IdJagVerifierOptions {
  issuer: string;
  resource: string;
  trustedIdps: Pick<TrustedIdps, 'find'>;
  signingKeysOf: (idp: TrustedIdp) => JWTVerifyGetKey;
  clock: Clock;
  /** Seconds of tolerance on exp and iat. */
  clockSkew: number;
  /** Seconds after iat that an assertion is refused. */
  maxAssertionAge: number;
}

/** OIDC Core §2: a `sub` is at most 255 ASCII characters (as for federated sign-in). */
export const MAX_SUB_BYTES = MAX_SUBJECT_BYTES;
/** Far above any IdP's (a UUID or a random string of a few dozen characters). */
export const MAX_JTI_BYTES = 512;

/** An `invalid_grant` whose description says why (it also becomes the audit reason). */
export function invalidGrant(description: string): Error {
  const error = new errors.InvalidGrant();
  error.error_description = description;
  return error;
}


function describeJoseFailure(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the assertion has expired';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the assertion is signed with an algorithm this IdP is not allowed';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) return 'the assertion signature does not verify with the IdP\'s keys';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'typ') return `the assertion typ is not ${ID_JAG_TYP}`;
    if (err.claim === 'nbf') return 'the assertion is not yet valid';
    return `the assertion ${err.claim} claim is missing or invalid`;
  }
  // Anything but jose's own verdict on the token came from fetching the keys (refused address,
  // network; a status other than 200 is jose's generic error).
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || !(err instanceof joseErrors.JOSEError)
    || err.code === 'ERR_JOSE_GENERIC') return 'the IdP\'s signing keys could not be loaded';
  return 'the assertion is not a valid signed JWT';
}

export function createIdJagVerifier(options: IdJagVerifierOptions) {
  async function trustedIssuer(assertion: string): Promise<TrustedIdp> {
    let claims: JWTPayload;
    try {
      claims = decodeJwt(assertion);
    } catch {
      throw invalidGrant('the assertion is not a JWT');
    }
    const idp = typeof claims.iss === 'string' ? await options.trustedIdps.find(claims.iss) : undefined;
    if (!idp) throw invalidGrant('the assertion issuer is not a trusted IdP');
    return idp;
  }

  return async function verifyIdJag(assertion: string, clientId: string): Promise<VerifiedIdJag> {
    const idp = await trustedIssuer(assertion);
    const now = options.clock.epochSeconds();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(assertion, options.signingKeysOf(idp), {
        issuer: idp.issuer,
        typ: ID_JAG_TYP,
        algorithms: idp.algorithms,
        clockTolerance: options.clockSkew,
        currentDate: new Date(now * 1000),
        requiredClaims: ['iss', 'sub', 'aud', 'client_id', 'jti', 'exp', 'iat'],
      }));
    } catch (err) {
      throw invalidGrant(describeJoseFailure(err));
    }
    const { sub, aud, jti, exp, iat, client_id: assertedClient, resource, scope, email, email_verified: emailVerified, cnf } = payload;
    if (typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || jti === '' || typeof exp !== 'number' || typeof iat !== 'number') {
      throw invalidGrant('the assertion sub, jti, exp or iat is not of its type');
    }
    if (wellFormed(jti) !== jti) throw invalidGrant('the assertion jti holds a lone surrogate (half of a UTF-16 pair), which is not text');
    // Both are stored in a primary key (the subject's link, the replay record), where PostgreSQL
    // refuses an entry of more than about 2.7 kB: a longer one was a 500, not a refusal.
    if (Buffer.byteLength(sub) > MAX_SUB_BYTES) throw invalidGrant(`the assertion sub is longer than ${MAX_SUB_BYTES} bytes`);
    if (Buffer.byteLength(jti) > MAX_JTI_BYTES) throw invalidGrant(`the assertion jti is longer than ${MAX_JTI_BYTES} bytes`);
    // Draft §4.4.1: one audience, ours; an array of several is refused (audience injection).
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (audiences.length !== 1 || audiences[0] !== options.issuer) throw invalidGrant('the assertion audience is not this authorization server');
    if (iat > now + options.clockSkew) throw invalidGrant('the assertion was issued in the future');
    if (iat < now - options.maxAssertionAge - options.clockSkew) throw invalidGrant('the assertion was issued too long ago');
    if (assertedClient !== clientId) throw invalidGrant('the assertion client_id is not the authenticated client');
    if (idp.allowedClientIds.length > 0 && !idp.allowedClientIds.includes(clientId)) {
      throw invalidGrant('this IdP\'s assertions may not name this client');
    }
    if (resource !== undefined) {
      const resources = Array.isArray(resource) ? resource : [resource];
      if (!resources.some((r) => typeof r === 'string' && isOwnResource(r, options.resource))) throw invalidGrant('the assertion resource is not this server\'s MCP resource');
    }
    if (scope !== undefined && typeof scope !== 'string') throw invalidGrant('the assertion scope is not a string');
    const scopes = scope === undefined ? undefined : [...new Set(scope.split(' ').filter(Boolean))];
    if (scopes?.some((s) => !ALL_SCOPES.includes(s))) throw invalidGrant('the assertion scope names a scope this server does not know');
    if (cnf !== undefined) throw invalidGrant('the assertion is bound to a key (cnf), and this server issues bearer tokens only');
    const acceptableUntil = Math.ceil(Math.min(exp, iat + options.maxAssertionAge) + options.clockSkew);
    const named = typeof email === 'string' && emailVerified !== false;
    return { idp, sub, jti, exp, acceptableUntil, scopes, email: named ? plainEmail(email) : undefined };
  };
}
