/**
 * Tells the two eras of Streamable HTTP apart on the one MCP endpoint, and checks the request
 * metadata headers MCP 2026-07-28 mirrors from the body, after the body is read and before the
 * scope check (so the scope check and the tool see the same, validated name).
 *
 * - Stateless (2026-07-28, SEP-2575): a request whose `params._meta` carries
 *   `io.modelcontextprotocol/protocolVersion` (the "envelope claim"), or a POST whose
 *   `MCP-Protocol-Version` header names a stateless revision. It is served without a session
 *   (serve-stateless-request.ts). Everything else (initialize, requests in a session, GET, DELETE,
 *   batches, responses, bodies that are not JSON) goes down the session-based path unchanged.
 * - Its headers must agree with its body (transports/streamable-http §Request Metadata, §Server
 *   Validation): `MCP-Protocol-Version` = `_meta` protocol version, `Mcp-Method` = `method`, and
 *   on tools/call, prompts/get and resources/read `Mcp-Name` = `params.name` / `params.uri`
 *   (after decoding the `=?base64?…?=` form, §Value Encoding); each is required on a request.
 *   Otherwise: 400 with `-32020 HeaderMismatch`. So a header can never name one tool to an
 *   intermediary (or to this server's scope check) while the body runs another.
 * - `Mcp-Method` / `Mcp-Name` sent by a session-based client are checked the same way when
 *   present (never required): the revisions before 2026-07-28 do not define them, but a
 *   disagreement is never legitimate and the same smuggling argument holds.
 * - An envelope naming a version served by neither era: 400 with `-32022
 *   UnsupportedProtocolVersion` and `data: { supported, requested }` (basic/versioning
 *   §Protocol Version Negotiation). An envelope without a string version or without
 *   `clientCapabilities` (both required, schema.ts RequestMetaObject), or a stateless
 *   `MCP-Protocol-Version` header over a body with no envelope: 400 with `-32602`.
 * - A stateless request the SDK's JSON-RPC schema cannot read (an id that is not a string or an
 *   integer: `-32600`; a malformed reserved `_meta` member such as `progressToken`: `-32602`):
 *   400, not handed to a server that would never answer it.
 * - A batch holding a stateless request: 400 `-32600` (the revision sends one message per POST,
 *   §Sending Messages); `initialize` with a stateless header: `-32020`, as the MCP SDK 2.x does
 *   (classifyInboundRequest): the handshake belongs to the session-based era.
 *
 * Deliberately not checked: `Mcp-Param-*` headers (no tool Gatehouse lists declares one: its own
 * tools have no `x-mcp-header`, and the gateway removes them from upstream tools' schemas, as it
 * calls the upstream over its own session where no such header travels; gateway.ts), and the
 * `Accept` header (the answer is JSON, which every client must accept).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JSONRPCRequestSchema, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { isModernVersion, JSON_RPC_ERROR, MCP_ERROR, MCP_NAME_SOURCE, META, SUPPORTED_VERSIONS } from '../mcp/modern-protocol.ts';
import type { StatelessRequest } from '../mcp/answer-stateless-request.ts';
import { answerJson } from './answer-json.ts';

/** Where a request goes: `stateless` set for a 2026-07-28 request, else the session-based path. */
export interface McpRequestRoute {
  stateless?: StatelessRequest;
}

/** The route, or undefined once the request has been refused. */
export type CheckMcpRequestMetadata = (req: IncomingMessage, res: ServerResponse, rpcBody: unknown) => McpRequestRoute | undefined;

const SESSION_BASED: McpRequestRoute = {};

interface Refusal {
  code: number;
  message: string;
  data?: unknown;
}

export function checkMcpRequestMetadata(): CheckMcpRequestMetadata {
  return function checkMcpRequestMetadataStep(req, res, rpcBody) {
    const route = routeOf(req, rpcBody);
    if (!('refusal' in route)) return route;
    const { code, message, data } = route.refusal;
    const id = idOf(rpcBody);
    answerJson(res, 400, { jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } });
    return undefined;
  };
}

