/**
 * What an errno code from node:fs means to the person who named the path, in one table: the
 * problem in their words, for the CLI's one-line refusals (`cannot make the backup directory X:
 * its parent directory does not exist`), and what to do when it is a directory setting the process
 * cannot use (DATA_DIR, KEYS_DIR: storage/deployment-file-error.ts).
 *
 * The problem words are for making or writing the path named. A DeploymentFileError puts the
 * system's words beside the code instead: its call may be an access or a stat, where ENOENT is the
 * path itself missing, not its parent.
 */
type Remedy = (setting: string) => string;

const giveAccess: Remedy = (setting) => `give the user this runs as (uid ${process.geteuid?.() ?? '?'}) read and write access to ${setting}, or run as the user that owns it`;
const nameADirectory: Remedy = (setting) => `${setting} must name a directory, or a path where one can be made`;
const freeSpace: Remedy = (setting) => `free some space where ${setting} is`;

const MEANINGS: Record<string, { problem: string; remedy?: Remedy }> = {
  ENOENT: { problem: 'its parent directory does not exist' },
  ENOTDIR: { problem: 'a part of its path is a file, not a directory', remedy: nameADirectory },
  EEXIST: { problem: 'it is a file, not a directory', remedy: nameADirectory },
  EACCES: { problem: 'permission denied', remedy: giveAccess },
  EPERM: { problem: 'permission denied', remedy: giveAccess },
  EROFS: { problem: 'the file system is read-only', remedy: (setting) => `${setting} must be on a writable file system` },
  ENOSPC: { problem: 'the disk is full', remedy: freeSpace },
  EDQUOT: { problem: "this user's disk quota is used up", remedy: freeSpace },
  ENAMETOOLONG: { problem: 'the name is too long' },
};

/**
 * What link(2) means by its own codes. A file system that makes no hard links (FAT, exFAT, some
 * network shares) refuses one with EPERM on Linux (ENOTSUP elsewhere): not a permission, which
 * link says with EACCES. Its other EPERMs (a directory, an immutable file, another user's file
 * under protected_hardlinks) do not arise for a file the caller has just written, the one use here
 * (write-backup.ts). The words say what to do too: no other call tells (FAT makes directories and
 * writes files), so the directory named is what has to change. EXDEV: the new name is on another
 * mount than the file.
 */
const NO_HARD_LINKS = 'its file system makes no hard links (FAT and exFAT make none): use a directory on one that does (ext4, XFS)';
const LINK_MEANINGS: Record<string, string> = {
  EPERM: NO_HARD_LINKS,
  ENOTSUP: NO_HARD_LINKS,
  EXDEV: 'it is on another file system than the file linked to it',
};

/** The problem in words; an error without a known errno code (SQLite's) keeps its own message, on one line. */
export function fileSystemProblem(err: unknown): string {
  const { syscall, code } = err as NodeJS.ErrnoException;
  return (syscall === 'link' ? LINK_MEANINGS[String(code)] : undefined) ?? MEANINGS[String(code)]?.problem
    ?? String((err as Error).message ?? err).replace(/\s*\n\s*/g, ' ');
}

/** What to do about `setting` (an env var naming a directory) after the file system refused with `code`. */
export function fileSystemRemedy(setting: string, code: string): string {
  return MEANINGS[code]?.remedy?.(setting) ?? `check ${setting}`;
}
