/**
 * Drops two lines oidc-provider writes with `console.warn` that are not true of Gatehouse, so the
 * auth-server's output stays one JSON object per line and the CLI prints only what it means to.
 * Imported for its effect, first, by each entry point that loads oidc-provider (main.ts,
 * cli/main.ts): the runtime line is written while oidc-provider's index.js is evaluated.
 *
 * - "Unsupported runtime. Use Node.js v22.x LTS, …": written at import on any Node older than 22
 *   (lib/index.js). Gatehouse supports Node 20.19+ (package.json `engines`, README) and its tests
 *   and CI run on Node 20 (the container image uses Node 22); oidc-provider works there, it only
 *   does not promise to.
 * - "already parsed request body detected, …": written once, on the first POST to /oauth/*
 *   (lib/shared/selective_body.js), because http/prepare-oauth-request.ts reads and rewrites the
 *   body before the provider, on purpose, and hands it over as `ctx.request.body`, the fallback
 *   the provider reads it from. oidc-provider offers no setting for either line.
 *
 * Only these two exact messages are dropped (also when coloured for a terminal); every other
 * warning, oidc-provider's included, is written as before.
 */
const NOT_TRUE_OF_GATEHOUSE = [
  'oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.',
  'oidc-provider WARNING: already parsed request body detected, having upstream middleware parser is not recommended, resolving to use req.body or request.body instead',
];

// The colours oidc-provider's lib/helpers/attention.js puts around a line on a TTY.
const ANSI_SGR = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex

export function isQuietedProviderNotice(args: unknown[]): boolean {
  return args.length === 1 && typeof args[0] === 'string' && NOT_TRUE_OF_GATEHOUSE.includes(args[0].replace(ANSI_SGR, ''));
}

const warn = console.warn.bind(console);
console.warn = function warnUnlessQuieted(...args: unknown[]): void {
  if (!isQuietedProviderNotice(args)) warn(...args);
};
