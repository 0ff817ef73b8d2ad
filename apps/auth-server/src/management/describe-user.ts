/** A user as the admin pages and the CLI show it (the CLI prints the keys in snake_case). */
import { UserStore, type User } from '../accounts/user-store.ts';
import type { TimeFormat } from './time-format.ts';

export function describeUser(user: User, time: TimeFormat) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    scopes: user.scopes,
    status: UserStore.status(user),
    source: user.source,
    createdAt: time(user.createdAt),
  };
}

export type UserRow = ReturnType<typeof describeUser>;
