/**
 * The `model` column's value for each oidc-provider model: a one-letter code for the models a
 * grant stores rows of (the grant, its authorization code, its refresh tokens), the model's own
 * name for the rest (clients, browser sessions, interactions, …: a few rows per client or user).
 *
 * - Why: the model is in every row and again in the (model, id) primary key's index. Each
 *   issued-and-refreshed grant leaves a grant row, a code row and two refresh-token rows
 *   ('RefreshToken' is 12 characters, 'AuthorizationCode' 17): 70 bytes less per grant at 1k
 *   grants (2,888 -> 2,818 B, bench/disk-per-grant.ts).
 * - Never reuse or change a code: stored rows keep theirs. Migration 020 (PostgreSQL 014)
 *   converted the rows stored under the names.
 * - Stored ids are still hashed with the model's name (stored-form.ts), not its code.
 */

/** The code a model is stored under, where it has one. */
const CODES: Readonly<Record<string, string>> = { Grant: 'G', AuthorizationCode: 'C', RefreshToken: 'R' };
const NAMES: ReadonlyMap<string, string> = new Map(Object.entries(CODES).map(([name, code]) => [code, name]));

/** The `model` column's value for a model. */
export function storedModel(name: string): string {
  return CODES[name] ?? name;
}

/** The model a `model` column's value stands for. */
export function modelName(stored: string): string {
  return NAMES.get(stored) ?? stored;
}
