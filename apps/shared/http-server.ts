/**
 * The HTTP(S) server both apps listen with, and its graceful shutdown.
 *
 * - TLS: with `tls` set, https from the PEM files (read once, at creation; restart to pick up a
 *   renewed certificate). Without it, plain http, for loopback use or behind a reverse proxy that
 *   terminates TLS (whose forwarded headers an app trusts only when `trust_proxy` is set).
 * - Shutdown, in order: stop accepting connections; close idle keep-alive connections and answer
 *   every further response with `Connection: close`; wait for in-flight requests to end, up to
 *   `timeoutMs`; run `beforeClosingConnections` (the resource server ends its MCP sessions there);
 *   then close whatever connections remain.
 * - Long-lived event streams (a GET answered with `text/event-stream`, e.g. an MCP client's
 *   server-to-client stream) are not waited for: they never end on their own. They are closed
 *   after the in-flight requests. A POST answered as an event stream (an MCP response) ends with
 *   its answer and is waited for like any request.
 * - `Connection: close` wins over a `Connection: keep-alive` an app passes to writeHead (the MCP
 *   SDK does for event streams), so no client reuses a connection of a stopping server.
 * - Request targets (RFC 9112 §3.2): an absolute-form target (`GET http://host/path`) reaches the
 *   apps as its origin form (`/path?query`), and one that is not a URL (`GET http://[::1`), like
 *   an origin-form one with a fragment, is answered 400 with `Connection: close`. Node's HTTP parser
 *   lets such targets through, and Koa's `ctx.path` reads an absolute-form target with the legacy
 *   `url.parse`, which throws on a broken host or a stray `%` in the user part: the request
 *   logger threw, then Koa's error listener threw again reading it, outside any handler, and one
 *   unauthenticated packet ended the process (either app). The host of an absolute-form target
 *   is not used: neither app serves more than its configured URLs.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TlsFiles } from './config/shared-section.ts';

export interface HttpServer {
  readonly server: Server;
  /** Starts listening; resolves to the base URL actually bound (useful with port 0). */
  listen(port: number, host: string): Promise<string>;
  /**
   * Stops gracefully (see above). `timeoutMs` bounds the wait for in-flight requests. Resolves
   * to true when every in-flight request ended in time, false when some were cut off.
   */
  shutdown(timeoutMs: number, beforeClosingConnections?: () => Promise<void>): Promise<boolean>;
}

const DRAIN_POLL_MS = 20;

/** Whether a response is an event stream. Headers given to writeHead() alone are only in `_header`. */
export function isEventStream(res: ServerResponse): boolean {
  const type = res.getHeader('content-type');
  if (type !== undefined) return String(type).startsWith('text/event-stream');
  const head = (res as ServerResponse & { _header?: string | null })._header;
  return typeof head === 'string' && /^content-type:\s*text\/event-stream/im.test(head);
}

/** A GET answered with an event stream: open until the client or the server closes it. */
function isLongLivedStream(res: ServerResponse): boolean {
  return res.req?.method === 'GET' && isEventStream(res);
}

/** Answers `res` with `Connection: close`, even if the app names another value in writeHead. */
function closeAfter(res: ServerResponse): void {
  if (res.headersSent) return;
  res.setHeader('Connection', 'close');
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  res.writeHead = ((...args: unknown[]) => {
    const rewritten = args.map((arg) => {
      if (!arg || typeof arg !== 'object' || Array.isArray(arg)) return arg;
      const headers = Object.fromEntries(Object.entries(arg).filter(([name]) => name.toLowerCase() !== 'connection'));
      return { ...headers, Connection: 'close' };
    });
    return writeHead(...rewritten);
  }) as ServerResponse['writeHead'];
}

/**
 * The target the apps are given: an origin-form target (`/path?query`) as it came, an
 * absolute-form one as its origin form, `*` (OPTIONS, asterisk-form) as it is; undefined for one
 * that is not a URL. Authority-form is CONNECT's, which no app serves.
 */
function servableTarget(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  if (target === '*') return target;
  // Origin form is a path and a query (RFC 9112 §3.2.1), never a fragment: with a `#` Koa reads it
  // with the legacy `url.parse` too, which threw on `//%a@a#` (a 500). Without one it takes
  // parseurl's fast path, which reads any path.
  if (target.startsWith('/')) return target.includes('#') ? undefined : target;
  const url = URL.parse(target);
  return url && /^https?:$/.test(url.protocol) ? `${url.pathname}${url.search}` : undefined;
}

/** `listener`, for a request whose target it can serve (given in origin form); 400 otherwise. */
function servingOriginForm(listener: RequestListener): RequestListener {
  return function serveOriginForm(req, res) {
    const target = servableTarget(req.url);
    if (target === undefined) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' }).end('Bad Request: the request target is not a URL\n');
      return;
    }
    req.url = target;
    listener(req, res);
  };
}

export function createHttpServer(appListener: RequestListener, tls?: TlsFiles): HttpServer {
  const listener = servingOriginForm(appListener);
  const server: Server = tls
    ? createHttps({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, listener)
    : createHttp(listener);
  const scheme = tls ? 'https' : 'http';
  const inFlight = new Set<ServerResponse>();
  let stopping = false;

  // Before the app's own listener, so the header is set before the app can send its response.
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (stopping) closeAfter(res);
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  const busy = () => [...inFlight].filter((res) => !isLongLivedStream(res)).length;

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(`${scheme}://${hostPart}:${address.port}`);
        });
      });
    },
    async shutdown(timeoutMs, beforeClosingConnections) {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const res of inFlight) closeAfter(res);
      const deadline = performance.now() + timeoutMs;
      while (busy() > 0 && performance.now() < deadline) {
        server.closeIdleConnections();
        await sleep(DRAIN_POLL_MS);
      }
      const drained = busy() === 0;
      await beforeClosingConnections?.();
      server.closeAllConnections();
      await closed;
      return drained;
    },
  };
}
