/**
 * The consent page and its answer (`/interaction/:uid`, `/interaction/:uid/consent`).
 *
 * - Consent grants at most what the user may grant and what they ticked; the rest is recorded
 *   as rejected, so the provider does not ask again for it in this interaction. A later
 *   authorization asks again for a rejected scope the user holds by then (the MCP step-up).
 * - The consent page lists only scopes this server grants: the provider ignores a word it does not
 *   know in `scope` (any printable ASCII, RFC 6749 §3.3), so listing it would offer the person, in
 *   the client's own words ("Approved_by_your_IT_department"), a permission nothing grants.
 * - A consent page that could grant nothing new (the account lacks every scope asked for) shows
 *   no Allow button: it names the scopes the account cannot have, and offers to continue with
 *   what the app already holds, if anything, or to go back to the app.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';
import type { ConnectionRecorder } from '../../../shared/connection-events.ts';
import { UserStore, type User } from '../accounts/user-store.ts';
import type { DocumentHostPolicy } from '../cimd/document-host-policy.ts';
import { recordConsent } from '../connections/record-consent.ts';
import type { Csrf } from '../http/csrf.ts';
import { PageError } from '../http/page-error.ts';
import { readForm } from '../http/read-body.ts';
import { isMetadataDocumentClientId } from '../registration/client-metadata-policy.ts';
import { isLoopbackHttpUri } from '../registration/redirect-uri-policy.ts';
import type { Render } from '../views/create-renderer.ts';
import { allowResourceScopes, askedResourceScopes } from './asked-resource-scopes.ts';
import { consentWarning } from './consent-warning.ts';
import { FORM_LIMIT, interactionPurpose } from './interaction-forms.ts';
import { clientName, finish, loadInteraction, type Interaction } from './load-interaction.ts';
import { describeScope } from './scope-descriptions.ts';

export interface ConsentStepDeps {
  provider: Provider;
  users: UserStore;
  csrf: Csrf;
  render: Render;
  documentHostPolicy: DocumentHostPolicy;
  /** What the sign-in page offers: the password form, upstream buttons, or both. */
  mode: 'builtin' | 'federated' | 'both';
  upstreams: Array<{ id: string; displayName: string }>;
  /** Resource scopes (mcp:*) this server knows. */
  resourceScopes: readonly string[];
  /**
   * OpenID Connect scopes this server grants (openid, profile, …). Any other word in a request's
   * `scope` is ignored by the provider, so the consent page does not show it either.
   */
  identityScopes: readonly string[];
  /** Tells a client registered moments ago. */
  clock: Clock;
  /** Where the consent step goes (connections/record-consent.ts). */
  connectionRecorder?: ConnectionRecorder;
}

const RECENT_REGISTRATION_SECONDS = 10 * 60;

/**
 * Where the consent page says the browser goes next. A web address by its host; any other
 * scheme (a private-use scheme, RFC 8252 §7.1) by the scheme itself: its handler is whichever app
 * on the device claims it, and what follows `//` names nothing. (`com.evil.app://claude.ai/cb`
 * was shown as "claude.ai", the authority WHATWG URL parsing reads out of it.)
 */
function redirectDestination(redirectUri: string): { host?: string; appScheme?: string } {
  const url = URL.parse(redirectUri);
  if (!url) return { host: redirectUri };
  return url.protocol === 'https:' || url.protocol === 'http:' ? { host: url.host } : { appScheme: url.protocol };
}

/** The id of the grant a consent to interaction `uid` makes: as long and random as the provider's own, and not the interaction's id. */
function grantIdFor(uid: string): string {
  return createHash('sha256').update(`gatehouse grant of interaction ${uid}`).digest('base64url');
}

