/**
 * Checks the `subject_token` of a token exchange (RFC 8693 §2.1): the caller's access token, as
 * the resource server received it. Every failure is `invalid_grant` (RFC 6749 §5.2: the grant
 * presented is invalid, expired or revoked).
 *
 * - A JWT access token this server issued for our MCP resource: RS256 signature by one of our
 *   published keys (a key retired on purpose is no longer among them), `typ: at+jwt`
 *   (RFC 9068 §4), `iss`, `aud` = our resource, not expired, with `sub`, `client_id`, `gid`.
 * - Its grant (`gid`) still exists, for that user and that client: revoking a grant, deleting a
 *   client, disabling a user or taking a scope away all delete the grants concerned
 *   (management/grant-registry.ts, user-admin.ts).
 * - Its user is still enabled and not pending.
 * - No revocation feed entry refuses it (`isRevoked`): a token its client revoked at /oauth/revoke,
 *   a user disabled or a client deleted since it was issued, a key retired on purpose.
 *
 * Deliberately not checked: whether the user may still grant each scope (taking a scope away
 * revokes the grants that hold it, caught above).
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { errors } from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';
import { UserStore, type User } from '../accounts/user-store.ts';

export interface SubjectToken {
  user: User;
  /** The client the caller's token was issued to. */
  clientId: string;
  scopes: string[];
  /** Epoch seconds. */
  exp: number;
}

export interface SubjectTokenVerifierOptions {
  issuer: string;
  /** Our MCP resource: the only audience a subject token may have. */
  resource: string;
  /** This server's public keys, as /oauth/jwks publishes them. */
  jwks: JSONWebKeySet;
  users: UserStore;
  /** The stored grant's owner, or undefined when there is no such grant (revoked, expired). */
  findGrant: (grantId: string) => Promise<{ accountId?: string; clientId?: string } | undefined>;
  /** Whether the revocation feed refuses the token (default: nothing is refused). */
  isRevoked?: (token: { sub: string; clientId: string; grantId: string; jti: string; kid: string; iat: number }) => Promise<boolean>;
  /** Whose "now" `exp` is checked against. */
  clock: Clock;
}

function invalidGrant(description: string): Error {
  const error = new errors.InvalidGrant();
  error.error_description = description;
  return error;
}

export function createSubjectTokenVerifier(options: SubjectTokenVerifierOptions) {
  const keys = createLocalJWKSet(options.jwks);

  return async function verifySubjectToken(token: string): Promise<SubjectToken> {
    let payload;
    let protectedHeader;
    try {
      ({ payload, protectedHeader } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.resource,
        typ: 'at+jwt',
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id', 'gid'],
        currentDate: new Date(options.clock.now()),
      }));
    } catch {
      throw invalidGrant('subject_token is not a valid, unexpired access token issued by this server for its resource');
    }
    const { sub, client_id: clientId, gid, scope, exp, iat, jti } = payload;
    if (typeof sub !== 'string' || typeof clientId !== 'string' || typeof gid !== 'string' || typeof exp !== 'number'
      || typeof iat !== 'number' || typeof jti !== 'string') {
      throw invalidGrant('subject_token lacks sub, client_id, jti or its grant');
    }
    if (await options.isRevoked?.({ sub, clientId, grantId: gid, jti, kid: String(protectedHeader.kid), iat })) {
      throw invalidGrant('subject_token was revoked');
    }
    const grant = await options.findGrant(gid);
    if (!grant || grant.accountId !== sub || grant.clientId !== clientId) throw invalidGrant('the grant of subject_token was revoked');
    const user = await options.users.findById(sub);
    if (!UserStore.isActive(user)) throw invalidGrant('the user of subject_token is disabled');
    return { user, clientId, scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [], exp };
  };
}
