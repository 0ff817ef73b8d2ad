/**
 * Admin page: the MCP servers behind the gateway, read from the resource server on each view
 * (gateway-status.ts): kind, state and why it is down, processes, the default scope, and each
 * tool with the scope it needs (known once some client listed the tools).
 *
 * When the resource server cannot be reached or refuses, the page still answers 200 and says
 * why in words: the admin pages work, one source of what they show does not, and the reason is
 * the useful part (a 5xx would read as this server failing).
 */
import type { GatewayServer, GatewayStatus } from './gateway-status.ts';
import type { Handler, RenderPage } from '../page-handler.ts';

function kindOf(server: GatewayServer): string {
  if (server.transport === 'http') return 'HTTP';
  return server.perUser ? 'stdio per user' : 'stdio';
}

export function serversPages(gatewayStatus: GatewayStatus, renderPage: RenderPage): Record<string, Handler> {
  return {
    async listServers(request) {
      const status = await gatewayStatus.read(request.user);
      const servers = 'servers' in status
        ? status.servers.map((server) => ({
          name: server.name,
          kind: kindOf(server),
          state: server.state,
          reason: server.reason,
          processes: server.transport === 'stdio' ? server.processes : undefined,
          defaultScope: server.scopes.default,
          tools: server.tools,
          moreTools: server.moreTools,
        }))
        : undefined;
      renderPage(request, 'admin/servers.njk', 'MCP servers', 'servers', {
        servers,
        problem: 'problem' in status ? status.problem : undefined,
      });
    },
  };
}
