/** The `--scope` option of the commands that set scopes (`users`, `services`, `idps add`). */
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import { UsageError } from './cli-errors.ts';
import { cutInput } from '../management/cut-input.ts';

export const scopeOption = { scope: { type: 'string', multiple: true, short: 's' } } as const;

/**
 * `--scope a --scope b` or `--scope a,b`; `--scope none` for no scope at all. An empty value is a
 * usage error, not "no scopes": `--scope "$SCOPES"` with an unset variable must not strip anyone.
 */
export function scopesFrom(values: string[]): string[] {
  const scopes = values.flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
  if (scopes.length === 0) throw new UsageError('--scope is empty; name the scopes (like --scope mcp:read,mcp:write), or --scope none for no scope');
  if (scopes.length === 1 && scopes[0] === 'none') return [];
  const unknown = scopes.filter((s) => !(MCP_SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new UsageError(`unknown scope ${cutInput(unknown.join(', '))}; the scopes are ${MCP_SCOPES.join(', ')} (or none)`);
  return scopes;
}
