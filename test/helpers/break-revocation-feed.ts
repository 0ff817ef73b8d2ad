/**
 * Makes the revocation feed refuse its entries through a real trigger on its table, on either
 * backend: a full disk, a lost connection or a statement timeout would fail the same insert. Tests
 * of what a failed revocation leaves behind, and of how trying again finishes it, use this.
 */
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';

/** Makes every insert into the revocation feed (of `kind` only, when given) fail until `restore` is called. */
export async function breakRevocationFeed(db: SqlDatabase, kind?: 'grant'): Promise<{ restore(): Promise<void> }> {
  if (db.dialect === 'sqlite') {
    const when = kind ? ` WHEN NEW.kind = '${kind}'` : '';
    await db.run(`CREATE TRIGGER refuse_entries BEFORE INSERT ON revocations${when} BEGIN SELECT RAISE(ABORT, 'the feed is unavailable'); END`);
    return { restore: async () => void await db.run('DROP TRIGGER refuse_entries') };
  }
  const when = kind ? ` WHEN (NEW.kind = '${kind}')` : '';
  await db.run("CREATE FUNCTION refuse_entries() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the feed is unavailable'; END $$");
  await db.run(`CREATE TRIGGER refuse_entries BEFORE INSERT ON revocations FOR EACH ROW${when} EXECUTE FUNCTION refuse_entries()`);
  return {
    async restore() {
      await db.run('DROP TRIGGER refuse_entries ON revocations');
      await db.run('DROP FUNCTION refuse_entries()');
    },
  };
}
