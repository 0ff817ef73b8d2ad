/**
 * `gatehouse backup DIRECTORY`: a consistent copy of the SQLite databases in DATA_DIR and of the
 * key files in KEYS_DIR, taken while the apps run (storage/vacuum-into.ts says why not SQLite's
 * online backup). Restoring is putting the files back (README: *Backup and restore*).
 *
 * - DIRECTORY is made 0700 when missing (its parent must exist: a typo does not grow a tree), and
 *   every file in it is 0600: the database holds password hashes, the keys sign tokens.
 * - Each file is written under a temporary name and linked into place once complete, so a backup
 *   that fails or is stopped half-way never leaves a half file under the name a restore takes.
 * - A backup file already there is refused before anything is written: it is never overwritten.
 * - The resource server's database is copied when it is in the same DATA_DIR; docker compose
 *   keeps it in the resource-server's container, where this command copies it.
 * - PostgreSQL (DATABASE_URL) is refused: pg_dump copies that database, keys included.
 * Deliberately not done: tightening a DIRECTORY that exists already (it may be shared), as `mkdir -p`.
 */
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { vacuumInto } from '../../../../shared/storage/vacuum-into.ts';
import { CliError, UsageError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { INVOCATION } from '../invocation.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { cutInput } from '../../management/cut-input.ts';

const KEY_FILES = ['signing-keys.json', 'cookie-keys.json'];

/** File-system errors in the words of the person who named the path. */
const PROBLEMS: Record<string, string> = {
  ENOENT: 'its parent directory does not exist',
  ENOTDIR: 'a part of its path is a file, not a directory',
  EEXIST: 'it is a file, not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  ENAMETOOLONG: 'the name is too long',
};

const problem = (err: unknown) => PROBLEMS[(err as NodeJS.ErrnoException).code ?? ''] ?? String((err as Error).message ?? err).replace(/\s*\n\s*/g, ' ');

interface Copy {
  from: string;
  to: string;
  write(from: string, temporary: string): void;
}

function makeDirectory(directory: string): void {
  try {
    mkdirSync(directory, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(directory).isDirectory()) return;
    throw new CliError(`cannot make the backup directory ${cutInput(directory)}: ${problem(err)}; nothing was written`);
  }
}

/**
 * Writes `to` through `write(temporary)`, made 0600 before anything is in it. link, not rename,
 * puts it in place: it refuses a file that appeared at `to` meanwhile, which rename would replace.
 */
function writeIntoPlace(to: string, write: (temporary: string) => void): void {
  const temporary = `${to}.partial-${process.pid}`;
  closeSync(openSync(temporary, 'wx', 0o600));
  try {
    write(temporary);
    linkSync(temporary, to);
  } finally {
    rmSync(temporary, { force: true });
  }
}

const copyKeyFile = (from: string, temporary: string) => writeFileSync(temporary, readFileSync(from));

export const backupCommand: CommandGroup = {
  // It reads the files itself, read-only: opening the database as other commands do would migrate
  // it, under a running server of another version.
  usesDatabase: false,
  usage: [
    'backup DIRECTORY',
    '  copies the SQLite databases in DATA_DIR and the keys in KEYS_DIR into DIRECTORY (made 0700 if',
    '  missing, each file 0600) while the apps run; never overwrites a backup (PostgreSQL: pg_dump)',
  ],
  subcommands: {
    async ''(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'DIRECTORY' });
      if (!positionals[0]!.trim()) throw new UsageError('DIRECTORY is empty');
      const { database, keysDir } = context.config;
      if (database.postgres) {
        throw new CliError('the database is PostgreSQL (DATABASE_URL), keys included: back it up with pg_dump (README: Several replicas on PostgreSQL) '
          + 'and keep GATEHOUSE_KEY_ENCRYPTION_KEY apart from it; nothing was written');
      }
      const directory = resolve(positionals[0]!);
      const dataDir = dirname(database.sqliteFile);
      const resourceFile = join(dataDir, 'resource-server.db');
      const databases = [database.sqliteFile, resourceFile].filter((file) => existsSync(file));
      if (databases.length === 0) throw new CliError(`there is no database in DATA_DIR (${dataDir}); nothing was written`);
      const copyKeys = databases.includes(database.sqliteFile);
      const keys = copyKeys ? KEY_FILES.map((name) => join(keysDir, name)).filter((file) => existsSync(file)) : [];
      const copies: Copy[] = [
        ...databases.map((from) => ({ from, to: join(directory, basename(from)), write: vacuumInto })),
        ...keys.map((from) => ({ from, to: join(directory, basename(from)), write: copyKeyFile })),
      ];
      const taken = copies.find(({ to }) => existsSync(to));
      if (taken) throw new CliError(`${taken.to} exists, and a backup is never overwritten: choose another DIRECTORY; nothing was written`);

      makeDirectory(directory);
      for (const { from, to, write } of copies) {
        try {
          writeIntoPlace(to, (temporary) => write(from, temporary));
        } catch (err) {
          throw new CliError(`cannot copy ${from} to ${to}: ${problem(err)}`);
        }
      }
      if (!databases.includes(database.sqliteFile)) context.note(`not copied: the auth-server's database (no ${database.sqliteFile}); run this command where it is`);
      if (!databases.includes(resourceFile)) {
        context.note(`not copied: the resource server's database (no ${resourceFile}); where it is elsewhere (docker compose: the resource-server container), `
          + `run \`${INVOCATION} backup\` there, or sqlite3 resource-server.db "VACUUM INTO 'COPY'"`);
      }
      if (copyKeys && !keys.some((file) => basename(file) === KEY_FILES[0])) {
        context.note(`no signing keys in KEYS_DIR (${keysDir}): after a restore, tokens issued before it do not verify (check KEYS_DIR)`);
      }
      context.print({ directory, files: copies.map(({ from, to }) => ({ file: to, from })) }, () => [
        `backed up into ${directory} (store it encrypted: it holds password hashes${keys.length > 0 ? ' and the keys' : ''}):`,
        ...copies.map(({ from, to }) => `  ${basename(to)}  (from ${from})`),
      ]);
    },
  },
};
