/** A user as the admin pages and the CLI show it (the CLI prints the keys in snake_case). */
import { nameNeedsRenaming } from '../../../shared/username.ts';
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
    /** The name was stored before today's username rules (shared/username.ts): rename it. */
    needsRenaming: nameNeedsRenaming(user.username),
  };
}

export type UserRow = ReturnType<typeof describeUser>;
