/**
 * The noun for a count: `plural(1, 'user')` is `user`, `plural(2, 'user')` is `users`. Every
 * template says counts through it (the `plural` filter, create-renderer.ts), so no page reads
 * "1 users". Irregular nouns pass their plural (`plural(n, 'entry', 'entries')`).
 */
export function plural(count: number, one: string, many = `${one}s`): string {
  return count === 1 ? one : many;
}
