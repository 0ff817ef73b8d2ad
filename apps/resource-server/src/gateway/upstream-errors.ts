/**
 * Why a call to an upstream MCP server did not happen or did not finish, in words for the caller.
 * The gateway turns these into MCP tool errors (`isError: true`) naming the server, never into
 * an HTTP 5xx: one server being down must not break the others.
 */
import { cutText } from '../../../shared/cut-text.ts';

export class UpstreamUnavailableError extends Error {
  override name = 'UpstreamUnavailableError';

  constructor(readonly server: string, reason: string) {
    super(`The ${server} server is unavailable: ${reason}.`);
  }
}

/**
 * The limits that refuse a request for want of room: a caller's calls in flight at one server
 * (MAX_CALLS_PER_CALLER, call-budget.ts), and resource_server.max_processes and
 * max_processes_per_user (process-budget.ts). The tool-call audit names the one that refused.
 */
export const LIMITS = ['max_calls_per_caller', 'max_processes', 'max_processes_per_user'] as const;
export type Limit = (typeof LIMITS)[number];

/**
 * A request refused for want of room, before anything was sent: a retry may pass once a call ends
 * or a process stops, and the server did not fail. `limit` is the limit that refused it.
 */
export abstract class LimitError extends Error {
  abstract readonly limit: Limit;
}

/**
 * A process limit stops a new process from starting. Its message is which limit, as a clause
 * (process-budget.ts), for a sentence that names the server.
 */
export class ProcessLimitError extends LimitError {
  override name = 'ProcessLimitError';

  constructor(readonly limit: Extract<Limit, 'max_processes' | 'max_processes_per_user'>, message: string) {
    super(message);
  }
}

/** One caller already has as many calls waiting on a server as it may (call-budget.ts). */
export class CallLimitError extends LimitError {
  override name = 'CallLimitError';
  readonly limit = 'max_calls_per_caller';
}

/** Longest reason quoted from an upstream's own words (an error it answered, its output). */
const MAX_REASON = 200;

/**
 * `text` cut at MAX_REASON characters, with … when it was: a reason goes to every caller's tool
 * error, the admin's MCP servers page and the log, however much the upstream said.
 */
export function cutReason(text: string): string {
  return cutText(text, MAX_REASON, '…');
}

/**
 * A connection failure in words, never a stack or a secret: the socket error code found along the
 * error's causes (ECONNREFUSED, ENOTFOUND, …), else its first 200 characters.
 */
export function describeConnectionFailure(err: unknown): string {
  const chain = causes(err);
  const code = chain.map((cause) => (cause as { code?: unknown }).code).find((value) => typeof value === 'string');
  if (code) return `cannot reach it (${String(code)})`;
  const innermost = chain.at(-1);
  const text = (value: unknown) => (value instanceof Error ? value.message : String(value));
  const message = innermost === err ? text(err) : `${text(err)}: ${text(innermost)}`;
  return cutReason(message);
}

/** An error and its causes, outermost first (at most 5). */
export function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let cause = err; cause && chain.length < 5; cause = (cause as { cause?: unknown }).cause) chain.push(cause);
  return chain;
}
