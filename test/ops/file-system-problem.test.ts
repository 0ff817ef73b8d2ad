/**
 * One table says what each errno code means (apps/shared/file-system-problem.ts): the CLI's
 * refusals read its words for the problem, a DATA_DIR or KEYS_DIR the process cannot use its
 * remedy, beside the system's words. The real refusals are in startup-errors.test.ts,
 * ../cli/backup-command.test.ts and ../cli/database-unavailable.test.ts; here every code, also
 * those a test cannot bring about (a full disk, a read-only mount).
 */
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { describe, test } from 'node:test';
import { fileSystemProblem } from '../../apps/shared/file-system-problem.ts';
import { DeploymentFileError, explainFileSystemError } from '../../apps/shared/storage/deployment-file-error.ts';

/** An error as node:fs makes one (the errno negative, as libuv has it). */
function fsError(code: keyof typeof constants.errno, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed,\n${syscall} '${path}'`), { code, errno: -constants.errno[code], syscall, path });
}

const access = `give the user this runs as (uid ${process.geteuid?.()}) read and write access to DATA_DIR, or run as the user that owns it`;
const directory = 'DATA_DIR must name a directory, or a path where one can be made';
const space = 'free some space where DATA_DIR is';

const cases: Array<[code: keyof typeof constants.errno, problem: string, deployment: string]> = [
  ['EACCES', 'permission denied', `(EACCES: permission denied); ${access}`],
  ['EPERM', 'permission denied', `(EPERM: operation not permitted); ${access}`],
  ['ENOTDIR', 'a part of its path is a file, not a directory', `(ENOTDIR: not a directory); ${directory}`],
  ['EEXIST', 'it is a file, not a directory', `(EEXIST: file already exists); ${directory}`],
  ['EROFS', 'the file system is read-only', '(EROFS: read-only file system); DATA_DIR must be on a writable file system'],
  ['ENOSPC', 'the disk is full', `(ENOSPC: no space left on device); ${space}`],
  // Node 20's libuv has no name for it (a write over quota comes as UNKNOWN); a newer one may.
  ['EDQUOT', "this user's disk quota is used up", `(EDQUOT); ${space}`],
  ['ENOENT', 'its parent directory does not exist', '(ENOENT: no such file or directory); check DATA_DIR'],
  ['ENAMETOOLONG', 'the name is too long', '(ENAMETOOLONG: name too long); check DATA_DIR'],
  ['ELOOP', 'ELOOP: failed, mkdir \'/srv/data\'', '(ELOOP: too many symbolic links encountered); check DATA_DIR'],
];

describe('what a file-system error code means', () => {
  for (const [code, problem, deployment] of cases) {
    test(`${code}: the CLI says "${problem}"; a DATA_DIR refused so, the system's words and what to do`, () => {
      const err = fsError(code, 'mkdir', '/srv/data');
      assert.equal(fileSystemProblem(err), problem);
      const explained = explainFileSystemError('DATA_DIR', err);
      assert.ok(explained instanceof DeploymentFileError);
      assert.equal(explained.message, `DATA_DIR: cannot mkdir /srv/data ${deployment}`);
    });
  }

  // link(2) on a FAT or exFAT file system (a USB stick), where `gatehouse backup` puts its files in
  // place: Linux refuses it with EPERM, which is not a permission there (that is EACCES).
  const noHardLinks = 'its file system makes no hard links (FAT and exFAT make none): use a directory on one that does (ext4, XFS)';
  const links: Array<[code: keyof typeof constants.errno, problem: string]> = [
    ['EPERM', noHardLinks],
    ['ENOTSUP', noHardLinks],
    ['EXDEV', 'it is on another file system than the file linked to it'],
    ['EACCES', 'permission denied'],
    ['ENOSPC', 'the disk is full'],
  ];
  for (const [code, problem] of links) {
    test(`${code} from link: "${problem}"`, () => {
      assert.equal(fileSystemProblem(fsError(code, 'link', '/backup/.partial-x/auth-server.db')), problem);
    });
  }

  test('an error without a code (SQLite\'s) keeps its message on one line, and is no deployment error', () => {
    const err = new Error('database disk image is malformed\n  at somewhere');
    assert.equal(fileSystemProblem(err), 'database disk image is malformed at somewhere');
    assert.equal(explainFileSystemError('KEYS_DIR', err), err);
  });
});
