/**
 * Records the connection steps oidc-provider takes (issue 18), from its events:
 *
 * - `interaction.started` / `authorization.accepted` at /oauth/authorize: `authorization` ok, with
 *   the redirect_uri, resource, scope and client (and `client_document` ok first when the
 *   client_id is a Client ID Metadata Document the provider just used). The interaction's flow id
 *   joins it to the sign-in, consent and redirect that follow.
 * - `authorization.error`: at /oauth/authorize an `authorization` (or `client_document`) refusal;
 *   on the way back from the sign-in and consent pages a `redirect` with the error.
 * - `authorization.success`: `redirect` ok, the browser sent to the redirect_uri with a code.
 * - `registration_create.success` / `.error`: `registration`.
 * - `grant.success` / `grant.error` for the authorization_code and refresh_token grants:
 *   `code_exchange` / `refresh`. Other grants (client credentials, token exchange, ID-JAG) are not
 *   steps of a client's connection.
 *
 * A refusal whose client the provider did not resolve names the client_id the request gave, looked
 * up before it is recorded (set-apart-unknown-clients.ts): no client may have it.
 *
 * The refresh grant is the hot path (bench/refresh-grants.ts): its listeners build one event from
 * what the context already holds, with no database read and nothing awaited. The provider's
 * events are synchronous; `record` only queues.
 */
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { FloodGuard } from '../../../shared/connections/flood-guard.ts';
import type { NewConnectionEvent } from '../../../shared/connection-events.ts';
import type { ProviderError } from '../provider/provider-error.ts';
import { explainAuthorizationRefusal, explainClientDocumentRefusal, isClientDocumentRefusal } from './explain-authorization-refusal.ts';
import { explainTokenRefusal } from './explain-token-refusal.ts';
import { flowIdOf } from './flow-id.ts';
import { originAndPath } from './origin-and-path.ts';
import { requestFacts } from './request-facts.ts';
import { quoteList } from './refusal.ts';
import type { UnresolvedClientRecorder } from './set-apart-unknown-clients.ts';

type Params = Record<string, unknown>;

const STEP_OF_GRANT: Record<string, 'code_exchange' | 'refresh'> = {
  authorization_code: 'code_exchange',
  refresh_token: 'refresh',
};

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The request's parameters as the provider's authorization error handler reads them. */
function paramsOf(ctx: KoaContextWithOIDC): Params {
  const { oidc } = ctx;
  return (oidc.params ?? (ctx.method === 'POST' ? oidc.body : ctx.query) ?? {}) as Params;
}

export interface ProviderConnectionEventsOptions {
  /** The MCP resource (what a refused `resource` is compared with). */
  resource: string;
  /**
   * Admits a grant's successful refresh at most once a window (keyed by grant): a real client
   * refreshes once per access token lifetime, each recorded; a client refreshing in a loop is
   * one event a minute, not hundreds that would push the failures out of `max_events`.
   * Refused refreshes are always recorded. Kept across provider rebuilds (a key rotation).
   */
  refreshes: Pick<FloodGuard, 'admits'>;
}

