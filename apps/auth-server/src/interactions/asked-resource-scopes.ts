/**
 * The resource scopes a consent step asks for, and how allowing one is written to the grant.
 *
 * - Asked: the scopes the grant never met (the provider's `missingResourceScopes`), and the ones
 *   it refused before that the account holds now (`refusedResourceScopes`, from
 *   provider/interaction-policy.ts), per resource indicator.
 * - Allowed: added to the grant, and taken off its refused list: oidc-provider's Grant subtracts
 *   the refused scopes from the granted ones (models/grant.js `getResourceScope`), so a scope
 *   refused once and allowed later was still granted nowhere. The Grant has no call that takes a
 *   refusal back; its refused scopes are `rejected.resources[indicator]`, a space-separated list,
 *   an empty one dropped at save.
 */
import type Provider from 'oidc-provider';

type Grant = InstanceType<Provider['Grant']>;

export interface ConsentScopeDetails {
  missingResourceScopes?: Record<string, string[]>;
  refusedResourceScopes?: Record<string, string[]>;
}

export function askedResourceScopes(details: ConsentScopeDetails): Map<string, string[]> {
  const asked = new Map<string, string[]>();
  for (const part of [details.missingResourceScopes, details.refusedResourceScopes]) {
    for (const [indicator, scopes] of Object.entries(part ?? {})) {
      asked.set(indicator, [...new Set([...(asked.get(indicator) ?? []), ...scopes])]);
    }
  }
  return asked;
}

export function allowResourceScopes(grant: Grant, indicator: string, scopes: readonly string[]): void {
  const refused = grant.rejected?.resources?.[indicator];
  if (refused) grant.rejected!.resources![indicator] = refused.split(' ').filter((scope) => !scopes.includes(scope)).join(' ');
  grant.addResourceScope(indicator, scopes.join(' '));
}
