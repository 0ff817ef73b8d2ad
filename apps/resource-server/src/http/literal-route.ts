/**
 * A path as a route of @koa/router that matches that path only. The router reads its routes as
 * path-to-regexp patterns, where `:` and `*` start parameters and `( ) [ ] + ! { } ?` are syntax or
 * reserved. A configured resource URL may hold them in its path: `new URL` leaves
 * `( ) [ ] + ! : *` unencoded, and the config accepts such a URL. Unescaped, `( ) [ ] + !` stopped
 * the server at boot with the router's TypeError, and `:` or `*` made a route that matched other
 * paths than the resource's. Each is escaped with a backslash, as path-to-regexp reads it.
 */
export function literalRoute(path: string): string {
  return path.replace(/[{}()[\]+?!:*\\]/g, '\\$&');
}
