/**
 * Turns the placeholders stores write (`?` in order, or `@name`) into PostgreSQL's `$1, $2, …`.
 *
 * - Quoted text ('…', "…") and `--` comments are copied as they are, so a `?` or `@` inside them
 *   is left alone. Dollar-quoted strings are not recognised: stores do not use them.
 * - A name used twice gets one number. One statement uses one style, never both.
 * - The result for each SQL text is computed once and kept (stores use a fixed set of texts).
 */
import type { SqlParams, SqlValue } from './sql-database.ts';

interface Translation {
  text: string;
  /** Named placeholders in `$n` order; null when the statement uses `?`. */
  names: string[] | null;
  positional: number;
}

const cache = new Map<string, Translation>();
const MAX_CACHED = 500;

function translate(sql: string): Translation {
  let text = '';
  const names: string[] = [];
  let positional = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end === -1 ? sql.length : end + 1;
      text += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      text += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '?') {
      text += `$${++positional}`;
    } else if (c === '@' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))![0];
      let index = names.indexOf(name);
      if (index === -1) index = names.push(name) - 1;
      text += `$${index + 1}`;
      i += name.length;
    } else {
      text += c;
    }
  }
  if (positional > 0 && names.length > 0) throw new TypeError('a statement uses either ? or @name placeholders, not both');
  return { text, names: names.length > 0 ? names : null, positional };
}

function toPostgres(value: SqlValue): unknown {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

export function toPostgresPlaceholders(sql: string, params?: SqlParams): { text: string; values: unknown[] } {
  let translation = cache.get(sql);
  if (!translation) {
    if (cache.size >= MAX_CACHED) cache.clear();
    translation = translate(sql);
    cache.set(sql, translation);
  }
  const { text, names, positional } = translation;
  if (names) {
    if (params === undefined || Array.isArray(params)) throw new TypeError(`named placeholders need an object of values: ${names.join(', ')}`);
    const named = params as Readonly<Record<string, SqlValue>>;
    return {
      text,
      values: names.map((name) => {
        if (!(name in named)) throw new TypeError(`missing a value for @${name}`);
        return toPostgres(named[name]);
      }),
    };
  }
  const values = params === undefined ? [] : Array.isArray(params) ? params : null;
  if (values === null) throw new TypeError('? placeholders need an array of values');
  if (values.length !== positional) throw new TypeError(`expected ${positional} values, got ${values.length}`);
  return { text, values: values.map(toPostgres) };
}
