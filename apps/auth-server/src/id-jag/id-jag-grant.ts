/**
 * The Identity Assertion JWT Authorization Grant at /oauth/token
 * (draft-ietf-oauth-identity-assertion-authz-grant-04 §4.4; MCP extension
 * `io.modelcontextprotocol/enterprise-managed-authorization` §5): `grant_type=urn:ietf:params:
 * oauth:grant-type:jwt-bearer` (RFC 7523 §2.1) with an ID-JAG from a trusted enterprise IdP as
 * `assertion`, and an access token for our MCP resource in return, without a browser.
 *
 * - Offered only while at least one IdP is trusted; otherwise `unsupported_grant_type`.
 * - Client: authenticated by the provider as registered (secret, or none for a public client),
 *   with the grant in its `grant_types` (the provider checks; answer-id-jag-refusals.ts turns its
 *   answer into `unauthorized_client`). Dynamic Client Registration clients are refused: their
 *   client_id is minted per registration, so no IdP can have stamped it into an assertion, and an
 *   anonymous registration must not widen who gets a token. Admin-created clients and Client ID
 *   Metadata Document clients (MCP EMA §5: a client not pre-registered uses its CIMD URL as
 *   client_id) may use it. The draft (§8.1) says SHOULD only for confidential clients; the MCP
 *   extension lets a CIMD client present the grant with `none`, and replay detection plus the
 *   `client_id` binding are what stand behind that (README "Clients").
 * - The assertion: verify-id-jag.ts; then its `jti` is claimed once (id-jag-replays.ts), after
 *   the checks that write nothing and before anything is written (`admit`).
 * - `resource` (RFC 8707): the request parameter may only name our resource; the token is
 *   audience-bound to it (MCP EMA §5.1).
 * - The user: the local user linked to (IdP issuer, `sub`) as federated sign-in links them
 *   (federation/federated-accounts.ts); an unlinked subject is refused, waits as pending, or
 *   becomes a new user, per the IdP's `new_users`. A disabled or pending user gets `invalid_grant`.
 * - Scopes (MCP EMA §7.2.1, RFC 7521 §4.1, RFC 6749 §3.3): the request's `scope` may not exceed
 *   the assertion's (`invalid_scope`); granted = requested (or the assertion's, or the configured
 *   default scopes when the assertion has none) ∩ what the user may grant ∩ the client's
 *   registered `scope` if it has one, keeping MCP scopes only (the token is for the MCP resource).
 *   Nothing left: `invalid_scope`.
 * - Issued: the provider's own RS256 `at+jwt` for our resource, through its AccessToken model and
 *   a Grant that lives as long as the token, so the claims (`sub`, `client_id`, `scope`, `gid`,
 *   `preferred_username`) are those of a code exchange and the resource server accepts it unchanged;
 *   revoking the grant or disabling the user stops it through the revocation feed.
 * - No refresh token: draft §4.4.3 says the Resource Authorization Server SHOULD NOT return one;
 *   the client presents a fresh ID-JAG when the access token expires.
 */
import type { JWTVerifyGetKey } from 'jose';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import { UserStore, type User } from '../accounts/user-store.ts';
import { markClientAuthenticated } from '../audit/authenticated-client-id.ts';
import type { FederatedAccounts } from '../federation/federated-accounts.ts';
import { CLIENT_KIND } from '../registration/client-metadata-policy.ts';
import { JWT_BEARER_GRANT_TYPE } from './id-jag-grant-type.ts';
import type { IdJagReplays } from './id-jag-replays.ts';
import type { TrustedIdp, TrustedIdps } from './trusted-idps.ts';
import { createIdJagVerifier, invalidGrant, type VerifiedIdJag } from './verify-id-jag.ts';

/** What the provider emits (as `id_jag.accepted`, with ctx) after a token was issued; for the audit log. */
export interface IdJagAccepted {
  accountId: string;
  username: string;
  idp: string;
  scope: string;
  createdUser: boolean;
}

/** What a refusal knew of the assertion once it verified (IdP id, subject), for the audit log. */
export interface IdJagRefusalContext {
  idp: string;
  sub: string;
  /** The user this request created before it was refused (a new user waiting for approval). */
  createdUser?: { id: string; username: string };
}

