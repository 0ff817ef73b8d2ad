/**
 * `resource_server.servers`: the MCP servers put behind the gateway, a stdio command Gatehouse
 * starts or a Streamable HTTP URL. Fields of the other kind are refused rather than ignored, so a
 * misplaced line is noticed.
 */
import { resolve } from 'node:path';
import * as z from 'zod';
import { MCP_SCOPES } from '../mcp-scopes.ts';
import { booleanish, duration, environmentName, quoteUrl, timerDuration, whenSet, type FieldNote } from './field-schemas.ts';
import type { LoadContext } from './load-context.ts';

/**
 * Seconds a server's start may take unless `start_timeout` says otherwise. Not its `timeout`: a
 * start is not a call, and one that downloads the server first (npx, uvx) takes longer than the
 * calls an admin bounds tightly, which then failed every start.
 */
const DEFAULT_START_TIMEOUT = 60;

const mcpScope = z.enum(MCP_SCOPES, { error: `expected one of the resource's scopes: ${MCP_SCOPES.join(', ')}` });

/** How the gateway needs a scope for one server's tools, prompts and resources. */
const gatewayScopes = z.strictObject({
  default: mcpScope
    .meta({ description: "needed by every tool not in `tools`, and by the server's prompts and resources" } satisfies FieldNote),
  tools: z.record(z.string().min(1), mcpScope).default({})
    .meta({ description: 'upstream tool name (as the server names it) → the scope it needs' } satisfies FieldNote),
}, { error: 'expected scopes: { default: <scope>, tools: { <tool>: <scope> } }' });

export type GatewayScopes = z.output<typeof gatewayScopes>;

function gatewayServerEntry(context: LoadContext) {
  return z.strictObject({
    name: z.string().regex(/^[a-z0-9-]{1,32}$/, { error: 'expected 1-32 lowercase letters, digits or - (tools appear as <name>__<tool>)' })
      .meta({ description: 'prefixes its tools as <name>__<tool>' } satisfies FieldNote),
    command: z.string().min(1, { error: 'expected a command' }).optional()
      .meta({ description: 'stdio: the command Gatehouse starts' } satisfies FieldNote),
    args: z.array(z.string()).optional()
      .meta({ description: 'stdio: its arguments' } satisfies FieldNote),
    env: z.record(environmentName, z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional()
      .meta({ description: "stdio: the child's environment beyond the MCP SDK's minimal default (PATH, HOME, USER, …)" } satisfies FieldNote),
    cwd: z.string().min(1).transform((dir) => resolve(context.cwd, dir)).optional()
      .meta({ description: 'stdio: its working directory' } satisfies FieldNote),
    per_user: booleanish.optional()
      .meta({ description: 'stdio: one process per signed-in user instead of one shared by everyone', default: 'false' } satisfies FieldNote),
    idle_timeout: duration.optional()
      .meta({ description: "stdio, per_user: a user's process is stopped after this long without a call", default: '10m' } satisfies FieldNote),
    url: z.string().transform((value, ctx) => {
      const url = URL.parse(value);
      if (!url || !['http:', 'https:'].includes(url.protocol) || url.hash || url.username || url.password) {
        ctx.addIssue({ code: 'custom', message: `expected the server's http(s) URL without fragment or credentials, got ${quoteUrl(value)}` });
        return z.NEVER;
      }
      return value;
    }).optional().meta({ description: 'http: the Streamable HTTP server Gatehouse calls' } satisfies FieldNote),
    headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'expected an HTTP header name' }), z.string()).optional()
      .meta({ description: "http: the server's own credentials, sent on every request" } satisfies FieldNote),
    forward_identity: booleanish.optional()
      .meta({ description: "http: send a short-lived token naming the caller, issued for this server's URL", default: 'false' } satisfies FieldNote),
    timeout: timerDuration.default(30)
      .meta({ description: 'each request to the server' } satisfies FieldNote),
    start_timeout: timerDuration.optional()
      .meta({ description: 'its start: a process until it answers initialize (an npx or uvx wrapper may download the server first), an HTTP session until it is initialized; `timeout` when that is longer', default: '60s' } satisfies FieldNote),
    scopes: gatewayScopes
      .meta({ description: 'the scope its tools, prompts and resources need' } satisfies FieldNote),
  }).superRefine((entry, ctx) => {
    if ((entry.command === undefined) === (entry.url === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'expected exactly one of command (a stdio server) or url (a Streamable HTTP server)' });
      return;
    }
    const foreign = entry.command === undefined
      ? (['args', 'env', 'cwd', 'per_user', 'idle_timeout'] as const).filter((key) => entry[key] !== undefined)
      : (['headers', 'forward_identity'] as const).filter((key) => entry[key] !== undefined);
    for (const key of foreign) {
      ctx.addIssue({ code: 'custom', path: [key], message: `only applies to ${entry.command === undefined ? 'a stdio server (command)' : 'an HTTP server (url)'}` });
    }
  }).transform((server) => {
    const common = {
      name: server.name,
      /** Seconds each request to the server may take. */
      timeout: server.timeout,
      /** Seconds its start (connecting and initialize) may take: never less than `timeout`. */
      startTimeout: Math.max(server.start_timeout ?? DEFAULT_START_TIMEOUT, server.timeout),
      scopes: server.scopes,
    };
    if (server.command !== undefined) {
      return {
        ...common,
        transport: 'stdio' as const,
        command: server.command,
        args: server.args ?? [],
        env: server.env ?? {},
        ...whenSet('cwd', server.cwd),
        perUser: server.per_user ?? false,
        /** Seconds a per-user process may sit without a call before it is stopped. */
        idleTimeout: server.idle_timeout ?? 10 * 60,
      };
    }
    return { ...common, transport: 'http' as const, url: server.url!, headers: server.headers ?? {}, forwardIdentity: server.forward_identity ?? false };
  });
}

/** The servers in configuration order (which settles tool name collisions), names unique. */
export function gatewayServers(context: LoadContext) {
  return z.array(gatewayServerEntry(context)).default([]).superRefine((servers, ctx) => {
    const seen = new Set<string>();
    servers.forEach((server, i) => {
      if (seen.has(server.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `the name ${server.name} is used by another server` });
      seen.add(server.name);
    });
  });
}

export type GatewayServerConfig = z.output<ReturnType<typeof gatewayServers>>[number];
export type StdioServerConfig = Extract<GatewayServerConfig, { transport: 'stdio' }>;
export type HttpServerConfig = Extract<GatewayServerConfig, { transport: 'http' }>;
