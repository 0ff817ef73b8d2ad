/**
 * Gatehouse's own tools (TOOL_TABLE) as the per-session MCP server lists and runs them: listed
 * with the JSON Schemas the MCP SDK's McpServer would derive from their zod shapes, arguments
 * validated with the same shapes, results as structured content plus its text.
 *
 * Around each run:
 * - The caller comes from the verified access token the transport passes along, never from
 *   tool arguments.
 * - The tool's scope is checked again. The HTTP layer already answers 403 for a missing scope so
 *   clients can step up; this keeps a tool closed even if a request reached it another way.
 * - Errors become MCP tool errors (`isError: true`, MCP 2025-11-25 server/tools §Error Handling),
 *   not transport failures. Only ToolError messages reach the caller; anything unexpected is logged
 *   and reported as a generic failure, so SQL or stack details never leave the server.
 */
import { getParseErrorMessage } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import { toJsonSchemaCompat } from '@modelcontextprotocol/sdk/server/zod-json-schema-compat.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import type { Logger } from '../../../shared/logger.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import type { AuditStore, ToolCallOutcome } from '../storage/audit-store.ts';
import type { NoteStore } from '../storage/note-store.ts';
import { TOOL_TABLE, ToolError, type Caller, type ToolDefinition } from './tool-table.ts';

/** The server name built-in tools are audited and counted under. */
export const BUILT_IN_SERVER = 'gatehouse';

export interface BuiltInToolDependencies {
  notes: NoteStore;
  audit: AuditStore;
  logger: Logger;
}

interface BuiltInTool {
  definition: Tool;
  input: z.ZodObject;
  table: ToolDefinition;
}

const BUILT_IN_TOOLS: ReadonlyMap<string, BuiltInTool> = new Map(TOOL_TABLE.map((tool) => {
  const input = z.object(tool.inputSchema);
  const definition: Tool = {
    name: tool.name,
    title: tool.title,
    description: `${tool.description} Needs the ${tool.scope} scope.`,
    inputSchema: toJsonSchemaCompat(input, { strictUnions: true, pipeStrategy: 'input' }) as Tool['inputSchema'],
    outputSchema: toJsonSchemaCompat(z.object(tool.outputSchema), { strictUnions: true, pipeStrategy: 'output' }) as Tool['outputSchema'],
    annotations: tool.annotations,
  };
  return [tool.name, { definition, input, table: tool }];
}));

export const BUILT_IN_TOOL_DEFINITIONS: readonly Tool[] = [...BUILT_IN_TOOLS.values()].map((tool) => tool.definition);

export function isBuiltInTool(name: string): boolean {
  return BUILT_IN_TOOLS.has(name);
}

export type RecordToolCall = (outcome: ToolCallOutcome) => void;

/** Runs built-in tool `name` for the token's caller; `record` is told the outcome. */
export async function callBuiltInTool(name: string, args: unknown, token: VerifiedAccessToken, record: RecordToolCall, { notes, audit, logger }: BuiltInToolDependencies): Promise<CallToolResult> {
  const tool = BUILT_IN_TOOLS.get(name)!;
  const caller: Caller = {
    subject: token.extra.subject,
    username: token.extra.username,
    service: token.extra.service,
    clientId: token.clientId,
    scopes: token.scopes,
    expiresAt: token.expiresAt,
  };
  if (!caller.scopes.includes(tool.table.scope)) {
    record('denied');
    return toolError(`${name} needs the ${tool.table.scope} scope, which this access token does not have.`);
  }
  const parsed = tool.input.safeParse(args ?? {});
  if (!parsed.success) {
    record('error');
    return toolError(`Input validation error: Invalid arguments for tool ${name}: ${getParseErrorMessage(parsed.error)}`);
  }
  try {
    const output = await tool.table.run(parsed.data as Parameters<ToolDefinition['run']>[0], { caller, notes, audit });
    record('ok');
    return { content: [{ type: 'text', text: JSON.stringify(output, null, 2) }], structuredContent: output };
  } catch (err) {
    record('error');
    if (err instanceof ToolError) return toolError(err.message);
    logger.error({ err, tool: name }, 'tool failed');
    return toolError(`${name} failed because of a problem on the server. Please try again later.`);
  }
}

export function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
