/**
 * A trusted enterprise IdP as the admin pages and the CLI show it. Inline keys are shown by their
 * key ids only (public keys, but long); config-file IdPs have no `addedBy` and no time.
 */
import type { TrustedIdp } from '../id-jag/trusted-idps.ts';
import type { TimeFormat } from './time-format.ts';

export function describeTrustedIdp(idp: TrustedIdp, time: TimeFormat) {
  return {
    id: idp.id,
    issuer: idp.issuer,
    keys: idp.jwksUri ?? `inline: ${idp.jwks!.keys.map((key) => String(key.kid ?? key.kty)).join(', ')}`,
    algorithms: idp.algorithms.join(' '),
    newUsers: idp.newUsers,
    defaultScopes: idp.defaultScopes.join(' '),
    allowedClientIds: idp.allowedClientIds.join(' ') || 'any client allowed the grant',
    source: idp.source,
    addedBy: idp.addedBy,
    addedAt: time(idp.addedAt),
  };
}
