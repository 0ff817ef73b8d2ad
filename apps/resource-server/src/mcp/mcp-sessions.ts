/**
 * The open MCP sessions (Streamable HTTP, MCP 2025-11-25 transports §Session Management), each a
 * transport and its MCP server, bound to the token subject that initialized it.
 *
 * - Session ids are random UUIDs from the CSPRNG, issued by the SDK transport on `initialize`.
 * - A session answers only its own subject: looked up with another user's token it does not exist
 *   (404, which the spec reserves for "start a new session"), so a leaked session id is useless
 *   without that user's token (MCP 2025-11-25 security best practices §Session Hijacking: bind
 *   the session to the user, never use it for authentication).
 * - Bounded: a session idle for `idleTtlMs` is closed (by a sweep, or when it is next asked for,
 *   whichever comes first, so the timeout holds to the request and not to the sweep); beyond `maxSessions` in all, or
 *   `maxSessionsPerSubject` for one user, the least recently used one is closed, so one user
 *   opening sessions in a loop only ever evicts their own.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Clock } from '../../../shared/clock.ts';
import type { Logger } from '../../../shared/logger.ts';

export interface McpSession {
  readonly id: string;
  readonly subject: string;
  readonly transport: StreamableHTTPServerTransport;
  readonly server: Server;
  /** Epoch ms of its last request. */
  lastUsed: number;
}

export interface McpSessionsOptions {
  /** A fresh MCP server for a session of `subject`. */
  createServer: (subject: string) => Server;
  /** Milliseconds without a request after which a session is closed. */
  idleTtlMs: number;
  maxSessions: number;
  maxSessionsPerSubject: number;
  logger: Logger;
  /** Idle time is counted on it; the sweep itself runs on a real timer. */
  clock: Clock;
}

export class McpSessions {
  /** Insertion order is recency order: `find` moves a session to the end. */
  readonly #sessions = new Map<string, McpSession>();
  readonly #perSubject = new Map<string, number>();
  readonly #options: McpSessionsOptions;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: McpSessionsOptions) {
    this.#options = options;
    this.#sweeper = setInterval(() => this.closeIdle(), Math.min(60_000, options.idleTtlMs)).unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** The session `id` if it exists and belongs to `subject`; marks it used. */
  find(id: string, subject: string): McpSession | undefined {
    const session = this.#sessions.get(id);
    if (!session || session.subject !== subject) return undefined;
    const now = this.#options.clock.now();
    if (now - session.lastUsed >= this.#options.idleTtlMs) {
      this.#close(session, 'idle');
      return undefined;
    }
    this.#sessions.delete(id);
    session.lastUsed = now;
    this.#sessions.set(id, session);
    return session;
  }

  /**
   * A fresh transport and server for a request that carries no session id. If the request is an
   * `initialize`, the transport issues a session id and the session is registered for `subject`;
   * otherwise the transport answers 400 and the caller must `discard` it.
   */
  async start(subject: string): Promise<{ transport: StreamableHTTPServerTransport; discard: () => Promise<void> }> {
    const server = this.#options.createServer(subject);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id): void => this.#register({ id, subject, transport, server, lastUsed: this.#options.clock.now() }),
    });
    transport.onerror = (err) => this.#options.logger.debug({ reason: err.message }, 'mcp transport refused a request');
    transport.onclose = () => {
      if (transport.sessionId) this.#forget(transport.sessionId);
    };
    await server.connect(transport);
    return {
      transport,
      discard: async () => {
        if (!transport.sessionId) await server.close();
      },
    };
  }

  closeIdle(now = this.#options.clock.now()): void {
    for (const session of this.#sessions.values()) {
      if (now - session.lastUsed < this.#options.idleTtlMs) break;
      this.#close(session, 'idle');
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#sessions.values()].map((session) => session.server.close()));
    this.#sessions.clear();
    this.#perSubject.clear();
  }

  #register(session: McpSession): void {
    this.#sessions.set(session.id, session);
    const count = (this.#perSubject.get(session.subject) ?? 0) + 1;
    this.#perSubject.set(session.subject, count);
    if (count > this.#options.maxSessionsPerSubject) {
      const oldest = [...this.#sessions.values()].find((s) => s.subject === session.subject && s !== session);
      if (oldest) this.#close(oldest, 'per-user limit');
    }
    if (this.#sessions.size > this.#options.maxSessions) {
      const oldest = this.#sessions.values().next().value;
      if (oldest && oldest !== session) this.#close(oldest, 'session limit');
    }
  }

  #close(session: McpSession, reason: string): void {
    this.#forget(session.id);
    this.#options.logger.debug({ session: session.id, reason }, 'mcp session closed');
    session.server.close().catch((err: unknown) => this.#options.logger.warn({ err }, 'closing an mcp session failed'));
  }

  #forget(id: string): void {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    const count = (this.#perSubject.get(session.subject) ?? 1) - 1;
    if (count > 0) this.#perSubject.set(session.subject, count);
    else this.#perSubject.delete(session.subject);
  }
}
