/**
 * Which statements the PostgreSQL backend sends named, as prepared statements, and which it sends
 * unnamed (postgres-database.ts says why a statement following the table's columns stays unnamed).
 */
/**
 * How many distinct statements a process names at most. The apps send a few dozen; the bound
 * keeps statements built from a request's shape (a list of n placeholders) from growing every
 * connection's cache on the server without end. Past it, statements run unnamed. Each costs the
 * server about 24 KB per connection (PostgreSQL 15, pg_backend_memory_contexts after sign-ins and
 * refreshes: 31 statements, 740 KB of cached plans), so at most about 5 MB per connection.
 */
export const MAX_NAMED_STATEMENTS = 200;

/**
 * The name each statement text is prepared under: the same in every connection of the pool, so
 * node-postgres parses a text once per connection and then only binds and executes it.
 */
export class StatementNames {
  readonly #names = new Map<string, string | undefined>();
  readonly #enabled: boolean;

  constructor(enabled: boolean) {
    this.#enabled = enabled;
  }

  /** The name for `text`, or undefined to send it unnamed. */
  nameFor(text: string): string | undefined {
    if (!this.#enabled) return undefined;
    if (this.#names.has(text)) return this.#names.get(text);
    if (this.#names.size >= MAX_NAMED_STATEMENTS) return undefined;
    const name = followsTableColumns(text) ? undefined : `gatehouse_${this.#names.size}`;
    this.#names.set(text, name);
    return name;
  }
}

/**
 * A statement whose result columns are the table's (`SELECT *`, `t.*`, `RETURNING *`): its shape
 * changes when a migration adds a column, which a prepared statement may not survive. Any `*`
 * outside `count(*)` counts, which is on the safe side (a product runs unnamed, no harm done).
 */
function followsTableColumns(text: string): boolean {
  return text.replace(/count\(\*\)/gi, '').includes('*');
}
