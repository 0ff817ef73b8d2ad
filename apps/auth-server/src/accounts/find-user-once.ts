/**
 * One user lookup per request. A token request consults its user up to four times (the scope
 * policy, `findAccount`, the access token's claims, the audit event's actor); they all want the
 * row as it was when the request began, so the first lookup's answer serves the rest.
 *
 * Keyed on the request's context object in a WeakMap: the entry goes with the request, and
 * nothing outlives it, so this adds no staleness across requests (UserStore.findById's own
 * bound still applies to the first lookup). Not keyed by store: one context belongs to one
 * server, which has one UserStore.
 */
import type { User, UserStore } from './user-store.ts';

const lookups = new WeakMap<object, Map<string, Promise<User | undefined>>>();

export function findUserOnce(users: Pick<UserStore, 'findById'>, request: object | undefined, id: string): Promise<User | undefined> {
  if (!request) return users.findById(id);
  let found = lookups.get(request);
  if (!found) lookups.set(request, (found = new Map()));
  let user = found.get(id);
  if (!user) found.set(id, (user = users.findById(id)));
  return user;
}
