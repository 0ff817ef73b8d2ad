/**
 * `gatehouse backup DIRECTORY`: a consistent copy of the SQLite databases in DATA_DIR and of the
 * key files in KEYS_DIR, taken while the apps run (storage/vacuum-into.ts says why not SQLite's
 * online backup). Restoring is putting the files back (README: *Backup and restore*); it brings
 * back the moment the backup was taken, which the output states, undoing what was done since.
 *
 * - What it copies is checked before anything is written (find-backup-sources.ts): a database it
 *   cannot read, or signing keys missing or unreadable beside the auth-server's database, is one
 *   line naming DATA_DIR or KEYS_DIR, the cause and what to do. Without the signing keys a restore
 *   signs everyone out, so leaving them out takes `--without-keys`.
 * - It writes all of its files into DIRECTORY or none, never over a backup, into a directory only
 *   its owner may write in (write-backup.ts). Stopped mid-copy (Ctrl-C, SIGTERM, SIGHUP), it
 *   removes what it wrote and says nothing was kept (exit 128 + the signal's number: 130 for
 *   Ctrl-C); the copy runs in a child process
 *   (copy-in-child-process.ts), so that takes no longer than stopping it.
 * - The resource server's database is copied when it is in the same DATA_DIR; docker compose
 *   keeps it in the resource-server's container, where this command copies it.
 * - What it looked for and did not find (a database, cookie-keys.json, which a restored server
 *   makes anew: browsers sign in again) is a note each on stderr and `not_found` with --json.
 * - PostgreSQL (DATABASE_URL) is refused: pg_dump copies that database, keys included.
 * Deliberately not done: removing the private directory the files are written in when the
 * process is killed (SIGKILL). Such a DIRECTORY holds that `.partial-…` directory and nothing
 * else; the README says to delete it.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { CliError, UsageError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { findBackupSources } from '../find-backup-sources.ts';
import { INVOCATION } from '../invocation.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { writeBackup } from '../write-backup.ts';

export const backupCommand: CommandGroup = {
  // It reads the files itself, read-only: opening the database as other commands do would migrate
  // it, under a running server of another version.
  usesDatabase: false,
  usage: [
    'backup [--without-keys] DIRECTORY',
    '  copies the SQLite databases in DATA_DIR and the keys in KEYS_DIR into DIRECTORY (made 0700 if',
    '  missing, each file 0600) while the apps run; never overwrites a backup (PostgreSQL: pg_dump);',
    '  refuses to leave out the signing keys unless --without-keys is given',
  ],
  subcommands: {
    async ''(args, context) {
      const { values, positionals } = parseCommandLine(args, { 'without-keys': { type: 'boolean', default: false } }, { min: 1, max: 1, names: 'DIRECTORY' });
      if (!positionals[0]!.trim()) throw new UsageError('DIRECTORY is empty');
      const { database, keysDir } = context.config;
      if (database.postgres) {
        throw new CliError('the database is PostgreSQL (DATABASE_URL), keys included: back it up with pg_dump (README: Several replicas on PostgreSQL) '
          + 'and keep GATEHOUSE_KEY_ENCRYPTION_KEY apart from it; nothing was written');
      }
      const directory = resolve(positionals[0]!);
      const resourceFile = join(dirname(database.sqliteFile), 'resource-server.db');
      const withoutKeys = values['without-keys'];
      const { databases, keys, missingKeys } = findBackupSources({ authFile: database.sqliteFile, resourceFile, keysDir, withoutKeys });
      const copies = [...databases, ...keys].map((from) => ({ from, to: join(directory, basename(from)), kind: databases.includes(from) ? 'database' as const : 'key file' as const }));
      const takenAt = await writeBackup(directory, copies);

      // What was expected and not there: a note on stderr each, and --json's not_found.
      const notFound: Array<{ file: string; what: string; says: string }> = [];
      const authFile = database.sqliteFile;
      if (!databases.includes(authFile)) notFound.push({ file: authFile, what: 'auth-server database', says: `the auth-server's database (no ${authFile}); run this command where it is` });
      if (!databases.includes(resourceFile)) {
        notFound.push({ file: resourceFile, what: 'resource-server database', says: `the resource server's database (no ${resourceFile}); where it is elsewhere (docker compose: the resource-server container), `
          + `run \`${INVOCATION} backup\` there, or sqlite3 resource-server.db "VACUUM INTO 'COPY'"` });
      }
      for (const file of missingKeys) {
        notFound.push({ file, what: 'cookie keys', says: `the cookie keys (no ${file}); a server restored from this backup makes new ones at its start, which signs browsers out `
          + '(access and refresh tokens stay valid): restore it without cookie-keys.json' });
      }
      for (const { says } of notFound) context.note(`not copied: ${says}`);
      const when = takenAt.toISOString();
      context.print({ directory, taken_at: when, files: copies.map(({ from, to }) => ({ file: to, from })), not_found: notFound.map(({ file, what }) => ({ file, what })) }, () => [
        `backed up into ${directory}, as it was at ${when} (store it encrypted: it holds password hashes${keys.length > 0 ? ' and the keys' : ''}):`,
        ...copies.map(({ from, to }) => `  ${basename(to)}  (from ${from})`),
        ...(withoutKeys && databases.includes(database.sqliteFile) ? ['keys: none copied (--without-keys): restored without them, access tokens and browser sessions issued before then stop working'] : []),
        `a restore undoes everything done after ${when}: revocations, disabled users, password changes, key rotations and retirements must be done again`,
      ]);
    },
  },
};
