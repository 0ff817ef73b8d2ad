/**
 * A local https server for Client ID Metadata Documents, with a throwaway self-signed
 * certificate for localhost/127.0.0.1 made by openssl at test time (never committed). Each path
 * is answered by a handler the test sets; hits are counted per path.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StartOptions } from './start-auth-server.ts';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface DocumentServer {
  origin: string;
  ca: string;
  hits: Map<string, number>;
  handle(path: string, handler: Handler): string;
  json(path: string, body: unknown, headers?: Record<string, string>): string;
  close(): Promise<void>;
}

export function makeTestCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startDocumentServer(host = 'localhost'): Promise<DocumentServer> {
  const { key, cert } = makeTestCertificate();
  const handlers = new Map<string, Handler>();
  const hits = new Map<string, number>();
  const server: Server = createServer({ key, cert }, (req, res) => {
    const path = new URL(req.url!, 'https://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const handler = handlers.get(path);
    if (!handler) {
      res.statusCode = 404;
      res.end();
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://${host}:${(server.address() as AddressInfo).port}`;
  const handle = (path: string, handler: Handler) => {
    handlers.set(path, handler);
    return `${origin}${path}`;
  };
  return {
    origin,
    ca: cert,
    hits,
    handle,
    json(path, body, headers = {}) {
      return handle(path, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', ...headers });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * startAuthServer options under which the server reads Client ID Metadata Documents from `docs`:
 * its host trusted, its loopback address and throwaway CA accepted.
 */
export function readingDocumentsFrom(docs: DocumentServer): Pick<StartOptions, 'metadataFetch' | 'configure'> {
  return {
    metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
    configure(config) {
      config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host];
    },
  };
}
