import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A port that was free a moment ago on 127.0.0.1 (for servers that must know their URL before they start). */
export async function freePort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Serves only the Protected Resource Metadata (RFC 9728) of an MCP server at `${origin}/mcp`,
 * which is all the MCP SDK's auth() reads from the resource server.
 */
export async function startMetadataServer(issuer: () => string): Promise<{ server: Server; resource: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/oauth-protected-resource/mcp' || req.url === '/.well-known/oauth-protected-resource') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ resource: resource(), authorization_servers: [issuer()], scopes_supported: ['mcp:read', 'mcp:write', 'mcp:admin'], bearer_methods_supported: ['header'] }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const resource = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  return { server, resource: resource() };
}
