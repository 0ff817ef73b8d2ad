/**
 * A directory or file of the deployment (DATA_DIR, KEYS_DIR) that the process cannot use: a
 * directory the service user cannot write, a setting naming a file, a key file edited by hand.
 * Nothing in the code is wrong, so the start-up handler and the CLI print its message, one line
 * naming the setting, the path, the errno and what to do, without a stack.
 *
 * A message never carries what a file holds: a JSON parser's message quotes the text around the
 * fault, and in a key file that text is private key material.
 */
import { getSystemErrorMap } from 'node:util';
import { fileSystemRemedy } from '../file-system-problem.ts';

export type DeploymentSetting = 'DATA_DIR' | 'KEYS_DIR';

export class DeploymentFileError extends Error {
  override name = 'DeploymentFileError';
}

/**
 * `err` as a DeploymentFileError when the file system refused (an errno error from node:fs);
 * anything else, a bug, is returned as it is, to keep its stack.
 */
export function explainFileSystemError(setting: DeploymentSetting, err: unknown): unknown {
  const { code, errno, syscall, path } = err as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof errno !== 'number' || syscall === undefined || path === undefined) return err;
  const why = getSystemErrorMap().get(errno)?.[1];
  return new DeploymentFileError(`${setting}: cannot ${syscall} ${path} (${code}${why ? `: ${why}` : ''}); ${fileSystemRemedy(setting, code)}`, { cause: err });
}
