/**
 * The MCP sessions (Streamable HTTP, MCP 2025-11-25 transports §Session Management), each a
 * transport and its MCP server, bound to the token subject that initialized it.
 *
 * - The database (storage/mcp-session-store.ts) says which sessions exist; this process keeps the
 *   transports and servers of the sessions it has served, as a cache checked against the database
 *   on every request (on SQLite against the store's exact copy of its rows, see there). So a session opened on one replica continues on any other (no sticky
 *   sessions) and after a restart: a replica that does not hold it rebuilds its server by
 *   replaying the client's stored initialize (replay-initialize.ts). DELETE, a limit or the idle
 *   timeout on one replica ends the session on all of them from their next request on.
 * - Session ids are random UUIDs from the CSPRNG. The row is committed before the initialize
 *   answer carrying its id goes out, so every replica knows a session its client was handed.
 * - A session answers only its own subject: looked up with another user's token it does not exist
 *   (404, which the spec reserves for "start a new session"), so a leaked session id is useless
 *   without that user's token (MCP 2025-11-25 security best practices §Session Hijacking: bind
 *   the session to the user, never use it for authentication).
 * - Bounded, across replicas: a session idle for `idleTtlMs` is over (checked at its next request,
 *   so the timeout holds to the request, and swept); beyond `maxSessions` in all, or
 *   `maxSessionsPerSubject` for one user, the least recently used one is ended, so one user
 *   opening sessions in a loop only ever evicts their own.
 * - What does not move: a server-to-client stream (GET) and a request in progress belong to the
 *   replica holding their connection. When a client's next request lands elsewhere, the stream's
 *   undelivered notifications and the progress of a call still running there are lost (the call
 *   itself completes and answers on its own connection); the client reopens its GET stream on
 *   whichever replica it reaches.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Clock } from '../../../shared/clock.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { InitializeParams, McpSessionRecord, McpSessionStore } from '../storage/mcp-session-store.ts';
import { replayInitialize } from './replay-initialize.ts';

export interface McpSession {
  readonly id: string;
  readonly subject: string;
  readonly transport: StreamableHTTPServerTransport;
  readonly server: Server;
  /** The protocol version negotiated at initialize: its revision's rules hold for the session. */
  readonly protocolVersion: string;
  /** Epoch ms of its last request here. */
  lastUsed: number;
}

export interface McpSessionsOptions {
  /** A fresh MCP server for a session of `subject`. */
  createServer: (subject: string) => Server;
  store: McpSessionStore;
  /** Milliseconds without a request after which a session is over. */
  idleTtlMs: number;
  maxSessions: number;
  maxSessionsPerSubject: number;
  logger: Logger;
  /** Idle time is counted on it; the sweep itself runs on a real timer. */
  clock: Clock;
}

