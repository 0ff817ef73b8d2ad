/**
 * Admin pages: the redirect URI allow-list for Dynamic Client Registration (with the clients
 * that use each URI), the private-use schemes allowed beyond the built-in rules, and the trusted
 * hosts for Client ID Metadata Documents.
 */
import { KNOWN_CLIENT_SCHEMES } from '../../registration/redirect-uri-schemes.ts';
import type { AdminServices } from '../../management/admin-services.ts';
import { describeAllowListEntry } from '../../management/describe-allow-list-entry.ts';
import { done, formatTime, requiredField, type Handler, type RenderPage } from '../page-handler.ts';

export function redirectUrisPages(services: AdminServices, renderPage: RenderPage): Record<string, Handler> {
  return {
    async listRedirectUris(request) {
      const clients = await services.clients.list();
      const uris = (await services.redirectUris.list()).map((entry) => ({
        ...describeAllowListEntry('uri', entry, formatTime),
        clients: clients.filter((c) => c.redirectUris.includes(entry.value)).map((c) => ({ clientId: c.clientId, name: c.name })),
      }));
      const schemes = (await services.redirectSchemes.list()).map((entry) => describeAllowListEntry('scheme', entry, formatTime));
      const hosts = (await services.trustedHosts.list()).map((entry) => describeAllowListEntry('host', entry, formatTime));
      renderPage(request, 'admin/redirect-uris.njk', 'Redirect URIs', 'redirect-uris', {
        uris, schemes, knownSchemes: [...KNOWN_CLIENT_SCHEMES], hosts,
        configKeys: { uris: services.redirectUris.configKey, schemes: services.redirectSchemes.configKey, hosts: services.trustedHosts.configKey },
      });
    },

    async allowRedirectUri(request) {
      const added = await services.redirectUris.add(requiredField(request.form, 'uri', 'A redirect URI'), request.by);
      done(request.ctx, '/admin/redirect-uris', added ? 'redirect_uri_added' : 'redirect_uri_exists');
    },

    async removeRedirectUri(request) {
      await services.redirectUris.remove(requiredField(request.form, 'uri', 'A redirect URI'), request.by);
      done(request.ctx, '/admin/redirect-uris', 'redirect_uri_removed');
    },

    async allowRedirectScheme(request) {
      const added = await services.redirectSchemes.add(requiredField(request.form, 'scheme', 'A scheme'), request.by);
      done(request.ctx, '/admin/redirect-uris', added ? 'scheme_added' : 'scheme_exists');
    },

    async removeRedirectScheme(request) {
      await services.redirectSchemes.remove(requiredField(request.form, 'scheme', 'A scheme'), request.by);
      done(request.ctx, '/admin/redirect-uris', 'scheme_removed');
    },

    async trustHost(request) {
      const added = await services.trustedHosts.add(requiredField(request.form, 'host', 'A host'), request.by);
      done(request.ctx, '/admin/redirect-uris', added ? 'host_added' : 'host_exists');
    },

    async untrustHost(request) {
      await services.trustedHosts.remove(requiredField(request.form, 'host', 'A host'), request.by);
      done(request.ctx, '/admin/redirect-uris', 'host_removed');
    },
  };
}
