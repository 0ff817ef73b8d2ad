/**
 * Writes `gatehouse backup`'s copies into DIRECTORY, all of them or none:
 *
 * - DIRECTORY is made 0700 when missing (its parent must exist: a typo does not grow a tree). An
 *   existing one is taken only when it is this user's, not a symbolic link, and 0700 or tighter:
 *   another user who may write in it would swap a file being written for one of theirs (then
 *   they can read the keys) or for a symbolic link (root then writes the keys over any file), and
 *   one who may read it sees the backup's names, sizes and times, and any file a person later
 *   copies in with a looser mode. Refused with the `chmod 700` to run, not made 0700 here, nor a
 *   subdirectory made: DIRECTORY is the backup as the README restores it (`backup/*.db`), and
 *   its mode is its owner's to change.
 * - A backup file already there is refused before anything is written: it is never overwritten.
 * - Every file is written first (0600) in a private directory made inside DIRECTORY (mkdtemp:
 *   0700, a name no one can guess), then each is linked into place. link, not rename: it refuses
 *   a file that appeared meanwhile (another backup into the same DIRECTORY), which rename would
 *   replace. A file system without hard links (FAT, exFAT) is refused at the first link, in words
 *   that say so (file-system-problem.ts), not "permission denied" (link's EPERM). When any step fails, the files this run linked are removed again: a restore never
 *   finds half a set (an auth-server.db without the keys it was taken with) under the final names.
 * - Ctrl-C, SIGTERM or SIGHUP while the files are written stops the copy at once (it runs in a
 *   child process: copy-in-child-process.ts), removes the private directory and says nothing was
 *   kept; the exit code is then 128 + the signal's number (InterruptedError). Once every file is written, the links are made without yielding, so a signal then finds
 *   the backup whole and is not heard.
 * Deliberately not done: checking DIRECTORY's parents (whoever may rename DIRECTORY there can swap
 * it for theirs after the check); removing the private directory when the process is killed
 * (SIGKILL), which no process can notice.
 */
import { linkSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileSystemProblem } from '../../../shared/file-system-problem.ts';
import { cutInput } from '../management/cut-input.ts';
import { CliError, InterruptedError } from './cli-errors.ts';
import { copyInChildProcess, CopyFailed, CopyStopped, STOP_SIGNALS } from './copy-in-child-process.ts';

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
  const refuse = (why: string) => new CliError(`cannot back up into ${cutInput(directory)}: ${why}; ${NOTHING}`);
  if (found.uid !== self) throw refuse(`it belongs to uid ${found.uid}, not to this user (uid ${self}); name a directory that does not exist yet (it is made 0700)`);
  const mode = (found.mode & 0o7777).toString(8);
  if (found.mode & 0o077) {
    const may = found.mode & 0o022 ? 'write in it' : 'list it or enter it';
    throw refuse(`users other than its owner may ${may} (mode ${mode}), and it is to hold the signing keys and every password hash; `
      + `make it yours alone first (chmod 700 ${shellWord(cutInput(directory))}), or name a directory that does not exist yet (it is made 0700)`);
  }
}

/** `path` as one word for a shell: as it is when it holds nothing a shell reads, else in single quotes. */
function shellWord(path: string): string {
  return /^[\w./@%+=:,-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}

/**
 * Listens for the signals that stop a backup until `end()`; `stop` is aborted with the first one's
 * name. While it listens, those signals no longer end the process.
 */
function listenForStop(): { stop: AbortSignal; end(): void } {
  const controller = new AbortController();
  const abort = (signal: NodeJS.Signals) => controller.abort(signal);
  for (const signal of STOP_SIGNALS) process.on(signal, abort);
  return { stop: controller.signal, end: () => STOP_SIGNALS.forEach((signal) => process.off(signal, abort)) };
}

/** Each copy written in `staging`, in order; the first that fails, or a stop signal, ends the rest. */
async function stage(staging: string, copies: readonly BackupCopy[], stop: AbortSignal): Promise<string[]> {
  const staged = copies.map(({ to }) => join(staging, basename(to)));
  try {
    await copyInChildProcess(copies.map(({ from, kind }, i) => ({ from, staged: staged[i]!, kind })), stop);
  } catch (failure) {
    if (failure instanceof CopyStopped) throw new InterruptedError(`interrupted (${failure.signal}) while copying ${copies[failure.index]!.from}; nothing was kept`, failure.signal);
    if (failure instanceof CopyFailed) {
      const { from, to } = copies[failure.index]!;
      throw new CliError(`cannot copy ${from} to ${to}: ${fileSystemProblem(failure)}; ${NOTHING}`);
    }
    throw new CliError(`cannot start the process that copies the files: ${fileSystemProblem(failure)}; ${NOTHING}`);
  }
  return staged;
}

/** Links each staged file to its name; on a failure, removes what it linked, and says what it could not remove. */
function linkAll(directory: string, copies: readonly BackupCopy[], staged: readonly string[]): void {
  const linked: string[] = [];
  try {
    for (const [i, { to }] of copies.entries()) {
      try {
        linkSync(staged[i]!, to);
      } catch (failure) {
        if ((failure as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new CliError(`${to} appeared while this backup ran (another backup into ${directory}?), and a backup is never overwritten: choose another DIRECTORY`);
        }
        throw new CliError(`cannot write ${to}: ${fileSystemProblem(failure)}`);
      }
      linked.push(to);
    }
  } catch (failure) {
    const left = linked.filter((file) => {
      try {
        rmSync(file);
        return false;
      } catch {
        return true;
      }
    });
    throw new CliError(`${(failure as Error).message}; ${left.length === 0 ? NOTHING : `could not remove what it wrote: ${left.join(', ')}`}`);
  }
}

/** Writes `copies` into `directory` (each `to` in it), all or none; returns when the first copy was begun: the moment a restore brings back. */
export async function writeBackup(directory: string, copies: readonly BackupCopy[]): Promise<Date> {
  // From before anything is made: a signal meanwhile is heard once the copy has begun, and stops it.
  const { stop, end } = listenForStop();
  try {
    makeDirectory(directory);
    const taken = copies.find(({ to }) => {
      try {
        lstatSync(to);
        return true;
      } catch {
        return false;
      }
    });
    if (taken) throw new CliError(`${taken.to} exists, and a backup is never overwritten: choose another DIRECTORY; ${NOTHING}`);
    let staging: string;
    try {
      staging = mkdtempSync(join(directory, '.partial-'));
    } catch (failure) {
      throw new CliError(`cannot write in the backup directory ${cutInput(directory)}: ${fileSystemProblem(failure)}; ${NOTHING}`);
    }
    try {
      const begun = new Date();
      linkAll(directory, copies, await stage(staging, copies, stop));
      return begun;
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  } finally {
    end();
  }
}
