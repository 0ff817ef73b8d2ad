/**
 * RFC 8693 token exchange at /oauth/token: the resource server trades a caller's access token for
 * a short-lived identity token addressed to one upstream MCP server (MCP security best practices:
 * no token passthrough; the caller's own token never leaves Gatehouse).
 *
 * - Client: a confidential static client an administrator marked as the resource server for our
 *   resource (RESOURCE_SERVER_FOR). The provider authenticates it first; anyone else is
 *   `unauthorized_client` (RFC 6749 §5.2; answer-unauthorized-client.ts for clients the provider
 *   turns away itself).
 * - `subject_token` of type access_token (RFC 8693 §2.1): verify-subject-token.ts; `actor_token`
 *   and `audience` are not offered, `requested_token_type` may only ask for an access token.
 * - `resource` (RFC 8707 §2): exactly one, on the client's list of upstream audiences (exact
 *   string) and fit as one (upstream-audience-defect.ts); otherwise `invalid_target`.
 * - `scope`: granted = requested ∩ the subject token's scopes, all of them when absent; asking for
 *   a scope the subject token lacks is `invalid_scope` (RFC 8693 §2.1, RFC 6749 §3.3).
 * - Issued: an RFC 9068 `at+jwt` signed with the active key (it verifies against /oauth/jwks),
 *   `aud` = the upstream, the caller's `sub` and `client_id`, `act.sub` = the resource server
 *   (RFC 8693 §4.1), living at most IDENTITY_TOKEN_TTL and never past the subject token.
 *   Response per RFC 8693 §2.2.1; the token route already sends `Cache-Control: no-store`.
 *
 * Deliberately not done: storing the issued token (it is not refreshable, revocable or
 * introspectable: it outlives nothing, at most five minutes), and issuing refresh tokens.
 */
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JSONWebKeySet, type JWK } from 'jose';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';
import type { UserStore } from '../accounts/user-store.ts';
import { markClientAuthenticated } from '../audit/authenticated-client-id.ts';
import { RESOURCE_SERVER_FOR, UPSTREAM_AUDIENCES } from '../registration/client-metadata-policy.ts';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from './token-exchange-grant-type.ts';
import { upstreamAudienceDefect } from './upstream-audience-defect.ts';
import { createSubjectTokenVerifier, type SubjectTokenVerifierOptions } from './verify-subject-token.ts';

/** Seconds an identity token lives at most. */
export const IDENTITY_TOKEN_TTL = 300;

/** What the provider emits (as `token_exchange.success`, with ctx) after a token was issued; for the audit log. */
export interface TokenExchanged {
  accountId: string;
  /** The client the caller's token was issued to (the exchanging client is `ctx.oidc.client`). */
  subjectClientId: string;
  audience: string;
  scope: string;
}

export interface TokenExchangeOptions {
  issuer: string;
  resource: string;
  users: UserStore;
  /** The private JWKS the provider signs with, and the active key's id within it. */
  jwks: { keys: object[] };
  signingKid: string;
  /** This server's public keys, as /oauth/jwks publishes them. */
  publicJwks: JSONWebKeySet;
  /** Whether the revocation feed refuses a subject token. */
  isRevoked?: SubjectTokenVerifierOptions['isRevoked'];
  /** The identity token's iat/exp and the subject token's expiry check read it. */
  clock: Clock;
}

const PARAMETERS = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope'];

function withDescription<E extends Error>(error: E, description: string): E {
  (error as E & { error_description: string }).error_description = description;
  return error;
}

function requireSingle(ctx: KoaContextWithOIDC, name: string): string {
  const value = ctx.oidc.params?.[name];
  if (typeof value !== 'string' || value === '') throw new errors.InvalidRequest(`missing required parameter '${name}'`);
  return value;
}

