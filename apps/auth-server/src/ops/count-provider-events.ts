/**
 * Counts what oidc-provider reports through its events: tokens issued, refresh token reuse and
 * client registrations. The provider owns the protocol, so its events (not our own guesses from
 * URLs and statuses) are what the counters follow.
 *
 * - `grant.success`: a token response; labelled with the request's `grant_type`, which the
 *   provider has already checked against the grant types it supports (a bounded set).
 * - `grant.error` for `refresh_token` with the detail "refresh token already used": the provider
 *   found a rotated refresh token presented again and revoked the grant (lib/actions/grants/
 *   refresh_token.js). Reuse of a token already deleted with its grant reads "not found" there,
 *   so each reuse incident counts once.
 * - `registration_create.success` / `registration_create.error`: DCR requests the provider
 *   handled. Requests our own guards refused first (too large, not JSON) are not counted.
 */
import type Provider from 'oidc-provider';
import type { AuthServerMetrics } from './auth-server-metrics.ts';

interface ProviderErrorLike {
  error_detail?: string;
}

export function countProviderEvents(provider: Provider, metrics: AuthServerMetrics): void {
  provider.on('grant.success', (ctx) => {
    metrics.tokensIssued.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown') });
  });
  provider.on('grant.error', (ctx, err: ProviderErrorLike) => {
    if (ctx.oidc?.params?.grant_type === 'refresh_token' && err.error_detail === 'refresh token already used') {
      metrics.refreshTokenReuse.inc();
    }
  });
  provider.on('registration_create.success', () => metrics.registrations.inc({ result: 'created' }));
  provider.on('registration_create.error', () => metrics.registrations.inc({ result: 'refused' }));
}
