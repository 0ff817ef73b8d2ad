/**
 * Makes a table refuse its inserts through a real trigger, on either backend: a full disk, a lost
 * connection or a statement timeout would fail the same insert. Tests of what a failed write
 * leaves behind (the revocation feed's entries, the audit log's records) use this.
 */
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';

/** Every insert into `table` (whose `kind` is `kind` only, when given) fails with `message` until `restore` is called. */
export async function refuseInserts(db: SqlDatabase, table: string, message: string, kind?: string): Promise<{ restore(): Promise<void> }> {
  const trigger = `refuse_${table}`;
  if (db.dialect === 'sqlite') {
    const when = kind ? ` WHEN NEW.kind = '${kind}'` : '';
    await db.run(`CREATE TRIGGER ${trigger} BEFORE INSERT ON ${table}${when} BEGIN SELECT RAISE(ABORT, '${message}'); END`);
    return { restore: async () => void await db.run(`DROP TRIGGER ${trigger}`) };
  }
  const when = kind ? ` WHEN (NEW.kind = '${kind}')` : '';
  await db.run(`CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${message}'; END $$`);
  await db.run(`CREATE TRIGGER ${trigger} BEFORE INSERT ON ${table} FOR EACH ROW${when} EXECUTE FUNCTION ${trigger}()`);
  return {
    async restore() {
      await db.run(`DROP TRIGGER ${trigger} ON ${table}`);
      await db.run(`DROP FUNCTION ${trigger}()`);
    },
  };
}
