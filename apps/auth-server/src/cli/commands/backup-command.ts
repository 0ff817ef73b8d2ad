/**
 * `gatehouse backup DIRECTORY`: a consistent copy of the SQLite databases in DATA_DIR and of the
 * key files in KEYS_DIR, taken while the apps run (storage/vacuum-into.ts says why not SQLite's
 * online backup). Restoring is putting the files back (README: *Backup and restore*).
 *
 * - DIRECTORY is made 0700 when missing (its parent must exist: a typo does not grow a tree), and
 *   every file in it is 0600: the database holds password hashes, the keys sign tokens.
 * - An existing DIRECTORY is taken only when it is this user's, not a symbolic link, and no one
 *   else may write in it: another user who can would swap a file being written for one of theirs
 *   (then they can read the keys) or for a symbolic link (root then writes the keys over any
 *   file). It is refused, not tightened (it may be shared).
 * - Each file is written in a private directory made inside DIRECTORY (mkdtemp: 0700, a name no
 *   one can guess) and linked into place once complete, so a backup that fails or is stopped
 *   half-way never leaves a half file under the name a restore takes.
 * - A backup file already there is refused before anything is written: it is never overwritten.
 * - The resource server's database is copied when it is in the same DATA_DIR; docker compose
 *   keeps it in the resource-server's container, where this command copies it.
 * - PostgreSQL (DATABASE_URL) is refused: pg_dump copies that database, keys included.
 * Deliberately not done: checking DIRECTORY's parents; whoever may rename DIRECTORY there can
 * swap it for theirs after the check.
 */
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new CliError(`cannot make the backup directory ${cutInput(directory)}: ${problem(err)}; nothing was written`);
  }
  const found = lstatSync(directory);
  if (found.isSymbolicLink()) throw new CliError(`cannot back up into ${cutInput(directory)}: it is a symbolic link; name the directory itself; nothing was written`);
  if (!found.isDirectory()) throw new CliError(`cannot make the backup directory ${cutInput(directory)}: ${PROBLEMS.EEXIST}; nothing was written`);
  const self = process.geteuid?.();
  // Windows has neither owners nor these mode bits.
  if (self === undefined) return;
  const unsafe = found.uid !== self ? `it belongs to uid ${found.uid}, not to this user (uid ${self})`
    : found.mode & 0o022 ? `users other than its owner may write in it (mode ${(found.mode & 0o7777).toString(8)})` : undefined;
  if (unsafe) throw new CliError(`cannot back up into ${cutInput(directory)}: ${unsafe}; name a directory that does not exist yet (it is made 0700), or one only you may write in (chmod go-w); nothing was written`);
}

/** The empty file made first gives the copy its mode: SQLite would make it 0644. */
function copyDatabase(from: string, staged: string): void {
  closeSync(openSync(staged, 'wx', 0o600));
  vacuumInto(from, staged);
}

function copyKeyFile(from: string, staged: string): void {
  const fd = openSync(staged, 'wx', 0o600);
  try {
    writeFileSync(fd, readFileSync(from));
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes each copy in a directory only this user can enter, then links it into DIRECTORY. link, not
 * rename: it refuses a file that appeared at `to` meanwhile, which rename would replace.
 */
function writeIntoPlace(directory: string, copies: Copy[]): void {
  let staging: string;
  try {
    staging = mkdtempSync(join(directory, '.partial-'));
  } catch (err) {
    throw new CliError(`cannot write in the backup directory ${cutInput(directory)}: ${problem(err)}; nothing was written`);
  }
  try {
    for (const { from, to, write } of copies) {
      const staged = join(staging, basename(to));
      try {
        write(from, staged);
        linkSync(staged, to);
      } catch (err) {
        throw new CliError(`cannot copy ${from} to ${to}: ${problem(err)}`);
      }
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

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
        ...databases.map((from) => ({ from, to: join(directory, basename(from)), write: copyDatabase })),
        ...keys.map((from) => ({ from, to: join(directory, basename(from)), write: copyKeyFile })),
      ];
      makeDirectory(directory);
      const taken = copies.find(({ to }) => existsSync(to));
      if (taken) throw new CliError(`${taken.to} exists, and a backup is never overwritten: choose another DIRECTORY; nothing was written`);
      writeIntoPlace(directory, copies);
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
