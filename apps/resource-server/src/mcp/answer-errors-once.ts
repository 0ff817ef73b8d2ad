/**
 * Makes `server` answer every JSON-RPC error with its message as an MCP SDK client is to read it:
 * without the `MCP error <code>: ` the SDK's McpError puts before it, which the client adds itself
 * (gateway/mcp-error-text.ts). The code and data are sent as they are.
 *
 * Why on the way out and not in our handlers: some of the SDK's McpErrors are thrown where no
 * handler of ours can catch them. SDK 1.32's Server checks a `tools/call` against its request
 * schema (and the result against the result schema) around the handler it is given
 * (server/index.js `setRequestHandler`), and its Protocol answers any error with its message as it
 * is (shared/protocol.js `_onrequest`): a tools/call without a `name` read `MCP error -32602: MCP
 * error -32602: Invalid tools/call request: …`. Every answer leaves through the transport's
 * `send`, which is wrapped when the server connects (Protocol.connect sets the transport's
 * callbacks the same way); messages other than error answers pass as they are.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { isJSONRPCErrorResponse } from '@modelcontextprotocol/sdk/types.js';
import { mcpErrorText } from '../gateway/mcp-error-text.ts';

export function answerErrorsOnce(server: Server): Server {
  const connect = server.connect.bind(server);
  server.connect = async (transport) => {
    const send = transport.send.bind(transport);
    transport.send = async (message, options) => send(isJSONRPCErrorResponse(message)
      ? { ...message, error: { ...message.error, message: mcpErrorText(message.error) } }
      : message, options);
    return connect(transport);
  };
  return server;
}
