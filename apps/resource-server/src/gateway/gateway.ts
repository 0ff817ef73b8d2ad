/**
 * The gateway: every configured MCP server, with what the per-session MCP servers ask of them —
 * which server and upstream name an exposed name stands for, the scope it needs, a connection for
 * a caller — and what the operator asks (each server's state).
 *
 * - Names: tools and prompts are exposed as `<server>__<name>` (exposed-name.ts); the mapping
 *   back is learned from each list (and, for tools, from the config's per-tool scopes) and, for
 *   names that cannot be shortened ones, read off the name.
 * - Scopes: a tool needs `scopes.tools[<its upstream name>]`, else the server's `scopes.default`;
 *   prompts and resources need `scopes.default`.
 * - Resources keep their URIs. A URI (or URI template) listed by two servers belongs to the one
 *   configured first; the later server's copy is left out of the lists. A read goes to the first
 *   configured server that listed the URI or has a template matching it.
 * - List changes an upstream announces reach the sessions that share its connection: every
 *   session for a shared stdio server, the user's sessions for a per-user one, the one session
 *   for an HTTP server.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { GatewayServerConfig } from '../../../shared/config/gateway-servers.ts';
import type { McpScope } from '../../../shared/mcp-scopes.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import { CallBudget } from './call-budget.ts';
import { HttpUpstream } from './http-upstream.ts';
import type { IdentityTokens } from './identity-tokens.ts';
import { exposedName, mayBeShortened, splitExposedName } from './exposed-name.ts';
import { PerUserStdioUpstream } from './per-user-stdio-upstream.ts';
import { ProcessBudget } from './process-budget.ts';
import { SharedStdioUpstream } from './shared-stdio-upstream.ts';
import { UpstreamUnavailableError } from './upstream-errors.ts';
import { UriTemplateMatcher } from './uri-template-matcher.ts';
import type { CallContext, ListChangeAudience, Upstream, UpstreamStatus } from './upstream.ts';
import type { ListItem, UpstreamConnection } from './upstream-connection.ts';

/**
 * Resource URIs, and shortened names learned from lists, remembered at most; URI templates, per
 * server. What is forgotten is learned again from the next list: an upstream that lists many (or
 * new ones in every session) must not grow the resource server's memory, nor, filling a table
 * shared with other servers, stop theirs being learned.
 */
const MAX_REMEMBERED_URIS = 10_000;
/**
 * Tools described per server (`describe`, the admin page's MCP servers): the auth-server reads at
 * most 1 MiB of the description, and one server listing thousands (of names that JSON escapes six
 * bytes a character) made it too long to read, blanking every server's state on that page.
 */
const MAX_DESCRIBED_TOOLS = 200;
/** How deep into a tool's input schema `x-mcp-header` annotations are taken out (withoutHeaderParameters). */
const MAX_SCHEMA_DEPTH = 64;
const MAX_TEMPLATES_PER_SERVER = 1000;
/**
 * Longest URI matched against URI templates, which runs on the caller's URI before any scope is
 * checked. Matching takes time linear in the URI (uri-template-matcher.ts; the SDK's own regexes
 * held the event loop for seconds), times the templates a server listed: resource URIs are short,
 * and a longer one is found only when listed.
 */
const MAX_TEMPLATE_MATCHED_URI = 8192;

export interface GatewayOptions {
  servers: readonly GatewayServerConfig[];
  maxProcesses: number;
  maxProcessesPerUser: number;
  /** Needed when a server has forward_identity. */
  identity?: IdentityTokens;
  logger: Logger;
  /** The processes' idle timeouts and restart backoff, and the upstreams' error lines, are counted on it. Default: systemClock. */
  clock?: Clock;
}

/** Told when a list this session shows has changed. */
export interface GatewaySessionListener {
  subject: string;
  listChanged(kind: 'tools' | 'prompts' | 'resources'): void;
}

export type NamedKind = 'tools' | 'prompts';

export interface ServerDescription extends UpstreamStatus {
  scopes: GatewayServerConfig['scopes'];
  /** The exposed tool names and their scopes, as last listed (the first MAX_DESCRIBED_TOOLS); absent before any list. */
  tools?: Array<{ name: string; scope: McpScope }>;
  /** How many more tools the last list held than `tools` shows. */
  moreTools?: number;
}

export interface Route {
  upstream: Upstream;
  /** The name the upstream knows it by. */
  name: string;
}

