/**
 * Authorization Server Metadata (RFC 8414) for the ID-JAG profile, on both discovery documents:
 *
 * - With at least one trusted IdP: `authorization_grant_profiles_supported` names
 *   `urn:ietf:params:oauth:grant-profile:id-jag` (draft-ietf-oauth-identity-assertion-authz-grant-04
 *   §7; MCP enterprise-managed authorization §6, which clients such as Claude read), and
 *   `grant_types_supported` keeps the jwt-bearer grant (draft §7: MUST, alongside the profile).
 * - Without one: neither is there. The provider lists every registered grant type, so the
 *   jwt-bearer grant is taken out of `grant_types_supported` while no IdP is trusted.
 *
 * Deliberately not published: which IdPs are trusted (draft §8.4: MUST NOT disclose issuer allow
 * lists in this metadata).
 */
import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { ID_JAG_GRANT_PROFILE, JWT_BEARER_GRANT_TYPE } from './id-jag-grant-type.ts';

export function advertiseIdJag(isOffered: () => Promise<boolean>) {
  return async function advertiseIdJagMetadata(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    if (ctx.oidc?.route !== 'discovery' || ctx.status !== 200 || typeof ctx.body !== 'object' || ctx.body === null) return;
    const metadata = ctx.body as Record<string, unknown>;
    const grantTypes = Array.isArray(metadata.grant_types_supported) ? metadata.grant_types_supported as string[] : [];
    if (await isOffered()) {
      if (!grantTypes.includes(JWT_BEARER_GRANT_TYPE)) metadata.grant_types_supported = [...grantTypes, JWT_BEARER_GRANT_TYPE];
      metadata.authorization_grant_profiles_supported = [ID_JAG_GRANT_PROFILE];
    } else {
      metadata.grant_types_supported = grantTypes.filter((g) => g !== JWT_BEARER_GRANT_TYPE);
    }
  };
}
