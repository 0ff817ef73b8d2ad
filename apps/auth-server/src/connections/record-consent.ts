/**
 * Records `consent` from the consent page (interactions/consent-step.ts): granted, with the
 * grant and the scopes it now holds, or refused `access_denied` with why (the user denied, the
 * account cannot be used, nothing the user may grant was asked for). The redirect back to the
 * client that follows is recorded from the provider's event (record-provider-connection-events.ts).
 */
import type { Context } from 'koa';
import type { ConnectionRecorder } from '../../../shared/connection-events.ts';
import { flowIdOf } from './flow-id.ts';
import { quoteList } from './refusal.ts';
import { requestFacts } from './request-facts.ts';

interface ConsentInteraction {
  cid?: unknown;
  params: Record<string, unknown>;
  session?: { accountId?: string };
}

/** What a saved grant holds (oidc-provider's Grant). */
interface GrantScopes {
  getOIDCScope(): string;
  resources?: Record<string, string | undefined>;
}

export type ConsentOutcome =
  | { granted: true; grantId: string; grant: GrantScopes }
  | { granted: false; why: 'denied' | 'account_not_active' | 'nothing_grantable'; scopes?: string[] };

const REFUSALS = {
  denied: () => ({ reasonCode: 'consent_denied', reason: 'the user denied access' }),
  account_not_active: () => ({ reasonCode: 'account_not_active', reason: 'the account is disabled or waiting for approval' }),
  nothing_grantable: (scopes: string[] = []) => ({
    reasonCode: 'no_scope_granted',
    reason: scopes.length ? `the user could grant none of the scopes asked for (${quoteList(scopes)})` : 'the user could grant none of the scopes asked for',
  }),
};

/** Every scope the grant holds: its OpenID scopes and each resource's. */
function scopeOf(grant: GrantScopes): string | undefined {
  const scopes = new Set([grant.getOIDCScope(), ...Object.values(grant.resources ?? {})].flatMap((s) => (s ?? '').split(' ')).filter(Boolean));
  return scopes.size ? [...scopes].join(' ') : undefined;
}

export function recordConsent(recorder: ConnectionRecorder | undefined, ctx: Context, interaction: ConsentInteraction, outcome: ConsentOutcome): void {
  if (!recorder) return;
  const common = {
    step: 'consent' as const,
    clientId: typeof interaction.params.client_id === 'string' ? interaction.params.client_id : undefined,
    accountId: interaction.session?.accountId,
    flowId: flowIdOf(interaction),
    ...requestFacts(ctx),
  };
  recorder.record(outcome.granted
    ? { ...common, outcome: 'ok', grantId: outcome.grantId, scope: scopeOf(outcome.grant) }
    : { ...common, outcome: 'refused', error: 'access_denied', ...REFUSALS[outcome.why](outcome.scopes) });
}
