/**
 * Registers a request handler on an MCP SDK `Server` for the method of `schema` (one of the SDK's
 * request schemas), answering a request whose params the schema refuses with JSON-RPC `-32602
 * Invalid params` (JSON-RPC 2.0 §5.1: "Invalid method parameter(s)") naming the first member that
 * is wrong, e.g. `Invalid params: params.cursor: Invalid input: expected string, received object`.
 *
 * Why: SDK 1.32's `Protocol.setRequestHandler` parses the request with the schema before the
 * handler runs and lets the ZodError through, and its error answer turns that into `-32603
 * Internal error` with zod's issue list as the message: the client's mistake reported as the
 * server's. So the SDK is given a schema that checks only the method, and the full parse is done
 * here, before `handler`. (For `tools/call` the SDK's `Server` also checks the request itself,
 * first, and already answers `-32602`, with its own wording.)
 *
 * The SDK's `MCP error <code>: ` prefix comes off the errors thrown here, and off every other error
 * the server answers, as they leave (answer-errors-once.ts).
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ErrorCode, McpError, type ServerNotification, type ServerRequest, type ServerResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** An SDK request schema: an object whose `method` is a string literal. */
type RequestSchema = z.ZodObject<{ method: z.ZodLiteral<string> }>;

export function registerRequestHandler<T extends RequestSchema>(
  server: Server,
  schema: T,
  handler: (request: z.output<T>, extra: Extra) => ServerResult | Promise<ServerResult>,
): void {
  const method = schema.shape.method.value;
  server.setRequestHandler(z.looseObject({ method: z.literal(method) }), async (request, extra) => {
    const parsed = schema.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new McpError(ErrorCode.InvalidParams, `Invalid params: ${issue.path.map(String).join('.')}: ${issue.message}`);
    }
    return handler(parsed.data, extra);
  });
}
