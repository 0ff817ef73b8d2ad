/**
 * The oidc-provider instance: Gatehouse's whole protocol surface. Our code lives only in the
 * adapter, findAccount, policies and this configuration; /authorize, /token, PKCE, JWKS and token
 * formats are the provider's.
 *
 * What this configuration decides (and why):
 * - OAuth 2.1 authorization code only (`responseTypes: ['code']`), PKCE required for every client
 *   (oidc-provider 9 supports only S256). Implicit/hybrid, DPoP, PAR, RP-initiated logout and dev
 *   interactions are off: Gatehouse does not offer them.
 * - Resource indicators (RFC 8707): the one resource is RESOURCE_URL; requests without `resource`
 *   get it as the default, and the granted resource is used at the token endpoint, so every access
 *   token is an RS256 `at+jwt` bound to it.
 * - No userinfo endpoint: every access token is a JWT bound to the MCP resource, and the provider's
 *   userinfo refuses any token with an audience, so it would refuse every token Gatehouse issues.
 *   With userinfo off, discovery does not list it and the ID token carries the profile claims,
 *   and with the `email` scope the user's email: the one their upstream or enterprise IdP asserted
 *   when the account was made (only a verified one from an OpenID upstream). No `email_verified`:
 *   an ID-JAG's email carries no such claim. A user without an email gets no email claim.
 * - Introspection (RFC 7662): see introspection-policy.ts for who sees what, and
 *   answer-structured-tokens-inactive.ts for JWTs.
 * - RFC 8693 token exchange: the resource server trades a caller's token for a short-lived
 *   identity token for one upstream MCP server (token-exchange/token-exchange-grant.ts).
 * - RFC 6749 §4.4 client credentials (MCP extension `io.modelcontextprotocol/oauth-client-credentials`)
 *   for service accounts an administrator created, and no other client
 *   (registration/service-account-policy.ts); they authenticate with `private_key_jwt` (RFC 7523
 *   §2.2; RS256 or ES256, never HS*) or a client secret. Their token is the same audience-bound
 *   RS256 `at+jwt`, `sub` = their client id, no refresh token (RFC 6749 §4.4.3).
 * - Enterprise-managed authorization: an ID-JAG from a trusted IdP at the jwt-bearer grant
 *   (id-jag/id-jag-grant.ts), offered and advertised only while an IdP is trusted.
 * - Refresh tokens go to every client registered for the `refresh_token` grant (MCP clients rarely
 *   ask for `offline_access`), rotate on every use, outlive the browser session, and are capped by
 *   an absolute lifetime counted from the first sign-in.
 * - A browser session whose account can no longer be used (disabled, pending) signs in again, as
 *   one without an account would (interaction-policy.ts).
 */