/** Tool names per server the tool-call metric names; past it, a server's further tools count as unlisted. */
const MAX_KNOWN_TOOLS = 1000;

export class Gateway {
  /** In configuration order, which settles resource URI collisions (first server wins). */
  readonly upstreams: readonly Upstream[];
  readonly #byName: ReadonlyMap<string, Upstream>;
  readonly #logger: Logger;
  readonly #sessions = new Map<string, GatewaySessionListener>();
  /**
   * Exposed name → upstream name for names that may be shortened (`mayBeShortened`), learned from
   * lists (at most MAX_REMEMBERED_URIS per kind), and for tools from the config's per-tool scopes
   * (`#configuredTools`, never forgotten: a tool's own scope is checked before any list).
   */
  readonly #learned: Record<NamedKind, Map<string, string>> = { tools: new Map(), prompts: new Map() };
  readonly #configuredTools = new Map<string, string>();
  /**
   * Per server and kind, the shortened names its last warned list held (`expose`): one warning per
   * list that shortens other names than the last, not one per name remembered for ever (a server
   * listing thousands of new long names each time grew the heap and the log without bound).
   */
  readonly #warnedShortened = new Map<string, string>();
  /**
   * Per server, the tools already warned of as left at a `mcp:read` default (`#warnWritableWithRead`):
   * lists that differ by caller (a per-user process, an HTTP server answering by the caller's
   * identity) alternate, and a warning per list that differs from the last repeated at each.
   */
  readonly #warnedWritable = new Map<string, Set<string>>();
  /** Each server's tool names (upstream form) as last listed. */
  readonly #lastTools = new Map<Upstream, string[]>();
  /**
   * Exposed tool names the config names or some list held (at most MAX_KNOWN_TOOLS per server):
   * the values the tool-call metric may carry. A caller can send any name; the metric's series
   * must not grow with them.
   */
  readonly #knownTools = new Map<string, Set<string>>();
  /**
   * Each server's resource URIs (at most MAX_REMEMBERED_URIS per server) and URI templates, from
   * the lists seen. Kept per server, never as one URI → server table: that table was rewritten by
   * whichever caller listed last, so a caller whose list lacked a server (not its user's, out of
   * processes, too slow) handed that server's URIs to another, for every user.
   */
  readonly #listedUris = new Map<Upstream, Set<string>>();
  readonly #templates = new Map<Upstream, Map<string, UriTemplateMatcher>>();
  readonly #calls = new CallBudget();

  constructor({ servers, maxProcesses, maxProcessesPerUser, identity, logger, clock = systemClock }: GatewayOptions) {
    this.#logger = logger;
    const budget = new ProcessBudget(maxProcesses, maxProcessesPerUser);
    const onListChanged = (kind: 'tools' | 'prompts' | 'resources', audience: ListChangeAudience) => this.#listChanged(kind, audience);
    this.upstreams = servers.map((config): Upstream => {
      if (config.transport === 'http') return new HttpUpstream(config, { logger, onListChanged, identity, clock });
      if (config.perUser) return new PerUserStdioUpstream(config, { budget, logger, onListChanged, clock });
      return new SharedStdioUpstream(config, { budget, logger, onListChanged, clock });
    });
    this.#byName = new Map(this.upstreams.map((upstream) => [upstream.config.name, upstream]));
    // A tool with its own scope is routed (and its scope asked for in the 403) before any list:
    // the scope check before the MCP server is synchronous and cannot list the server first.
    for (const upstream of this.upstreams) {
      for (const tool of Object.keys(upstream.config.scopes.tools)) {
        const name = exposedName(upstream.config.name, tool);
        if (mayBeShortened(name)) this.#configuredTools.set(name, tool);
        this.#know(upstream, name);
      }
    }
  }

  start(): void {
    for (const upstream of this.upstreams) upstream.start();
  }

  status(): UpstreamStatus[] {
    return this.upstreams.map((upstream) => upstream.status());
  }

  /**
   * Each server's state with its configured scopes and the tools it last listed (with the scope
   * each needs), for the admin pages. Tools are known once some caller listed them.
   */
  describe(): ServerDescription[] {
    return this.upstreams.map((upstream) => {
      const tools = this.#lastTools.get(upstream);
      const shown = tools?.slice(0, MAX_DESCRIBED_TOOLS);
      return {
        ...upstream.status(),
        scopes: upstream.config.scopes,
        ...(shown ? { tools: shown.map((name) => ({ name: exposedName(upstream.config.name, name), scope: this.scopeFor('tools', upstream, name) })) } : {}),
        ...(tools && tools.length > MAX_DESCRIBED_TOOLS ? { moreTools: tools.length - MAX_DESCRIBED_TOOLS } : {}),
      };
    });
  }