function routeOf(req: IncomingMessage, rpcBody: unknown): McpRequestRoute | { refusal: Refusal } {
  // Not a JSON POST: nothing to check here, and no stateless request (the revision is POST-only).
  if (rpcBody === undefined) return SESSION_BASED;
  if (Array.isArray(rpcBody)) {
    if (rpcBody.some((message) => isObject(message) && hasEnvelope(message.params))) {
      return refuse(JSON_RPC_ERROR.invalidRequest, 'Bad Request: a 2026-07-28 request must be sent alone, not in a batch');
    }
    return SESSION_BASED;
  }
  if (!isObject(rpcBody) || typeof rpcBody.method !== 'string') return SESSION_BASED;

  const { method, params } = rpcBody;
  const versionHeader = header(req, 'mcp-protocol-version');
  const methodHeader = header(req, 'mcp-method');
  const nameHeader = header(req, 'mcp-name');
  const isRequest = rpcBody.id !== undefined;
  const mismatch = mirroredHeaderMismatch(method, params, methodHeader, nameHeader);

  if (!hasEnvelope(params)) {
    if (!isModernVersion(versionHeader)) return mismatch ? refuse(MCP_ERROR.headerMismatch, mismatch) : SESSION_BASED;
    if (method === 'initialize') return refuse(MCP_ERROR.headerMismatch, `Bad Request: initialize belongs to the session-based revisions, not to MCP-Protocol-Version ${versionHeader}`);
    if (isRequest) return refuse(JSON_RPC_ERROR.invalidParams, `Invalid params: MCP-Protocol-Version ${versionHeader} needs params._meta["${META.protocolVersion}"]`);
    if (mismatch) return refuse(MCP_ERROR.headerMismatch, mismatch);
    if (rpcBody.jsonrpc !== '2.0') return notJsonRpc();
    return { stateless: { message: { method, params: paramsOf(params) }, protocolVersion: versionHeader! } };
  }

  const meta = (params as Record<string, unknown>)._meta as Record<string, unknown>;
  const version = meta[META.protocolVersion];
  if (typeof version !== 'string') return refuse(JSON_RPC_ERROR.invalidParams, `Invalid params: _meta["${META.protocolVersion}"] must be a string`);
  if (isRequest) {
    const missing = versionHeader === undefined ? 'MCP-Protocol-Version' : methodHeader === undefined ? 'Mcp-Method' : missingName(method, params, nameHeader);
    if (missing) return refuse(MCP_ERROR.headerMismatch, `Header mismatch: the ${missing} header is required`);
  }
  if (versionHeader !== undefined && versionHeader !== version) {
    return refuse(MCP_ERROR.headerMismatch, `Header mismatch: MCP-Protocol-Version does not match _meta["${META.protocolVersion}"]`);
  }
  if (mismatch) return refuse(MCP_ERROR.headerMismatch, mismatch);
  // An envelope naming a session-based version: that era's rules (the SDK) answer it.
  if (SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return SESSION_BASED;
  if (!isModernVersion(version)) {
    return refuse(MCP_ERROR.unsupportedProtocolVersion, 'Unsupported protocol version', { supported: SUPPORTED_VERSIONS, requested: version });
  }
  if (isRequest && !isObject(meta[META.clientCapabilities])) {
    return refuse(JSON_RPC_ERROR.invalidParams, `Invalid params: _meta["${META.clientCapabilities}"] is required`);
  }
  const id = rpcBody.id;
  // JSON-RPC 2.0 §4: numbers SHOULD NOT have fractional parts; the SDK's RequestIdSchema takes
  // only integers, and its server silently drops a request with any other id (see unreadableParams).
  if (isRequest && typeof id !== 'string' && !Number.isInteger(id)) return refuse(JSON_RPC_ERROR.invalidRequest, 'Invalid Request: id must be a string or an integer');
  if (rpcBody.jsonrpc !== '2.0') return notJsonRpc();
  const message = { ...(isRequest ? { id: id as string | number } : {}), method, params: paramsOf(params) };
  const unreadable = isRequest ? unreadableParams(message) : undefined;
  if (unreadable) return refuse(JSON_RPC_ERROR.invalidParams, `Invalid params: ${unreadable} is not valid`);
  return { stateless: { message, protocolVersion: version, clientInfo: meta[META.clientInfo] } };
}

/**
 * Which member of a stateless request's params the SDK's JSON-RPC request schema refuses (e.g.
 * `_meta.progressToken` neither a string nor an integer), or undefined. The SDK's server takes a
 * message that fails it for an "unknown message type" and never answers it, so such a request
 * would wait for ever (answer-stateless-request.ts sends it over an in-memory transport). On the
 * session-based path the SDK's HTTP transport refuses the same message with a 400 itself.
 */
function unreadableParams(message: StatelessRequest['message']): string | undefined {
  const parsed = JSONRPCRequestSchema.safeParse({ jsonrpc: '2.0', ...message });
  if (parsed.success) return undefined;
  return parsed.error.issues[0]!.path.map(String).join('.') || 'params';
}

/**
 * A stateless message is run here, not by the SDK (which refuses it on the session-based path), so
 * the JSON-RPC 2.0 envelope is checked here: `jsonrpc` MUST be exactly "2.0" (JSON-RPC 2.0 §4).
 */
function notJsonRpc(): { refusal: Refusal } {
  return refuse(JSON_RPC_ERROR.invalidRequest, 'Invalid Request: jsonrpc must be "2.0"');
}

/** Why `Mcp-Method` / `Mcp-Name`, when sent, disagree with the body; undefined when they agree. */
function mirroredHeaderMismatch(method: string, params: unknown, methodHeader: string | undefined, nameHeader: string | undefined): string | undefined {
  if (methodHeader !== undefined && methodHeader !== method) return 'Header mismatch: Mcp-Method does not match the body\'s method';
  const field = MCP_NAME_SOURCE[method];
  if (nameHeader === undefined || field === undefined) return undefined;
  const name = decodeHeaderValue(nameHeader);
  if (name === undefined) return 'Header mismatch: Mcp-Name carries an invalid Base64 value';
  const bodyValue = isObject(params) ? params[field] : undefined;
  return name === bodyValue ? undefined : `Header mismatch: Mcp-Name does not match params.${field}`;
}

/** `Mcp-Name` when a request that needs it (its body has the name or URI) comes without it. */
function missingName(method: string, params: unknown, nameHeader: string | undefined): string | undefined {
  const field = MCP_NAME_SOURCE[method];
  if (field === undefined || nameHeader !== undefined) return undefined;
  return isObject(params) && typeof params[field] === 'string' ? 'Mcp-Name' : undefined;
}

const BASE64_PREFIX = '=?base64?';
const BASE64_SUFFIX = '?=';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A header value as the client meant it (transports/streamable-http §Value Encoding): the
 * `=?base64?…?=` form decoded from canonical Base64 as UTF-8, anything else as sent; undefined
 * for a sentinel whose payload is not canonical Base64 or not UTF-8 (the spec requires refusing it).
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith(BASE64_PREFIX) && value.endsWith(BASE64_SUFFIX)) || value.length < BASE64_PREFIX.length + BASE64_SUFFIX.length) return value;
  const encoded = value.slice(BASE64_PREFIX.length, value.length - BASE64_SUFFIX.length);
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.toString('base64') !== encoded) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function refuse(code: number, message: string, data?: unknown): { refusal: Refusal } {
  return { refusal: { code, message, data } };
}

/** Whether params carry the reserved protocol-version `_meta` key, whatever its value. */
function hasEnvelope(params: unknown): boolean {
  return isObject(params) && isObject(params._meta) && META.protocolVersion in params._meta;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function paramsOf(params: unknown): Record<string, unknown> {
  return isObject(params) ? params : {};
}

function idOf(rpcBody: unknown): string | number | null {
  const id = isObject(rpcBody) ? rpcBody.id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