import type { JSONWebKeySet } from 'jose';
import Provider, { errors, type Client, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import { ALL_SCOPES, MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import { findUserOnce } from '../accounts/find-user-once.ts';
import { UserStore } from '../accounts/user-store.ts';
import { internalClientMetadata, loadExistingGrant } from './internal-client.ts';
import type { DocumentHostPolicy } from '../cimd/document-host-policy.ts';
import { CLIENT_KIND, createClientMetadataValidator, RESOURCE_SERVER_FOR, UPSTREAM_AUDIENCES } from '../registration/client-metadata-policy.ts';
import type { RedirectUriPolicy } from '../registration/redirect-uri-policy.ts';
import { newRegisteredClientId } from '../registration/registered-client-id.ts';
import type { RevocationFeed } from '../revocation/revocation-feed.ts';
import { answerUnauthorizedClient } from '../token-exchange/answer-unauthorized-client.ts';
import { registerTokenExchangeGrant } from '../token-exchange/token-exchange-grant.ts';
import { advertiseIdJag } from '../id-jag/advertise-id-jag.ts';
import { advertiseEndpointAuthMethods } from './advertise-endpoint-auth-methods.ts';
import { answerIdJagRefusals } from '../id-jag/answer-id-jag-refusals.ts';
import { registerIdJagGrant, type IdJagGrantOptions, type ResourceServerInfo } from '../id-jag/id-jag-grant.ts';
import { answerStructuredTokensInactive } from './answer-structured-tokens-inactive.ts';
import { createInteractionPolicy } from './interaction-policy.ts';
import { createIntrospectionPolicy } from './introspection-policy.ts';
import { commitHeldConsume, createDatabaseAdapter } from './database-adapter.ts';
import { isClientCredentialsRequest, settleServiceAccountScope } from './service-account-scope.ts';
import { serviceTokenClaims } from './service-token-claims.ts';
import { SERVICE_ACCOUNT, SERVICE_DISABLED } from '../registration/service-account-policy.ts';

/** The provider's session cookie on an https issuer (on http, oidc-provider's `_session`). */
const SECURE_SESSION_COOKIE = '__Host-gatehouse.session';

export interface ProviderDeps {
  config: AuthServerConfig;
  database: SqlDatabase;
  users: UserStore;
  jwks: { keys: object[] };
  /** The same keys' public parts, as /oauth/jwks publishes them (to verify our own tokens). */
  publicJwks: { keys: object[] };
  /** The active key's id: access tokens are signed with it, never with a next or retiring key. */
  signingKid: string;
  cookieKeys: string[];
  redirectUriPolicy: RedirectUriPolicy;
  renderError: NonNullable<Configuration['renderError']>;
  documentHostPolicy: DocumentHostPolicy;
  /** The fetch used for Client ID Metadata Documents (SSRF-guarded). */
  metadataFetch: NonNullable<Configuration['fetch']>;
  /** Told the URL of each Client ID Metadata Document the provider accepted (client-document-cache.ts). */
  onDocumentAccepted?: (url: string) => void;
  /**
   * The revocation feed: a grant the provider ends goes on it in the transaction that deletes it
   * (database-adapter.ts), and token exchange checks subject tokens against it. Left out only by
   * the CLI's validation provider, which issues nothing.
   */
  revocations?: Pick<RevocationFeed, 'refuses' | 'revokeGrant'>;
  /** Trusted IdPs, replay store, account linking and IdP keys of the ID-JAG grant (id-jag/). */
  idJag: Pick<IdJagGrantOptions, 'trustedIdps' | 'replays' | 'accounts' | 'signingKeysOf'>;
  /**
   * Called for each access token the provider builds, after every check of its grant and before
   * anything of the request is stored or sent; may throw an OAuth error to refuse it. A fresh
   * registration stops being pending first use here (registration/expire-unused-clients.ts).
   */
  keepClientGivenToken?: (client: Client) => Promise<void>;
  /** Storage for the provider's models; default: the database adapter on `database`. */
  adapter?: Configuration['adapter'];
  /**
   * Our clock: the database adapter's expiries, the refresh token cap and token exchange read it.
   * The provider itself keeps reading `Date.now()` (token iat/exp, its own expiry checks).
   * Default: systemClock.
   */
  clock?: Clock;
}

/** Seconds an ID token is valid (a retired signing key must outlive it too). */
export const ID_TOKEN_TTL = 3600;

export function createProvider(deps: ProviderDeps): Provider {
  const { config, users, revocations } = deps;
  const clock = deps.clock ?? systemClock;
  const secureCookies = config.issuer.startsWith('https:');
  const resourceScope = MCP_SCOPES.join(' ');

  /**
   * The scopes a token for our resource may carry. At the token endpoint (code exchange and every
   * refresh) that is what the user may grant *now*: a scope taken from a user stops appearing in
   * their next access token even though an older grant holds it. Elsewhere (authorization, where
   * the consent page already applies the cap) all resource scopes.
   */
  async function scopeFor(ctx: KoaContextWithOIDC): Promise<string> {
    const accountId = ctx.oidc.route === 'token' ? ctx.oidc.entities.Account?.accountId : undefined;
    if (!accountId) return resourceScope;
    const user = await findUserOnce(users, ctx, accountId);
    return MCP_SCOPES.filter((s) => user?.scopes.includes(s)).join(' ');
  }

  /**
   * RFC 6749 §5.2: a refresh whose access token would carry none of the scopes asked for (the
   * user's scopes were cut since, in the config file or the database) is `invalid_scope`. The
   * provider issued such a token without a scope claim, which the resource server refuses, after
   * using up the refresh token: the client lost its grant for an answer that looked like success.
   */
  async function refuseScopelessRefresh(ctx: KoaContextWithOIDC): Promise<void> {
    const { RefreshToken: token, Grant: grant } = ctx.oidc.entities;
    if (!token || !grant) return;
    const asked = ctx.oidc.params?.scope ? [...ctx.oidc.requestParamScopes] : [...token.scopes];
    const held = new Set((grant.getResourceScope(config.resource) ?? '').split(' '));
    const grantable = new Set((await scopeFor(ctx)).split(' '));
    if (!asked.some((scope) => held.has(scope) && grantable.has(scope))) {
      throw new errors.InvalidScope('none of the requested scopes may be granted to this user now', asked.join(' '));
    }
  }

  const resourceServerInfo = (scope: string): ResourceServerInfo => ({
    scope,
    audience: config.resource,
    accessTokenFormat: 'jwt',
    accessTokenTTL: config.accessTokenTtl,
    jwt: { sign: { alg: 'RS256', kid: deps.signingKid } },
  });

  const configuration: Configuration = {
    adapter: deps.adapter ?? createDatabaseAdapter(deps.database, clock, revocations && ((grantId, tx) => revocations.revokeGrant(grantId, tx))),
    jwks: deps.jwks as Configuration['jwks'],
    // Gatehouse's own first-party client, for signing in to the admin and account pages.
    clients: [internalClientMetadata(config.issuer)],
    loadExistingGrant,
    scopes: [...ALL_SCOPES],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email'],
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    // private_key_jwt (RFC 7523 §2.2): Client ID Metadata Document clients such as ChatGPT sign a
    // client assertion with a key their document publishes, and so do service accounts with the
    // keys an administrator registered; DCR clients cannot register keys.
    clientAuthMethods: ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256'],
      introspectionSigningAlgValues: ['RS256'],
      authorizationSigningAlgValues: ['RS256'],
      // No HS* anywhere: the provider keys HMAC with the stored client secret, which is only a
      // hash (hashed-client-secrets.ts), so whoever holds the database could forge with it.
      clientAuthSigningAlgValues: ['RS256', 'ES256'],
      requestObjectSigningAlgValues: ['RS256'],
    },
    routes: {
      authorization: '/oauth/authorize',
      token: '/oauth/token',
      registration: '/oauth/register',
      jwks: '/oauth/jwks',
      revocation: '/oauth/revoke',
      introspection: '/oauth/introspect',
      end_session: '/oauth/end_session',
    },
    cookies: {
      keys: deps.cookieKeys,
      // On https the session cookie, which says who is signed in, carries the `__Host-` prefix
      // (RFC 6265bis §4.1.3.2) as the CSRF cookie does: without it a sibling host (evil.example.com
      // beside auth.example.com) could set its own, server-signed `_session` pair from its own
      // sign-in for the victim's browser, on a longer path that is sent first, and the victim's
      // next connector was granted as the attacker (login CSRF). The interaction cookies are
      // path-scoped, which `__Host-` forbids; planted, they only start a flow the victim's browser
      // must still finish itself: every step that finishes one checks a `__Host-` cookie too (the
      // CSRF cookie on the sign-in and consent forms, the browser binding on the federated callback,
      // federated-sign-in-routes.ts). On http no prefix is possible.
      ...(secureCookies ? { names: { session: SECURE_SESSION_COOKIE } } : {}),
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: secureCookies },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: secureCookies },
    },
    features: {
      devInteractions: { enabled: false },
      // Symmetric encryption (dir, A*KW) would be keyed with the stored, hashed client secret.
      encryption: { enabled: false },
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      registration: {
        enabled: config.registration.enabled,
        initialAccessToken: false,
        issueRegistrationAccessToken: false,
        idFactory: newRegisteredClientId,
      },
      // Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-02), which
      // the MCP authorization spec prefers to DCR. The provider validates the URL and document;
      // our policy picks hosts and our fetch guards addresses.
      clientIdMetadataDocument: {
        enabled: config.clientIdMetadataDocuments.enabled,
        ack: 'draft-02',
        allowFetch: async (_ctx, clientId) => deps.documentHostPolicy.allowFetch(clientId),
        // Asked again for a cached document too, so a host an admin stops trusting is refused at once.
        // Called only for a document the provider accepted: from then on it may be served from memory.
        async allowClient(_ctx, client) {
          const allowed = await deps.documentHostPolicy.allowFetch(client.clientId);
          if (allowed) deps.onDocumentAccepted?.(client.clientId);
          return allowed;
        },
        cacheDuration: { min: config.clientIdMetadataDocuments.cacheMin, max: config.clientIdMetadataDocuments.cacheMax },
      },
      // RFC 6749 §4.4, for service accounts only (registration/service-account-policy.ts).
      clientCredentials: { enabled: true },
      // OpenID Connect RP Metadata Choices 1.0: a client may list the methods it can use
      // (`token_endpoint_auth_methods_supported`, ChatGPT's document lists none and
      // private_key_jwt); the provider keeps the declared one when it is supported, else the first
      // listed one it supports. client-metadata-policy.ts first narrows the list to what the client
      // kind may use.
      rpMetadataChoices: { enabled: true },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: only the client a token was issued to may revoke it; a confidential
        // client is told so, a public one (which proves nothing) gets the ordinary 200.
        allowedPolicy(_ctx, client, token) {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      introspection: { enabled: true, allowedPolicy: createIntrospectionPolicy(config.resource) },
      userinfo: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => config.resource,
        useGrantedResource: () => true,
        async getResourceServerInfo(ctx, resourceIndicator) {
          // Exact comparison: the trailing-slash, query and fragment forms were normalised before the
          // provider saw it (http/own-resource.ts).
          if (resourceIndicator !== config.resource) throw new errors.InvalidTarget();
          return resourceServerInfo(isClientCredentialsRequest(ctx) ? settleServiceAccountScope(ctx) : await scopeFor(ctx));
        },
      },
    },
    extraClientMetadata: {
      properties: [CLIENT_KIND, RESOURCE_SERVER_FOR, UPSTREAM_AUDIENCES, SERVICE_ACCOUNT, SERVICE_DISABLED],
      validator: createClientMetadataValidator(deps.redirectUriPolicy),
    },
    // Only origins a client registered a redirect URI on may call /token, /revoke and /introspect
    // from a browser (e.g. MCP Inspector at http://localhost:6274).
    clientBasedCORS(_ctx, origin, client) {
      return client.redirectUris?.some((uri) => URL.parse(uri)?.origin === origin) ?? false;
    },
    async findAccount(ctx, sub) {
      const user = await findUserOnce(users, ctx, sub);
      // A disabled, pending or deleted user gets no code exchange or refresh.
      if (!UserStore.isActive(user)) return undefined;
      return {
        accountId: user.id,
        async claims() {
          return { sub: user.id, preferred_username: user.username, name: user.username, ...(user.email ? { email: user.email } : {}) };
        },
      };
    },
    // `gid` names the grant, so the resource server can refuse a revoked grant's access tokens
    // when the revocation feed lists it (apps/shared/revocation-entry.ts).
    // Every access token is built here, once its grant passed every check: in a code exchange
    // (lib/helpers/grant_common.js issueTokens) and the client credentials and ID-JAG grants before
    // any token of the request is stored or sent, so this is where a registration's first token
    // keeps it (a refresh stores its new refresh token first; its client was kept by its first token).
    async extraTokenClaims(ctx, token) {
      if (ctx.oidc.client) await deps.keepClientGivenToken?.(ctx.oidc.client);
      if (token.kind === 'ClientCredentials') return serviceTokenClaims(ctx.oidc.client);
      if (!('accountId' in token) || typeof token.accountId !== 'string') return undefined;
      const user = await findUserOnce(users, ctx, token.accountId);
      const grantId = 'grantId' in token && typeof token.grantId === 'string' ? token.grantId : undefined;
      return { ...(user ? { preferred_username: user.username } : {}), ...(grantId ? { gid: grantId } : {}) };
    },
    issueRefreshToken: async (ctx, client) => {
      const issued = client.grantTypeAllowed('refresh_token');
      // Without a refresh token nothing is saved after the code's consume, held till such a save on
      // PostgreSQL (database-adapter.ts consumesHeld): it commits here, before the tokens go out.
      if (!issued) await commitHeldConsume(ctx);
      return issued;
    },
    expiresWithSession: async () => false,
    // Called once the refresh token, its grant and its user are found and before the token is used
    // up: the place to refuse a refresh that would hand out nothing (see refuseScopelessRefresh).
    rotateRefreshToken: async (ctx) => {
      await refuseScopelessRefresh(ctx);
      return true;
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: ID_TOKEN_TTL,
      Interaction: 3600,
      Session: config.sessionTtl,
      Grant: config.refreshTokenAbsoluteTtl,
      // Where the clocks meet: `iiat` is stamped by the provider (Date.now), the time left is
      // counted on ours, so a test that moves our clock on sees the cap shorten the lifetime.
      RefreshToken(_ctx, token) {
        const now = clock.epochSeconds();
        const initiallyIssuedAt = (token as unknown as { iiat?: number }).iiat ?? now;
        const untilAbsoluteCap = initiallyIssuedAt + config.refreshTokenAbsoluteTtl - now;
        return Math.max(1, Math.min(config.refreshTokenTtl, untilAbsoluteCap));
      },
    },
    interactions: {
      policy: createInteractionPolicy(users),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    renderError: deps.renderError,
    fetch: deps.metadataFetch,
  };

  const provider = new Provider(config.issuer, configuration);
  provider.use(answerStructuredTokensInactive);
  provider.use(answerUnauthorizedClient);
  registerTokenExchangeGrant(provider, {
    issuer: config.issuer,
    resource: config.resource,
    users,
    jwks: deps.jwks,
    signingKid: deps.signingKid,
    publicJwks: deps.publicJwks as JSONWebKeySet,
    isRevoked: revocations ? (token) => revocations.refuses(token) : undefined,
    clock,
  });
  const idJagOffered = () => deps.idJag.trustedIdps.any();
  provider.use(advertiseIdJag(idJagOffered));
  provider.use(advertiseEndpointAuthMethods);
  provider.use(answerIdJagRefusals(idJagOffered));
  registerIdJagGrant(provider, {
    ...deps.idJag,
    issuer: config.issuer,
    resource: config.resource,
    defaultScopes: config.defaultScopes,
    resourceServerInfo,
    accessTokenTtl: config.accessTokenTtl,
    clock,
    clockSkew: config.idJag.clockSkew,
    maxAssertionAge: config.idJag.maxAssertionAge,
  });
  return provider;
}

export type { KoaContextWithOIDC };
