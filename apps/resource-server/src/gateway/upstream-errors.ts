/**
 * Why a call to an upstream MCP server did not happen or did not finish, in words for the caller.
 * The gateway turns these into MCP tool errors (`isError: true`) naming the server, never into
 * an HTTP 5xx: one server being down must not break the others.
 */
export class UpstreamUnavailableError extends Error {
  override name = 'UpstreamUnavailableError';

  constructor(readonly server: string, reason: string) {
    super(`The ${server} server is unavailable: ${reason}.`);
  }
}

/** A process limit stops a new per-user process from starting. */
export class ProcessLimitError extends Error {
  override name = 'ProcessLimitError';
}
