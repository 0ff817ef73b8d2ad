/**
 * `gatehouse migrate-to-postgres`: moves an existing SQLite deployment (both apps' databases in
 * DATA_DIR) into the PostgreSQL database DATABASE_URL names. Run it with the apps stopped, then
 * start them with DATABASE_URL set. Both apps' tables are copied in one transaction and verified
 * by counting, so a run that fails leaves nothing to refuse the next one; a target that already
 * holds data is refused, so running it twice changes nothing.
 * The signing and cookie keys in KEYS_DIR move too, encrypted (keys/import-key-files.ts), so
 * nobody is signed out by the move.
 *
 * Refused before anything is written to the target, each in one line saying what to do:
 * - data PostgreSQL cannot hold as SQLite holds it (text with U+0000; usernames that PostgreSQL's
 *   lower() makes one), which would fail the copy at that table, and every run after it;
 * - a KEYS_DIR without keys beside a database whose tokens and sessions need them (a wrong
 *   KEYS_DIR moved a deployment whose every user then had to sign in again), unless
 *   `--without-keys` says that is meant.
 * The resource server's database is looked for beside the auth-server's; when it is not there
 * (docker compose keeps it in its own volume), the output says it was not copied.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../../../shared/config/config-error.ts';
import { copySqliteToPostgres, findFoldedUsernames, findUnholdableText, MigrationCopyError, type CopiedTable } from '../../../../shared/storage/copy-sqlite-to-postgres.ts';
import { migrationsDir, type AppName } from '../../../../shared/storage/open-database.ts';
import { migratePostgres } from '../../../../shared/storage/migrate-postgres.ts';
import { PostgresDatabase } from '../../../../shared/storage/postgres-database.ts';
import { migrateSqlite, SqliteDatabase } from '../../../../shared/storage/sqlite-database.ts';
import { importKeyFiles, KeyImportRefused, type ImportedKeys } from '../../keys/import-key-files.ts';
import { readSigningKeys } from '../../keys/signing-keys.ts';
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

/** Refuses sources holding text PostgreSQL cannot store (U+0000), naming each place and the fix. */
function refuseUnholdableText(sources: ReadonlyArray<[AppName, SqliteDatabase]>): void {
  for (const [, source] of sources) {
    const found = findUnholdableText(source);
    if (found.length === 0) continue;
    const places = found.map(({ table, column, rows }) => `${table}.${column} (${rows} row${rows === 1 ? '' : 's'})`).join(', ');
    const { table, column } = found[0]!;
    throw new CliError(`${source.location} holds text with U+0000 (NUL), which PostgreSQL cannot store, in ${places}; `
      + `replace it first, e.g. with the sqlite3 shell: UPDATE ${table} SET ${column} = replace(${column}, char(0), char(65533)) WHERE instr(${column}, char(0)) > 0; nothing was copied`);
  }
}

/** Refuses usernames that PostgreSQL's lower() makes one (the target's unique index would refuse the second). */
async function refuseFoldedUsernames(sources: ReadonlyArray<[AppName, SqliteDatabase]>, target: PostgresDatabase): Promise<void> {
  const auth = sources.find(([app]) => app === 'auth-server')?.[1];
  if (!auth) return;
  const groups = await findFoldedUsernames(auth, target).catch((err: unknown) => {
    throw cannotOpenDatabase(`PostgreSQL at ${target.location}`, err);
  });
  if (groups.length === 0) return;
  const named = groups.map((group) => group.map((name) => JSON.stringify(name)).join(' and ')).join('; ');
  throw new CliError(`these usernames differ only in case, which PostgreSQL's lower() folds and SQLite's does not: ${named}; `
    + 'rename one of each (gatehouse users rename USERNAME NEW_USERNAME), then run this again; nothing was copied');
}

/**
 * Refuses a KEYS_DIR without signing keys beside an auth-server database holding tokens, sessions
 * or clients: those were made with keys, which are elsewhere (another KEYS_DIR, another volume).
 */
function refuseMissingKeys(sources: ReadonlyArray<[AppName, SqliteDatabase]>, keysDir: string): void {
  const auth = sources.find(([app]) => app === 'auth-server')?.[1];
  if (!auth || readSigningKeys(keysDir).length > 0) return;
  const models = auth.handle.prepare('SELECT count(*) FROM oidc_models').pluck().get() as number;
  if (models === 0) return;
  throw new CliError(`KEYS_DIR (${keysDir}) holds no signing keys, but ${auth.location} holds ${models} tokens, sessions and clients made with keys: `
    + 'point KEYS_DIR at the keys of the server that used this database, or pass --without-keys to move without them '
    + '(access tokens and browser sessions issued before then stop working); nothing was copied');
}

