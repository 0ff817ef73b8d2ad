/**
 * Builds one MCP server (one per session: the SDK binds a server to one transport) exposing every
 * tool in TOOL_TABLE.
 *
 * Around each handler:
 * - The caller comes from the verified access token the transport passes along (`authInfo`), never
 *   from tool arguments.
 * - The tool's scope is checked again. The HTTP layer already answers 403 for a missing scope so
 *   clients can step up; this keeps a tool closed even if a request reached it another way.
 * - Each call is recorded in the audit table with its outcome.
 * - Errors become MCP tool errors (`isError: true`, MCP 2025-11-25 server/tools §Error Handling),
 *   not transport failures. Only ToolError messages reach the caller; anything unexpected is logged
 *   and reported as a generic failure, so SQL or stack details never leave the server.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../../shared/logger.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import type { AuditStore, ToolCallOutcome } from '../storage/audit-store.ts';
import type { NoteStore } from '../storage/note-store.ts';
import { TOOL_TABLE, ToolError, type Caller, type ToolDefinition } from './tool-table.ts';

export interface McpServerDependencies {
  notes: NoteStore;
  audit: AuditStore;
  logger: Logger;
  /** Told the outcome of each tool call, as it is recorded (metrics). */
  onToolCall?: (tool: string, outcome: ToolCallOutcome) => void;
}

const SERVER_INFO = { name: 'gatehouse', title: 'Gatehouse MCP', version: '0.1.0' };
const INSTRUCTIONS = 'Private notes for the signed-in user (list_notes, get_note, create_note, delete_note), '
  + 'whoami to see which account and scopes this connection has, and recent_activity for administrators.';

export function createMcpServer(dependencies: McpServerDependencies): McpServer {
  const server = new McpServer(SERVER_INFO, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  for (const tool of TOOL_TABLE) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: `${tool.description} Needs the ${tool.scope} scope.`,
        inputSchema: tool.inputSchema,
        outputSchema: tool.outputSchema,
        annotations: tool.annotations,
      },
      (args, extra) => runTool(tool, args, extra.authInfo as VerifiedAccessToken | undefined, dependencies),
    );
  }
  return server;
}

function runTool(tool: ToolDefinition, args: unknown, token: VerifiedAccessToken | undefined, { notes, audit, logger, onToolCall }: McpServerDependencies): CallToolResult {
  if (!token) return toolError('This server only runs tools for an authenticated caller.');
  const caller: Caller = {
    subject: token.extra.subject,
    username: token.extra.username,
    clientId: token.clientId,
    scopes: token.scopes,
    expiresAt: token.expiresAt,
  };
  const record = (outcome: ToolCallOutcome) => {
    audit.record({ ...caller, tool: tool.name, outcome });
    onToolCall?.(tool.name, outcome);
  };

  if (!caller.scopes.includes(tool.scope)) {
    record('denied');
    return toolError(`${tool.name} needs the ${tool.scope} scope, which this access token does not have.`);
  }
  try {
    const output = tool.run(args as Parameters<ToolDefinition['run']>[0], { caller, notes, audit });
    record('ok');
    return { content: [{ type: 'text', text: JSON.stringify(output, null, 2) }], structuredContent: output };
  } catch (err) {
    record('error');
    if (err instanceof ToolError) return toolError(err.message);
    logger.error({ err, tool: tool.name }, 'tool failed');
    return toolError(`${tool.name} failed because of a problem on the server. Please try again later.`);
  }
}

function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
