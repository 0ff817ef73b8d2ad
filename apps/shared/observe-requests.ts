/**
 * Observes every request an app serves: gives it an id, logs one line when its response ends, and
 * records its latency. Outermost in each app's middleware stack, so it sees final statuses.
 *
 * - Request id: a sane incoming `X-Request-Id` (one a proxy in front already assigned) is kept, so
 *   lines correlate across hops; anything else (absent, too long, odd characters that could forge
 *   log fields) is replaced by a random UUID. It is echoed in the `X-Request-Id` response header
 *   and kept in `ctx.state.requestId`.
 * - The log line carries method, path, status, duration and request id. Never the query string
 *   (authorization requests, callbacks and misbehaving clients put codes, state and tokens there),
 *   never headers or bodies. Health probes, and the paths an app names as polled (the revocation
 *   feed) when answered below 400, log at debug; everything else at info.
 * - Latency goes to a histogram labelled by method, route template and status. The route is the
 *   matched template (`/interaction/:uid`), never the raw path, which would carry ids and make
 *   the label set unbounded. Long-lived event streams (a GET that opens one) are logged but not
 *   timed; a POST answered as a stream (an MCP response, MCP 2025-11-25 transports §Sending
 *   Messages) ends with its answer and is timed like any request.
 * - Timing ends when the response is closed, so it covers handlers that write the Node response
 *   themselves (`ctx.respond = false`, as the MCP transport does).
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Context, Next, ParameterizedContext } from 'koa';
import type { Histogram } from 'prom-client';
import { isEventStream } from './http-server.ts';
import { withoutRedaction, type Logger } from './logger.ts';

export interface ObserveRequestsOptions {
  logger: Logger;
  /** Request latency in seconds, labelled `method`, `route`, `status`. */
  requestDuration?: Histogram<'method' | 'route' | 'status'>;
  /**
   * Paths machines poll (the auth-server's revocation feed, read every 2 s by each resource
   * server): answered below 400 they log at debug, as health probes do, and each is its own route.
   */
  polledPaths?: readonly string[];
}

/** What observeRequests puts in `ctx.state`. */
export interface RequestIdState {
  requestId: string;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PROBE_PATHS = new Set(['/healthz', '/readyz']);
const MAX_LOGGED_PATH = 512;
const NONE: ReadonlySet<string> = new Set();

/** The route template a router matched, or a fixed placeholder: never the raw path. */
function routeOf(ctx: Context, path: string, status: number, polled: ReadonlySet<string>): string {
  const matched = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  if (PROBE_PATHS.has(path) || polled.has(path)) return path;
  return status === 404 ? '(unmatched)' : '(other)';
}

/** One request as `observeResponse` sees it, whoever routes it (Koa, or a plain Node handler). */
export interface ObservedRequest {
  method: string;
  path: string;
  /** The `X-Request-Id` the request came with, if any. */
  incomingId: string | undefined;
  /** The route template it is counted under, asked once the response has closed. */
  route(path: string, status: number): string;
}

/**
 * Gives the request its id (set as `X-Request-Id` on `res`), and once `res` closes logs its line
 * on `requestLog` and records its latency. Returns the id. For apps that answer some requests
 * without Koa (the resource server's MCP endpoint); observeRequests is this for Koa.
 */
export function observeResponse(res: ServerResponse, request: ObservedRequest, requestLog: Logger, requestDuration?: ObserveRequestsOptions['requestDuration'], polled: ReadonlySet<string> = NONE): string {
  return watchResponse(res, request.method, request.path, request.incomingId, request, routeOfRequest, requestLog, requestDuration, polled);
}

function routeOfRequest(request: ObservedRequest, path: string, status: number): string {
  return request.route(path, status);
}

/**
 * observeResponse with the request's parts as arguments, the route asked of `route(source, …)`:
 * the Koa middleware passes its context as `source`, so a request makes no object of ours
 * beyond the close listener, its line and the histogram's labels (the request object, the route
 * closure and the line's spread objects made per request cost about 0.5 µs together).
 */
function watchResponse<Source>(res: ServerResponse, method: string, fullPath: string, incomingId: string | undefined, source: Source, route: (source: Source, path: string, status: number) => string, requestLog: Logger, requestDuration: ObserveRequestsOptions['requestDuration'], polled: ReadonlySet<string>): string {
  const started = performance.now();
  const requestId = incomingId !== undefined && SANE_REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
  res.setHeader('X-Request-Id', requestId);
  // Capped: a client picks it.
  const path = fullPath.length > MAX_LOGGED_PATH ? fullPath.slice(0, MAX_LOGGED_PATH) : fullPath;

  // An arrow, not a named function: under tsx (npm start), esbuild's keepNames would define the
  // name of a named function expression again on every request (0.5 µs, measured).
  res.once('close', () => {
    const seconds = (performance.now() - started) / 1000;
    const status = res.headersSent ? res.statusCode : 0;
    const stream = isEventStream(res);
    const line: RequestLine = { requestId, method, path, status, ms: Math.round(seconds * 1000) };
    if (stream) line.stream = true;
    if (status === 0) line.aborted = true;
    if (PROBE_PATHS.has(path) || (polled.has(path) && status > 0 && status < 400)) requestLog.debug(line, 'request');
    else requestLog.info(line, 'request');
    if (requestDuration && !(stream && method === 'GET')) requestDuration.observe({ method, route: route(source, path, status), status: String(status) }, seconds);
  });
  return requestId;
}

/** The request line's fields, in the order they are written. */
interface RequestLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  stream?: true;
  aborted?: true;
}

export function observeRequests({ logger, requestDuration, polledPaths = [] }: ObserveRequestsOptions) {
  const polled: ReadonlySet<string> = new Set(polledPaths);
  // The line's fields are the fixed ones below, none a secret (logger.ts).
  const requestLog = withoutRedaction(logger);
  const koaRoute = (ctx: Context, path: string, status: number) => routeOf(ctx, path, status, polled);
  // Not async: nothing runs after next() (the line is logged when the response closes), and an
  // async frame per middleware cost about 1 µs a request (koa-compose microbenchmark).
  return function observeRequestsMiddleware(ctx: ParameterizedContext<RequestIdState>, next: Next): Promise<void> {
    // Read now: koa-mount rewrites ctx.path while a mounted app runs.
    ctx.state.requestId = watchResponse(ctx.res, ctx.method, ctx.path, ctx.get('x-request-id'), ctx as Context, koaRoute, requestLog, requestDuration, polled);
    return next();
  };
}
