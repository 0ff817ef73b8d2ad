/**
 * Two administrators changing one service account at the same moment, on two replicas of one
 * PostgreSQL database (or a replica and the CLI): each change applies to what the other wrote,
 * and neither is written back over the other. The race is held open, not timed: the first replica
 * is stopped just before it writes, and let go once the second has either finished its change or
 * is waiting for the first's lock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuditLog } from '../../apps/auth-server/src/audit/audit-log.ts';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { ServiceAccounts } from '../../apps/auth-server/src/management/service-accounts.ts';
import { ModelStore } from '../../apps/auth-server/src/provider/model-store.ts';
import { SERVICE_DISABLED } from '../../apps/auth-server/src/registration/service-account-policy.ts';
import { RevocationFeed } from '../../apps/auth-server/src/revocation/revocation-feed.ts';
import type { SqlDatabase, SqlExecutor, SqlParams } from '../../apps/shared/storage/sql-database.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { openTwoReplicas, type TwoReplicas } from '../helpers/two-replicas-database.ts';

/** `db`, where a statement matching `pattern` (inside a transaction too) first awaits `gate()`. */
function holdingStatements<T extends SqlExecutor>(db: T, pattern: RegExp, gate: () => Promise<void>): T {
  return new Proxy(db, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property === 'all' || property === 'get' || property === 'run') {
        const statement = value as (sql: string, params?: SqlParams) => Promise<unknown>;
        return async (sql: string, params?: SqlParams) => {
          if (pattern.test(sql)) await gate();
          return statement.call(target, sql, params);
        };
      }
      if (property === 'transaction') {
        return <R>(fn: (tx: SqlExecutor) => Promise<R>) => (target as unknown as SqlDatabase).transaction((tx) => fn(holdingStatements(tx, pattern, gate)));
      }
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Resolves once a session of this database waits for a lock, or `finished()` says there is nothing left to wait for. */
async function someoneWaitsForALock(db: SqlDatabase, finished: () => boolean): Promise<void> {
  while (!finished()) {
    const row = await db.get<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (Number(row?.n ?? 0) > 0) return;
  }
}

describe('a service account changed on two replicas at the same moment', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let replicas: TwoReplicas;
  const audits: AuditLog[] = [];

  const serviceAccountsOn = (db: SqlDatabase) => {
    const audit = new AuditLog(db, { retention: 3600, maxEvents: 1000 });
    audits.push(audit);
    return new ServiceAccounts(new ModelStore(db), audit, (metadata) => metadata, new RevocationFeed(db, { tokenLifetime: 3600 }));
  };

  before(async () => {
    replicas = await openTwoReplicas('postgres');
  });
  after(async () => {
    for (const audit of audits) await audit.flush();
    await replicas?.close();
  });

  test('disabled on one replica while the other changes its scopes: it stays disabled, with the new scopes', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrive!: () => void;
    const atWrite = new Promise<void>((resolve) => (arrive = resolve));
    const first = serviceAccountsOn(holdingStatements(replicas.first, /^\s*UPDATE oidc_models SET payload/, async () => {
      arrive();
      await released;
    }));
    const second = serviceAccountsOn(replicas.second);
    const { clientId } = await second.create({ name: 'Nightly export', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);

    // The first replica has read the account and is about to write the scopes an admin gave it.
    const scopesChanged = first.setScopes(clientId, ['mcp:read', 'mcp:write'], CLI);
    await atWrite;
    // Meanwhile another admin disables it (its key leaked) through the second replica.
    let disableEnded = false;
    const disabled = second.setDisabled(clientId, true, CLI).finally(() => (disableEnded = true));
    await Promise.race([disabled, someoneWaitsForALock(replicas.first, () => disableEnded)]);
    release();
    await Promise.all([scopesChanged, disabled]);

    const stored = await new ModelStore(replicas.second).clientMetadata(clientId);
    assert.equal(stored?.[SERVICE_DISABLED], true, `the account stays disabled after the scope change: ${JSON.stringify(stored)}`);
    assert.equal(stored?.scope, 'mcp:read mcp:write', `and keeps the scopes given meanwhile: ${JSON.stringify(stored)}`);
  });
});
