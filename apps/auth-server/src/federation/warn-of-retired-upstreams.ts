/**
 * At start, a warning for each issuer users were linked through that no longer lets anyone in:
 * an upstream taken out of `auth_server.federated` (or all of them, in mode `builtin`) and not a
 * trusted ID-JAG IdP either. Taking an upstream out stops new sign-ins through it and nothing
 * else: the sessions and refresh tokens its sign-ins made go on working until they are ended
 * (`users unlink` revokes a link's grants and ends its user's sessions; `users disable`). An
 * operator retiring an upstream (compromised, a contract ended) is told so at the start that
 * retires it, with how many users it concerns (those neither disabled nor pending) and a few of
 * their names, instead of finding out later; the warning stops once none is left.
 *
 * Deliberately not done: ending them at start. An issuer mistyped in the config would end every
 * user's access, and putting it right would not bring it back.
 */
import type { Logger } from '../../../shared/logger.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';

/** Issuers that still let people in: the upstreams sign-in offers, and trusted ID-JAG IdPs. */
export interface LiveIssuers {
  upstreams: ReadonlyArray<{ issuer: string }>;
  isTrustedIdp(issuer: string): Promise<boolean>;
}

export interface RetiredIssuer {
  issuer: string;
  /** The upstream id it was linked under last. */
  upstreamId: string;
  /** Users linked through it who are neither disabled nor waiting for approval: those whose access goes on. */
  users: number;
  /** A few of their names, for `gatehouse users links` and `unlink`. */
  examples: string[];
}

/** Names a warning shows of one issuer's users. */
const EXAMPLES = 5;

export async function findRetiredIssuers(db: SqlDatabase, live: LiveIssuers): Promise<RetiredIssuer[]> {
  // A disabled user's grants and sessions were ended when they were disabled; one waiting for
  // approval never had any.
  const rows = await db.all<{ issuer: string; upstream_id: string; username: string }>(
    `SELECT f.issuer, f.upstream_id, u.username FROM federated_identities f JOIN users u ON u.id = f.user_id
      WHERE u.disabled = 0 AND u.pending = 0 ORDER BY f.issuer, u.username`,
  );
  const offered = new Set(live.upstreams.map((upstream) => upstream.issuer));
  const retired = new Map<string, RetiredIssuer & { names: Set<string> }>();
  for (const row of rows) {
    let entry = retired.get(row.issuer);
    if (!entry) {
      if (offered.has(row.issuer) || await live.isTrustedIdp(row.issuer)) continue;
      retired.set(row.issuer, entry = { issuer: row.issuer, upstreamId: row.upstream_id, users: 0, examples: [], names: new Set() });
    }
    if (entry.names.has(row.username)) continue;
    entry.names.add(row.username);
    entry.users += 1;
    if (entry.examples.length < EXAMPLES) entry.examples.push(row.username);
  }
  return [...retired.values()].map(({ names: _names, ...issuer }) => issuer);
}

export async function warnOfRetiredUpstreams(db: SqlDatabase, live: LiveIssuers, logger: Pick<Logger, 'warn'>): Promise<void> {
  for (const { issuer, upstreamId, users, examples } of await findRetiredIssuers(db, live)) {
    logger.warn({ issuer, upstream: upstreamId, users, examples },
      'users were linked through an upstream sign-in no longer offers: their sessions and refresh tokens go on working until ended (gatehouse users links / unlink, or users disable)');
  }
}
