/**
 * Admin pages: the enterprise IdPs whose identity assertions (ID-JAG) the jwt-bearer grant
 * accepts. Config-file IdPs are listed as such and cannot be removed here; an added IdP applies
 * to the next token request on every replica. Adding one widens who can get a token, so it needs
 * a recent sign-in (page-routes.ts).
 */
import type { AdminServices } from '../../management/admin-services.ts';
import { describeTrustedIdp } from '../../management/describe-trusted-idp.ts';
import { done, field, formatTime, requiredField, type Handler, type RenderPage } from '../page-handler.ts';

const list = (value: string) => value.split(/[\s,]+/).filter(Boolean);

export function trustedIdpsPages(services: AdminServices, renderPage: RenderPage): Record<string, Handler> {
  return {
    async listTrustedIdps(request) {
      const idps = (await services.trustedIdps.list()).map((idp) => describeTrustedIdp(idp, formatTime));
      renderPage(request, 'admin/trusted-idps.njk', 'Enterprise IdPs', 'trusted-idps', { idps });
    },

    async addTrustedIdp(request) {
      const { form } = request;
      const jwks = field(form, 'jwks').trim();
      let inlineKeys: unknown;
      if (jwks) {
        try {
          inlineKeys = JSON.parse(jwks);
        } catch {
          inlineKeys = jwks;
        }
      }
      await services.trustedIdpAdmin.add({
        issuer: requiredField(form, 'issuer', 'An issuer'),
        ...(field(form, 'id').trim() ? { id: field(form, 'id').trim() } : {}),
        ...(field(form, 'jwks_uri').trim() ? { jwks_uri: field(form, 'jwks_uri').trim() } : {}),
        ...(inlineKeys !== undefined ? { jwks: inlineKeys } : {}),
        ...(list(field(form, 'algorithms')).length > 0 ? { algorithms: list(field(form, 'algorithms')) } : {}),
        new_users: field(form, 'new_users') || 'refuse',
        default_scopes: form.get('default_scopes') ?? [],
        allowed_client_ids: list(field(form, 'allowed_client_ids')),
      }, request.by);
      done(request.ctx, '/admin/trusted-idps', 'idp_added');
    },

    async removeTrustedIdp(request) {
      await services.trustedIdpAdmin.remove(requiredField(request.form, 'issuer', 'An issuer'), request.by);
      done(request.ctx, '/admin/trusted-idps', 'idp_removed');
    },
  };
}