export function recordProviderConnectionEvents(provider: Provider, recorder: UnresolvedClientRecorder, options: ProviderConnectionEventsOptions): void {
  const record = (ctx: KoaContextWithOIDC, event: NewConnectionEvent): void => {
    recorder.record({ ...event, ...requestFacts(ctx) });
  };
  /** A refusal naming the client_id of the request when the provider resolved no client. */
  const recordRefusal = (ctx: KoaContextWithOIDC, event: NewConnectionEvent): void => {
    if (ctx.oidc.client) record(ctx, event);
    else recorder.recordUnresolved({ ...event, ...requestFacts(ctx) });
  };

  /** `authorization` ok, preceded by `client_document` ok when the client is a metadata document. */
  const recordAccepted = (ctx: KoaContextWithOIDC): void => {
    if (ctx.oidc.route !== 'authorization') return;
    const { client, params = {} } = ctx.oidc;
    const flowId = flowIdOf(ctx.oidc.entities.Interaction);
    const clientId = client?.clientId;
    if ((client as { clientIdMetadataDocument?: boolean } | undefined)?.clientIdMetadataDocument) {
      record(ctx, { step: 'client_document', outcome: 'ok', clientId, flowId });
    }
    record(ctx, {
      step: 'authorization',
      outcome: 'ok',
      clientId,
      // Known when the browser is already signed in (a step-up's second request): it joins the
      // attempt the step-up refused (group-connection-attempts.ts).
      accountId: ctx.oidc.session?.accountId,
      flowId,
      redirectUri: originAndPath(params.redirect_uri),
      resource: originAndPath(params.resource) ?? options.resource,
      scope: text(params.scope),
    });
  };

  provider.on('interaction.started', recordAccepted);
  provider.on('authorization.accepted', recordAccepted);

  provider.on('authorization.success', function recordRedirectWithCode(ctx: KoaContextWithOIDC) {
    const { oidc } = ctx;
    record(ctx, {
      step: 'redirect',
      outcome: 'ok',
      clientId: oidc.client?.clientId,
      accountId: oidc.session?.accountId,
      flowId: flowIdOf(oidc.entities.Interaction),
      grantId: oidc.entities.Grant?.jti,
      redirectUri: originAndPath(oidc.params?.redirect_uri),
    });
  });

  provider.on('authorization.error', function recordAuthorizationRefusal(ctx: KoaContextWithOIDC, err: ProviderError) {
    const { oidc } = ctx;
    const params = paramsOf(ctx);
    const { client } = oidc;
    const redirectUri = text(params.redirect_uri);
    // The provider's error handler emits twice when it finds, after the fact, that the
    // redirect_uri is not the client's (lib/shared/authorization_error_handler.js): the
    // original error, then invalid_redirect_uri. The second is the one the user sees.
    if (err.error !== 'invalid_redirect_uri' && client && redirectUri && !oidc.redirectUriCheckPerformed && !client.redirectUriAllowed(redirectUri)) return;
    const clientId = client?.clientId ?? text(params.client_id);
    const backFromInteraction = oidc.route === 'resume' && oidc.entities.Interaction !== undefined;
    const documentRefused = isClientDocumentRefusal(err, clientId);
    const refusal = documentRefused
      ? explainClientDocumentRefusal(err, clientId!)
      : explainAuthorizationRefusal(err, {
        clientId,
        registeredRedirectUris: client?.redirectUris,
        redirectUri,
        resource: text(params.resource),
        expectedResource: options.resource,
        codeChallengeMethod: text(params.code_challenge_method),
      });
    recordRefusal(ctx, {
      step: documentRefused ? 'client_document' : backFromInteraction ? 'redirect' : 'authorization',
      outcome: 'refused',
      ...refusal,
      clientId,
      accountId: oidc.session?.accountId,
      flowId: flowIdOf(oidc.entities.Interaction),
      redirectUri: originAndPath(redirectUri),
      resource: originAndPath(params.resource),
      scope: text(params.scope),
    });
  });

  provider.on('registration_create.success', function recordRegistration(ctx: KoaContextWithOIDC, client) {
    record(ctx, {
      step: 'registration',
      outcome: 'ok',
      clientId: client.clientId,
      redirectUri: originAndPath(client.redirectUris?.[0]),
      scope: text(client.scope),
    });
  });

  provider.on('registration_create.error', function recordRefusedRegistration(ctx: KoaContextWithOIDC, err: ProviderError) {
    const body = (ctx.oidc.body ?? {}) as Params;
    const redirectUris = Array.isArray(body.redirect_uris) ? body.redirect_uris.map(originAndPath) : [];
    const why = err.error_description ?? err.error ?? 'refused';
    const redirectRefused = err.error === 'invalid_redirect_uri' && redirectUris.length > 0;
    record(ctx, {
      step: 'registration',
      outcome: 'refused',
      error: err.error ?? 'server_error',
      reasonCode: redirectRefused ? 'redirect_uri_not_allowed' : 'registration_refused',
      reason: redirectRefused ? `redirect_uris ${quoteList(redirectUris)} refused: ${why}` : `registration refused: ${why}`,
      redirectUri: redirectUris.length === 1 ? redirectUris[0] : undefined,
      scope: text(body.scope),
    });
  });

  // A replayed code is not loaded as an entity before the provider revokes its grant and throws
  // (grant_source.js): the revocation, emitted just before, names the grant.
  const revokedBy = new WeakMap<object, string>();
  provider.on('grant.revoked', function rememberRevokedGrant(ctx: KoaContextWithOIDC, grantId: string) {
    if (ctx.oidc?.route === 'token') revokedBy.set(ctx, grantId);
  });

  provider.on('grant.success', function recordGrant(ctx: KoaContextWithOIDC) {
    const { oidc } = ctx;
    const step = STEP_OF_GRANT[String(oidc.params?.grant_type)];
    if (!step) return;
    const grant = oidc.entities.Grant;
    if (step === 'refresh' && grant?.jti !== undefined && !options.refreshes.admits(grant.jti)) return;
    const accessToken = oidc.entities.AccessToken;
    record(ctx, {
      step,
      outcome: 'ok',
      clientId: oidc.client?.clientId,
      accountId: grant?.accountId ?? accessToken?.accountId,
      grantId: grant?.jti,
      resource: typeof accessToken?.aud === 'string' ? accessToken.aud : undefined,
      scope: accessToken?.scope,
    });
  });

  provider.on('grant.error', function recordGrantRefusal(ctx: KoaContextWithOIDC, err: ProviderError) {
    const { oidc } = ctx;
    const params = (oidc.params ?? oidc.body ?? {}) as Params;
    const step = STEP_OF_GRANT[String(params.grant_type)];
    if (!step) return;
    const source = oidc.entities.RefreshToken ?? oidc.entities.AuthorizationCode;
    const clientId = oidc.client?.clientId ?? text(params.client_id);
    const redirectUri = text(params.redirect_uri);
    const resource = text(params.resource);
    recordRefusal(ctx, {
      step,
      outcome: 'refused',
      ...explainTokenRefusal(err, { clientId, redirectUri, resource, expectedResource: options.resource }),
      clientId,
      accountId: source?.accountId,
      grantId: oidc.entities.Grant?.jti ?? source?.grantId ?? revokedBy.get(ctx),
      redirectUri: originAndPath(redirectUri),
      resource: originAndPath(resource),
      scope: text(params.scope),
    });
  });
}