export class McpSessions {
  /** The sessions held here. Insertion order is recency order: `find` moves a session to the end. */
  readonly #sessions = new Map<string, McpSession>();
  /** Sessions being rebuilt here, so two requests arriving together rebuild one server. */
  readonly #rebuilding = new Map<string, Promise<McpSession | undefined>>();
  readonly #options: McpSessionsOptions;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: McpSessionsOptions) {
    this.#options = options;
    this.#sweeper = setInterval(() => this.closeIdle(), Math.min(60_000, options.idleTtlMs)).unref();
  }

  /** How many sessions this process holds. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * The session `id` if it exists and belongs to `subject`, marked used; rebuilt here if another
   * replica (or an earlier run of this one) opened it.
   */
  async find(id: string, subject: string): Promise<McpSession | undefined> {
    const held = this.#sessions.get(id);
    // The subject never changes: another user's request needs no database to be refused.
    if (held && held.subject !== subject) return undefined;
    const now = this.#options.clock.now();
    const idleSince = now - this.#options.idleTtlMs;
    // A held session needs only to be still open; one to rebuild needs its record.
    const record = held ? await this.#options.store.stillOpen(id, subject, idleSince, now) : await this.#options.store.touch(id, subject, idleSince, now);
    const current = this.#sessions.get(id);
    if (!record) {
      // Ended for this subject: close its copy here. A session held for another subject (rebuilt
      // by its owner's request while this one awaited the store) is not this request's to close.
      if (current?.subject === subject) this.#closeHere(current, 'ended');
      return undefined;
    }
    if (current) {
      this.#sessions.delete(id);
      current.lastUsed = now;
      this.#sessions.set(id, current);
      return current;
    }
    // Let go of here while it was checked: rebuilt from its record.
    if (record === true) return this.find(id, subject);
    return this.#rebuild(record);
  }

  /**
   * A fresh transport and server for a request that carries no session id. If the request is an
   * `initialize`, the session is recorded for `subject` first and the transport then issues its
   * id; otherwise the transport answers 400. The caller must `discard` it after the request: that
   * ends a session the transport refused to open.
   */
  async start(subject: string, body: unknown): Promise<{ transport: StreamableHTTPServerTransport; discard: () => Promise<void> }> {
    const params = initializeParamsOf(body);
    const id = params && randomUUID();
    const protocolVersion = params ? negotiatedVersion(params) : LATEST_PROTOCOL_VERSION;
    if (id && params) {
      const { store, clock, maxSessions, maxSessionsPerSubject } = this.#options;
      const ended = await store.open({ id, subject, protocolVersion, initializeParams: params }, { maxSessions, maxSessionsPerSubject }, clock.now());
      for (const endedId of ended) {
        const session = this.#sessions.get(endedId);
        if (session) this.#closeHere(session, 'limit');
      }
    }
    const server = this.#options.createServer(subject);
    const transport = this.#transport(() => {
      // Matches the SDK: it opens a session only for a lone initialize, which is what `id` needs.
      if (!id) throw new Error('a session opens only on a lone initialize request');
      return id;
    }, (sessionId) => this.#hold({ id: sessionId, subject, transport, server, protocolVersion, lastUsed: this.#options.clock.now() }));
    await server.connect(transport);
    return {
      transport,
      discard: async () => {
        if (transport.sessionId) return;
        await server.close();
        if (id) await this.#options.store.end(id);
      },
    };
  }

  /** Lets go of the sessions idle here, and ends every session idle everywhere. */
  closeIdle(now = this.#options.clock.now()): void {
    for (const session of this.#sessions.values()) {
      if (now - session.lastUsed < this.#options.idleTtlMs) break;
      this.#closeHere(session, 'idle here');
    }
    this.#options.store.endIdle(now - this.#options.idleTtlMs)
      .catch((err: unknown) => this.#options.logger.warn({ err }, 'ending idle mcp sessions failed'));
  }

  /**
   * Closes every session held here (shutdown). Their records stay: other replicas, or this one
   * after a restart, continue them.
   */
  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.allSettled(this.#rebuilding.values());
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((session) => session.server.close()));
  }

  #transport(sessionIdGenerator: () => string, onsessioninitialized: (id: string) => void): StreamableHTTPServerTransport {
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator,
      onsessioninitialized,
      // DELETE (MCP 2025-11-25 transports §Session Management): ended for every replica before the 200.
      onsessionclosed: async (id) => {
        await this.#options.store.end(id);
      },
    });
    transport.onerror = (err) => this.#options.logger.debug({ reason: err.message }, 'mcp transport refused a request');
    transport.onclose = () => {
      if (transport.sessionId) this.#forget(transport.sessionId, transport);
    };
    return transport;
  }

  #rebuild(record: McpSessionRecord): Promise<McpSession | undefined> {
    let rebuilt = this.#rebuilding.get(record.id);
    if (!rebuilt) {
      rebuilt = this.#replay(record).finally(() => this.#rebuilding.delete(record.id));
      this.#rebuilding.set(record.id, rebuilt);
    }
    return rebuilt;
  }

  async #replay(record: McpSessionRecord): Promise<McpSession | undefined> {
    const server = this.#options.createServer(record.subject);
    const transport = this.#transport(() => record.id, () => {});
    try {
      await server.connect(transport);
      await replayInitialize(transport, record);
    } catch (err) {
      // The client is told the session is gone (404) and starts a new one.
      this.#options.logger.error({ err, session: record.id }, 'could not rebuild an mcp session opened elsewhere');
      await server.close().catch(() => {});
      return undefined;
    }
    const session = { id: record.id, subject: record.subject, transport, server, protocolVersion: record.protocolVersion, lastUsed: this.#options.clock.now() };
    this.#hold(session);
    this.#options.logger.debug({ session: record.id }, 'mcp session rebuilt here');
    return session;
  }

  /** Keeps `session` here; beyond `maxSessions` held, lets go of the least recently used one. */
  #hold(session: McpSession): void {
    this.#sessions.set(session.id, session);
    if (this.#sessions.size > this.#options.maxSessions) {
      const oldest = this.#sessions.values().next().value;
      if (oldest && oldest !== session) this.#closeHere(oldest, 'held sessions limit');
    }
  }

  /** Closes this process's transport and server of `session`; its record is not touched. */
  #closeHere(session: McpSession, reason: string): void {
    this.#forget(session.id, session.transport);
    this.#options.logger.debug({ session: session.id, reason }, 'mcp session closed here');
    session.server.close().catch((err: unknown) => this.#options.logger.warn({ err }, 'closing an mcp session failed'));
  }

  #forget(id: string, transport: StreamableHTTPServerTransport): void {
    if (this.#sessions.get(id)?.transport === transport) this.#sessions.delete(id);
  }
}

/** The params of a lone `initialize` request (as the SDK transport accepts one), else undefined. */
function initializeParamsOf(body: unknown): InitializeParams | undefined {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  if (messages.length !== 1 || !isInitializeRequest(messages[0])) return undefined;
  return messages[0].params;
}

/** The version the SDK's server answers initialize with (Server._oninitialize). */
function negotiatedVersion(params: InitializeParams): string {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(params.protocolVersion) ? params.protocolVersion : LATEST_PROTOCOL_VERSION;
}
