/**
 * Admin pages: service accounts (machine clients using the client credentials grant): list,
 * create (private_key_jwt with a pasted JWK Set or a jwks_uri, or a generated secret shown once),
 * change scopes, disable and enable. Deleting one is the clients page's delete.
 */
import type { AdminServices } from '../../management/admin-services.ts';
import { describeClient } from '../../management/describe-client.ts';
import { newServiceAccountId, type ServiceAuthMethod } from '../../management/service-accounts.ts';
import { MCP_SCOPES } from '../../../../shared/mcp-scopes.ts';
import { done, field, formatTime, requiredField, shownScopes, type Handler, type RenderPage } from '../page-handler.ts';
import { createOnce } from './create-once.ts';

export function serviceAccountsPages(services: AdminServices, renderPage: RenderPage): Record<string, Handler> {
  async function listServiceAccounts(request: Parameters<Handler>[0], created?: { clientId: string; clientSecret?: string }) {
    const accounts = (await services.clients.list()).filter((c) => c.serviceAccount).map((c) => describeClient(c, formatTime));
    renderPage(request, 'admin/service-accounts.njk', 'Service accounts', 'clients', { accounts, scopes: MCP_SCOPES, created, proposedClientId: newServiceAccountId() });
  }

  return {
    async listServiceAccounts(request) {
      await listServiceAccounts(request);
    },

    async createServiceAccount(request) {
      const created = await createOnce(request.form, 'the service account', (clientId) => services.serviceAccounts.create({
        name: requiredField(request.form, 'client_name', 'name: a name'),
        authMethod: (field(request.form, 'token_endpoint_auth_method') || 'private_key_jwt') as ServiceAuthMethod,
        scopes: request.form.get('scope') ?? [],
        jwks: field(request.form, 'jwks') || undefined,
        jwksUri: field(request.form, 'jwks_uri') || undefined,
        clientId,
      }, request.by));
      // The secret is shown in this response only (no redirect, so it is never in a URL; HTML is no-store).
      request.ctx.status = 201;
      await listServiceAccounts(request, created);
    },

    async setServiceAccountScopes(request) {
      await services.serviceAccounts.setScopes(requiredField(request.form, 'client_id', 'client_id: a client id'), request.form.get('scope') ?? [], request.by, shownScopes(request.form));
      done(request.ctx, '/admin/service-accounts', 'service_account_changed');
    },

    async disableServiceAccount(request) {
      await services.serviceAccounts.setDisabled(requiredField(request.form, 'client_id', 'client_id: a client id'), true, request.by);
      done(request.ctx, '/admin/service-accounts', 'service_account_changed');
    },

    async enableServiceAccount(request) {
      await services.serviceAccounts.setDisabled(requiredField(request.form, 'client_id', 'client_id: a client id'), false, request.by);
      done(request.ctx, '/admin/service-accounts', 'service_account_changed');
    },
  };
}
