import { createServer, type Server } from 'node:http';
import { connect as connectTcp, createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { waitFor } from './wait-for.ts';

/**
 * Ports freePort picks from: below the kernel's ephemeral range (Linux 32768–60999, macOS 49152+),
 * so no `listen(0)` and no outgoing connection of another test (there are hundreds at once) can
 * take the port between this probe and the server's own listen.
 */
const FIXED_PORTS = { from: 20_000, to: 32_000 };

/** A port that was free a moment ago on 127.0.0.1 (for servers that must know their URL before they start). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = FIXED_PORTS.from + Math.floor(Math.random() * (FIXED_PORTS.to - FIXED_PORTS.from));
    const probe = createTcpServer();
    const bound = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => probe.close(resolve));
      return port;
    }
  }
  throw new Error(`no free port between ${FIXED_PORTS.from} and ${FIXED_PORTS.to} after 50 tries`);
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

export interface ConnectionCounter {
  port: number;
  /** Connections accepted so far, its own markers left out. */
  connectionsSoFar(): Promise<number>;
  close(): Promise<void>;
}

/**
 * A TCP port on 127.0.0.1 that accepts connections and says nothing, for tests that a fetch never
 * reached an address: a connection to the IPv4-mapped [::ffff:127.0.0.1] reaches it too (Linux
 * carries it over IPv4), so it stands for a special-use address no test switch allows. connectionsSoFar() counts
 * without sleeping: it connects a marker of its own and waits until that one is accepted, and the
 * kernel hands connections over in the order their handshakes completed, so any connection made
 * before the call has been counted by then.
 */
export async function startConnectionCounter(): Promise<ConnectionCounter> {
  const acceptedFrom: number[] = [];
  const markers = new Set<number>();
  const open = new Set<Socket>();
  const server = createTcpServer((socket) => {
    socket.on('error', () => {}).on('close', () => open.delete(socket));
    open.add(socket);
    acceptedFrom.push(socket.remotePort!);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    async connectionsSoFar() {
      const marker = connectTcp(port, '127.0.0.1');
      const markerPort = await new Promise<number>((resolve, reject) => {
        marker.once('connect', () => resolve(marker.localPort!)).once('error', reject);
      });
      markers.add(markerPort);
      await waitFor('the marker connection to be accepted', () => acceptedFrom.includes(markerPort));
      marker.destroy();
      return acceptedFrom.slice(0, acceptedFrom.indexOf(markerPort)).filter((from) => !markers.has(from)).length;
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
