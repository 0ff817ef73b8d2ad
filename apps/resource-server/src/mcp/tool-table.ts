/**
 * Gatehouse's own (built-in) MCP tools, with the one scope each needs: the single place that says
 * which scope opens which built-in tool (a tool of a server behind the gateway takes its scope
 * from that server's configured `scopes`, gateway.ts). The HTTP layer reads it to answer
 * `403 insufficient_scope` before a call reaches the MCP server (so clients can step up), and the
 * MCP server reads it again around each handler.
 *
 * A handler throws ToolError for an outcome the caller should read (a missing note); anything
 * else it throws is reported to the caller as a generic failure and logged.
 */
import * as z from 'zod';
import type { McpScope } from '../../../shared/mcp-scopes.ts';
import { NulCharacterError } from '../../../shared/storage/nul-character-error.ts';
import { LIMITS } from '../gateway/upstream-errors.ts';
import type { AuditStore } from '../storage/audit-store.ts';
import { MAX_NOTES_PER_USER, NoteLimitReachedError, type NoteStore } from '../storage/note-store.ts';

export type { McpScope };

/** Who is calling, as the access token says. */
export interface Caller {
  subject: string;
  username?: string;
  /** A service account's name (client credentials): no user, `subject` is its client id. */
  service?: string;
  clientId: string;
  scopes: readonly string[];
  /** Token `exp`, in seconds since the epoch. */
  expiresAt: number;
}

export interface ToolContext {
  caller: Caller;
  notes: NoteStore;
  audit: AuditStore;
}

/** A failure whose message is meant for the caller. */
export class ToolError extends Error {
  override name = 'ToolError';
}

interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface ToolDefinition<Input extends z.ZodRawShape = z.ZodRawShape, Output extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  scope: McpScope;
  title: string;
  description: string;
  inputSchema: Input;
  outputSchema: Output;
  annotations: ToolAnnotations;
  run(args: z.infer<z.ZodObject<Input>>, context: ToolContext): z.infer<z.ZodObject<Output>> | Promise<z.infer<z.ZodObject<Output>>>;
}

function defineTool<Input extends z.ZodRawShape, Output extends z.ZodRawShape>(tool: ToolDefinition<Input, Output>): ToolDefinition {
  return tool as unknown as ToolDefinition;
}

const noteId = z.uuid({ error: 'expected a note id as returned by list_notes or create_note' })
  .describe('The note id, as returned by list_notes or create_note.');
const noteSummary = { id: z.string(), title: z.string(), created_at: z.string().describe('ISO 8601 time') };