/** Copies the apps' SQLite databases into `target`, together: both or neither. */
async function copyApps(sources: ReadonlyArray<[AppName, SqliteDatabase]>, target: PostgresDatabase): Promise<Array<CopiedTable & { app: AppName }>> {
  try {
    for (const [app] of sources) await migratePostgres(target, app, migrationsDir('postgres', app));
    const copied = await copySqliteToPostgres(sources.map(([, source]) => source), target);
    return sources.flatMap(([app], i) => copied[i]!.map((table) => ({ app, ...table })));
  } catch (err) {
    // The keys, moved first, stay in place: the next run finds them there.
    if (err instanceof MigrationCopyError) throw new CliError(`${err.message}; no table was copied`);
    throw err;
  }
}

export const migrateToPostgresCommand: CommandGroup = {
  // It opens the SQLite files and the target itself: the context's database would be the target.
  usesDatabase: false,
  usage: ['migrate-to-postgres [--without-keys]   (copies the SQLite databases in DATA_DIR and the keys in KEYS_DIR into DATABASE_URL; run with the apps stopped)'],
  subcommands: {
    async ''(args, context) {
      const { values } = parseCommandLine(args, { 'without-keys': { type: 'boolean', default: false } }, { min: 0, max: 0, names: '' });
      const { database } = context.config;
      if (!database.postgres) throw new CliError('set DATABASE_URL (or database.url) to the PostgreSQL database to copy into');
      const files: Array<[AppName, string]> = [
        ['auth-server', database.sqliteFile],
        ['resource-server', join(dirname(database.sqliteFile), 'resource-server.db')],
      ];
      const present = files.filter(([, file]) => existsSync(file));
      if (present.length === 0) throw new CliError(`no SQLite database in ${dirname(database.sqliteFile)} (DATA_DIR)`);
      const absent = files.filter(([, file]) => !existsSync(file));
      const sources = await openSources(present);
      // Connects only when first used: the checks on the SQLite side come first.
      const target = new PostgresDatabase(database.postgres);
      let copied: Array<CopiedTable & { app: AppName }>;
      let keys: ImportedKeys;
      try {
        refuseUnholdableText(sources);
        if (!values['without-keys']) refuseMissingKeys(sources, context.config.keysDir);
        await refuseFoldedUsernames(sources, target);
        // Keys before tables: a run stopped by a table finds them in place the next time.
        await migratePostgres(target, 'auth-server', migrationsDir('postgres', 'auth-server')).catch((err: unknown) => {
          throw err instanceof ConfigError ? err : cannotOpenDatabase(`PostgreSQL at ${target.location}`, err);
        });
        keys = values['without-keys'] ? { signingKeys: 0, cookieKeys: 0 } : await importKeyFiles(context.config, target).catch((err: unknown) => {
          throw err instanceof KeyImportRefused ? new CliError(err.message) : err;
        });
        copied = await copyApps(sources, target);
      } finally {
        await target.close();
        for (const [, source] of sources) await source.close();
      }
      const notCopied = absent.map(([app, file]) => ({ app, file }));
      context.print({ database: target.location, tables: copied, keys: { signing_keys: keys.signingKeys, cookie_keys: keys.cookieKeys }, not_found: notCopied }, () => [
        `Copied into ${target.location} (every table counted after the copy: the counts match):`,
        formatTable(['APP', 'TABLE', 'ROWS'], copied.map((t) => [t.app, t.table, String(t.rows)])),
        values['without-keys']
          ? 'Keys: none moved (--without-keys): the first start on PostgreSQL creates new ones.'
          : `Keys from ${context.config.keysDir}, encrypted with GATEHOUSE_KEY_ENCRYPTION_KEY: ${keys.signingKeys} signing, ${keys.cookieKeys} cookie.`,
        ...notCopied.map(({ app, file }) => `Not copied: ${app} (no ${file}). If its database is elsewhere (docker compose: its own volume), run this command where it is, with the same DATABASE_URL.`),
      ].join('\n'));
    },
  },
};
