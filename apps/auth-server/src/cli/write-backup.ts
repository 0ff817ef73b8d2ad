/**
 * Writes `gatehouse backup`'s copies into DIRECTORY:
 *
 * - DIRECTORY is made 0700 when missing (its parent must exist: a typo does not grow a tree). An
 *   existing one is taken only when it is this user's, not a symbolic link, and no one else may
 *   write in it: another user who can would swap a file being written for one of theirs (then
 *   they can read the keys) or for a symbolic link (root then writes the keys over any file).
 * - A backup file already there is refused before anything is written: it is never overwritten.
 * - Each file is written (0600) in a private directory made inside DIRECTORY (mkdtemp: 0700, a
 *   name no one can guess) and linked into place once complete, so a backup that fails or is
 *   stopped half-way never leaves a half file under the name a restore takes.
 * Deliberately not done: checking DIRECTORY's parents (whoever may rename DIRECTORY there can swap
 * it for theirs after the check).
 */
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { vacuumInto } from '../../../shared/storage/vacuum-into.ts';
import { cutInput } from '../management/cut-input.ts';
import { CliError } from './cli-errors.ts';
import { fileSystemProblem } from './file-system-problem.ts';

export interface BackupCopy {
  from: string;
  to: string;
  kind: 'database' | 'key file';
}

const NOTHING = 'nothing was written';

function makeDirectory(directory: string): void {
  try {
    mkdirSync(directory, { mode: 0o700 });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new CliError(`cannot make the backup directory ${cutInput(directory)}: ${fileSystemProblem(err)}; ${NOTHING}`);
  }
  const found = lstatSync(directory);
  if (found.isSymbolicLink()) throw new CliError(`cannot back up into ${cutInput(directory)}: it is a symbolic link; name the directory itself; ${NOTHING}`);
  if (!found.isDirectory()) throw new CliError(`cannot make the backup directory ${cutInput(directory)}: it is a file, not a directory; ${NOTHING}`);
  const self = process.geteuid?.();
  // Windows has neither owners nor these mode bits.
  if (self === undefined) return;
  const unsafe = found.uid !== self ? `it belongs to uid ${found.uid}, not to this user (uid ${self})`
    : found.mode & 0o022 ? `users other than its owner may write in it (mode ${(found.mode & 0o7777).toString(8)})` : undefined;
  if (unsafe) throw new CliError(`cannot back up into ${cutInput(directory)}: ${unsafe}; name a directory that does not exist yet (it is made 0700), or one only you may write in (chmod go-w); ${NOTHING}`);
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
function writeIntoPlace(directory: string, copies: readonly BackupCopy[]): void {
  let staging: string;
  try {
    staging = mkdtempSync(join(directory, '.partial-'));
  } catch (failure) {
    throw new CliError(`cannot write in the backup directory ${cutInput(directory)}: ${fileSystemProblem(failure)}; ${NOTHING}`);
  }
  try {
    for (const { from, to, kind } of copies) {
      const staged = join(staging, basename(to));
      try {
        (kind === 'database' ? copyDatabase : copyKeyFile)(from, staged);
        linkSync(staged, to);
      } catch (failure) {
        throw new CliError(`cannot copy ${from} to ${to}: ${fileSystemProblem(failure)}`);
      }
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Writes `copies` into `directory` (each `to` in it). */
export function writeBackup(directory: string, copies: readonly BackupCopy[]): void {
  makeDirectory(directory);
  const taken = copies.find(({ to }) => existsSync(to));
  if (taken) throw new CliError(`${taken.to} exists, and a backup is never overwritten: choose another DIRECTORY; ${NOTHING}`);
  writeIntoPlace(directory, copies);
}
