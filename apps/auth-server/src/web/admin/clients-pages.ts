/** Admin pages: clients (list, create a static client, delete, purge unused registrations). */
import type { AdminServices } from '../../management/admin-services.ts';
import { done, field, formatTime, requiredField, type Handler, type RenderPage } from '../page-handler.ts';
import { newStaticClientId, type StaticClientAuthMethod } from '../../management/client-registry.ts';
import { describeClient } from '../../management/describe-client.ts';
import { createOnce } from './create-once.ts';

/**
 * One URI per line, as the form asks: splitting on any space instead would check `not a url`
 * as `not` and name the wrong input in the message.
 */
const lines = (value: string) => value.split(/\r?\n/);

export function clientsPages(services: AdminServices, renderPage: RenderPage): Record<string, Handler> {
  async function listClients(request: Parameters<Handler>[0], created?: { clientId: string; clientSecret?: string }) {
    const clients = (await services.clients.list()).map((c) => describeClient(c, formatTime));
    renderPage(request, 'admin/clients.njk', 'Clients', 'clients', {
      clients,
      unusedCount: clients.filter((c) => c.unused).length,
      created,
      proposedClientId: newStaticClientId(),
    });
  }

  return {
    async listClients(request) {
      await listClients(request);
    },

    async createStaticClient(request) {
      const created = await createOnce(request.form, 'the client', (clientId) => services.clients.createStatic({
        name: requiredField(request.form, 'client_name', 'A name'),
        redirectUris: lines(field(request.form, 'redirect_uris')),
        authMethod: (field(request.form, 'token_endpoint_auth_method') || 'client_secret_basic') as StaticClientAuthMethod,
        clientId,
        resourceServer: field(request.form, 'resource_server') === 'yes',
        upstreamAudiences: lines(field(request.form, 'upstream_audiences')),
        idJag: field(request.form, 'id_jag') === 'yes',
      }, request.by));
      // The secret is shown in this response only (no redirect, so it is never in a URL; HTML is no-store).
      request.ctx.status = 201;
      await listClients(request, created);
    },

    async deleteClient(request) {
      await services.clients.remove(requiredField(request.form, 'client_id', 'A client id'), request.by);
      done(request.ctx, '/admin/clients', 'client_deleted');
    },

    async purgeUnusedClients(request) {
      await services.clients.purgeUnused(request.by);
      done(request.ctx, '/admin/clients', 'clients_purged');
    },
  };
}
