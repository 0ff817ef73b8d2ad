/** The admin start page: what needs attention, in numbers, with links to each section. */
import type { AdminServices } from '../../management/admin-services.ts';
import { formatTime, type Handler, type RenderPage } from '../page-handler.ts';

export function overviewPage(services: AdminServices, renderPage: RenderPage): Record<string, Handler> {
  return {
    async showOverview(request) {
      const users = await services.users.list();
      const clients = await services.clients.list();
      const keys = await services.keys.list();
      const recent = await services.audit.query({ limit: 10 });
      const clientNames = await services.clients.names(recent.flatMap((e) => (e.clientId ? [e.clientId] : [])));
      renderPage(request, 'admin/overview.njk', 'Administration', 'overview', {
        counts: {
          users: users.length,
          pending: users.filter((u) => u.pending && !u.disabled).length,
          disabled: users.filter((u) => u.disabled).length,
          clients: clients.length,
          unused: clients.filter((c) => c.unused).length,
          grants: (await services.grants.list()).length,
          keys: keys.length,
        },
        recent: recent.map((e) => ({ at: formatTime(e.at), event: e.event, actor: e.actor, clientId: e.clientId, clientName: e.clientId ? clientNames.get(e.clientId) : undefined })),
      });
    },
  };
}