  upstream(name: string): Upstream | undefined {
    return this.#byName.get(name);
  }

  /**
   * The server whose list is to be read to route `exposed`: the one its prefix names, when it may
   * be a shortened name (mayBeShortened), which only a list (or the config) routes. Undefined for
   * any other name: `route` reads one of up to 64 characters off the name, and one past 64 no
   * list holds (exposedName shortens it), so it is not found, whether that server is up or down.
   */
  upstreamToLearnFrom(exposed: string): Upstream | undefined {
    return mayBeShortened(exposed) ? this.#byName.get(splitExposedName(exposed)?.server ?? '') : undefined;
  }

  /** Follows a session's list changes until its end. */
  attach(sessionKey: string, listener: GatewaySessionListener): void {
    this.#sessions.set(sessionKey, listener);
  }

  /** A session ended: forget it and close what each server opened for it alone. */
  async endSession(sessionKey: string): Promise<void> {
    this.#sessions.delete(sessionKey);
    await Promise.all(this.upstreams.map((upstream) => upstream.endSession(sessionKey).catch((err: unknown) => {
      this.#logger.debug({ server: upstream.config.name, reason: (err as Error).message }, 'ending an upstream session failed');
    })));
  }

  /**
   * `upstream`'s connection for a session the gateway still follows (attached, not yet ended). A
   * request of an ended session may still be running: the SDK does not stop a handler when its
   * transport closes (a DELETE, a stateless client going away), and a resources/read asks the
   * servers twice. A connection opened for it after `endSession` was one nothing would ever end:
   * an HTTP server's upstream session and event stream stayed open for as long as the process ran.
   */
  connectionFor(upstream: Upstream, context: CallContext): Promise<UpstreamConnection> {
    if (!this.#sessions.has(context.sessionKey)) return Promise.reject(new UpstreamUnavailableError(upstream.config.name, 'the client session has ended'));
    return upstream.connectionFor(context);
  }

  /**
   * A place for one of `caller`'s calls to `upstream`, to release when the call ends; throws
   * CallLimitError when the caller already has its most calls in flight there (call-budget.ts).
   */
  takeCall(upstream: Upstream, caller: VerifiedAccessToken): () => void {
    return this.#calls.take(upstream.config.name, caller);
  }

  /**
   * Whether `server`'s config names the tool `exposed` or one of its lists held it: a name a
   * caller made up is not, whether it was refused, forwarded or failed.
   */
  knowsTool(server: string, exposed: string): boolean {
    return this.#knownTools.get(server)?.has(exposed) === true;
  }

  #know(upstream: Upstream, exposed: string): void {
    let known = this.#knownTools.get(upstream.config.name);
    if (!known) this.#knownTools.set(upstream.config.name, known = new Set());
    if (known.size < MAX_KNOWN_TOOLS) known.add(exposed);
  }

  /** The exposed form of an upstream's list, remembering the way back for shortened names. */
  expose(upstream: Upstream, kind: NamedKind, items: readonly ListItem[]): ListItem[] {
    if (kind === 'tools') this.#lastTools.set(upstream, items.map((item) => String(item.name)));
    const shortened: Array<{ name: string; exposedAs: string }> = [];
    const exposed = items.map((item) => {
      const original = String(item.name);
      const name = exposedName(upstream.config.name, original);
      if (kind === 'tools') this.#know(upstream, name);
      if (mayBeShortened(name)) {
        const learned = this.#learned[kind];
        if (learned.size >= MAX_REMEMBERED_URIS && !learned.has(name)) learned.clear();
        learned.set(name, original);
      }
      if (name !== `${upstream.config.name}__${original}`) shortened.push({ name: original, exposedAs: name });
      return kind === 'tools' && item.inputSchema !== undefined ? { ...item, name, inputSchema: withoutHeaderParameters(item.inputSchema) } : { ...item, name };
    });
    this.#warnShortened(upstream, kind, shortened);
    if (kind === 'tools') this.#warnWritableWithRead(upstream, items);
    return exposed;
  }

