/**
 * Admin pages: the redirect URI allow-list for Dynamic Client Registration (with the clients
 * that use each URI) and the trusted hosts for Client ID Metadata Documents.
 */
import type { AdminServices } from './admin-services.ts';
import { done, formatTime, requiredField, type Handler, type RenderPage } from './admin-page.ts';

export function redirectUrisPages(services: AdminServices, renderPage: RenderPage): Record<string, Handler> {
  return {
    listRedirectUris(request) {
      const clients = services.clients.list();
      const uris = services.redirectUris.list().map((entry) => ({
        uri: entry.value,
        source: entry.source,
        addedBy: entry.addedBy,
        addedAt: formatTime(entry.addedAt),
        clients: clients.filter((c) => c.redirectUris.includes(entry.value)).map((c) => ({ clientId: c.clientId, name: c.name })),
      }));
      const hosts = services.trustedHosts.list().map((entry) => ({
        host: entry.value,
        source: entry.source,
        addedBy: entry.addedBy,
        addedAt: formatTime(entry.addedAt),
      }));
      renderPage(request, 'admin/redirect-uris.njk', 'Redirect URIs', 'redirect-uris', { uris, hosts });
    },

    allowRedirectUri(request) {
      const added = services.redirectUris.add(requiredField(request.form, 'uri', 'A redirect URI'), request.by);
      done(request.ctx, '/admin/redirect-uris', added ? 'redirect_uri_added' : 'redirect_uri_exists');
    },

    removeRedirectUri(request) {
      services.redirectUris.remove(requiredField(request.form, 'uri', 'A redirect URI'), request.by);
      done(request.ctx, '/admin/redirect-uris', 'redirect_uri_removed');
    },

    trustHost(request) {
      const added = services.trustedHosts.add(requiredField(request.form, 'host', 'A host'), request.by);
      done(request.ctx, '/admin/redirect-uris', added ? 'host_added' : 'host_exists');
    },

    untrustHost(request) {
      services.trustedHosts.remove(requiredField(request.form, 'host', 'A host'), request.by);
      done(request.ctx, '/admin/redirect-uris', 'host_removed');
    },
  };
}
