/**
 * `--json` prints the rows the admin pages show (management/describe-*.ts) with snake_case keys,
 * the spelling of the OAuth wire fields (`client_id`, `redirect_uris`, RFC 7591 §2).
 */
type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Uppercase<Head> ? (Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`) : Head}${SnakeCase<Tail>}`
  : S;

export type SnakeCaseKeys<T> = { [K in keyof T as K extends string ? SnakeCase<K> : K]: T[K] };

export function snakeCaseKeys<T extends object>(row: T): SnakeCaseKeys<T> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), value])) as SnakeCaseKeys<T>;
}