  /**
   * A tool that the config does not name takes `scopes.default`; with `mcp:read` there, a tool the
   * server does not mark read-only (`readOnlyHint: true`) can be called by every app a user
   * connected, read-only ones included: the filesystem server's `edit_file` and
   * `create_directory`, say, when only `write_file` and `move_file` were listed as `mcp:write`.
   * The config decides, so this only warns, once per list that holds such a tool not warned of yet.
   */
  #warnWritableWithRead(upstream: Upstream, items: readonly ListItem[]): void {
    const { scopes, name: server } = upstream.config;
    if (scopes.default !== 'mcp:read') return;
    const writable = items.flatMap((item) => {
      const name = String(item.name);
      const annotations = item.annotations as { readOnlyHint?: unknown } | undefined;
      return Object.hasOwn(scopes.tools, name) || annotations?.readOnlyHint === true ? [] : [name];
    });
    let warned = this.#warnedWritable.get(server);
    if (!warned) this.#warnedWritable.set(server, warned = new Set());
    if (writable.every((name) => warned.has(name))) return;
    if (warned.size + writable.length > MAX_KNOWN_TOOLS) warned.clear();
    for (const name of writable) warned.add(name);
    this.#logger.warn({ server, count: writable.length, first: writable.slice(0, 5) },
      'tools not marked read-only (readOnlyHint) need only mcp:read (scopes.default): name them in scopes.tools, or make the default mcp:write and name the read-only ones');
  }

  #warnShortened(upstream: Upstream, kind: NamedKind, shortened: ReadonlyArray<{ name: string; exposedAs: string }>): void {
    const key = `${upstream.config.name} ${kind}`;
    const names = shortened.map((s) => s.exposedAs).join(' ');
    if (shortened.length === 0 || this.#warnedShortened.get(key) === names) return;
    this.#warnedShortened.set(key, names);
    this.#logger.warn({ server: upstream.config.name, list: kind, count: shortened.length, first: shortened.slice(0, 3) },
      'upstream names longer than 64 characters with their server prefix were shortened');
  }

  /**
   * The server and upstream name an exposed name stands for. A name that may be shortened and is
   * not yet learned needs the server's list first (`learn`); without it the route is undefined.
   */
  route(kind: NamedKind, exposed: string): Route | undefined {
    const parts = splitExposedName(exposed);
    const upstream = parts && this.#byName.get(parts.server);
    if (!parts || !upstream) return undefined;
    const learned = (kind === 'tools' ? this.#configuredTools.get(exposed) : undefined) ?? this.#learned[kind].get(exposed);
    if (learned !== undefined) return { upstream, name: learned };
    // A shortened name is 64 characters, so exposedName gives it back unchanged: read off the name,
    // it would route to an upstream name that is only its truncation, with the default scope.
    if (mayBeShortened(exposed)) return undefined;
    return exposedName(upstream.config.name, parts.rest) === exposed ? { upstream, name: parts.rest } : undefined;
  }

  /**
   * Lists `kind` of the server `exposed` names, so a shortened name can be routed. Rejects with
   * what kept that server from being listed (unavailable, no process to spare, its list failing):
   * the caller is to be told that, not that the name is unknown.
   */
  async learn(kind: NamedKind, exposed: string, context: CallContext): Promise<Route | undefined> {
    const upstream = this.upstreamToLearnFrom(exposed);
    if (!upstream) return undefined;
    const connection = await this.connectionFor(upstream, context);
    this.expose(upstream, kind, await connection.list(kind));
    return this.route(kind, exposed);
  }

  /**
   * The scope a route needs. A tool's own scope only when the config names that tool: `tools` is a
   * plain object, and a tool called `constructor` or `toString` read an inherited function as
   * its scope (never held, so the tool could not be called, and the 403 named the function).
   */
  scopeFor(kind: NamedKind | 'resources', upstream: Upstream, name?: string): McpScope {
    const { scopes } = upstream.config;
    return (kind === 'tools' && name !== undefined && Object.hasOwn(scopes.tools, name) ? scopes.tools[name] : undefined) ?? scopes.default;
  }

  /** Merges each server's resources (config order), keeping the first server's copy of a URI. */
  claimResources(listed: ReadonlyArray<{ upstream: Upstream; items: readonly ListItem[] }>): ListItem[] {
    for (const { upstream, items } of listed) {
      let uris = this.#listedUris.get(upstream);
      if (!uris) this.#listedUris.set(upstream, uris = new Set());
      for (const item of items) {
        const uri = String(item.uri);
        if (uris.size >= MAX_REMEMBERED_URIS && !uris.has(uri)) uris.clear();
        uris.add(uri);
      }
    }
    return this.#claim(listed, 'uri');
  }

  claimResourceTemplates(listed: ReadonlyArray<{ upstream: Upstream; items: readonly ListItem[] }>): ListItem[] {
    return this.#claim(listed, 'uriTemplate', (uriTemplate, upstream) => {
      let templates = this.#templates.get(upstream);
      if (!templates) this.#templates.set(upstream, templates = new Map());
      if (templates.has(uriTemplate)) return;
      if (templates.size >= MAX_TEMPLATES_PER_SERVER) templates.clear();
      try {
        templates.set(uriTemplate, new UriTemplateMatcher(uriTemplate));
      } catch {
        this.#logger.warn({ server: upstream.config.name, uriTemplate }, 'an mcp server listed a URI template that cannot be parsed');
      }
    });
  }

  /**
   * The server a resource URI belongs to: the first configured server that listed it or has a
   * template it matches (templates only for a URI of at most MAX_TEMPLATE_MATCHED_URI characters).
   * A server configured later never takes a URI from an earlier one by listing it, as the merged
   * lists show the first server's copy.
   */
  resourceOwner(uri: string): Upstream | undefined {
    const matchable = uri.length <= MAX_TEMPLATE_MATCHED_URI;
    return this.upstreams.find((upstream) => this.#listedUris.get(upstream)?.has(uri)
      || (matchable && [...this.#templates.get(upstream)?.values() ?? []].some((template) => template.matches(uri))));
  }

  async close(): Promise<void> {
    this.#sessions.clear();
    await Promise.all(this.upstreams.map((upstream) => upstream.close()));
  }

  #claim(listed: ReadonlyArray<{ upstream: Upstream; items: readonly ListItem[] }>, key: 'uri' | 'uriTemplate', remember?: (value: string, upstream: Upstream) => void): ListItem[] {
    const seen = new Map<string, Upstream>();
    const merged: ListItem[] = [];
    for (const { upstream, items } of listed) {
      for (const item of items) {
        const value = String(item[key]);
        const first = seen.get(value);
        if (first) {
          if (first !== upstream) this.#logger.debug({ [key]: value, kept: first.config.name, hidden: upstream.config.name }, 'two mcp servers list the same resource; the first configured keeps it');
          continue;
        }
        seen.set(value, upstream);
        remember?.(value, upstream);
        merged.push(item);
      }
    }
    return merged;
  }

  #listChanged(kind: 'tools' | 'prompts' | 'resources', audience: ListChangeAudience): void {
    for (const [key, session] of this.#sessions) {
      const concerned = 'all' in audience || ('subject' in audience ? session.subject === audience.subject : key === audience.sessionKey);
      if (concerned) session.listChanged(kind);
    }
  }
}