export function registerTokenExchangeGrant(provider: Provider, options: TokenExchangeOptions): void {
  const verifySubjectToken = createSubjectTokenVerifier({
    issuer: options.issuer,
    resource: options.resource,
    jwks: options.publicJwks,
    users: options.users,
    findGrant: (grantId) => provider.Grant.find(grantId),
    isRevoked: options.isRevoked,
    clock: options.clock,
  });
  const found = options.jwks.keys.find((k) => (k as JWK).kid === options.signingKid) as JWK | undefined;
  if (!found) throw new Error('the active signing key is not in the provider JWKS');
  const signingJwk: JWK = found;
  // Imported at the first exchange, not at construction: a rejection then reaches a request.
  let signingKey: ReturnType<typeof importJWK> | undefined;

  function upstreamAudience(ctx: KoaContextWithOIDC): string {
    const resource = ctx.oidc.params?.resource as string | string[] | undefined;
    if (resource === undefined || resource === '') throw new errors.InvalidTarget('resource (the upstream URL) is required');
    if (typeof resource !== 'string') throw new errors.InvalidTarget('exactly one resource may be requested');
    const allowed = ctx.oidc.client!.metadata()[UPSTREAM_AUDIENCES];
    const defect = upstreamAudienceDefect(resource, options);
    if (defect || !Array.isArray(allowed) || !allowed.includes(resource)) {
      throw new errors.InvalidTarget(defect ?? 'resource is not among the upstream audiences this client may request');
    }
    return resource;
  }

  function grantedScopes(ctx: KoaContextWithOIDC, available: string[]): string[] {
    const requested = ctx.oidc.params?.scope;
    if (typeof requested !== 'string') return available;
    const asked = [...new Set(requested.split(' ').filter(Boolean))];
    const missing = asked.filter((s) => !available.includes(s));
    if (missing.length > 0) throw new errors.InvalidScope('requested scope exceeds the subject token\'s scope', missing.join(' '));
    return asked;
  }

  async function tokenExchangeHandler(ctx: KoaContextWithOIDC): Promise<void> {
    markClientAuthenticated(ctx);
    const client = ctx.oidc.client!;
    if (client.clientAuthMethod === 'none' || client.metadata()[RESOURCE_SERVER_FOR] !== options.resource) {
      throw new errors.UnauthorizedClient('only the resource server registered for this resource may exchange tokens');
    }
    const subjectToken = requireSingle(ctx, 'subject_token');
    if (requireSingle(ctx, 'subject_token_type') !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    for (const unsupported of ['actor_token', 'actor_token_type', 'audience'] as const) {
      if (ctx.oidc.params?.[unsupported] !== undefined) throw new errors.InvalidRequest(`${unsupported} is not supported${unsupported === 'audience' ? '; name the upstream with resource' : ''}`);
    }
    const requestedType = ctx.oidc.params?.requested_token_type;
    if (requestedType !== undefined && requestedType !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    const audience = upstreamAudience(ctx);
    const subject = await verifySubjectToken(subjectToken);
    const scope = grantedScopes(ctx, subject.scopes).join(' ');

    const iat = options.clock.epochSeconds();
    const exp = Math.min(iat + IDENTITY_TOKEN_TTL, subject.exp);
    if (exp <= iat) throw withDescription(new errors.InvalidGrant(), 'subject_token has expired');
    const accessToken = await new SignJWT({
      client_id: subject.clientId,
      scope,
      act: { sub: client.clientId },
      preferred_username: subject.user.username,
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: options.signingKid })
      .setIssuer(options.issuer)
      .setSubject(subject.user.id)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(await (signingKey ??= importJWK(signingJwk, 'RS256')));

    ctx.body = {
      access_token: accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: exp - iat,
      scope,
    };
    const exchanged: TokenExchanged = { accountId: subject.user.id, subjectClientId: subject.clientId, audience, scope };
    provider.emit('token_exchange.success', ctx, exchanged);
  }

  // RFC 8707 §2: one `resource` only; duplicates reach the handler as an array so it can say so.
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT_TYPE, tokenExchangeHandler, PARAMETERS, ['resource']);
}
