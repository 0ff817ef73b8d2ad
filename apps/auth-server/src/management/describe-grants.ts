/**
 * Grants (connected apps) as the admin pages, the account page and the CLI show them: with the
 * user's name and the client's name beside their ids (a deleted one shows its id).
 */
import type { User } from '../accounts/user-store.ts';
import type { AdminServices } from './admin-services.ts';
import type { GrantFilter } from './grant-registry.ts';
import type { TimeFormat } from './time-format.ts';

export interface UserLookup {
  findById(id: string): User | undefined;
}

export async function describeGrants(services: AdminServices, users: UserLookup, filter: GrantFilter, time: TimeFormat) {
  const clientNames = new Map((await services.clients.list()).map((c) => [c.clientId, c.name]));
  return (await services.grants.list(filter)).map((g) => ({
    grantId: g.grantId,
    /** The username. */
    user: users.findById(g.accountId)?.username ?? g.accountId,
    accountId: g.accountId,
    clientId: g.clientId,
    clientName: clientNames.get(g.clientId) ?? g.clientId,
    scopes: g.scopes,
    createdAt: time(g.createdAt),
    lastRefreshAt: time(g.lastRefreshAt),
    expiresAt: time(g.expiresAt),
  }));
}

export type GrantRow = Awaited<ReturnType<typeof describeGrants>>[number];