const whoami = defineTool({
  name: 'whoami',
  scope: 'mcp:read',
  title: 'Who am I',
  description: 'Shows who this connection acts for, as its access token says: the user (subject and username) or the service account, the app (client id), the granted scopes and when the token expires.',
  inputSchema: {},
  outputSchema: {
    kind: z.literal('service').optional().describe('present for a service account (client credentials): no user'),
    acts_for: z.string().optional().describe('for a service account: "service <name> (client_id <id>)"'),
    subject: z.string(),
    service: z.string().optional(),
    username: z.string().optional(),
    client_id: z.string(),
    scopes: z.array(z.string()),
    expires_at: z.string().describe('ISO 8601 time'),
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
  run(_args, { caller }) {
    return {
      ...(caller.service ? { kind: 'service' as const, acts_for: `service ${caller.service} (client_id ${caller.clientId})` } : {}),
      subject: caller.subject,
      ...(caller.service ? { service: caller.service } : {}),
      ...(caller.username ? { username: caller.username } : {}),
      client_id: caller.clientId,
      scopes: [...caller.scopes],
      expires_at: new Date(caller.expiresAt * 1000).toISOString(),
    };
  },
});

const listNotes = defineTool({
  name: 'list_notes',
  scope: 'mcp:read',
  title: 'List my notes',
  description: 'Lists your notes, newest first (id, title and creation time; use get_note for the text). Notes are private: only you can see them.',
  inputSchema: {
    limit: z.number().int().min(1).max(100).default(20).describe('How many notes to return, 1 to 100 (default 20).'),
  },
  outputSchema: { notes: z.array(z.object(noteSummary)) },
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run({ limit }, { caller, notes }) {
    return { notes: await notes.list(caller.subject, limit) };
  },
});

const getNote = defineTool({
  name: 'get_note',
  scope: 'mcp:read',
  title: 'Read a note',
  description: 'Returns one of your notes in full: title, text and creation time.',
  inputSchema: { id: noteId },
  outputSchema: { ...noteSummary, body: z.string() },
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run({ id }, { caller, notes }) {
    const note = await notes.get(caller.subject, id);
    if (!note) throw new ToolError(`You have no note with id ${id}.`);
    return note;
  },
});

const createNote = defineTool({
  name: 'create_note',
  scope: 'mcp:write',
  title: 'Create a note',
  description: `Saves a new private note with a title and text, and returns its id. You can keep up to ${MAX_NOTES_PER_USER} notes.`,
  inputSchema: {
    title: z.string().trim().min(1).max(200).describe('A short title, 1 to 200 characters.'),
    body: z.string().max(20_000).default('').describe('The note text, up to 20000 characters.'),
  },
  outputSchema: noteSummary,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run({ title, body }, { caller, notes }) {
    try {
      const { id, created_at } = await notes.create(caller.subject, title, body);
      return { id, title, created_at };
    } catch (err) {
      if (err instanceof NoteLimitReachedError) throw new ToolError(`Cannot create the note: ${err.message}.`);
      // PostgreSQL text cannot hold U+0000 (SQLite can): the caller's input, not a server fault.
      if (err instanceof NulCharacterError) throw new ToolError('Cannot create the note: its title and text cannot contain a NUL character (U+0000).');
      throw err;
    }
  },
});

const deleteNote = defineTool({
  name: 'delete_note',
  scope: 'mcp:write',
  title: 'Delete a note',
  description: 'Deletes one of your notes for good.',
  inputSchema: { id: noteId },
  outputSchema: { deleted: z.string().describe('The id of the deleted note.') },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async run({ id }, { caller, notes }) {
    if (!await notes.delete(caller.subject, id)) throw new ToolError(`You have no note with id ${id}.`);
    return { deleted: id };
  },
});

const recentActivity = defineTool({
  name: 'recent_activity',
  scope: 'mcp:admin',
  title: 'Recent tool activity',
  description: 'For administrators: the most recent tool calls on this server, newest first, with who made each (user or service account, and app), which tool, its outcome (ok, error, denied for lack of scope, or limited: refused unsent for want of room, the caller having its most calls in progress at that server or no process of it being startable for them now, so a retry may pass later; limited_by then names the limit) and when.',
  inputSchema: {
    limit: z.number().int().min(1).max(200).default(50).describe('How many calls to return, 1 to 200 (default 50).'),
  },
  outputSchema: {
    calls: z.array(z.object({
      at: z.string().describe('ISO 8601 time'),
      subject: z.string(),
      username: z.string().nullable(),
      service: z.string().nullable().describe('the service account\'s name when no user made the call'),
      client_id: z.string(),
      tool: z.string(),
      outcome: z.enum(['ok', 'error', 'denied', 'limited']),
      // A string, not an enum of today's limits: a newer replica sharing the database may record one this one does not know.
      limited_by: z.string().nullable().describe(`for a limited call, the limit that refused it: ${LIMITS.join(', ')} (max_calls_per_caller: its calls in progress at that server; the others: resource_server.max_processes and resource_server.max_processes_per_user)`),
    })),
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run({ limit }, { audit }) {
    return { calls: await audit.recent(limit) };
  },
});

export const TOOL_TABLE: readonly ToolDefinition[] = [whoami, listNotes, getNote, createNote, deleteNote, recentActivity];

/** The scope each tool needs, by tool name. */
export const TOOL_SCOPES: ReadonlyMap<string, McpScope> = new Map(TOOL_TABLE.map((tool) => [tool.name, tool.scope]));

/** The least a client should ask for at first: enough for every read-only tool. */
export const BASELINE_SCOPES: readonly McpScope[] = ['mcp:read'];
