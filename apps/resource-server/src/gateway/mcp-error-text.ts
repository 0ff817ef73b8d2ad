/**
 * What an MCP error says, without the `MCP error <code>: ` the MCP SDK puts before it.
 *
 * The SDK's McpError writes that prefix into its `message`, its Protocol sends the message as it
 * is (so the prefix goes on the wire), and the SDK client's McpError adds the prefix again to what
 * it reads: an error thrown by an SDK server reads `MCP error -32602: MCP error -32602: Tool x not
 * found` to an SDK client. Relayed by the gateway it gains one more. Only a leading prefix naming
 * the error's own code is taken off (as often as it is there): an upstream's words after it,
 * another code's prefix included, are kept. Takes an McpError or a JSON-RPC error object.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';

export function mcpErrorText(err: { code: number; message: string }): string {
  const prefix = `MCP error ${err.code}: `;
  let text = err.message;
  while (text.startsWith(prefix)) text = text.slice(prefix.length);
  return text;
}

/**
 * `err` as the error a request is answered with: the SDK sends its `code`, `message` and `data`
 * (shared/protocol.js `_onrequest`), and the message without the prefix reads it once at the
 * client. Still an McpError, with its code and data.
 */
export function answerableMcpError(err: McpError): McpError {
  const answered = new McpError(err.code, '', err.data);
  answered.message = mcpErrorText(err);
  return answered;
}
