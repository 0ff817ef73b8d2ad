/**
 * Why a stdio server's process could not be spawned, in words an admin can act on. Node reports
 * a missing working directory as the command's own ENOENT (`spawn node ENOENT`: libuv's chdir in
 * the child fails with the same code as execvp), which blames the command when the directory is
 * what is missing. So the directory is looked at first, then the command.
 *
 * Undefined for an error that is not a spawn failure of these codes (the caller quotes its
 * message). Looks at the file system as it is now, not as it was at the spawn: a directory made
 * or removed in between is described as it is found.
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';

export function describeSpawnFailure(err: unknown, { command, cwd }: { command: string; cwd?: string }): string | undefined {
  const { code, syscall } = err as NodeJS.ErrnoException;
  if (!syscall?.startsWith('spawn') || !['ENOENT', 'ENOTDIR', 'EACCES'].includes(code ?? '')) return undefined;
  const cwdProblem = cwd === undefined ? undefined : describeCwdProblem(cwd);
  if (cwdProblem) return cwdProblem;
  if (code === 'EACCES') return `command \`${command}\` could not be run: permission denied (EACCES; is it executable?)`;
  // execvp searches PATH only for a name without a slash.
  return command.includes('/') ? `command \`${command}\` does not exist` : `command \`${command}\` was not found on PATH`;
}

function describeCwdProblem(cwd: string): string | undefined {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(cwd).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `its cwd ${cwd} does not exist`;
    return `its cwd ${cwd} cannot be read (${String(code)})`;
  }
  if (!isDirectory) return `its cwd ${cwd} is not a directory`;
  try {
    accessSync(cwd, fsConstants.X_OK);
  } catch (err) {
    return `its cwd ${cwd} cannot be entered (${String((err as NodeJS.ErrnoException).code)})`;
  }
  return undefined;
}
