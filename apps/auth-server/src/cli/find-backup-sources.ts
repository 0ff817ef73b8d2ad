/**
 * What `gatehouse backup` copies, each file checked before anything is written, so a backup that
 * cannot be whole fails in one line naming DATA_DIR or KEYS_DIR, the cause and what to do:
 *
 * - The databases in DATA_DIR, found with stat, whose error says why: existsSync says "no
 *   database" for a DATA_DIR this user may not enter, too. Each is opened and its schema read
 *   (vacuum-into.ts's checkReadable), which is where a DATA_DIR that cannot be written fails:
 *   even to read a WAL database SQLite must create its -shm and -wal beside it.
 * - The key files in KEYS_DIR, copied with the auth-server's database: without signing-keys.json
 *   a restore signs everyone out (every token issued before it stops verifying), so a missing or
 *   unreadable one is refused, as `migrate-to-postgres` refuses it, unless `withoutKeys`. A
 *   missing cookie-keys.json is not refused but returned as such (`missingKeys`), for the output
 *   to say: a server restored without it makes new cookie keys at its start, which ends the
 *   browser sessions of before and nothing else; and a KEYS_DIR the server never started on (set
 *   up with the CLI alone, which never makes them) has none to copy.
 * A path this user may not read names the user who owns it, the server's, to run this as.
 * Deliberately not checked: that a key file holds keys (it is copied as it is; the server that
 * starts on it says what is wrong with it).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileSystemProblem } from '../../../shared/file-system-problem.ts';
import { checkReadable } from '../../../shared/storage/vacuum-into.ts';
import { CliError } from './cli-errors.ts';

const SIGNING_KEYS = 'signing-keys.json';
const KEY_FILES = [SIGNING_KEYS, 'cookie-keys.json'];
const NOTHING = 'nothing was written';

type Setting = 'DATA_DIR' | 'KEYS_DIR';

const codeOf = (err: unknown) => (err as { code?: unknown }).code;
const isDenied = (err: unknown) => codeOf(err) === 'EACCES' || codeOf(err) === 'EPERM';

/** The nearest of `path` and its parents that this user may stat, with its owner and mode: the one whose permissions refused. */
function ownerOf(path: string): { path: string; uid: number; mode: number } | undefined {
  for (let at = path; ; at = dirname(at)) {
    try {
      const { uid, mode } = statSync(at);
      return { path: at, uid, mode: mode & 0o7777 };
    } catch {
      if (dirname(at) === at) return undefined;
    }
  }
}

/**
 * The line for a path this user may not read: whose it is, and as whom to run (the server's user
 * owns DATA_DIR and KEYS_DIR), or, when it is this user's, that its mode keeps its owner out.
 */
function permissionDenied(setting: Setting, path: string): CliError {
  const owner = ownerOf(path);
  const self = process.geteuid?.();
  if (!owner || self === undefined) return new CliError(`cannot read ${path} (${setting}): permission denied; run this as the user the server runs as; ${NOTHING}`);
  const whose = owner.path === path ? 'it belongs' : `${owner.path} belongs`;
  if (owner.uid === self) {
    return new CliError(`cannot read ${path} (${setting}): permission denied: ${whose} to this user (uid ${self}), but its mode (${owner.mode.toString(8).padStart(3, '0')}) keeps its owner out; `
      + `give its owner access back (chmod u+rwX), which the server needs too; ${NOTHING}`);
  }
  return new CliError(`cannot read ${path} (${setting}): permission denied: ${whose} to uid ${owner.uid}, and this is uid ${self}; `
    + `run this as uid ${owner.uid}, the user the server runs as (sudo -u '#${owner.uid}' …); ${NOTHING}`);
}

/** Whether `file` is there; ENOENT is no, and any other error (EACCES, ENOTDIR) is refused, not taken for a no. */
function isThere(setting: Setting, file: string, check: (file: string) => void): boolean {
  try {
    check(file);
    return true;
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return false;
    if (isDenied(err)) throw permissionDenied(setting, file);
    throw new CliError(`cannot read ${file} (${setting}): ${fileSystemProblem(err)}; ${NOTHING}`);
  }
}