/** Set on the error of a refusal that came after the assertion verified. */
export const ID_JAG_REFUSAL_CONTEXT = Symbol('id-jag refusal context');

/** The resource server description `getResourceServerInfo` gives the provider for our resource. */
export type ResourceServerInfo = ConstructorParameters<Provider['ResourceServer']>[1];

export interface IdJagGrantOptions {
  issuer: string;
  resource: string;
  /** Scopes granted when neither the assertion nor the request names any. */
  defaultScopes: readonly string[];
  /** Our resource as the provider issues tokens for it, for `scope`. */
  resourceServerInfo: (scope: string) => ResourceServerInfo;
  /** Seconds the access token (and its grant) lives. */
  accessTokenTtl: number;
  trustedIdps: Pick<TrustedIdps, 'find' | 'any'>;
  replays: Pick<IdJagReplays, 'claim'>;
  accounts: Pick<FederatedAccounts, 'findLinked' | 'link' | 'signedInAgain'>;
  signingKeysOf: (idp: TrustedIdp) => JWTVerifyGetKey;
  clock: Clock;
  clockSkew: number;
  maxAssertionAge: number;
}

const PARAMETERS = ['assertion', 'scope', 'resource'];

function requestedScopes(ctx: KoaContextWithOIDC): string[] | undefined {
  const scope = ctx.oidc.params?.scope;
  return typeof scope === 'string' && scope.trim() ? [...new Set(scope.split(' ').filter(Boolean))] : undefined;
}

