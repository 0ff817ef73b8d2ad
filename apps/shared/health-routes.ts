/**
 * `GET /healthz` and `GET /readyz`, for load balancers, orchestrators and `docker compose`.
 *
 * - `/healthz` (liveness): 200 while the process can answer HTTP at all. It checks nothing else,
 *   so a restart is never triggered by a dependency that a restart would not fix.
 * - `/readyz` (readiness): runs every check; 200 when all pass, 503 naming the checks that
 *   failed. Each check is bounded by `checkTimeoutMs`. The body never carries the error (a 5xx
 *   body never carries `err.message`); the failure is logged at warn instead.
 * - Both answer `Cache-Control: no-store`, so no cache in front can report a stale state.
 */
import type { Context, Next } from 'koa';
import type { Logger } from './logger.ts';

/** Resolves when the dependency is usable; throws (or rejects) when it is not. */
export type ReadinessCheck = () => unknown;

export interface HealthRoutesOptions {
  checks: Record<string, ReadinessCheck>;
  logger: Logger;
  /** Longest a single check may take, in milliseconds. Default is 3000. */
  checkTimeoutMs?: number;
  /** Facts reported beside the checks in /readyz that do not decide readiness. */
  details?: () => Record<string, unknown>;
}

/**
 * What a failed check's error was caused by, as `code: message` ("ECONNREFUSED: connect
 * ECONNREFUSED 127.0.0.1:4000"): fetch rejects with "fetch failed" and puts what failed in
 * `cause`. An AggregateError (each address of a host refused) says it in its errors.
 */
function causeOf(err: unknown): string | undefined {
  const cause = err instanceof Error ? err.cause : undefined;
  if (!(cause instanceof Error)) return undefined;
  const code = (cause as { code?: unknown }).code;
  const message = cause.message || (cause instanceof AggregateError ? cause.errors.map((e: unknown) => (e as Error).message).join('; ') : '');
  return [typeof code === 'string' ? code : '', message].filter(Boolean).join(': ') || cause.name;
}

export function healthRoutes({ checks, logger, checkTimeoutMs = 3000, details }: HealthRoutesOptions) {
  async function run(name: string, check: ReadinessCheck): Promise<'ok' | 'failed'> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(check),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${checkTimeoutMs} ms`)), checkTimeoutMs);
        }),
      ]);
      return 'ok';
    } catch (err) {
      const cause = causeOf(err);
      logger.warn({ check: name, reason: (err as Error).message, ...(cause ? { cause } : {}) }, 'readiness check failed');
      return 'failed';
    } finally {
      clearTimeout(timer);
    }
  }

  return async function healthRoutesMiddleware(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/healthz') {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path !== '/readyz') return next();
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => run(name, checks[name]!)));
    const ready = results.every((result) => result === 'ok');
    ctx.set('Cache-Control', 'no-store');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(names.map((name, i) => [name, results[i]])), ...details?.() };
  };
}
