/**
 * The names and codes of MCP's stateless revision (2026-07-28, SEP-2575 "Make MCP Stateless",
 * SEP-2243 "HTTP Standardization") that Gatehouse serves beside the session-based revisions the
 * MCP SDK 1.x implements. Taken from the published spec and schema:
 * modelcontextprotocol/modelcontextprotocol schema/2026-07-28/schema.ts and
 * docs/specification/2026-07-28/basic/{index,versioning}.mdx, transports/streamable-http.mdx.
 */
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';

/** The stateless revisions served here (versioning §Terminology: "modern"). */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];

/**
 * Every version this endpoint speaks, for `server/discover` and UnsupportedProtocolVersionError
 * `data.supported`: the stateless revision first, then the session-based ones the SDK negotiates.
 */
export const SUPPORTED_VERSIONS: readonly string[] = [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS];

/** Reserved `_meta` keys of a request (schema.ts RequestMetaObject; basic/index.mdx §_meta). */
export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  /** On results (ResultMetaObject). */
  serverInfo: 'io.modelcontextprotocol/serverInfo',
} as const;

/** basic/index.mdx §Error Codes: the sub-range -32020…-32099 is the spec's own. */
export const MCP_ERROR = {
  /** Headers disagree with the body, or a required header is missing or malformed (HTTP 400). */
  headerMismatch: -32020,
  /** The request's protocol version is not served here (HTTP 400, `data: { supported, requested }`). */
  unsupportedProtocolVersion: -32022,
} as const;

/** JSON-RPC 2.0 §5.1 codes used on this path. */
export const JSON_RPC_ERROR = {
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
} as const;

/**
 * transports/streamable-http.mdx §Standard Request Headers: which body field `Mcp-Name` mirrors,
 * per method ("Required For": tools/call, resources/read, prompts/get).
 */
export const MCP_NAME_SOURCE: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** Whether `version` names a stateless revision this endpoint serves. */
export function isModernVersion(version: string | undefined): boolean {
  return version !== undefined && MODERN_PROTOCOL_VERSIONS.includes(version);
}