export function registerIdJagGrant(provider: Provider, options: IdJagGrantOptions): void {
  const verifyIdJag = createIdJagVerifier(options);

  function checkResourceParameter(ctx: KoaContextWithOIDC): void {
    const resource = ctx.oidc.params?.resource as string | string[] | undefined;
    if (resource === undefined) return;
    // RFC 8707 §2: one resource, ours (prepare-oauth-request.ts already folded `<resource>/`).
    if (resource !== options.resource) throw new errors.InvalidTarget('resource must be this server\'s MCP resource');
  }

  function checkActive(user: User): void {
    const pending = user.pending;
    if (!UserStore.isActive(user)) throw invalidGrant(pending ? 'the user is waiting for an administrator\'s approval' : 'the user is disabled');
  }

  function grantedScope(ctx: KoaContextWithOIDC, verified: VerifiedIdJag, userScopes: readonly string[]): string {
    const requested = requestedScopes(ctx);
    if (requested && verified.scopes) {
      const beyond = requested.filter((s) => !verified.scopes!.includes(s));
      if (beyond.length > 0) throw new errors.InvalidScope('requested scope exceeds the assertion\'s scope', beyond.join(' '));
    }
    const clientScope = ctx.oidc.client!.scope?.split(' ');
    const granted = MCP_SCOPES.filter((s) => (requested ?? verified.scopes ?? options.defaultScopes).includes(s)
      && userScopes.includes(s) && (!clientScope || clientScope.includes(s)));
    if (granted.length === 0) throw new errors.InvalidScope('none of the scopes asked for may be granted to this user', (requested ?? verified.scopes ?? []).join(' '));
    return granted.join(' ');
  }

  async function claimOnce(verified: VerifiedIdJag): Promise<void> {
    if (!await options.replays.claim(verified.idp.issuer, verified.jti, verified.acceptableUntil)) {
      throw invalidGrant('the assertion was already used (its jti was seen before)');
    }
  }

  /**
   * The user and the granted scope. The checks that write nothing come before the replay claim, so
   * a request they refuse (a scope the client can narrow, a disabled user) does not use the
   * assertion up. The claim comes before anything is written, so a replay, even one sent at the
   * same time as the first use, creates no user and records no sign-in: claimed after `link`, the
   * loser of two such requests could be the one that created the user. A new subject is checked
   * against what a new user would get (`link` here: the IdP's default scopes) before it is created.
   * Refused after the claim, the assertion is used up; those refusals do not change within its few
   * minutes without an administrator: a subject `link` cannot name, a new user waiting for approval
   * (created, so an administrator can approve them), a user another request created just before.
   */
  async function admit(ctx: KoaContextWithOIDC, verified: VerifiedIdJag, refusal: IdJagRefusalContext): Promise<{ user: User; created: boolean; scope: string }> {
    const { idp, sub } = verified;
    const linked = await options.accounts.findLinked(idp.issuer, sub);
    if (linked) {
      checkActive(linked);
      const scope = grantedScope(ctx, verified, linked.scopes);
      await claimOnce(verified);
      return { user: await options.accounts.signedInAgain({ id: idp.id, issuer: idp.issuer, adminUsers: [], adminScopes: [] }, linked, { sub }, verified.email), created: false, scope };
    }
    if (idp.newUsers === 'refuse') throw invalidGrant('no user is linked to this IdP subject, and this IdP may not create users');
    grantedScope(ctx, verified, idp.defaultScopes);
    await claimOnce(verified);
    const result = await options.accounts.link(
      { id: idp.id, issuer: idp.issuer, newUsers: idp.newUsers, defaultScopes: idp.defaultScopes, adminUsers: [], adminScopes: [] },
      { sub },
      verified.email,
    );
    if (result.kind === 'conflict') throw invalidGrant('the user name for this IdP subject belongs to another user; an administrator must link them');
    if (result.kind === 'unreadable') throw invalidGrant('the assertion sub holds half of a UTF-16 surrogate pair alone, or NUL, which is not text');
    if (result.kind === 'unnamed') throw invalidGrant('the IdP subject and email hold control, line-break or text-direction characters, which no user name may; an administrator must link the subject to a user');
    if (result.kind === 'like_an_id') throw invalidGrant('the user name made of the IdP id and subject has the form of a user id, which no user name may; an administrator must link the subject to a user');
    const { user, created } = result;
    if (created) refusal.createdUser = { id: user.id, username: user.username };
    checkActive(user);
    return { user, created, scope: grantedScope(ctx, verified, user.scopes) };
  }

  async function issueAccessToken(ctx: KoaContextWithOIDC, user: User, scope: string): Promise<{ value: string; expiresIn: number }> {
    const client = ctx.oidc.client!;
    const grant = new provider.Grant({ accountId: user.id, clientId: client.clientId });
    grant.addResourceScope(options.resource, scope);
    // BaseModel#save(ttl) (untyped): the grant expires with its only access token.
    const grantId = await (grant.save as (ttl: number) => Promise<string>).call(grant, options.accessTokenTtl);
    const token = new provider.AccessToken({ accountId: user.id, client, grantId, gty: JWT_BEARER_GRANT_TYPE, scope });
    token.resourceServer = new provider.ResourceServer(options.resource, options.resourceServerInfo(scope));
    ctx.oidc.entity('Grant', grant);
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    return { value, expiresIn: token.expiration };
  }

  async function idJagHandler(ctx: KoaContextWithOIDC): Promise<void> {
    markClientAuthenticated(ctx);
    if (!await options.trustedIdps.any()) throw new errors.UnsupportedGrantType();
    const client = ctx.oidc.client!;
    if (client.metadata()[CLIENT_KIND] === 'dcr') {
      throw new errors.UnauthorizedClient('clients registered by Dynamic Client Registration may not use identity assertions');
    }
    const assertion = ctx.oidc.params?.assertion;
    if (typeof assertion !== 'string' || assertion === '') throw new errors.InvalidRequest('missing required parameter \'assertion\'');
    checkResourceParameter(ctx);
    const verified = await verifyIdJag(assertion, client.clientId);
    const refusal: IdJagRefusalContext = { idp: verified.idp.id, sub: verified.sub };
    let admitted: Awaited<ReturnType<typeof admit>>;
    try {
      admitted = await admit(ctx, verified, refusal);
    } catch (err) {
      if (err instanceof Error) Object.assign(err, { [ID_JAG_REFUSAL_CONTEXT]: refusal });
      throw err;
    }
    const { user, created, scope } = admitted;
    const { value, expiresIn } = await issueAccessToken(ctx, user, scope);
    ctx.body = { access_token: value, token_type: 'Bearer', expires_in: expiresIn, scope };
    const accepted: IdJagAccepted = { accountId: user.id, username: user.username, idp: verified.idp.id, scope, createdUser: created };
    provider.emit('id_jag.accepted', ctx, accepted);
  }

  provider.registerGrantType(JWT_BEARER_GRANT_TYPE, idJagHandler, PARAMETERS);
}
