/**
 * The real MCP servers the gateway's tests put behind Gatehouse, and the server entries that
 * start them without the network: the reference servers installed as dev dependencies (pinned in
 * package.json), run by this very node binary, and the scripted fixture server.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { GatewayScopes, HttpServerConfig, StdioServerConfig } from '../../../apps/shared/config/gateway-servers.ts';

const modules = new URL('../../../node_modules/@modelcontextprotocol/', import.meta.url);

/** Entry points of the reference servers (`node <path>` runs them). */
export const EVERYTHING = fileURLToPath(new URL('server-everything/dist/index.js', modules));
export const FILESYSTEM = fileURLToPath(new URL('server-filesystem/dist/index.js', modules));
export const MEMORY = fileURLToPath(new URL('server-memory/dist/index.js', modules));
/** test/gateway/fixtures/scripted-server.mjs: the tools the reference servers lack. */
export const SCRIPTED = fileURLToPath(new URL('../fixtures/scripted-server.mjs', import.meta.url));
/** test/gateway/fixtures/hostile-lists-server.mjs: lists and requests that must not harm the gateway. */
export const HOSTILE_LISTS_SERVER = fileURLToPath(new URL('../fixtures/hostile-lists-server.mjs', import.meta.url));
/** test/gateway/fixtures/hostile-names-server.mjs: names that try to break the 403 challenge. */
export const HOSTILE_NAMES_SERVER = fileURLToPath(new URL('../fixtures/hostile-names-server.mjs', import.meta.url));

/** test/gateway/fixtures/noisy-stderr-server.mjs: a stderr line of 1 MiB that stays open. */
export const NOISY_STDERR = fileURLToPath(new URL('../fixtures/noisy-stderr-server.mjs', import.meta.url));
/** test/gateway/fixtures/long-list-server.mjs: a tools/list of `pages` pages of `perPage` tools (arguments). */
export const LONG_LIST = fileURLToPath(new URL('../fixtures/long-list-server.mjs', import.meta.url));
/** test/gateway/fixtures/echoing-credentials-server.mjs: quotes its API_KEY in stderr and its initialize error. */
export const ECHOING_CREDENTIALS = fileURLToPath(new URL('../fixtures/echoing-credentials-server.mjs', import.meta.url));
/** test/gateway/fixtures/throwing-tool-server.mjs: its tool `search` throws an error quoting its API_KEY. */
export const THROWING_TOOL = fileURLToPath(new URL('../fixtures/throwing-tool-server.mjs', import.meta.url));
/** test/gateway/fixtures/refusing-server.mjs: refuses initialize with a 100,000-character message, and exits. */
export const REFUSING = fileURLToPath(new URL('../fixtures/refusing-server.mjs', import.meta.url));
/** test/gateway/fixtures/ignoring-cancel-server.mjs: its tool `slow` goes on when cancelled; `running` counts them; `exit`. */
export const IGNORING_CANCEL = fileURLToPath(new URL('../fixtures/ignoring-cancel-server.mjs', import.meta.url));
/** test/gateway/fixtures/one-write-server.mjs: `hold`/`release`, and a log message or elicitation written with the answer. */
export const ONE_WRITE = fileURLToPath(new URL('../fixtures/one-write-server.mjs', import.meta.url));
/** test/gateway/fixtures/slow-start-server.mjs: answers initialize after its first argument's milliseconds; `echo`, `sleep`. */
export const SLOW_START = fileURLToPath(new URL('../fixtures/slow-start-server.mjs', import.meta.url));
/** test/gateway/fixtures/down-while-marked-server.mjs: exits at once while the file named by its first argument exists; its tool `echo`. */
export const DOWN_WHILE_MARKED = fileURLToPath(new URL('../fixtures/down-while-marked-server.mjs', import.meta.url));
/** test/gateway/fixtures/printing-server.mjs: its tool `print` writes its `line` argument to stdout. */
export const PRINTING = fileURLToPath(new URL('../fixtures/printing-server.mjs', import.meta.url));

/** Names the scripted server uses (kept in step with fixtures/scripted-server.mjs). */
export const LONG_TOOL_NAME = 'summarise-the-quarterly-report-for-every-region-in-the-company';
export const COLLIDING_URI = 'demo://resource/static/document/features.md';

/** Names the hostile-names server lists (kept in step with fixtures/hostile-names-server.mjs). */
const INJECTED = ', resource_metadata="https://evil.example/prm';
export const HOSTILE_NAMES = {
  quotedTool: `look"${INJECTED}`,
  crlfTool: 'look\r\nSet-Cookie: session=stolen',
  escapedPrompt: `greet\\"${INJECTED}`,
  quotedUri: `note://x"${INJECTED}`,
  nonLatin1Uri: 'note://ключ/日本',
};

const READ: GatewayScopes = { default: 'mcp:read', tools: {} };

/** A stdio server entry running `node <script> ...args`, shared, mcp:read for everything. */
export function stdioServer(name: string, script: string, args: string[] = [], overrides: Partial<StdioServerConfig> = {}): StdioServerConfig {
  return {
    name,
    transport: 'stdio',
    command: process.execPath,
    args: [script, ...args],
    env: {},
    perUser: false,
    idleTimeout: 600,
    timeout: 30,
    startTimeout: 60,
    scopes: READ,
    ...overrides,
  };
}

/** A Streamable HTTP server entry, mcp:read for everything, no headers. */
export function httpServer(name: string, url: string, overrides: Partial<HttpServerConfig> = {}): HttpServerConfig {
  return { name, transport: 'http', url, headers: {}, forwardIdentity: false, timeout: 30, startTimeout: 60, scopes: READ, ...overrides };
}

/**
 * The name a tool or prompt has at the gateway: `<server>__<name>`, or, past 64 characters
 * (a limit some clients apply), its first 55 characters, `_` and the first 8 hex digits of the
 * SHA-256 of the full name.
 */
export function gatewayName(server: string, name: string): string {
  const full = `${server}__${name}`;
  if (full.length <= 64) return full;
  return `${full.slice(0, 55)}_${createHash('sha256').update(full).digest('hex').slice(0, 8)}`;
}