export function consentStep(deps: ConsentStepDeps) {
  const { provider, users, csrf, render } = deps;

  async function renderConsent(ctx: Context, interaction: Interaction, user: User) {
    const { name, client } = await clientName(provider, interaction);
    const requested = String(interaction.params.scope ?? '').split(' ').filter(Boolean);
    // What the grant holds is listed as already allowed, and only what it does not is asked; a
    // scope it refused is in neither (with prompt=consent it was listed as already allowed).
    const grant = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
    const held = new Set(Object.keys(grant?.resources ?? {}).flatMap((indicator) => grant!.getResourceScope(indicator).split(' ')));
    const asked = new Set([...askedResourceScopes(interaction.prompt.details).values()].flat());
    const resourceRequested = requested.filter((s) => deps.resourceScopes.includes(s) && !held.has(s));
    const alreadyAllowed = requested.filter((s) => deps.resourceScopes.includes(s) && held.has(s));
    const redirectUri = String(interaction.params.redirect_uri ?? '');
    const clientId = String(interaction.params.client_id);
    const documentHost = isMetadataDocumentClientId(clientId) ? new URL(clientId).host : undefined;
    const issuedAt = client?.metadata().client_id_issued_at as number | undefined;
    const destination = redirectDestination(redirectUri);
    const warning = consentWarning({
      loopback: isLoopbackHttpUri(redirectUri),
      appScheme: destination.appScheme,
      unknownDocumentHost: documentHost && await deps.documentHostPolicy.needsWarning(clientId) ? documentHost : undefined,
      justRegistered: Boolean(issuedAt && deps.clock.epochSeconds() - issuedAt < RECENT_REGISTRATION_SECONDS),
    });
    // What approving would add: a page that can add nothing must not offer an Allow button; it
    // says which scopes the account lacks, and offers to continue with what is already allowed.
    const grantable = resourceRequested.filter((s) => asked.has(s) && user.scopes.includes(s));
    const unavailable = resourceRequested.filter((s) => !user.scopes.includes(s));
    const nothingNew = grantable.length === 0 && unavailable.length > 0;
    ctx.type = 'html';
    ctx.body = render('consent.njk', {
      title: 'Allow access',
      uid: interaction.uid,
      csrf: csrf.issue(ctx, interactionPurpose(interaction.uid)),
      clientName: name,
      username: user.username,
      redirectHost: destination.host,
      redirectScheme: destination.appScheme,
      documentHost,
      warning,
      scopes: grantable.map((scope) => ({ name: scope, description: describeScope(scope) })),
      identityScopes: requested.filter((s) => deps.identityScopes.includes(s)).map((scope) => ({ name: scope, description: describeScope(scope) })),
      unavailable: unavailable.map((scope) => ({ name: scope, description: describeScope(scope) })),
      alreadyAllowed: alreadyAllowed.map((scope) => ({ name: scope, description: describeScope(scope) })),
      offerAllow: !nothingNew,
      offerContinue: nothingNew && alreadyAllowed.length > 0,
      // The switch shows what the sign-in page offers: the password form, the upstream buttons.
      offerSwitch: deps.mode !== 'federated' || deps.upstreams.length > 0,
    });
  }

  async function submitConsent(ctx: Context) {
    const interaction = await loadInteraction(ctx, provider, 'consent');
    const form = await readForm(ctx, FORM_LIMIT);
    csrf.verify(ctx, interactionPurpose(interaction.uid), form.get('csrf')?.[0]);
    const decision = form.get('decision')?.[0];
    if (decision === 'deny') {
      recordConsent(deps.connectionRecorder, ctx, interaction, { granted: false, why: 'denied' });
      return finish(ctx, provider, { error: 'access_denied', error_description: 'the user denied the request' }, false);
    }
    if (decision !== 'approve') throw new PageError(400, 'invalid_request', 'decision must be approve or deny');

    const accountId = String(interaction.session?.accountId);
    const user = await users.findById(accountId);
    if (!UserStore.isActive(user)) {
      recordConsent(deps.connectionRecorder, ctx, interaction, { granted: false, why: 'account_not_active' });
      return finish(ctx, provider, { error: 'access_denied', error_description: 'the account cannot be used' }, false);
    }
    // Without the page's checkboxes (an automated client posting decision=approve), every
    // scope the user may grant is granted; with them, only the ticked ones.
    const chosen = form.has('scope_choice') ? new Set(form.get('scope') ?? []) : undefined;
    const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };

    const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
    // A new grant's id comes from the interaction's: Allow sent twice at once (a double click, on
    // one replica or two) saves one grant twice rather than two grants, the first of which, held
    // by no token, stayed listed as a second connected app until it expired.
    const grant = existing ?? Object.assign(new provider.Grant({ accountId, clientId: String(interaction.params.client_id) }), { jti: grantIdFor(interaction.uid) });
    // The provider knows the MCP scopes as scopes too (create-provider.ts), so a request's mcp:*
    // come back here as missing OpenID scopes as well. Only identity scopes are granted that way:
    // the MCP ones are settled per resource below, within the user's scopes and the ticked boxes.
    // Granted here too, every requested mcp:* was recorded as granted, ticked or not, the user's
    // or not: in the refresh token's scope, the grant lists, and the scope changes that revoke a
    // grant holding a removed scope (adding a scope to a user disconnected their apps).
    const identity = (details.missingOIDCScope ?? []).filter((scope) => deps.identityScopes.includes(scope));
    const notIdentity = (details.missingOIDCScope ?? []).filter((scope) => !identity.includes(scope));
    if (identity.length) grant.addOIDCScope(identity.join(' '));
    if (notIdentity.length) grant.rejectOIDCScope(notIdentity.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of askedResourceScopes(interaction.prompt.details)) {
      const granted = scopes.filter((s) => user.scopes.includes(s) && (!chosen || chosen.has(s)));
      const rejected = scopes.filter((s) => !granted.includes(s));
      if (granted.length) allowResourceScopes(grant, indicator, granted);
      if (rejected.length) grant.rejectResourceScope(indicator, rejected.join(' '));
      if (!grant.getResourceScope(indicator)) {
        recordConsent(deps.connectionRecorder, ctx, interaction, { granted: false, why: 'nothing_grantable', scopes });
        return finish(ctx, provider, { error: 'access_denied', error_description: 'no permission was granted' }, false);
      }
    }
    const grantId = await grant.save();
    recordConsent(deps.connectionRecorder, ctx, interaction, { granted: true, grantId, grant });
    return finish(ctx, provider, { consent: { grantId } }, true);
  }

  return { renderConsent, submitConsent };
}