/**
 * A tool's input schema without its `x-mcp-header` annotations (MCP 2026-07-28, Streamable HTTP
 * §Custom Headers from Tool Parameters). Such an annotation tells a client to mirror the argument
 * into an `Mcp-Param-*` header, and obliges the server that reads the body to check that the two
 * agree (an intermediary may have routed on the header). Gatehouse reads the body and calls the
 * upstream over its own session, where no such header travels: nobody would check. So it
 * declares none, and clients send none. Only string values are annotations; a property that
 * happens to be called `x-mcp-header` (an object, its schema) stays.
 */
function withoutHeaderParameters(schema: unknown, depth = 0): unknown {
  // Annotations sit on a tool's parameters, a few levels down. Deeper parts are passed on as they
  // are: a schema nested thousands of levels (tens of kB) took this walk past the stack, and the
  // whole tools/list of every caller with it.
  if (depth >= MAX_SCHEMA_DEPTH || typeof schema !== 'object' || schema === null) return schema;
  if (Array.isArray(schema)) return schema.map((item) => withoutHeaderParameters(item, depth + 1));
  return Object.fromEntries(Object.entries(schema)
    .filter(([key, value]) => !(key === 'x-mcp-header' && typeof value === 'string'))
    .map(([key, value]) => [key, withoutHeaderParameters(value, depth + 1)]));
}
