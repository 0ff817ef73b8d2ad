/**
 * A file-system error in the words of the person who named the path (`cannot make the backup
 * directory X: its parent directory does not exist`), for the CLI's one-line refusals; an error
 * without a known errno code (SQLite's) keeps its own message, on one line.
 */
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

export function fileSystemProblem(err: unknown): string {
  return PROBLEMS[String((err as NodeJS.ErrnoException).code)] ?? String((err as Error).message ?? err).replace(/\s*\n\s*/g, ' ');
}
