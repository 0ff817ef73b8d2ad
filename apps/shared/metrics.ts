/**
 * Prometheus metrics (prom-client): one registry per app, served on a port of its own.
 *
 * - Off by default. When on, each app serves `GET /metrics` on its metrics port only, never on
 *   its public port, so a reverse proxy that publishes the app cannot publish the metrics by
 *   accident. Every other path is 404.
 * - Every series carries `app` (auth-server or resource-server), so both can share one scrape job.
 * - Labels hold only bounded values (grant types, results, reasons, tool names, route
 *   templates): never user names, client ids, paths or anything a caller chooses freely.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export type { Registry };

/**
 * A registry for one app. `processMetrics` adds prom-client's process and Node.js runtime
 * metrics (CPU, memory, event loop lag, GC), which sample on timers: only for the live process.
 */
export function createMetricsRegistry(app: string, { processMetrics = false } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  if (processMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Request latency by method, route template and status, in seconds. */
export function createRequestDuration(registry: Registry): Histogram<'method' | 'route' | 'status'> {
  return new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time from receiving a request to the end of its response, in seconds.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics */
  url: string;
  close(): Promise<void>;
}

/** Serves the registry in the Prometheus text format at `GET /metrics` on `host:port`. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer(function metricsEndpoint(req, res) {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostPart}:${address.port}/metrics`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
