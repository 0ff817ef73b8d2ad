/**
 * The resource-server's Prometheus metrics. Created on every start, whether metrics are served
 * or not, so the code that counts never asks whether anyone listens.
 *
 * - Token verification failures by reason (see tokenFailureReason): the share of `expired` is
 *   normal client behaviour; `signature`, `unknown_key`, `issuer` or `audience` rising means
 *   misconfiguration or someone probing. `key_set_unavailable` is the JWKS being unreachable.
 * - Tool calls by server (`gatehouse` for the built-in tools), tool and outcome (`ok`, `error`,
 *   `denied`, `limited`): the same outcomes as the audit table, counted where they are recorded. `tool` is
 *   UNLISTED_TOOL for a name no list held and the config does not name (the audit keeps the
 *   name): callers choose names, and every label value is a series kept for the process's life.
 */
import { Counter, type Histogram } from 'prom-client';
import { createConnectionMetrics, type ConnectionMetrics } from '../../../shared/connections/connection-metrics.ts';
import { createRequestDuration, type Registry } from '../../../shared/metrics.ts';

/** The `tool` label of a call to a tool name the server never listed (a name a caller made up). */
export const UNLISTED_TOOL = '(unlisted)';

export interface ResourceServerMetrics {
  tokenVerificationFailures: Counter<'reason'>;
  toolCalls: Counter<'server' | 'tool' | 'outcome'>;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
  /** The connection flight recorder's failures and dropped events. */
  connections: ConnectionMetrics;
}

export function createResourceServerMetrics(registry: Registry): ResourceServerMetrics {
  const registers = [registry];
  return {
    tokenVerificationFailures: new Counter({
      name: 'gatehouse_token_verification_failures_total',
      help: 'Bearer tokens refused at the MCP endpoint, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    toolCalls: new Counter({
      name: 'gatehouse_mcp_tool_calls_total',
      help: 'MCP tool calls, by server, tool and outcome (ok, error, denied, limited).',
      labelNames: ['server', 'tool', 'outcome'] as const,
      registers,
    }),
    requestDuration: createRequestDuration(registry),
    connections: createConnectionMetrics(registry),
  };
}
