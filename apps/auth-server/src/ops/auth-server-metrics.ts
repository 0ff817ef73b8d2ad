/**
 * The auth-server's Prometheus metrics. Created on every start, whether metrics are served or
 * not (a counter costs one number), so the code that counts never asks whether anyone listens.
 *
 * Sign-in results:
 * - password: `success`, `failure` (unknown user, wrong password, disabled account: one result,
 *   as the page shows one message), `locked` (refused by the sign-in throttle);
 * - federated: `success`, `refused` (the upstream identity may not sign in here), `error` (the
 *   upstream could not be reached or its answer could not be verified).
 */
import { Counter, type Histogram } from 'prom-client';
import { createConnectionMetrics, type ConnectionMetrics } from '../../../shared/connections/connection-metrics.ts';
import { createRequestDuration, type Registry } from '../../../shared/metrics.ts';

export type SignInMethod = 'password' | 'federated';
export type SignInResult = 'success' | 'failure' | 'locked' | 'refused' | 'error';

export interface AuthServerMetrics {
  signIns: Counter<'method' | 'result'>;
  tokensIssued: Counter<'grant_type'>;
  refreshTokenReuse: Counter;
  registrations: Counter<'result'>;
  rateLimited: Counter<'limit'>;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
  /** The connection flight recorder's failures and dropped events. */
  connections: ConnectionMetrics;
}

export function createAuthServerMetrics(registry: Registry): AuthServerMetrics {
  const registers = [registry];
  return {
    signIns: new Counter({
      name: 'gatehouse_sign_ins_total',
      help: 'Sign-in attempts on the sign-in page, by method (password, federated) and result.',
      labelNames: ['method', 'result'] as const,
      registers,
    }),
    tokensIssued: new Counter({
      name: 'gatehouse_tokens_issued_total',
      help: 'Successful token endpoint responses, by grant type.',
      labelNames: ['grant_type'] as const,
      registers,
    }),
    refreshTokenReuse: new Counter({
      name: 'gatehouse_refresh_token_reuse_total',
      help: 'Rotated refresh tokens presented again; each one revoked its whole grant.',
      registers,
    }),
    registrations: new Counter({
      name: 'gatehouse_client_registrations_total',
      help: 'Dynamic Client Registration requests, by result (created, refused).',
      labelNames: ['result'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'gatehouse_rate_limited_total',
      help: 'Requests refused with 429, by limit (registration, token, sign_in, pending_registrations).',
      labelNames: ['limit'] as const,
      registers,
    }),
    requestDuration: createRequestDuration(registry),
    connections: createConnectionMetrics(registry),
  };
}