/**
 * Why SQLite could not read `file`, from the file system: the file itself unreadable, or DATA_DIR
 * not writable for the -shm and -wal (a read-only mount, another user's directory, or one whose
 * owner took away its own write access); else SQLite's words (not a database, corrupt).
 */
function unreadableDatabase(file: string, err: unknown): CliError {
  const dataDir = dirname(file);
  try {
    accessSync(file, constants.R_OK);
  } catch (denied) {
    if (isDenied(denied)) return permissionDenied('DATA_DIR', file);
  }
  if (/^SQLITE_(READONLY|CANTOPEN)/.test(String(codeOf(err)))) {
    const cause = `SQLite must create ${basename(file)}-shm and -wal beside a WAL database even to read it`;
    try {
      accessSync(dataDir, constants.W_OK);
    } catch (unwritable) {
      if (codeOf(unwritable) === 'EROFS') {
        return new CliError(`cannot read ${file}: DATA_DIR (${dataDir}) is on a read-only file system, and ${cause}; run this where DATA_DIR is mounted read-write, as the server has it; ${NOTHING}`);
      }
      const { uid, mode } = statSync(dataDir);
      const self = process.geteuid?.();
      if (isDenied(unwritable) && uid !== self) {
        return new CliError(`cannot read ${file}: this user (uid ${self}) may not write in DATA_DIR (${dataDir}), and ${cause}; `
          + `run this as uid ${uid}, DATA_DIR's owner, the user the server runs as (sudo -u '#${uid}' …); ${NOTHING}`);
      }
      if (isDenied(unwritable)) {
        return new CliError(`cannot read ${file}: DATA_DIR (${dataDir}) is not writable (mode ${(mode & 0o7777).toString(8)}), not even by its owner, this user (uid ${uid}), and ${cause}; `
          + `give its owner write access back (chmod u+w), which the server needs too; ${NOTHING}`);
      }
    }
  }
  return new CliError(`cannot read ${file}: ${String((err as Error).message ?? err).replace(/\s*\n\s*/g, ' ')}; ${NOTHING}`);
}

export interface BackupSources {
  /** The databases found in DATA_DIR, each readable. */
  databases: string[];
  /** The key files to copy, each readable: none when the auth-server's database is not copied, or `withoutKeys`. */
  keys: string[];
  /** The key files that were to be copied with the auth-server's database and are not there (cookie-keys.json). */
  missingKeys: string[];
}

export function findBackupSources(options: { authFile: string; resourceFile: string; keysDir: string; withoutKeys: boolean }): BackupSources {
  const { authFile, resourceFile, keysDir, withoutKeys } = options;
  const databases = [authFile, resourceFile].filter((file) => isThere('DATA_DIR', file, statSync));
  if (databases.length === 0) throw new CliError(`there is no database in DATA_DIR (${dirname(authFile)}); ${NOTHING}`);
  for (const file of databases) {
    try {
      checkReadable(file);
    } catch (err) {
      throw unreadableDatabase(file, err);
    }
  }
  if (!databases.includes(authFile) || withoutKeys) return { databases, keys: [], missingKeys: [] };
  const expected = KEY_FILES.map((name) => join(keysDir, name));
  const keys = expected.filter((file) => isThere('KEYS_DIR', file, (path) => accessSync(path, constants.R_OK)));
  if (!keys.includes(join(keysDir, SIGNING_KEYS))) {
    throw new CliError(`KEYS_DIR (${keysDir}) holds no signing keys (${SIGNING_KEYS}) to back up with ${authFile}: point KEYS_DIR at the keys of the server that uses this database, `
      + `or pass --without-keys to back up without them (restored without them, access tokens and browser sessions issued before then stop working); ${NOTHING}`);
  }
  return { databases, keys, missingKeys: expected.filter((file) => !keys.includes(file)) };
}
