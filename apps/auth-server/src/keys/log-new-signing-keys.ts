/**
 * What the log says when a start found no signing key and created the first ones.
 *
 * - On a new deployment that is routine: `info`, so a first start logs no warning (the README's
 *   production checklist asks for none). Users added with the CLI before that first start
 *   (`gatehouse users add alice` on a fresh DATA_DIR) are part of a new deployment too.
 * - On a database that already holds grants, sessions, clients or tokens (`oidc_models`), it is
 *   trouble: `warn`. Those were signed by, or bound to, other keys: KEYS_DIR (or its volume) is
 *   not the one this database was used with, the key files were lost, or the keys were left
 *   behind on a move to PostgreSQL; every token signed before no longer verifies.
 *
 * Deliberately not counted: users (a user holds nothing a key signed, and the CLI adds them before
 * any server has run), audit events, allow-lists and the other tables, which say nothing about
 * what the lost keys signed. The count runs only on the start that created keys.
 */
import type { Logger } from '../../../shared/logger.ts';
import type { SqlExecutor } from '../../../shared/storage/sql-database.ts';

export async function logNewSigningKeys(database: SqlExecutor, keysLocation: string, logger: Logger): Promise<void> {
  const held = await database.get<{ models: number }>('SELECT count(*) AS models FROM oidc_models');
  const models = Number(held?.models ?? 0);
  if (models === 0) {
    logger.info({ keys: keysLocation }, 'first start: generated a new RS256 signing key');
    return;
  }
  logger.warn(
    { keys: keysLocation, grantsTokensAndSessions: models },
    'no signing key found, but the database already holds grants, sessions, clients or tokens: generated a new RS256 key. '
      + 'Tokens and sessions signed before no longer verify; if the keys are elsewhere (another KEYS_DIR or volume), '
      + 'stop this server and point it at them',
  );
}
