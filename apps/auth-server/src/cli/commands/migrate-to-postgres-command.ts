/**
 * `gatehouse migrate-to-postgres`: moves an existing SQLite deployment (both apps' databases in
 * DATA_DIR) into the PostgreSQL database DATABASE_URL names. Run it with the apps stopped, then
 * start them with DATABASE_URL set. Both apps' tables are copied in one transaction and verified
 * by counting, so a run that fails leaves nothing to refuse the next one; a target that already
 * holds data is refused, so running it twice changes nothing.
 * The signing and cookie keys in KEYS_DIR move too, encrypted (keys/import-key-files.ts), so
 * nobody is signed out by the move.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../../../shared/config/config-error.ts';
import { copySqliteToPostgres, MigrationCopyError, type CopiedTable } from '../../../../shared/storage/copy-sqlite-to-postgres.ts';
import { migrationsDir, type AppName } from '../../../../shared/storage/open-database.ts';
import { migratePostgres, PostgresDatabase } from '../../../../shared/storage/postgres-database.ts';
import { migrateSqlite, SqliteDatabase } from '../../../../shared/storage/sqlite-database.ts';
import { importKeyFiles, KeyImportRefused, type ImportedKeys } from '../../keys/import-key-files.ts';
import { cannotOpenDatabase, CliError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable } from '../format-table.ts';
import { parseCommandLine } from '../parse-command-line.ts';

/**
 * Opens the apps' SQLite files and brings each to this version's schema, as its app would at
 * start; before anything touches the target, so a file that cannot be used (not SQLite, a newer
 * version's schema) stops the run with nothing written anywhere.
 */
async function openSources(present: ReadonlyArray<[AppName, string]>): Promise<Array<[AppName, SqliteDatabase]>> {
  const sources: Array<[AppName, SqliteDatabase]> = [];
  try {
    for (const [app, file] of present) {
      try {
        const source = new SqliteDatabase(file);
        sources.push([app, source]);
        migrateSqlite(source, migrationsDir('sqlite', app));
      } catch (err) {
        throw err instanceof ConfigError ? err : cannotOpenDatabase(file, err);
      }
    }
    return sources;
  } catch (err) {
    for (const [, source] of sources) await source.close();
    throw err;
  }
}

/** Copies the apps' SQLite databases into `target`, together: both or neither. */
async function copyApps(sources: ReadonlyArray<[AppName, SqliteDatabase]>, target: PostgresDatabase): Promise<Array<CopiedTable & { app: AppName }>> {
  try {
    for (const [app] of sources) await migratePostgres(target, app, migrationsDir('postgres', app));
    const copied = await copySqliteToPostgres(sources.map(([, source]) => source), target);
    return sources.flatMap(([app], i) => copied[i]!.map((table) => ({ app, ...table })));
  } catch (err) {
    if (err instanceof MigrationCopyError) throw new CliError(`${err.message}; nothing was copied`);
    throw err;
  }
}

export const migrateToPostgresCommand: CommandGroup = {
  // It opens the SQLite files and the target itself: the context's database would be the target.
  usesDatabase: false,
  usage: ['migrate-to-postgres           (copies the SQLite databases in DATA_DIR into DATABASE_URL; run with the apps stopped)'],
  subcommands: {
    async ''(args, context) {
      parseCommandLine(args, {}, { min: 0, max: 0, names: '' });
      const { database } = context.config;
      if (!database.postgres) throw new CliError('set DATABASE_URL (or database.url) to the PostgreSQL database to copy into');
      const files: Array<[AppName, string]> = [
        ['auth-server', database.sqliteFile],
        ['resource-server', join(dirname(database.sqliteFile), 'resource-server.db')],
      ];
      const present = files.filter(([, file]) => existsSync(file));
      if (present.length === 0) throw new CliError(`no SQLite database in ${dirname(database.sqliteFile)} (DATA_DIR)`);
      const sources = await openSources(present);
      const target = new PostgresDatabase(database.postgres);
      let copied: Array<CopiedTable & { app: AppName }>;
      let keys: ImportedKeys;
      try {
        // Keys before tables: a run stopped by a table finds them in place the next time.
        await migratePostgres(target, 'auth-server', migrationsDir('postgres', 'auth-server')).catch((err: unknown) => {
          throw err instanceof ConfigError ? err : cannotOpenDatabase(`PostgreSQL at ${target.location}`, err);
        });
        keys = await importKeyFiles(context.config, target).catch((err: unknown) => {
          throw err instanceof KeyImportRefused ? new CliError(err.message) : err;
        });
        copied = await copyApps(sources, target);
      } finally {
        await target.close();
        for (const [, source] of sources) await source.close();
      }
      context.print({ database: target.location, tables: copied, keys: { signing_keys: keys.signingKeys, cookie_keys: keys.cookieKeys } }, () => [
        `Copied into ${target.location} (every table counted after the copy: the counts match):`,
        formatTable(['APP', 'TABLE', 'ROWS'], copied.map((t) => [t.app, t.table, String(t.rows)])),
        `Keys from ${context.config.keysDir}, encrypted with GATEHOUSE_KEY_ENCRYPTION_KEY: ${keys.signingKeys} signing, ${keys.cookieKeys} cookie.`,
      ].join('\n'));
    },
  },
};
