/**
 * At start, a warning for each issuer users were linked through that no longer lets anyone in:
 * an upstream taken out of `auth_server.federated` (or all of them, in mode `builtin`) and not a
 * trusted ID-JAG IdP either. Taking an upstream out stops new sign-ins through it and nothing
 * else: the sessions and refresh tokens its sign-ins made go on working until they are ended
 * (`users unlink` revokes a link's grants and ends its user's sessions; `users disable`). An
 * operator retiring an upstream (compromised, a contract ended) is told so at the start that
 * retires it, with how many users it concerns, instead of finding out later.
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
  users: number;
}

export async function findRetiredIssuers(db: SqlDatabase, live: LiveIssuers): Promise<RetiredIssuer[]> {
  const rows = await db.all<{ issuer: string; upstream_id: string; users: number }>(
    'SELECT issuer, max(upstream_id) AS upstream_id, count(DISTINCT user_id) AS users FROM federated_identities GROUP BY issuer ORDER BY issuer',
  );
  const offered = new Set(live.upstreams.map((upstream) => upstream.issuer));
  const retired: RetiredIssuer[] = [];
  for (const row of rows) {
    if (offered.has(row.issuer) || await live.isTrustedIdp(row.issuer)) continue;
    retired.push({ issuer: row.issuer, upstreamId: row.upstream_id, users: Number(row.users) });
  }
  return retired;
}

export async function warnOfRetiredUpstreams(db: SqlDatabase, live: LiveIssuers, logger: Pick<Logger, 'warn'>): Promise<void> {
  for (const { issuer, upstreamId, users } of await findRetiredIssuers(db, live)) {
    logger.warn({ issuer, upstream: upstreamId, users },
      'users were linked through an upstream sign-in no longer offers: their sessions and refresh tokens go on working until ended (gatehouse users links / unlink, or users disable)');
  }
}
