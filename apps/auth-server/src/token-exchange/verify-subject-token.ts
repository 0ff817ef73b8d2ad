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
 *   (admin/grant-registry.ts, user-admin.ts).
 * - Its user is still enabled and not pending.
 *
 * Deliberately not checked: a single access token revoked by its own client at /oauth/revoke (only
 * its `jti` goes on the revocation feed, with no lookup here); such an exchange still needs the
 * resource server to accept the token first, and it refuses it within seconds.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { errors } from 'oidc-provider';
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
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.resource,
        typ: 'at+jwt',
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'sub', 'client_id', 'gid'],
      }));
    } catch {
      throw invalidGrant('subject_token is not a valid, unexpired access token issued by this server for its resource');
    }
    const { sub, client_id: clientId, gid, scope, exp } = payload;
    if (typeof sub !== 'string' || typeof clientId !== 'string' || typeof gid !== 'string' || typeof exp !== 'number') {
      throw invalidGrant('subject_token lacks sub, client_id or its grant');
    }
    const grant = await options.findGrant(gid);
    if (!grant || grant.accountId !== sub || grant.clientId !== clientId) throw invalidGrant('the grant of subject_token was revoked');
    const user = options.users.findById(sub);
    if (!UserStore.isActive(user)) throw invalidGrant('the user of subject_token is disabled');
    return { user, clientId, scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [], exp };
  };
}
