/**
 * What the gateway needs from each configured MCP server, whatever its kind: a connection for a
 * caller, the end of a caller's session, and its state for /readyz and the admin pages.
 */
import type { GatewayServerConfig } from '../../../shared/config/gateway-servers.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import type { UpstreamConnection } from './upstream-connection.ts';

export type UpstreamState = 'starting' | 'ready' | 'down' | 'idle';

export interface UpstreamStatus {
  name: string;
  transport: 'stdio' | 'http';
  perUser: boolean;
  state: UpstreamState;
  /** Why it is down, in words. */
  reason?: string;
  /** Running processes (stdio only). */
  processes?: number;
}

/** Who a connection is for: the caller's MCP session (the gateway's key for it) and token. */
export interface CallContext {
  sessionKey: string;
  caller: VerifiedAccessToken;
}

/** Which sessions a list change concerns: every one, one user's, or one session's. */
export type ListChangeAudience = { all: true } | { subject: string } | { sessionKey: string };

export type ListChangeListener = (kind: 'tools' | 'prompts' | 'resources', audience: ListChangeAudience) => void;

export interface Upstream {
  readonly config: GatewayServerConfig;
  /** Starts what runs before any call (a shared process; a reachability probe). */
  start(): void;
  /** A connection for this caller; throws UpstreamUnavailableError or ProcessLimitError. */
  connectionFor(context: CallContext): Promise<UpstreamConnection>;
  /** The caller's MCP session ended: close what was opened for it alone. */
  endSession(sessionKey: string): Promise<void>;
  status(): UpstreamStatus;
  close(): Promise<void>;
}

/** The scopes this server's configuration mentions: the most of a caller's scopes it may see. */
export function scopesServerMaySee(config: GatewayServerConfig, callerScopes: readonly string[]): string[] {
  const mentioned = new Set<string>([config.scopes.default, ...Object.values(config.scopes.tools)]);
  return callerScopes.filter((scope) => mentioned.has(scope));
}
