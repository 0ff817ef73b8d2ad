/**
 * Makes the revocation feed refuse its entries (helpers/refuse-inserts.ts). Tests of what a failed
 * revocation leaves behind, and of how trying again finishes it, use this.
 */
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { refuseInserts } from './refuse-inserts.ts';

/** Makes every insert into the revocation feed (of `kind` only, when given) fail until `restore` is called. */
export function breakRevocationFeed(db: SqlDatabase, kind?: 'grant'): Promise<{ restore(): Promise<void> }> {
  return refuseInserts(db, 'revocations', 'the feed is unavailable', kind);
}
